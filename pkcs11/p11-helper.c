/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw PKCS#11 through the module's function list, not libp11: libp11 0.4.12 caches its slot and token list
 * (PKCS11_enumerate_slots) and cannot tell a removed token from a failed call, folds CK_RV into OpenSSL
 * error codes (so "PIN incorrect" vs "PIN locked" and the token's PIN flags after a failed login are lost),
 * and has no context-specific login for CKA_ALWAYS_AUTHENTICATE keys nor PSS parameters in 0.4.12. The
 * helper needs exactly those, and a dozen calls, so it talks to the module directly. */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <string.h>

#include "fileio.h"
#include "formats/sign-encoding.h"
#include "log.h"
#include "macro.h"
#include "p11-helper.h"
#include "p11-manager.h"
#include "p11-protocol.h"

/* The private key last used on a slot's session, so that a signature does not search the token for it (a
 * C_FindObjects each time: SoftHSM reads every object of the token for it). Kept for the session across the
 * logout after a request and the login of the next (a module may renumber its objects meanwhile, so the
 * handle is checked before each use: class, CKA_ID, key type and CKA_ALWAYS_AUTHENTICATE); forgotten on a
 * login or logout the agent asks for, session close or loss (token removed), and when the module no longer
 * knows the handle (the lookup is then made once more). */
typedef struct KeyCache {
        bool valid;
        uint8_t id[P11_ID_MAX];
        size_t id_size;
        CK_OBJECT_HANDLE handle;
        CK_KEY_TYPE type;
        bool always_authenticate;
} KeyCache;

typedef struct SlotSession {
        CK_SLOT_ID slot;
        CK_SESSION_HANDLE handle;
        bool open;
        KeyCache key;
} SlotSession;

typedef struct Helper {
        int fd;
        const char *module_path;
        void *dl;
        CK_FUNCTION_LIST *f;
        bool initialized;
        char *load_error; /* why the module could not be used; reported to the manager */
        bool hello_done;
        SlotSession sessions[P11_SLOTS_MAX];
        size_t n_sessions;
} Helper;

/* An error to send back: a stable code, the module's CK_RV, and a message for logs (never a PIN). */
typedef struct HelperError {
        P11Error code;
        CK_RV rv;
        unsigned pin_flags;
        const char *message;
} HelperError;

static int fail_rv(HelperError *e, CK_RV rv, const char *message) {
        *e = (HelperError){ .code = p11_error_from_ckrv(rv), .rv = rv, .message = message };
        if (e->code == P11_ERROR_NONE)
                e->code = P11_ERROR_FUNCTION_FAILED;
        return -EIO;
}

static int fail(HelperError *e, P11Error code, const char *message) {
        *e = (HelperError){ .code = code, .message = message };
        return -EIO;
}

static int load_module(Helper *h) {
        CK_C_GetFunctionList get_list;
        CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
        CK_RV rv;

        /* RTLD_LOCAL so that one module's symbols never satisfy another library's references. */
        h->dl = dlopen(h->module_path, RTLD_NOW | RTLD_LOCAL);
        if (!h->dl) {
                const char *d = dlerror();
                if (asprintf(&h->load_error, "cannot load module: %s", d ?: "unknown error") < 0)
                        h->load_error = NULL;
                return -ELIBBAD;
        }
        get_list = (CK_C_GetFunctionList) dlsym(h->dl, "C_GetFunctionList");
        if (!get_list) {
                h->load_error = strdup("module has no C_GetFunctionList");
                return -ELIBBAD;
        }
        rv = get_list(&h->f);
        if (rv != CKR_OK || !h->f) {
                if (asprintf(&h->load_error, "C_GetFunctionList failed: 0x%lx", (unsigned long) rv) < 0)
                        h->load_error = NULL;
                return -ELIBBAD;
        }
        rv = h->f->C_Initialize(&args);
        if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
                if (asprintf(&h->load_error, "C_Initialize failed: 0x%lx", (unsigned long) rv) < 0)
                        h->load_error = NULL;
                return -ELIBBAD;
        }
        h->initialized = true;
        return 0;
}

static void trim_copy(char **ret, const unsigned char *field, size_t size) {
        size_t n = size;
        while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0'))
                n--;
        /* A field with a NUL inside would be refused by the decoder: cut it there. */
        const unsigned char *z = memchr(field, 0, n);
        if (z)
                n = (size_t) (z - field);
        *ret = strndup((const char *) field, n);
}

static SlotSession *session_find(Helper *h, CK_SLOT_ID slot) {
        for (size_t i = 0; i < h->n_sessions; i++)
                if (h->sessions[i].slot == slot && h->sessions[i].open)
                        return &h->sessions[i];
        return NULL;
}

static void session_drop(Helper *h, CK_SLOT_ID slot) {
        SlotSession *s = session_find(h, slot);
        if (!s)
                return;
        (void) h->f->C_CloseSession(s->handle);
        *s = h->sessions[--h->n_sessions];
        h->sessions[h->n_sessions] = (SlotSession){};
}

static CK_RV session_get(Helper *h, CK_SLOT_ID slot, CK_SESSION_HANDLE *ret) {
        SlotSession *s = session_find(h, slot);
        CK_SESSION_HANDLE handle;
        CK_RV rv;

        if (s) {
                *ret = s->handle;
                return CKR_OK;
        }
        if (h->n_sessions >= ELEMENTSOF(h->sessions))
                return CKR_SESSION_COUNT;
        rv = h->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &handle);
        if (rv != CKR_OK)
                return rv;
        h->sessions[h->n_sessions++] = (SlotSession){ .slot = slot, .handle = handle, .open = true };
        *ret = handle;
        return CKR_OK;
}

static void key_cache_forget(Helper *h, CK_SLOT_ID slot) {
        SlotSession *s = session_find(h, slot);
        if (s)
                s->key = (KeyCache){};
}

static bool session_gone(CK_RV rv) {
        return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_DEVICE_REMOVED ||
               rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR;
}

static unsigned token_pin_flags(Helper *h, CK_SLOT_ID slot) {
        CK_TOKEN_INFO ti;
        if (h->f->C_GetTokenInfo(slot, &ti) != CKR_OK)
                return 0;
        return p11_pin_flags_from_token_flags(ti.flags);
}

static int send_frame(Helper *h, P11Writer *w) {
        int r = loop_write(h->fd, w->data, w->size);
        explicit_bzero(w->data, w->size);
        return r;
}

static int send_error(Helper *h, uint32_t serial, const HelperError *e) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        P11ErrorReply reply = {
                .code = e->code,
                .ck_rv = e->rv,
                .pin_flags = e->pin_flags,
                .message = (char *) e->message,
        };
        int r = p11_encode_error_reply(&w, serial, &reply);
        if (r < 0)
                return r;
        return send_frame(h, &w);
}

static int handle_hello(Helper *h, const P11Frame *f, HelperError *e) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        _cleanup_(p11_hello_reply_done) P11HelloReply reply = {};
        P11HelloRequest req;
        CK_INFO info;
        int r;

        if (p11_decode_hello_request(f, &req) < 0)
                return fail(e, P11_ERROR_PROTOCOL, "malformed hello");
        if (req.min_version > P11_PROTOCOL_VERSION || req.max_version < P11_PROTOCOL_VERSION)
                return fail(e, P11_ERROR_VERSION, "no common protocol version");
        if (!h->initialized)
                return fail(e, P11_ERROR_MODULE, h->load_error ?: "module not loaded");

        CK_RV rv = h->f->C_GetInfo(&info);
        if (rv != CKR_OK)
                return fail_rv(e, rv, "C_GetInfo failed");
        trim_copy(&reply.manufacturer, info.manufacturerID, sizeof(info.manufacturerID));
        trim_copy(&reply.description, info.libraryDescription, sizeof(info.libraryDescription));
        if (!reply.manufacturer || !reply.description)
                return fail(e, P11_ERROR_NO_MEMORY, "out of memory");
        reply.version = P11_PROTOCOL_VERSION;
        reply.cryptoki_major = info.cryptokiVersion.major;
        reply.cryptoki_minor = info.cryptokiVersion.minor;
        r = p11_encode_hello_reply(&w, f->serial, &reply);
        if (r < 0)
                return fail(e, P11_ERROR_NO_MEMORY, "cannot encode reply");
        h->hello_done = true;
        return send_frame(h, &w);
}

static int handle_list_slots(Helper *h, const P11Frame *f, HelperError *e) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        _cleanup_(p11_slot_list_done) P11SlotList list = {};
        _cleanup_free_ CK_SLOT_ID *ids = NULL;
        CK_ULONG n = 0;
        CK_RV rv;

        if (p11_decode_empty(f) < 0)
                return fail(e, P11_ERROR_PROTOCOL, "malformed request");

        /* The list can grow between the two calls (a token plugged in): retry a few times. */
        for (unsigned attempt = 0;; attempt++) {
                rv = h->f->C_GetSlotList(CK_TRUE, NULL, &n);
                if (rv != CKR_OK)
                        return fail_rv(e, rv, "C_GetSlotList failed");
                n = MIN(n, (CK_ULONG) P11_SLOTS_MAX);
                free(ids);
                ids = calloc(MAX(n, (CK_ULONG) 1), sizeof(CK_SLOT_ID));
                if (!ids)
                        return fail(e, P11_ERROR_NO_MEMORY, "out of memory");
                rv = h->f->C_GetSlotList(CK_TRUE, ids, &n);
                if (rv == CKR_BUFFER_TOO_SMALL && attempt < 3)
                        continue;
                if (rv != CKR_OK)
                        return fail_rv(e, rv, "C_GetSlotList failed");
                break;
        }

        list.slots = calloc(MAX(n, (CK_ULONG) 1), sizeof(P11SlotEntry));
        if (!list.slots)
                return fail(e, P11_ERROR_NO_MEMORY, "out of memory");
        for (CK_ULONG i = 0; i < n; i++) {
                CK_SLOT_INFO si;
                CK_TOKEN_INFO ti;

                if (h->f->C_GetSlotInfo(ids[i], &si) != CKR_OK || !(si.flags & CKF_TOKEN_PRESENT))
                        continue;
                /* Removed between the two calls, or not recognised: not a token we can list. */
                if (h->f->C_GetTokenInfo(ids[i], &ti) != CKR_OK)
                        continue;
                P11SlotEntry *s = &list.slots[list.n_slots++];
                s->slot_id = ids[i];
                s->slot_flags = si.flags;
                trim_copy(&s->slot_description, si.slotDescription, sizeof(si.slotDescription));
                trim_copy(&s->label, ti.label, sizeof(ti.label));
                trim_copy(&s->manufacturer, ti.manufacturerID, sizeof(ti.manufacturerID));
                trim_copy(&s->model, ti.model, sizeof(ti.model));
                trim_copy(&s->serial, ti.serialNumber, sizeof(ti.serialNumber));
                if (!s->slot_description || !s->label || !s->manufacturer || !s->model || !s->serial)
                        return fail(e, P11_ERROR_NO_MEMORY, "out of memory");
                s->token_flags = ti.flags;
                s->min_pin = (uint32_t) MIN(ti.ulMinPinLen, (CK_ULONG) UINT32_MAX);
                s->max_pin = (uint32_t) MIN(ti.ulMaxPinLen, (CK_ULONG) UINT32_MAX);
        }

        /* Sessions on slots whose token went away are dead: a re-inserted token needs a new one. */
        for (size_t i = 0; i < h->n_sessions;) {
                bool present = false;
                for (size_t j = 0; j < list.n_slots; j++)
                        if (list.slots[j].slot_id == h->sessions[i].slot)
                                present = true;
                if (present)
                        i++;
                else
                        session_drop(h, h->sessions[i].slot);
        }

        if (p11_encode_slot_list(&w, f->serial, &list) < 0)
                return fail(e, P11_ERROR_NO_MEMORY, "cannot encode reply");
        return send_frame(h, &w);
}

/* Reads one attribute of any length into a new buffer. */
static CK_RV get_attribute(
        Helper *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, size_t max,
        uint8_t **ret, size_t *ret_size) {
        CK_ATTRIBUTE a = { type, NULL, 0 };
        CK_RV rv = h->f->C_GetAttributeValue(s, o, &a, 1);
        if (rv != CKR_OK)
                return rv;
        if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > max)
                return CKR_ATTRIBUTE_VALUE_INVALID;
        _cleanup_free_ uint8_t *buf = malloc(a.ulValueLen + 1);
        if (!buf)
                return CKR_HOST_MEMORY;
        a.pValue = buf;
        rv = h->f->C_GetAttributeValue(s, o, &a, 1);
        if (rv != CKR_OK)
                return rv;
        buf[a.ulValueLen] = 0;
        *ret_size = a.ulValueLen;
        *ret = TAKE_PTR(buf);
        return CKR_OK;
}

static CK_RV find_objects(
        Helper *h, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl, CK_OBJECT_HANDLE *objs,
        size_t max, size_t *ret_n) {
        CK_ULONG got = 0;
        CK_RV rv = h->f->C_FindObjectsInit(s, tmpl, n_tmpl);
        if (rv != CKR_OK)
                return rv;
        rv = h->f->C_FindObjects(s, objs, max, &got);
        (void) h->f->C_FindObjectsFinal(s);
        if (rv != CKR_OK)
                return rv;
        *ret_n = MIN((size_t) got, max);
        return CKR_OK;
}

static CK_RV find_key(
        Helper *h, CK_SESSION_HANDLE s, CK_OBJECT_CLASS klass, const uint8_t *id, size_t id_size,
        CK_OBJECT_HANDLE *ret) {
        CK_ATTRIBUTE tmpl[] = {
                { CKA_CLASS, &klass, sizeof(klass) },
                { CKA_ID, (void *) id, id_size },
        };
        CK_OBJECT_HANDLE o;
        size_t n = 0;
        CK_RV rv = find_objects(h, s, tmpl, ELEMENTSOF(tmpl), &o, 1, &n);
        if (rv != CKR_OK)
                return rv;
        if (n == 0)
                return CKR_KEY_HANDLE_INVALID;
        *ret = o;
        return CKR_OK;
}

/* Finds the private key with this CKA_ID, its type and CKA_ALWAYS_AUTHENTICATE, from the slot's cache if
 * it has them for this session; *ret_cached tells which, so that a stale handle can be looked up again. */
static CK_RV key_lookup(
        Helper *h, CK_SLOT_ID slot, CK_SESSION_HANDLE s, const uint8_t *id, size_t id_size,
        CK_OBJECT_HANDLE *ret, CK_KEY_TYPE *ret_type, CK_BBOOL *ret_always, bool *ret_cached) {
        SlotSession *ss = session_find(h, slot);
        CK_OBJECT_HANDLE key;
        CK_KEY_TYPE kt = 0;
        CK_BBOOL always = CK_FALSE;
        CK_RV rv;

        if (ss && ss->handle == s && ss->key.valid && ss->key.id_size == id_size &&
            memcmp(ss->key.id, id, id_size) == 0) {
                /* One cheap check that the handle still names this key, as cached: a module may give a
                 * deleted object's handle to another object. */
                uint8_t got_id[P11_ID_MAX];
                CK_OBJECT_CLASS klass = 0;
                CK_KEY_TYPE got_type = 0;
                CK_BBOOL got_always = CK_FALSE;
                CK_ATTRIBUTE c[] = {
                        { CKA_CLASS, &klass, sizeof(klass) },
                        { CKA_ID, got_id, sizeof(got_id) },
                        { CKA_KEY_TYPE, &got_type, sizeof(got_type) },
                        { CKA_ALWAYS_AUTHENTICATE, &got_always, sizeof(got_always) },
                };
                rv = h->f->C_GetAttributeValue(s, ss->key.handle, c, ELEMENTSOF(c));
                if (rv == CKR_OK && klass == CKO_PRIVATE_KEY && c[1].ulValueLen == id_size &&
                    memcmp(got_id, id, id_size) == 0 && got_type == ss->key.type &&
                    (got_always == CK_TRUE) == ss->key.always_authenticate) {
                        *ret = ss->key.handle;
                        *ret_type = ss->key.type;
                        *ret_always = ss->key.always_authenticate ? CK_TRUE : CK_FALSE;
                        *ret_cached = true;
                        return CKR_OK;
                }
                ss->key = (KeyCache){};
        }
        rv = find_key(h, s, CKO_PRIVATE_KEY, id, id_size, &key);
        if (rv != CKR_OK)
                return rv;
        CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };
        rv = h->f->C_GetAttributeValue(s, key, &a, 1);
        if (rv != CKR_OK)
                return rv;
        CK_ATTRIBUTE b = { CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always) };
        if (h->f->C_GetAttributeValue(s, key, &b, 1) != CKR_OK)
                always = CK_FALSE;
        if (ss && ss->handle == s && id_size <= sizeof(ss->key.id)) {
                ss->key = (KeyCache){ .valid = true,
                                      .id_size = id_size,
                                      .handle = key,
                                      .type = kt,
                                      .always_authenticate = always == CK_TRUE };
                memcpy(ss->key.id, id, id_size);
        }
        *ret = key;
        *ret_type = kt;
        *ret_always = always;
        *ret_cached = false;
        return CKR_OK;
}

static bool session_logged_in(Helper *h, CK_SESSION_HANDLE s) {
        CK_SESSION_INFO si;
        if (h->f->C_GetSessionInfo(s, &si) != CKR_OK)
                return false;
        return si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS;
}

static CK_RV list_certs(Helper *h, CK_SLOT_ID slot, P11CertList *list) {
        CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
        CK_CERTIFICATE_TYPE ctype = CKC_X_509;
        CK_ATTRIBUTE tmpl[] = {
                { CKA_CLASS, &klass, sizeof(klass) },
                { CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) },
        };
        CK_OBJECT_HANDLE objs[P11_CERTS_MAX];
        CK_SESSION_HANDLE s;
        size_t n = 0;
        CK_RV rv;

        rv = session_get(h, slot, &s);
        if (rv != CKR_OK)
                return rv;
        rv = find_objects(h, s, tmpl, ELEMENTSOF(tmpl), objs, ELEMENTSOF(objs), &n);
        if (rv != CKR_OK)
                return rv;
        bool logged_in = session_logged_in(h, s);

        list->certs = calloc(MAX(n, (size_t) 1), sizeof(P11CertEntry));
        if (!list->certs)
                return CKR_HOST_MEMORY;
        for (size_t i = 0; i < n; i++) {
                P11CertEntry *c = &list->certs[list->n_certs];
                size_t label_size = 0;
                CK_OBJECT_HANDLE key;

                rv = get_attribute(h, s, objs[i], CKA_VALUE, P11_DER_MAX, &c->der, &c->der_size);
                if (session_gone(rv))
                        return rv;
                if (rv != CKR_OK || c->der_size == 0) {
                        free(c->der);
                        *c = (P11CertEntry){};
                        continue; /* not readable: skip this one, not the token */
                }
                list->n_certs++;
                rv = get_attribute(h, s, objs[i], CKA_ID, P11_ID_MAX, &c->id, &c->id_size);
                if (session_gone(rv))
                        return rv;
                rv = get_attribute(
                        h, s, objs[i], CKA_LABEL, P11_STRING_MAX, (uint8_t **) &c->label, &label_size);
                if (session_gone(rv))
                        return rv;
                if (c->label && memchr(c->label, 0, label_size))
                        c->label[0] = 0;
                c->key_type = UINT32_MAX;
                if (c->id_size == 0)
                        continue;

                rv = find_key(h, s, CKO_PRIVATE_KEY, c->id, c->id_size, &key);
                if (session_gone(rv))
                        return rv;
                if (rv != CKR_OK && !logged_in)
                        /* Private keys are usually private objects, invisible before login: the public
                         * key of the pair (public) stands for it until then. */
                        rv = find_key(h, s, CKO_PUBLIC_KEY, c->id, c->id_size, &key);
                if (session_gone(rv))
                        return rv;
                if (rv != CKR_OK)
                        continue;
                c->has_private_key = true;
                CK_KEY_TYPE kt = 0;
                CK_BBOOL always = CK_FALSE;
                CK_ATTRIBUTE a[] = {
                        { CKA_KEY_TYPE, &kt, sizeof(kt) },
                };
                if (h->f->C_GetAttributeValue(s, key, a, 1) == CKR_OK)
                        c->key_type = (uint32_t) kt;
                CK_ATTRIBUTE b = { CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always) };
                if (h->f->C_GetAttributeValue(s, key, &b, 1) == CKR_OK)
                        c->always_authenticate = always == CK_TRUE;
        }
        return CKR_OK;
}

static int handle_list_certs(Helper *h, const P11Frame *f, HelperError *e) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        uint64_t slot;
        CK_RV rv;

        if (p11_decode_slot_request(f, &slot) < 0)
                return fail(e, P11_ERROR_PROTOCOL, "malformed request");

        /* A session opened before the token was pulled and put back is stale: retry once with a new one. */
        for (unsigned attempt = 0;; attempt++) {
                _cleanup_(p11_cert_list_done) P11CertList list = {};
                rv = list_certs(h, slot, &list);
                if (session_gone(rv)) {
                        session_drop(h, slot);
                        if (attempt == 0 && rv != CKR_TOKEN_NOT_PRESENT && rv != CKR_DEVICE_REMOVED)
                                continue;
                }
                if (rv != CKR_OK)
                        return fail_rv(e, rv, "cannot list certificates");
                if (p11_encode_cert_list(&w, f->serial, &list) < 0)
                        return fail(e, P11_ERROR_NO_MEMORY, "cannot encode reply");
                return send_frame(h, &w);
        }
}

/* A user login that really checks the PIN: if the token is already logged in, log out first. */
static CK_RV login_user(Helper *h, CK_SESSION_HANDLE s, const Secret *pin, bool protected_auth) {
        CK_UTF8CHAR *p = protected_auth ? NULL : (CK_UTF8CHAR *) secret_get(pin);
        CK_ULONG n = protected_auth ? 0 : secret_size(pin);
        CK_RV rv = h->f->C_Login(s, CKU_USER, p, n);
        if (rv == CKR_USER_ALREADY_LOGGED_IN) {
                (void) h->f->C_Logout(s);
                rv = h->f->C_Login(s, CKU_USER, p, n);
        }
        return rv;
}

static int login_failed(Helper *h, CK_SLOT_ID slot, CK_RV rv, HelperError *e, const char *message) {
        fail_rv(e, rv, message);
        e->pin_flags = token_pin_flags(h, slot);
        return -EIO;
}

static int handle_login(Helper *h, const P11Frame *f, HelperError *e) {
        _cleanup_(p11_login_request_done) P11LoginRequest req = {};
        _cleanup_(p11_writer_done) P11Writer w = {};
        CK_SESSION_HANDLE s;
        CK_RV rv;

        if (p11_decode_login_request(f, &req) < 0)
                return fail(e, P11_ERROR_PROTOCOL, "malformed request");
        rv = session_get(h, req.slot_id, &s);
        if (rv != CKR_OK)
                return fail_rv(e, rv, "cannot open a session");
        key_cache_forget(h, req.slot_id);
        rv = login_user(h, s, req.pin, req.flags & P11_FLAG_PROTECTED_AUTH);
        if (session_gone(rv))
                session_drop(h, req.slot_id);
        if (rv != CKR_OK)
                return login_failed(h, req.slot_id, rv, e, "login failed");
        if (p11_encode_empty(&w, P11_MSG_LOGIN | P11_MSG_REPLY, f->serial) < 0)
                return fail(e, P11_ERROR_NO_MEMORY, "cannot encode reply");
        return send_frame(h, &w);
}

static int handle_logout(Helper *h, const P11Frame *f, HelperError *e) {
        _cleanup_(p11_writer_done) P11Writer w = {};
        uint64_t slot;

        if (p11_decode_slot_request(f, &slot) < 0)
                return fail(e, P11_ERROR_PROTOCOL, "malformed request");
        SlotSession *ss = session_find(h, slot);
        if (ss) {
                ss->key = (KeyCache){};
                CK_RV rv = h->f->C_Logout(ss->handle);
                if (session_gone(rv))
                        session_drop(h, slot);
                else if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN)
                        return fail_rv(e, rv, "logout failed");
        }
        if (p11_encode_empty(&w, P11_MSG_LOGOUT | P11_MSG_REPLY, f->serial) < 0)
                return fail(e, P11_ERROR_NO_MEMORY, "cannot encode reply");
        return send_frame(h, &w);
}

static const uint8_t digest_info_sha256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                              0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
static const uint8_t digest_info_sha384[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                              0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 };
static const uint8_t digest_info_sha512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                              0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 };

static CK_MECHANISM_TYPE hash_mechanism(P11Hash hash) {
        return hash == P11_HASH_SHA512 ? CKM_SHA512 : hash == P11_HASH_SHA384 ? CKM_SHA384 : CKM_SHA256;
}

static CK_RSA_PKCS_MGF_TYPE hash_mgf(P11Hash hash) {
        return hash == P11_HASH_SHA512   ? CKG_MGF1_SHA512
               : hash == P11_HASH_SHA384 ? CKG_MGF1_SHA384
                                         : CKG_MGF1_SHA256;
}

static int do_sign(Helper *h, const P11SignRequest *req, HelperError *e, P11SignReply *reply) {
        bool protected_auth = req->flags & P11_FLAG_PROTECTED_AUTH;
        /* A batch's later signatures use the login of its first: the person typed the PIN (or used the PIN
         * pad) once, and a PIN pad would otherwise ask again for every document. */
        bool use_login = req->flags & P11_FLAG_USE_LOGIN;
        CK_SESSION_HANDLE s;
        CK_OBJECT_HANDLE key;
        CK_KEY_TYPE kt = 0;
        CK_BBOOL always = CK_FALSE;
        uint8_t data[sizeof(digest_info_sha512) + P11_DIGEST_MAX];
        size_t data_size = 0;
        CK_RSA_PKCS_PSS_PARAMS pss;
        CK_MECHANISM mech = {};
        CK_RV rv;

        rv = session_get(h, req->slot_id, &s);
        if (rv != CKR_OK)
                return fail_rv(e, rv, "cannot open a session");

        if (!use_login && (req->pin || protected_auth)) {
                rv = login_user(h, s, req->pin, protected_auth);
                if (rv != CKR_OK)
                        return login_failed(h, req->slot_id, rv, e, "login failed");
        } else if (!session_logged_in(h, s)) {
                CK_TOKEN_INFO ti;
                /* The login may be gone with the token (pulled in the middle of a batch): say that. */
                rv = h->f->C_GetTokenInfo(req->slot_id, &ti);
                if (rv != CKR_OK)
                        return fail_rv(e, rv, "cannot read the token's state");
                if (ti.flags & CKF_LOGIN_REQUIRED) {
                        fail(e, P11_ERROR_NOT_LOGGED_IN, "not logged in and no PIN given");
                        e->pin_flags = token_pin_flags(h, req->slot_id);
                        return -EIO;
                }
        }

        bool cached = false;
        rv = key_lookup(h, req->slot_id, s, req->id, req->id_size, &key, &kt, &always, &cached);
        if (rv != CKR_OK)
                return fail_rv(e, rv, "no private key with this id");

        switch (req->mechanism.algorithm) {
        case P11_SIGN_RSA_PKCS1: {
                const uint8_t *prefix = req->mechanism.hash == P11_HASH_SHA512   ? digest_info_sha512
                                        : req->mechanism.hash == P11_HASH_SHA384 ? digest_info_sha384
                                                                                 : digest_info_sha256;
                if (kt != CKK_RSA)
                        return fail(e, P11_ERROR_MECHANISM_INVALID, "not an RSA key");
                memcpy(data, prefix, sizeof(digest_info_sha256));
                memcpy(data + sizeof(digest_info_sha256), req->digest, req->digest_size);
                data_size = sizeof(digest_info_sha256) + req->digest_size;
                mech = (CK_MECHANISM){ CKM_RSA_PKCS, NULL, 0 };
                break;
        }
        case P11_SIGN_RSA_PSS: {
                P11Hash mgf = req->mechanism.mgf_hash ?: req->mechanism.hash;
                if (kt != CKK_RSA)
                        return fail(e, P11_ERROR_MECHANISM_INVALID, "not an RSA key");
                pss = (CK_RSA_PKCS_PSS_PARAMS){
                        .hashAlg = hash_mechanism(req->mechanism.hash),
                        .mgf = hash_mgf(mgf),
                        .sLen = req->mechanism.salt_length < 0 ? req->digest_size
                                                               : (CK_ULONG) req->mechanism.salt_length,
                };
                memcpy(data, req->digest, req->digest_size);
                data_size = req->digest_size;
                mech = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, &pss, sizeof(pss) };
                break;
        }
        case P11_SIGN_ECDSA:
                if (kt != CKK_EC)
                        return fail(e, P11_ERROR_MECHANISM_INVALID, "not an EC key");
                memcpy(data, req->digest, req->digest_size);
                data_size = req->digest_size;
                mech = (CK_MECHANISM){ CKM_ECDSA, NULL, 0 };
                break;
        default:
                return fail(e, P11_ERROR_MECHANISM_INVALID, "unknown algorithm");
        }

        if (always && !req->pin && !protected_auth) {
                /* Checked before C_SignInit: an operation left active would block the session. */
                fail(e, P11_ERROR_NOT_LOGGED_IN, "key needs the PIN for each signature");
                e->pin_flags = token_pin_flags(h, req->slot_id);
                return -EIO;
        }
        rv = h->f->C_SignInit(s, &mech, key);
        if (cached && (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)) {
                /* The key went away since it was cached (deleted, re-imported): look it up once more, and
                 * check again what it is, since the new object may differ. */
                CK_KEY_TYPE kt2 = 0;
                CK_BBOOL always2 = CK_FALSE;
                key_cache_forget(h, req->slot_id);
                rv = key_lookup(h, req->slot_id, s, req->id, req->id_size, &key, &kt2, &always2, &cached);
                if (rv != CKR_OK)
                        return fail_rv(e, rv, "no private key with this id");
                if (kt2 != kt || always2 != always) {
                        key_cache_forget(h, req->slot_id);
                        return fail(e, P11_ERROR_FUNCTION_FAILED, "the key changed on the token; try again");
                }
                rv = h->f->C_SignInit(s, &mech, key);
        }
        if (rv != CKR_OK) {
                key_cache_forget(h, req->slot_id);
                return fail_rv(e, rv, "C_SignInit failed");
        }
        if (always) {
                /* CKA_ALWAYS_AUTHENTICATE: this one operation needs its own login. */
                CK_UTF8CHAR *p = protected_auth ? NULL : (CK_UTF8CHAR *) secret_get(req->pin);
                rv = h->f->C_Login(s, CKU_CONTEXT_SPECIFIC, p, protected_auth ? 0 : secret_size(req->pin));
                if (rv != CKR_OK) {
                        login_failed(h, req->slot_id, rv, e, "context-specific login failed");
                        /* PKCS#11 2.40 cannot cancel the pending C_SignInit: a new session is the only
                         * clean state. */
                        session_drop(h, req->slot_id);
                        return -EIO;
                }
        }

        uint8_t sig[P11_SIGNATURE_MAX];
        CK_ULONG sig_size = sizeof(sig);
        rv = h->f->C_Sign(s, data, data_size, sig, &sig_size);
        explicit_bzero(data, sizeof(data));
        if (rv == CKR_BUFFER_TOO_SMALL)
                /* The one error that leaves the operation active: start over with a new session. */
                session_drop(h, req->slot_id);
        if (rv != CKR_OK)
                return fail_rv(e, rv, "C_Sign failed");
        if (sig_size == 0 || sig_size > sizeof(sig))
                return fail(e, P11_ERROR_FUNCTION_FAILED, "module returned a bad signature length");

        reply->always_authenticate = always;
        if (req->mechanism.algorithm == P11_SIGN_ECDSA) {
                /* PKCS#11 returns ECDSA signatures as r || s; CMS and X.509 want the DER ECDSA-Sig-Value. */
                if (ecdsa_signature_raw_to_der(sig, sig_size, &reply->signature, &reply->signature_size) < 0)
                        return fail(e, P11_ERROR_FUNCTION_FAILED, "malformed ECDSA signature");
        } else {
                reply->signature = malloc(sig_size);
                if (!reply->signature)
                        return fail(e, P11_ERROR_NO_MEMORY, "out of memory");
                memcpy(reply->signature, sig, sig_size);
                reply->signature_size = sig_size;
        }
        return 0;
}

static int handle_sign(Helper *h, const P11Frame *f, HelperError *e) {
        _cleanup_(p11_sign_request_done) P11SignRequest req = {};
        _cleanup_(p11_sign_reply_done) P11SignReply reply = {};
        _cleanup_(p11_writer_done) P11Writer w = {};
        int r;

        if (p11_decode_sign_request(f, &req) < 0)
                return fail(e, P11_ERROR_PROTOCOL, "malformed request");
        r = do_sign(h, &req, e, &reply);
        SlotSession *ss = session_find(h, req.slot_id);
        /* The PIN was given for this signature (or batch) only: do not leave the token open. */
        bool logout = !(r < 0 && session_gone(e->rv)) && ss && !(req.flags & P11_FLAG_KEEP_LOGIN) &&
                      (req.pin || (req.flags & (P11_FLAG_PROTECTED_AUTH | P11_FLAG_USE_LOGIN)));
        if (r < 0 && session_gone(e->rv))
                session_drop(h, req.slot_id);
        if (r >= 0 && p11_encode_sign_reply(&w, f->serial, &reply) < 0)
                r = fail(e, P11_ERROR_NO_MEMORY, "cannot encode reply");
        if (r >= 0)
                r = send_frame(h, &w);
        /* After the reply, not before it: the signature waits for no logout, and the next frame is read only
         * once the token is closed. */
        if (logout)
                (void) h->f->C_Logout(ss->handle);
        return r;
}

typedef int (*RequestHandler)(Helper *h, const P11Frame *f, HelperError *e);

static RequestHandler handler_of(uint8_t type) {
        static const struct {
                uint8_t type;
                RequestHandler handle;
        } handlers[] = {
                { P11_MSG_HELLO, handle_hello },
                { P11_MSG_LIST_SLOTS, handle_list_slots },
                { P11_MSG_LIST_CERTS, handle_list_certs },
                { P11_MSG_LOGIN, handle_login },
                { P11_MSG_SIGN, handle_sign },
                { P11_MSG_LOGOUT, handle_logout },
        };

        for (size_t i = 0; i < ELEMENTSOF(handlers); i++)
                if (handlers[i].type == type)
                        return handlers[i].handle;
        return NULL;
}

static int dispatch(Helper *h, const P11Frame *f) {
        RequestHandler handle = handler_of(f->type);
        HelperError e = {};
        int r;

        if (!h->hello_done && f->type != P11_MSG_HELLO)
                r = fail(&e, P11_ERROR_PROTOCOL, "hello first");
        else if (!handle)
                r = fail(&e, P11_ERROR_PROTOCOL, "unknown request");
        else
                r = handle(h, f, &e);
        if (r == -EIO && e.code != P11_ERROR_NONE)
                return send_error(h, f->serial, &e);
        return r;
}

/* Reads one frame; 0 at a clean EOF before the first byte. */
static int read_frame(int fd, uint8_t *buf, size_t *ret_size) {
        ssize_t n = loop_read(fd, buf, P11_FRAME_HEADER_SIZE);
        if (n == -ECONNRESET)
                return 0; /* the agent went away: the same as EOF */
        if (n < 0)
                return (int) n;
        if (n == 0)
                return 0;
        if ((size_t) n < P11_FRAME_HEADER_SIZE)
                return -EBADMSG;
        size_t total;
        int r = p11_frame_peek_size(buf, P11_FRAME_HEADER_SIZE, &total);
        if (r < 0)
                return r;
        r = loop_read_exact(fd, buf + P11_FRAME_HEADER_SIZE, total - P11_FRAME_HEADER_SIZE);
        if (r < 0)
                return r;
        *ret_size = total;
        return 1;
}

int p11_helper_run(int fd, const char *module_path) {
        _cleanup_free_ uint8_t *buf = NULL;
        Helper h = { .fd = fd, .module_path = module_path };
        int r;

        buf = malloc(P11_FRAME_MAX);
        if (!buf)
                return -ENOMEM;

        r = load_module(&h);
        if (r < 0)
                log_warning("Module %s: %s", module_path, strna(h.load_error));

        for (;;) {
                P11Frame f;
                size_t size = 0;

                r = read_frame(fd, buf, &size);
                if (r <= 0) {
                        if (r < 0)
                                log_error_errno(r, "Bad frame from the agent, exiting: %s", strerror(-r));
                        break;
                }
                r = p11_frame_parse(buf, size, &f);
                if (r >= 0)
                        r = dispatch(&h, &f);
                /* The frame may have carried a PIN. */
                explicit_bzero(buf, size);
                if (r < 0) {
                        log_error_errno(r, "Cannot serve the agent, exiting: %s", strerror(-r));
                        break;
                }
        }

        for (size_t i = 0; i < h.n_sessions; i++)
                (void) h.f->C_CloseSession(h.sessions[i].handle);
        if (h.initialized)
                (void) h.f->C_Finalize(NULL);
        /* No dlclose(): some vendor modules crash when unloaded; the process ends here anyway. */
        free(h.load_error);
        /* A frame cut short may have left part of a PIN in the buffer. */
        explicit_bzero(buf, P11_FRAME_MAX);
        return r < 0 ? r : 0;
}
