/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The kysod ↔ kyso-p11-helper wire protocol (PROTOCOL.md): length-prefixed, versioned frames over a stream
 * socketpair, with strict bounds-checked encoders and decoders; also the one place CK_RV becomes a P11Error.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secret.h"

#define P11_PROTOCOL_VERSION 1u
#define P11_FRAME_HEADER_SIZE 12u
#define P11_FRAME_MAX (1024u * 1024u) /* header included */

/* Field limits: a frame that exceeds one is rejected, whatever its total size. */
#define P11_STRING_MAX 1024u
#define P11_ID_MAX 256u
#define P11_DER_MAX (64u * 1024u)
#define P11_PIN_MAX 256u
#define P11_DIGEST_MAX 64u
#define P11_SIGNATURE_MAX 2048u
#define P11_SLOTS_MAX 256u
#define P11_CERTS_MAX 256u

typedef enum P11MessageType {
        P11_MSG_HELLO = 1,
        P11_MSG_LIST_SLOTS = 2,
        P11_MSG_LIST_CERTS = 3,
        P11_MSG_LOGIN = 4,
        P11_MSG_SIGN = 5,
        P11_MSG_LOGOUT = 6,
        P11_MSG_REPLY = 0x80, /* OR'ed into the request type for its reply */
        P11_MSG_ERROR = 0xff, /* reply to any request */
} P11MessageType;

/* Stable error codes; values never change (they may be logged and compared across versions). */
typedef enum P11Error {
        P11_ERROR_NONE = 0,
        P11_ERROR_PIN_INCORRECT = 1,
        P11_ERROR_PIN_LOCKED = 2,
        P11_ERROR_PIN_LEN_RANGE = 3,
        P11_ERROR_PIN_EXPIRED = 4,
        P11_ERROR_TOKEN_NOT_PRESENT = 5,
        P11_ERROR_DEVICE_REMOVED = 6,
        P11_ERROR_KEY_NOT_FOUND = 7,
        P11_ERROR_MECHANISM_INVALID = 8,
        P11_ERROR_NOT_LOGGED_IN = 9,
        P11_ERROR_DEVICE_ERROR = 10,
        P11_ERROR_FUNCTION_FAILED = 11,
        P11_ERROR_CANCELED = 12,
        P11_ERROR_SLOT_INVALID = 13,
        P11_ERROR_BAD_ARGUMENTS = 14,
        P11_ERROR_PROTOCOL = 15, /* malformed or unexpected message */
        P11_ERROR_VERSION = 16,  /* no common protocol version */
        P11_ERROR_MODULE = 17,   /* the module could not be loaded or initialised */
        P11_ERROR_NO_MEMORY = 18,
        P11_ERROR_HELPER_FAILED = 19, /* manager side: the helper crashed, hung or went away */
        P11_ERROR_TIMEOUT = 20,       /* manager side: no answer within the call timeout */
        _P11_ERROR_MAX,
        _P11_ERROR_INVALID = -EINVAL,
} P11Error;

typedef enum P11SignAlgorithm {
        P11_SIGN_RSA_PKCS1 = 1, /* RSASSA-PKCS1-v1_5: the helper wraps the digest in a DigestInfo */
        P11_SIGN_RSA_PSS = 2,   /* RSASSA-PSS with hash, MGF1 hash and salt length */
        P11_SIGN_ECDSA = 3,     /* ECDSA over the digest; the signature comes back DER (ECDSA-Sig-Value) */
        _P11_SIGN_MAX,
        _P11_SIGN_INVALID = -EINVAL,
} P11SignAlgorithm;

typedef enum P11Hash {
        P11_HASH_SHA256 = 1,
        P11_HASH_SHA384 = 2,
        P11_HASH_SHA512 = 3,
        _P11_HASH_MAX,
        _P11_HASH_INVALID = -EINVAL,
} P11Hash;

typedef struct P11SignMechanism {
        P11SignAlgorithm algorithm;
        P11Hash hash;     /* the hash the digest was made with */
        P11Hash mgf_hash; /* PSS only; 0 = same as hash */
        int salt_length;  /* PSS only; -1 = digest length */
} P11SignMechanism;

/* Request flags for LOGIN and SIGN. */
enum {
        P11_FLAG_PROTECTED_AUTH = 1 << 0, /* log in through the reader's PIN pad (no PIN sent) */
        P11_FLAG_KEEP_LOGIN = 1 << 1,     /* SIGN: stay logged in afterwards (default: log out) */
        /* SIGN: the token is logged in already (an earlier signature of the same batch kept the login): no
         * user login; the PIN, or the PIN pad, serves only a key's context-specific login. */
        P11_FLAG_USE_LOGIN = 1 << 2,
};

typedef struct P11Frame {
        uint8_t type;    /* P11MessageType */
        uint32_t serial; /* chosen by the requester, echoed in the reply */
        const uint8_t *body;
        size_t body_size;
} P11Frame;

/* A growing output buffer. Its memory is wiped whenever it is moved or freed: frames carry PINs. */
typedef struct P11Writer {
        uint8_t *data;
        size_t size;
        size_t allocated;
        int error; /* first failure, sticky */
} P11Writer;

typedef struct P11Reader {
        const uint8_t *p;
        size_t left;
        int error; /* first failure (-EBADMSG), sticky */
} P11Reader;

/* Frames. */
void p11_writer_done(P11Writer *w); /* wipes and frees */
int p11_frame_begin(P11Writer *w, uint8_t type, uint32_t serial);
int p11_frame_end(P11Writer *w); /* fills in the length; -EMSGSIZE if above P11_FRAME_MAX */
/* How many bytes the frame at buf needs in total, from its header: -EAGAIN if fewer than a header is there,
 * -EBADMSG for a wrong version or an impossible length. */
int p11_frame_peek_size(const void *buf, size_t size, size_t *ret);
int p11_frame_parse(const void *buf, size_t size, P11Frame *ret);

/* Primitive encoders/decoders; exposed for the tests and the fuzzer. */
void p11_put_u8(P11Writer *w, uint8_t v);
void p11_put_u32(P11Writer *w, uint32_t v);
void p11_put_u64(P11Writer *w, uint64_t v);
void p11_put_bytes(P11Writer *w, const void *p, size_t n);
void p11_put_string(P11Writer *w, const char *s);
void p11_reader_init(P11Reader *r, const P11Frame *f);
uint8_t p11_get_u8(P11Reader *r);
uint32_t p11_get_u32(P11Reader *r);
uint64_t p11_get_u64(P11Reader *r);
int p11_get_bytes(P11Reader *r, size_t max, uint8_t **ret, size_t *ret_size); /* allocates */
int p11_get_string(P11Reader *r, size_t max, char **ret);                     /* no NUL inside */
int p11_get_secret(P11Reader *r, size_t max, Secret **ret);                   /* empty: *ret = NULL */
int p11_reader_finish(P11Reader *r); /* -EBADMSG if an error happened or bytes are left over */

/* Messages. Each *_free() accepts NULL and frees the members only (the struct is usually on the stack). */
typedef struct P11HelloRequest {
        uint32_t min_version, max_version;
} P11HelloRequest;

typedef struct P11HelloReply {
        uint32_t version;
        char *manufacturer; /* CK_INFO */
        char *description;
        uint8_t cryptoki_major, cryptoki_minor;
} P11HelloReply;
void p11_hello_reply_done(P11HelloReply *h);

typedef struct P11SlotEntry {
        uint64_t slot_id;
        uint64_t slot_flags; /* CK_SLOT_INFO.flags */
        char *slot_description;
        char *label, *manufacturer, *model, *serial; /* CK_TOKEN_INFO, trailing blanks removed */
        uint64_t token_flags;                        /* CK_TOKEN_INFO.flags */
        uint32_t min_pin, max_pin;
} P11SlotEntry;

typedef struct P11SlotList {
        P11SlotEntry *slots;
        size_t n_slots;
} P11SlotList;
void p11_slot_list_done(P11SlotList *l);

typedef struct P11CertEntry {
        uint8_t *id;
        size_t id_size;
        char *label;
        uint8_t *der;
        size_t der_size;
        bool has_private_key;
        bool always_authenticate;
        uint32_t key_type; /* CKK_*, or UINT32_MAX when there is no private key */
} P11CertEntry;

typedef struct P11CertList {
        P11CertEntry *certs;
        size_t n_certs;
} P11CertList;
void p11_cert_list_done(P11CertList *l);

typedef struct P11LoginRequest {
        uint64_t slot_id;
        uint32_t flags; /* P11_FLAG_PROTECTED_AUTH */
        Secret *pin;    /* NULL with P11_FLAG_PROTECTED_AUTH */
} P11LoginRequest;
void p11_login_request_done(P11LoginRequest *l);

typedef struct P11SignRequest {
        uint64_t slot_id;
        uint8_t *id;
        size_t id_size;
        P11SignMechanism mechanism;
        uint32_t flags; /* P11_FLAG_* */
        uint8_t *digest;
        size_t digest_size;
        Secret *pin; /* NULL: already logged in, or a PIN pad */
} P11SignRequest;
void p11_sign_request_done(P11SignRequest *s);

typedef struct P11SignReply {
        uint8_t *signature;
        size_t signature_size;
        bool always_authenticate; /* the key has CKA_ALWAYS_AUTHENTICATE: each signature needs the PIN */
} P11SignReply;
void p11_sign_reply_done(P11SignReply *s);

typedef struct P11ErrorReply {
        P11Error code;
        uint64_t ck_rv;     /* the module's CK_RV, for logs; 0 when not from the module */
        uint32_t pin_flags; /* P11PinFlags after a failed login (P11_PIN_* bits) */
        char *message;      /* English, for logs; never contains a PIN */
} P11ErrorReply;
void p11_error_reply_done(P11ErrorReply *e);

int p11_encode_hello_request(P11Writer *w, uint32_t serial, const P11HelloRequest *h);
int p11_decode_hello_request(const P11Frame *f, P11HelloRequest *ret);
int p11_encode_hello_reply(P11Writer *w, uint32_t serial, const P11HelloReply *h);
int p11_decode_hello_reply(const P11Frame *f, P11HelloReply *ret);
int p11_encode_empty(P11Writer *w, uint8_t type, uint32_t serial); /* LIST_SLOTS request, OK replies */
int p11_decode_empty(const P11Frame *f);
int p11_encode_slot_request(
        P11Writer *w, uint8_t type, uint32_t serial, uint64_t slot_id); /* LIST_CERTS, LOGOUT */
int p11_decode_slot_request(const P11Frame *f, uint64_t *ret_slot_id);
int p11_encode_slot_list(P11Writer *w, uint32_t serial, const P11SlotList *l);
int p11_decode_slot_list(const P11Frame *f, P11SlotList *ret);
int p11_encode_cert_list(P11Writer *w, uint32_t serial, const P11CertList *l);
int p11_decode_cert_list(const P11Frame *f, P11CertList *ret);
int p11_encode_login_request(P11Writer *w, uint32_t serial, const P11LoginRequest *l);
int p11_decode_login_request(const P11Frame *f, P11LoginRequest *ret);
int p11_encode_sign_request(P11Writer *w, uint32_t serial, const P11SignRequest *s);
int p11_decode_sign_request(const P11Frame *f, P11SignRequest *ret);
int p11_encode_sign_reply(P11Writer *w, uint32_t serial, const P11SignReply *s);
int p11_decode_sign_reply(const P11Frame *f, P11SignReply *ret);
int p11_encode_error_reply(P11Writer *w, uint32_t serial, const P11ErrorReply *e);
int p11_decode_error_reply(const P11Frame *f, P11ErrorReply *ret);

/* Decodes any frame with the decoder its type calls for and frees the result; for the fuzzer and tests. */
int p11_decode_any(const void *buf, size_t size);

/* Errors. CK_RV is mapped here and nowhere else. */
P11Error p11_error_from_ckrv(unsigned long rv);
/* Into kyso's errno vocabulary (dbus/dbus-error-names.h): -EKEYREJECTED wrong PIN, -ENOLCK locked, ... */
int p11_error_to_errno(P11Error e);
const char *p11_error_to_string(P11Error e); /* stable identifier, e.g. "pin-incorrect" */
unsigned p11_pin_flags_from_token_flags(uint64_t ck_token_flags);

int p11_mechanism_validate(const P11SignMechanism *m, size_t digest_size);
size_t p11_hash_size(P11Hash h); /* 0 for an invalid hash */
