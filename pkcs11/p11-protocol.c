/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <p11-kit/pkcs11.h>
#include <string.h>

#include "macro.h"
#include "p11-manager.h"
#include "p11-protocol.h"
#include "string-table.h"

/* Header: u32 total length (header included), u8 version, u8 type, u16 reserved (0), u32 serial.
 * All integers are big-endian. */

static void writer_reserve(P11Writer *w, size_t extra) {
        if (w->error < 0)
                return;
        if (extra > P11_FRAME_MAX || w->size + extra > P11_FRAME_MAX) {
                w->error = -EMSGSIZE;
                return;
        }
        if (w->size + extra <= w->allocated)
                return;
        size_t need = w->size + extra < 256 ? 256 : w->size + extra;
        size_t n = MAX(w->allocated * 2, need);
        n = MIN(n, (size_t) P11_FRAME_MAX);
        /* Not realloc(): the old block may hold a PIN and must be wiped before it goes back to malloc. */
        uint8_t *d = malloc(n);
        if (!d) {
                w->error = -ENOMEM;
                return;
        }
        if (w->size > 0)
                memcpy(d, w->data, w->size);
        if (w->data) {
                explicit_bzero(w->data, w->allocated);
                free(w->data);
        }
        w->data = d;
        w->allocated = n;
}

void p11_writer_done(P11Writer *w) {
        if (!w)
                return;
        if (w->data) {
                explicit_bzero(w->data, w->allocated);
                free(w->data);
        }
        *w = (P11Writer){};
}

static void put_raw(P11Writer *w, const void *p, size_t n) {
        writer_reserve(w, n);
        if (w->error < 0 || n == 0)
                return;
        memcpy(w->data + w->size, p, n);
        w->size += n;
}

void p11_put_u8(P11Writer *w, uint8_t v) {
        put_raw(w, &v, 1);
}

void p11_put_u32(P11Writer *w, uint32_t v) {
        uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };
        put_raw(w, b, sizeof(b));
}

void p11_put_u64(P11Writer *w, uint64_t v) {
        p11_put_u32(w, (uint32_t) (v >> 32));
        p11_put_u32(w, (uint32_t) v);
}

void p11_put_bytes(P11Writer *w, const void *p, size_t n) {
        if (n > UINT32_MAX) {
                w->error = w->error ?: -EMSGSIZE;
                return;
        }
        p11_put_u32(w, (uint32_t) n);
        put_raw(w, p, n);
}

void p11_put_string(P11Writer *w, const char *s) {
        p11_put_bytes(w, s ?: "", s ? strlen(s) : 0);
}

int p11_frame_begin(P11Writer *w, uint8_t type, uint32_t serial) {
        w->size = 0;
        w->error = 0;
        p11_put_u32(w, 0); /* length, filled in by p11_frame_end() */
        p11_put_u8(w, P11_PROTOCOL_VERSION);
        p11_put_u8(w, type);
        p11_put_u8(w, 0);
        p11_put_u8(w, 0);
        p11_put_u32(w, serial);
        return w->error;
}

int p11_frame_end(P11Writer *w) {
        if (w->error < 0)
                return w->error;
        if (w->size < P11_FRAME_HEADER_SIZE)
                return -EINVAL;
        if (w->size > P11_FRAME_MAX)
                return -EMSGSIZE;
        uint32_t n = (uint32_t) w->size;
        w->data[0] = n >> 24;
        w->data[1] = n >> 16;
        w->data[2] = n >> 8;
        w->data[3] = n;
        return 0;
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

int p11_frame_peek_size(const void *buf, size_t size, size_t *ret) {
        const uint8_t *p = buf;

        if (size < P11_FRAME_HEADER_SIZE)
                return -EAGAIN;
        uint32_t n = be32(p);
        if (n < P11_FRAME_HEADER_SIZE || n > P11_FRAME_MAX)
                return -EBADMSG;
        if (p[4] != P11_PROTOCOL_VERSION)
                return -EPROTONOSUPPORT;
        if (p[6] != 0 || p[7] != 0)
                return -EBADMSG;
        *ret = n;
        return 0;
}

int p11_frame_parse(const void *buf, size_t size, P11Frame *ret) {
        const uint8_t *p = buf;
        size_t n;
        int r;

        r = p11_frame_peek_size(buf, size, &n);
        if (r == -EAGAIN)
                return -EBADMSG;
        if (r < 0)
                return r;
        if (n != size)
                return -EBADMSG;
        *ret = (P11Frame){
                .type = p[5],
                .serial = be32(p + 8),
                .body = p + P11_FRAME_HEADER_SIZE,
                .body_size = size - P11_FRAME_HEADER_SIZE,
        };
        return 0;
}

void p11_reader_init(P11Reader *r, const P11Frame *f) {
        *r = (P11Reader){ .p = f->body, .left = f->body_size };
}

static const uint8_t *get_raw(P11Reader *r, size_t n) {
        if (r->error < 0)
                return NULL;
        if (n > r->left) {
                r->error = -EBADMSG;
                return NULL;
        }
        const uint8_t *p = r->p;
        r->p += n;
        r->left -= n;
        return p;
}

uint8_t p11_get_u8(P11Reader *r) {
        const uint8_t *p = get_raw(r, 1);
        return p ? *p : 0;
}

uint32_t p11_get_u32(P11Reader *r) {
        const uint8_t *p = get_raw(r, 4);
        return p ? be32(p) : 0;
}

uint64_t p11_get_u64(P11Reader *r) {
        uint64_t hi = p11_get_u32(r);
        return hi << 32 | p11_get_u32(r);
}

static const uint8_t *get_sized(P11Reader *r, size_t max, size_t *ret_size) {
        uint32_t n = p11_get_u32(r);
        if (r->error < 0)
                return NULL;
        if (n > max) {
                r->error = -EBADMSG;
                return NULL;
        }
        const uint8_t *p = get_raw(r, n);
        if (!p)
                return NULL;
        *ret_size = n;
        return p;
}

int p11_get_bytes(P11Reader *r, size_t max, uint8_t **ret, size_t *ret_size) {
        size_t n;
        const uint8_t *p = get_sized(r, max, &n);
        if (!p)
                return r->error;
        uint8_t *c = malloc(MAX(n, (size_t) 1));
        if (!c)
                return (r->error = -ENOMEM);
        memcpy(c, p, n);
        *ret = c;
        *ret_size = n;
        return 0;
}

/* A sized field that must hold no NUL byte (a string, a PIN). */
static const uint8_t *get_text(P11Reader *r, size_t max, size_t *ret_size) {
        const uint8_t *p = get_sized(r, max, ret_size);
        if (p && memchr(p, 0, *ret_size)) {
                r->error = -EBADMSG;
                return NULL;
        }
        return p;
}

int p11_get_string(P11Reader *r, size_t max, char **ret) {
        size_t n;
        const uint8_t *p = get_text(r, max, &n);
        if (!p)
                return r->error;
        char *s = strndup((const char *) p, n);
        if (!s)
                return (r->error = -ENOMEM);
        *ret = s;
        return 0;
}

int p11_get_secret(P11Reader *r, size_t max, Secret **ret) {
        size_t n;
        const uint8_t *p = get_text(r, max, &n);
        if (!p)
                return r->error;
        if (n == 0) {
                /* No PIN (a batch's signatures after the login): no locked memory to set up per request. */
                *ret = NULL;
                return 0;
        }
        Secret *s = secret_new(p, n);
        if (!s)
                return (r->error = -ENOMEM);
        *ret = s;
        return 0;
}

int p11_reader_finish(P11Reader *r) {
        if (r->error < 0)
                return r->error;
        if (r->left != 0)
                return -EBADMSG;
        return 0;
}

static int frame_finish(P11Writer *w) {
        return p11_frame_end(w);
}

/* Starts reading the body of a frame that must be of this type. */
static int reader_open(P11Reader *r, const P11Frame *f, uint8_t type) {
        if (f->type != type)
                return -EBADMSG;
        p11_reader_init(r, f);
        return 0;
}

/* A list: a u32 count (at most max), then the entries, each written by put_entry. */
static int encode_list(
        P11Writer *w, uint8_t type, uint32_t serial, const void *entries, size_t n, size_t entry_size,
        size_t max, void (*put_entry)(P11Writer *w, const void *entry)) {
        if (n > max)
                return -E2BIG;
        p11_frame_begin(w, type, serial);
        p11_put_u32(w, (uint32_t) n);
        for (size_t i = 0; i < n; i++)
                put_entry(w, (const uint8_t *) entries + i * entry_size);
        return frame_finish(w);
}

/* The reverse of encode_list(). The entries are allocated zeroed and *ret_n counts each one as soon as its
 * reading begins, so that on failure the caller's cleanup frees what a half-read entry holds. */
static int decode_list(
        const P11Frame *f, uint8_t type, size_t entry_size, uint32_t max,
        void (*get_entry)(P11Reader *r, void *entry), void **ret_entries, size_t *ret_n) {
        P11Reader r;
        int k;

        if ((k = reader_open(&r, f, type)) < 0)
                return k;
        uint32_t n = p11_get_u32(&r);
        if (r.error < 0)
                return r.error;
        if (n > max)
                return -EBADMSG;
        if (n > 0) {
                *ret_entries = calloc(n, entry_size);
                if (!*ret_entries)
                        return -ENOMEM;
        }
        for (uint32_t i = 0; i < n && r.error == 0; i++) {
                (*ret_n)++;
                get_entry(&r, (uint8_t *) *ret_entries + i * entry_size);
        }
        return p11_reader_finish(&r);
}

/* Hello. */
int p11_encode_hello_request(P11Writer *w, uint32_t serial, const P11HelloRequest *h) {
        p11_frame_begin(w, P11_MSG_HELLO, serial);
        p11_put_u32(w, h->min_version);
        p11_put_u32(w, h->max_version);
        return frame_finish(w);
}

int p11_decode_hello_request(const P11Frame *f, P11HelloRequest *ret) {
        P11Reader r;
        int k;

        if ((k = reader_open(&r, f, P11_MSG_HELLO)) < 0)
                return k;
        P11HelloRequest h = { .min_version = p11_get_u32(&r), .max_version = p11_get_u32(&r) };
        if ((k = p11_reader_finish(&r)) < 0)
                return k;
        if (h.min_version > h.max_version)
                return -EBADMSG;
        *ret = h;
        return 0;
}

void p11_hello_reply_done(P11HelloReply *h) {
        if (!h)
                return;
        free(h->manufacturer);
        free(h->description);
        *h = (P11HelloReply){};
}

int p11_encode_hello_reply(P11Writer *w, uint32_t serial, const P11HelloReply *h) {
        p11_frame_begin(w, P11_MSG_HELLO | P11_MSG_REPLY, serial);
        p11_put_u32(w, h->version);
        p11_put_string(w, h->manufacturer);
        p11_put_string(w, h->description);
        p11_put_u8(w, h->cryptoki_major);
        p11_put_u8(w, h->cryptoki_minor);
        return frame_finish(w);
}

int p11_decode_hello_reply(const P11Frame *f, P11HelloReply *ret) {
        _cleanup_(p11_hello_reply_done) P11HelloReply h = {};
        P11Reader r;
        int k;

        if ((k = reader_open(&r, f, P11_MSG_HELLO | P11_MSG_REPLY)) < 0)
                return k;
        h.version = p11_get_u32(&r);
        (void) p11_get_string(&r, P11_STRING_MAX, &h.manufacturer);
        (void) p11_get_string(&r, P11_STRING_MAX, &h.description);
        h.cryptoki_major = p11_get_u8(&r);
        h.cryptoki_minor = p11_get_u8(&r);
        if ((k = p11_reader_finish(&r)) < 0)
                return k;
        *ret = TAKE_STRUCT(h);
        return 0;
}

/* Empty bodies and single-slot requests. */
int p11_encode_empty(P11Writer *w, uint8_t type, uint32_t serial) {
        p11_frame_begin(w, type, serial);
        return frame_finish(w);
}

int p11_decode_empty(const P11Frame *f) {
        return f->body_size == 0 ? 0 : -EBADMSG;
}

int p11_encode_slot_request(P11Writer *w, uint8_t type, uint32_t serial, uint64_t slot_id) {
        p11_frame_begin(w, type, serial);
        p11_put_u64(w, slot_id);
        return frame_finish(w);
}

int p11_decode_slot_request(const P11Frame *f, uint64_t *ret_slot_id) {
        P11Reader r;
        int k;

        p11_reader_init(&r, f);
        uint64_t s = p11_get_u64(&r);
        if ((k = p11_reader_finish(&r)) < 0)
                return k;
        *ret_slot_id = s;
        return 0;
}

/* Slot list. */
static void slot_entry_done(P11SlotEntry *s) {
        free(s->slot_description);
        free(s->label);
        free(s->manufacturer);
        free(s->model);
        free(s->serial);
}

void p11_slot_list_done(P11SlotList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n_slots; i++)
                slot_entry_done(&l->slots[i]);
        free(l->slots);
        *l = (P11SlotList){};
}

static void put_slot_entry(P11Writer *w, const void *entry) {
        const P11SlotEntry *s = entry;
        p11_put_u64(w, s->slot_id);
        p11_put_u64(w, s->slot_flags);
        p11_put_string(w, s->slot_description);
        p11_put_string(w, s->label);
        p11_put_string(w, s->manufacturer);
        p11_put_string(w, s->model);
        p11_put_string(w, s->serial);
        p11_put_u64(w, s->token_flags);
        p11_put_u32(w, s->min_pin);
        p11_put_u32(w, s->max_pin);
}

static void get_slot_entry(P11Reader *r, void *entry) {
        P11SlotEntry *s = entry;
        s->slot_id = p11_get_u64(r);
        s->slot_flags = p11_get_u64(r);
        (void) p11_get_string(r, P11_STRING_MAX, &s->slot_description);
        (void) p11_get_string(r, P11_STRING_MAX, &s->label);
        (void) p11_get_string(r, P11_STRING_MAX, &s->manufacturer);
        (void) p11_get_string(r, P11_STRING_MAX, &s->model);
        (void) p11_get_string(r, P11_STRING_MAX, &s->serial);
        s->token_flags = p11_get_u64(r);
        s->min_pin = p11_get_u32(r);
        s->max_pin = p11_get_u32(r);
}

int p11_encode_slot_list(P11Writer *w, uint32_t serial, const P11SlotList *l) {
        return encode_list(
                w, P11_MSG_LIST_SLOTS | P11_MSG_REPLY, serial, l->slots, l->n_slots, sizeof(P11SlotEntry),
                P11_SLOTS_MAX, put_slot_entry);
}

int p11_decode_slot_list(const P11Frame *f, P11SlotList *ret) {
        _cleanup_(p11_slot_list_done) P11SlotList l = {};
        void *slots = NULL;
        int k;

        k = decode_list(
                f, P11_MSG_LIST_SLOTS | P11_MSG_REPLY, sizeof(P11SlotEntry), P11_SLOTS_MAX, get_slot_entry,
                &slots, &l.n_slots);
        l.slots = slots;
        if (k < 0)
                return k;
        *ret = TAKE_STRUCT(l);
        return 0;
}

/* Certificate list. */
void p11_cert_list_done(P11CertList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n_certs; i++) {
                free(l->certs[i].id);
                free(l->certs[i].label);
                free(l->certs[i].der);
        }
        free(l->certs);
        *l = (P11CertList){};
}

static void put_cert_entry(P11Writer *w, const void *entry) {
        const P11CertEntry *c = entry;
        p11_put_bytes(w, c->id, c->id_size);
        p11_put_string(w, c->label);
        p11_put_bytes(w, c->der, c->der_size);
        p11_put_u8(w, c->has_private_key);
        p11_put_u8(w, c->always_authenticate);
        p11_put_u32(w, c->key_type);
}

static void get_cert_entry(P11Reader *r, void *entry) {
        P11CertEntry *c = entry;
        (void) p11_get_bytes(r, P11_ID_MAX, &c->id, &c->id_size);
        (void) p11_get_string(r, P11_STRING_MAX, &c->label);
        (void) p11_get_bytes(r, P11_DER_MAX, &c->der, &c->der_size);
        uint8_t has_key = p11_get_u8(r), always = p11_get_u8(r);
        if (has_key > 1 || always > 1)
                r->error = r->error ?: -EBADMSG;
        c->has_private_key = has_key;
        c->always_authenticate = always;
        c->key_type = p11_get_u32(r);
}

int p11_encode_cert_list(P11Writer *w, uint32_t serial, const P11CertList *l) {
        return encode_list(
                w, P11_MSG_LIST_CERTS | P11_MSG_REPLY, serial, l->certs, l->n_certs, sizeof(P11CertEntry),
                P11_CERTS_MAX, put_cert_entry);
}

int p11_decode_cert_list(const P11Frame *f, P11CertList *ret) {
        _cleanup_(p11_cert_list_done) P11CertList l = {};
        void *certs = NULL;
        int k;

        k = decode_list(
                f, P11_MSG_LIST_CERTS | P11_MSG_REPLY, sizeof(P11CertEntry), P11_CERTS_MAX, get_cert_entry,
                &certs, &l.n_certs);
        l.certs = certs;
        if (k < 0)
                return k;
        *ret = TAKE_STRUCT(l);
        return 0;
}

/* Login. */
void p11_login_request_done(P11LoginRequest *l) {
        if (!l)
                return;
        secret_free(l->pin);
        *l = (P11LoginRequest){};
}

int p11_encode_login_request(P11Writer *w, uint32_t serial, const P11LoginRequest *l) {
        if (secret_size(l->pin) > P11_PIN_MAX)
                return -EMSGSIZE;
        p11_frame_begin(w, P11_MSG_LOGIN, serial);
        p11_put_u64(w, l->slot_id);
        p11_put_u32(w, l->flags);
        p11_put_bytes(w, secret_get(l->pin) ?: "", secret_size(l->pin));
        return frame_finish(w);
}

int p11_decode_login_request(const P11Frame *f, P11LoginRequest *ret) {
        _cleanup_(p11_login_request_done) P11LoginRequest l = {};
        P11Reader r;
        int k;

        if ((k = reader_open(&r, f, P11_MSG_LOGIN)) < 0)
                return k;
        l.slot_id = p11_get_u64(&r);
        l.flags = p11_get_u32(&r);
        (void) p11_get_secret(&r, P11_PIN_MAX, &l.pin);
        if ((k = p11_reader_finish(&r)) < 0)
                return k;
        if (l.flags & ~(uint32_t) P11_FLAG_PROTECTED_AUTH)
                return -EBADMSG;
        if (!(l.flags & P11_FLAG_PROTECTED_AUTH) && secret_size(l.pin) == 0)
                return -EBADMSG;
        *ret = TAKE_STRUCT(l);
        return 0;
}

/* Sign. */
size_t p11_hash_size(P11Hash h) {
        switch (h) {
        case P11_HASH_SHA256:
                return 32;
        case P11_HASH_SHA384:
                return 48;
        case P11_HASH_SHA512:
                return 64;
        default:
                return 0;
        }
}

int p11_mechanism_validate(const P11SignMechanism *m, size_t digest_size) {
        size_t hs = p11_hash_size(m->hash);
        if (hs == 0 || digest_size != hs)
                return -EINVAL;
        switch (m->algorithm) {
        case P11_SIGN_RSA_PKCS1:
        case P11_SIGN_ECDSA:
                return 0;
        case P11_SIGN_RSA_PSS:
                if (m->mgf_hash != 0 && p11_hash_size(m->mgf_hash) == 0)
                        return -EINVAL;
                if (m->salt_length < -1 || m->salt_length > 1024)
                        return -EINVAL;
                return 0;
        default:
                return -EINVAL;
        }
}

void p11_sign_request_done(P11SignRequest *s) {
        if (!s)
                return;
        free(s->id);
        free(s->digest);
        secret_free(s->pin);
        *s = (P11SignRequest){};
}

int p11_encode_sign_request(P11Writer *w, uint32_t serial, const P11SignRequest *s) {
        if (secret_size(s->pin) > P11_PIN_MAX || s->id_size > P11_ID_MAX || s->digest_size > P11_DIGEST_MAX)
                return -EMSGSIZE;
        if (p11_mechanism_validate(&s->mechanism, s->digest_size) < 0)
                return -EINVAL;
        p11_frame_begin(w, P11_MSG_SIGN, serial);
        p11_put_u64(w, s->slot_id);
        p11_put_bytes(w, s->id, s->id_size);
        p11_put_u32(w, (uint32_t) s->mechanism.algorithm);
        p11_put_u32(w, (uint32_t) s->mechanism.hash);
        p11_put_u32(w, (uint32_t) s->mechanism.mgf_hash);
        p11_put_u32(w, (uint32_t) s->mechanism.salt_length);
        p11_put_u32(w, s->flags);
        p11_put_bytes(w, s->digest, s->digest_size);
        p11_put_bytes(w, secret_get(s->pin) ?: "", secret_size(s->pin));
        return frame_finish(w);
}

int p11_decode_sign_request(const P11Frame *f, P11SignRequest *ret) {
        _cleanup_(p11_sign_request_done) P11SignRequest s = {};
        _cleanup_secret_ Secret *pin = NULL;
        P11Reader r;
        int k;

        if ((k = reader_open(&r, f, P11_MSG_SIGN)) < 0)
                return k;
        s.slot_id = p11_get_u64(&r);
        (void) p11_get_bytes(&r, P11_ID_MAX, &s.id, &s.id_size);
        s.mechanism.algorithm = (P11SignAlgorithm) p11_get_u32(&r);
        s.mechanism.hash = (P11Hash) p11_get_u32(&r);
        s.mechanism.mgf_hash = (P11Hash) p11_get_u32(&r);
        s.mechanism.salt_length = (int) p11_get_u32(&r);
        s.flags = p11_get_u32(&r);
        (void) p11_get_bytes(&r, P11_DIGEST_MAX, &s.digest, &s.digest_size);
        (void) p11_get_secret(&r, P11_PIN_MAX, &pin);
        if ((k = p11_reader_finish(&r)) < 0)
                return k;
        if (s.flags & ~(uint32_t) (P11_FLAG_PROTECTED_AUTH | P11_FLAG_KEEP_LOGIN | P11_FLAG_USE_LOGIN))
                return -EBADMSG;
        if (s.id_size == 0 || p11_mechanism_validate(&s.mechanism, s.digest_size) < 0)
                return -EBADMSG;
        if (secret_size(pin) > 0)
                s.pin = TAKE_PTR(pin);
        *ret = TAKE_STRUCT(s);
        return 0;
}

void p11_sign_reply_done(P11SignReply *s) {
        if (!s)
                return;
        free(s->signature);
        *s = (P11SignReply){};
}

int p11_encode_sign_reply(P11Writer *w, uint32_t serial, const P11SignReply *s) {
        if (s->signature_size > P11_SIGNATURE_MAX)
                return -EMSGSIZE;
        p11_frame_begin(w, P11_MSG_SIGN | P11_MSG_REPLY, serial);
        p11_put_bytes(w, s->signature, s->signature_size);
        p11_put_u8(w, s->always_authenticate ? 1 : 0);
        return frame_finish(w);
}

int p11_decode_sign_reply(const P11Frame *f, P11SignReply *ret) {
        _cleanup_(p11_sign_reply_done) P11SignReply s = {};
        P11Reader r;
        int k;

        if ((k = reader_open(&r, f, P11_MSG_SIGN | P11_MSG_REPLY)) < 0)
                return k;
        (void) p11_get_bytes(&r, P11_SIGNATURE_MAX, &s.signature, &s.signature_size);
        uint8_t always = p11_get_u8(&r);
        if ((k = p11_reader_finish(&r)) < 0)
                return k;
        if (s.signature_size == 0 || always > 1)
                return -EBADMSG;
        s.always_authenticate = always;
        *ret = TAKE_STRUCT(s);
        return 0;
}

/* Errors. */
void p11_error_reply_done(P11ErrorReply *e) {
        if (!e)
                return;
        free(e->message);
        *e = (P11ErrorReply){};
}

int p11_encode_error_reply(P11Writer *w, uint32_t serial, const P11ErrorReply *e) {
        p11_frame_begin(w, P11_MSG_ERROR, serial);
        p11_put_u32(w, (uint32_t) e->code);
        p11_put_u64(w, e->ck_rv);
        p11_put_u32(w, e->pin_flags);
        p11_put_string(w, e->message);
        return frame_finish(w);
}

int p11_decode_error_reply(const P11Frame *f, P11ErrorReply *ret) {
        _cleanup_(p11_error_reply_done) P11ErrorReply e = {};
        P11Reader r;
        int k;

        if ((k = reader_open(&r, f, P11_MSG_ERROR)) < 0)
                return k;
        uint32_t code = p11_get_u32(&r);
        e.ck_rv = p11_get_u64(&r);
        e.pin_flags = p11_get_u32(&r);
        (void) p11_get_string(&r, P11_STRING_MAX, &e.message);
        if ((k = p11_reader_finish(&r)) < 0)
                return k;
        if (code == P11_ERROR_NONE || code >= _P11_ERROR_MAX)
                return -EBADMSG;
        e.code = (P11Error) code;
        *ret = TAKE_STRUCT(e);
        return 0;
}

int p11_decode_any(const void *buf, size_t size) {
        P11Frame f;
        int r;

        r = p11_frame_parse(buf, size, &f);
        if (r < 0)
                return r;

        switch (f.type) {
        case P11_MSG_HELLO: {
                P11HelloRequest h;
                return p11_decode_hello_request(&f, &h);
        }
        case P11_MSG_HELLO | P11_MSG_REPLY: {
                _cleanup_(p11_hello_reply_done) P11HelloReply h = {};
                return p11_decode_hello_reply(&f, &h);
        }
        case P11_MSG_LIST_SLOTS:
                return p11_decode_empty(&f);
        case P11_MSG_LIST_SLOTS | P11_MSG_REPLY: {
                _cleanup_(p11_slot_list_done) P11SlotList l = {};
                return p11_decode_slot_list(&f, &l);
        }
        case P11_MSG_LIST_CERTS:
        case P11_MSG_LOGOUT: {
                uint64_t s;
                return p11_decode_slot_request(&f, &s);
        }
        case P11_MSG_LIST_CERTS | P11_MSG_REPLY: {
                _cleanup_(p11_cert_list_done) P11CertList l = {};
                return p11_decode_cert_list(&f, &l);
        }
        case P11_MSG_LOGIN: {
                _cleanup_(p11_login_request_done) P11LoginRequest l = {};
                return p11_decode_login_request(&f, &l);
        }
        case P11_MSG_SIGN: {
                _cleanup_(p11_sign_request_done) P11SignRequest s = {};
                return p11_decode_sign_request(&f, &s);
        }
        case P11_MSG_SIGN | P11_MSG_REPLY: {
                _cleanup_(p11_sign_reply_done) P11SignReply s = {};
                return p11_decode_sign_reply(&f, &s);
        }
        case P11_MSG_LOGIN | P11_MSG_REPLY:
        case P11_MSG_LOGOUT | P11_MSG_REPLY:
                return p11_decode_empty(&f);
        case P11_MSG_ERROR: {
                _cleanup_(p11_error_reply_done) P11ErrorReply e = {};
                return p11_decode_error_reply(&f, &e);
        }
        default:
                return -EBADMSG;
        }
}

P11Error p11_error_from_ckrv(unsigned long rv) {
        switch (rv) {
        case CKR_OK:
                return P11_ERROR_NONE;
        case CKR_PIN_INCORRECT:
        case CKR_PIN_INVALID:
                return P11_ERROR_PIN_INCORRECT;
        case CKR_PIN_LOCKED:
                return P11_ERROR_PIN_LOCKED;
        case CKR_PIN_LEN_RANGE:
                return P11_ERROR_PIN_LEN_RANGE;
        case CKR_PIN_EXPIRED:
                return P11_ERROR_PIN_EXPIRED;
        case CKR_TOKEN_NOT_PRESENT:
        case CKR_TOKEN_NOT_RECOGNIZED:
                return P11_ERROR_TOKEN_NOT_PRESENT;
        case CKR_DEVICE_REMOVED:
        case CKR_SESSION_HANDLE_INVALID:
        case CKR_SESSION_CLOSED:
                return P11_ERROR_DEVICE_REMOVED;
        case CKR_KEY_HANDLE_INVALID:
        case CKR_OBJECT_HANDLE_INVALID:
                return P11_ERROR_KEY_NOT_FOUND;
        case CKR_MECHANISM_INVALID:
        case CKR_MECHANISM_PARAM_INVALID:
        case CKR_KEY_TYPE_INCONSISTENT:
        case CKR_KEY_FUNCTION_NOT_PERMITTED:
        case CKR_DATA_LEN_RANGE:
                return P11_ERROR_MECHANISM_INVALID;
        case CKR_USER_NOT_LOGGED_IN:
                return P11_ERROR_NOT_LOGGED_IN;
        case CKR_DEVICE_ERROR:
        case CKR_DEVICE_MEMORY:
        case CKR_TOKEN_WRITE_PROTECTED:
                return P11_ERROR_DEVICE_ERROR;
        case CKR_FUNCTION_CANCELED:
                return P11_ERROR_CANCELED;
        case CKR_SLOT_ID_INVALID:
                return P11_ERROR_SLOT_INVALID;
        case CKR_HOST_MEMORY:
                return P11_ERROR_NO_MEMORY;
        case CKR_ARGUMENTS_BAD:
                return P11_ERROR_BAD_ARGUMENTS;
        default:
                return P11_ERROR_FUNCTION_FAILED;
        }
}

int p11_error_to_errno(P11Error e) {
        switch (e) {
        case P11_ERROR_NONE:
                return 0;
        case P11_ERROR_PIN_INCORRECT:
        case P11_ERROR_PIN_LEN_RANGE:
        case P11_ERROR_PIN_EXPIRED:
        case P11_ERROR_NOT_LOGGED_IN:
                return -EKEYREJECTED;
        case P11_ERROR_PIN_LOCKED:
                return -ENOLCK;
        case P11_ERROR_TOKEN_NOT_PRESENT:
        case P11_ERROR_DEVICE_REMOVED:
        case P11_ERROR_SLOT_INVALID:
                return -ENODEV;
        case P11_ERROR_KEY_NOT_FOUND:
                return -ENOKEY;
        case P11_ERROR_MECHANISM_INVALID:
                return -EOPNOTSUPP;
        case P11_ERROR_CANCELED:
                return -ECANCELED;
        case P11_ERROR_BAD_ARGUMENTS:
                return -EINVAL;
        case P11_ERROR_PROTOCOL:
                return -EPROTO; /* between kyso's own processes: not the document's fault */
        case P11_ERROR_VERSION:
                return -EPROTONOSUPPORT;
        case P11_ERROR_NO_MEMORY:
                return -ENOMEM;
        case P11_ERROR_HELPER_FAILED:
                return -ECONNRESET;
        case P11_ERROR_TIMEOUT:
                return -ETIME;
        case P11_ERROR_MODULE:
                return -ELIBBAD;
        default:
                return -EIO;
        }
}

static const char *const p11_error_table[_P11_ERROR_MAX] = {
        [P11_ERROR_NONE] = "none",
        [P11_ERROR_PIN_INCORRECT] = "pin-incorrect",
        [P11_ERROR_PIN_LOCKED] = "pin-locked",
        [P11_ERROR_PIN_LEN_RANGE] = "pin-length",
        [P11_ERROR_PIN_EXPIRED] = "pin-expired",
        [P11_ERROR_TOKEN_NOT_PRESENT] = "token-not-present",
        [P11_ERROR_DEVICE_REMOVED] = "device-removed",
        [P11_ERROR_KEY_NOT_FOUND] = "key-not-found",
        [P11_ERROR_MECHANISM_INVALID] = "mechanism-invalid",
        [P11_ERROR_NOT_LOGGED_IN] = "not-logged-in",
        [P11_ERROR_DEVICE_ERROR] = "device-error",
        [P11_ERROR_FUNCTION_FAILED] = "function-failed",
        [P11_ERROR_CANCELED] = "canceled",
        [P11_ERROR_SLOT_INVALID] = "slot-invalid",
        [P11_ERROR_BAD_ARGUMENTS] = "bad-arguments",
        [P11_ERROR_PROTOCOL] = "protocol",
        [P11_ERROR_VERSION] = "version",
        [P11_ERROR_MODULE] = "module",
        [P11_ERROR_NO_MEMORY] = "no-memory",
        [P11_ERROR_HELPER_FAILED] = "helper-failed",
        [P11_ERROR_TIMEOUT] = "timeout",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(p11_error, P11Error);

unsigned p11_pin_flags_from_token_flags(uint64_t f) {
        static const struct {
                uint64_t token_flag; /* CKF_* of CK_TOKEN_INFO */
                unsigned pin_flag;   /* P11_PIN_* */
        } map[] = {
                { CKF_USER_PIN_COUNT_LOW, P11_PIN_COUNT_LOW },
                { CKF_USER_PIN_FINAL_TRY, P11_PIN_FINAL_TRY },
                { CKF_USER_PIN_LOCKED, P11_PIN_LOCKED },
                { CKF_USER_PIN_TO_BE_CHANGED, P11_PIN_TO_BE_CHANGED },
                { CKF_PROTECTED_AUTHENTICATION_PATH, P11_PROTECTED_AUTH_PATH },
                { CKF_LOGIN_REQUIRED, P11_LOGIN_REQUIRED },
        };
        unsigned r = 0;

        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (f & map[i].token_flag)
                        r |= map[i].pin_flag;
        return r;
}
