/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "content-digest.h"
#include "macro.h"

#define READ_BUFFER_SIZE (256U * 1024U)

int content_digests_add(ContentDigests *c, int nid) {
        const EVP_MD *md;

        for (size_t i = 0; i < c->n; i++)
                if (c->d[i].nid == nid)
                        return 0;
        if (c->finished)
                return -EINVAL;
        md = EVP_get_digestbynid(nid);
        if (!md)
                return -EOPNOTSUPP;
        if (c->n >= CONTENT_DIGESTS_MAX)
                return -E2BIG;

        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
                EVP_MD_CTX_free(ctx);
                return -EOPNOTSUPP;
        }
        c->d[c->n++] = (ContentDigest){ .nid = nid, .ctx = ctx };
        return 0;
}

int content_digests_add_state(ContentDigests *c, int nid, const EVP_MD_CTX *ctx, uint64_t bytes) {
        const EVP_MD *md = ctx ? EVP_MD_CTX_get0_md(ctx) : NULL;
        int r;

        if (!md || EVP_MD_get_type(md) != nid)
                return -EINVAL;
        if (c->n != 0)
                return c->d[0].nid == nid ? -EEXIST
                                          : -EINVAL; /* others would not start from the same point */
        r = content_digests_add(c, nid);
        if (r < 0)
                return r;
        if (EVP_MD_CTX_copy_ex(c->d[c->n - 1].ctx, ctx) != 1)
                return -ENOMEM;
        c->total = bytes;
        return 0;
}

int content_digests_update(ContentDigests *c, const void *data, size_t size) {
        if (c->finished)
                return -EINVAL;
        for (size_t i = 0; i < c->n; i++)
                if (EVP_DigestUpdate(c->d[i].ctx, data, size) != 1)
                        return -EIO;
        c->total += size;
        return 0;
}

int content_digests_finish(ContentDigests *c) {
        if (c->finished)
                return -EINVAL;
        for (size_t i = 0; i < c->n; i++)
                if (EVP_DigestFinal_ex(c->d[i].ctx, c->d[i].value, &c->d[i].size) != 1)
                        return -EIO;
        c->finished = true;
        return 0;
}

int content_digests_read(ContentDigests *c, ContentReadFunc read_func, void *userdata) {
        _cleanup_free_ uint8_t *buf = malloc(READ_BUFFER_SIZE);
        int r;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read_func(userdata, buf, READ_BUFFER_SIZE);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                if ((size_t) n > READ_BUFFER_SIZE)
                        return -EIO;
                r = content_digests_update(c, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        return content_digests_finish(c);
}

const uint8_t *content_digests_get(const ContentDigests *c, int nid, size_t *ret_size) {
        if (!c->finished)
                return NULL;
        for (size_t i = 0; i < c->n; i++)
                if (c->d[i].nid == nid) {
                        *ret_size = c->d[i].size;
                        return c->d[i].value;
                }
        return NULL;
}

void content_digests_done(ContentDigests *c) {
        for (size_t i = 0; i < c->n; i++)
                EVP_MD_CTX_free(c->d[i].ctx);
        *c = (ContentDigests){};
}

void content_digests_move(ContentDigests *to, ContentDigests *from) {
        content_digests_done(to);
        *to = *from;
        *from = (ContentDigests){};
}

ssize_t content_read_fd(void *userdata, void *buf, size_t size) {
        int fd = *(int *) userdata;

        for (;;) {
                ssize_t n = read(fd, buf, size);
                if (n >= 0)
                        return n;
                if (errno != EINTR)
                        return -errno;
        }
}

int digest_buffer(int nid, const void *data, size_t size, uint8_t *ret, unsigned *ret_size) {
        const EVP_MD *md = EVP_get_digestbynid(nid);

        if (!md)
                return -EOPNOTSUPP;
        if (EVP_Digest(data, size, ret, ret_size, md, NULL) != 1)
                return -EIO;
        return 0;
}
