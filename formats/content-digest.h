/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Hashing a content once with every digest algorithm a set of signatures needs: the content streams through
 * a fixed buffer, so memory does not grow with its size, and a pipe can be the source. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#define CONTENT_DIGESTS_MAX 8U

/* Same contract as CmsReadFunc: bytes read, 0 at the end, or a negative errno. */
typedef ssize_t (*ContentReadFunc)(void *userdata, void *buf, size_t size);

typedef struct ContentDigest {
        int nid;
        EVP_MD_CTX *ctx;
        uint8_t value[EVP_MAX_MD_SIZE];
        unsigned size;
} ContentDigest;

typedef struct ContentDigests {
        ContentDigest d[CONTENT_DIGESTS_MAX];
        size_t n;
        uint64_t total; /* bytes hashed */
        bool finished;
} ContentDigests;

/* Adds an algorithm (idempotent). -EOPNOTSUPP when OpenSSL does not know it as a digest, -E2BIG when full.
 */
int content_digests_add(ContentDigests *c, int nid);
/* Reads until the end and finalizes every digest. */
int content_digests_read(ContentDigests *c, ContentReadFunc read, void *userdata);
/* Makes nid the first and only algorithm of c, its state continuing ctx, which has hashed `bytes` bytes
 * already (a caller that read the content once for another purpose). -EINVAL when ctx is not nid or c has
 * an algorithm already (-EEXIST: this one). */
int content_digests_add_state(ContentDigests *c, int nid, const EVP_MD_CTX *ctx, uint64_t bytes);
/* Hashes a buffer instead of a stream (countersignatures, time-stamp imprints). */
int content_digests_update(ContentDigests *c, const void *data, size_t size);
int content_digests_finish(ContentDigests *c);
/* The finished digest for nid, or NULL. */
const uint8_t *content_digests_get(const ContentDigests *c, int nid, size_t *ret_size);
void content_digests_done(ContentDigests *c);
/* Moves from's digests into to (whose own are dropped); from is left empty. */
void content_digests_move(ContentDigests *to, ContentDigests *from);

/* A ContentReadFunc over a file descriptor: userdata points to the int fd. Retries on EINTR. */
ssize_t content_read_fd(void *userdata, void *buf, size_t size);

/* One-shot digest of a buffer; ret must hold EVP_MAX_MD_SIZE bytes. */
int digest_buffer(int nid, const void *data, size_t size, uint8_t *ret, unsigned *ret_size);
