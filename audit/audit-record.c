/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/core_dispatch.h>
#include <openssl/provider.h>

#include "audit-record.h"
#include "macro.h"
#include "openssl-util.h"
#include "utf8.h"

static int scan_fail(const char **ret_what, const char *what) {
        if (ret_what)
                *ret_what = what;
        return -EBADMSG;
}

static bool lit(const char **p, const char *end, const char *s, size_t n) {
        if ((size_t) (end - *p) < n || memcmp(*p, s, n) != 0)
                return false;
        *p += n;
        return true;
}
#define LIT(p, end, s) lit(&(p), (end), (s), sizeof(s) - 1)

static inline bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

bool audit_is_hex(const char *s, size_t n) {
        /* Every record's "prev" passes here: eight bytes at a time, no branch per byte (a byte-at-a-time
         * check was a fifth of verify's time). A byte b < 0x80 is in [lo, hi] when b + (0x80 - lo) has its
         * top bit set and b + (0x7f - hi) has not; no sum carries into the next byte. */
        const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
                uint64_t x;
                memcpy(&x, s + i, 8);
                uint64_t digit = (x + 0x50 * ones) & ~(x + 0x46 * ones);
                uint64_t letter = (x + 0x1f * ones) & ~(x + 0x19 * ones);
                if ((x & high) != 0 || ((digit | letter) & high) != high)
                        return false;
        }
        for (; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool time_shape_ok(const char *t) {
        /* YYYY-MM-DDTHH:MM:SS.mmmZ, eight bytes at a time (every record's time passes here): the separators
         * equal the shape's, the digits are in '0'..'9' (the same test as audit_is_hex()'s; a byte with its
         * top bit set fails, and the sums of the others do not carry). */
        static const char shape[AUDIT_TIME_LEN + 1] = "0000-00-00T00:00:00.000Z";
        static const char digit[AUDIT_TIME_LEN + 1] =
                "\xff\xff\xff\xff\0\xff\xff\0\xff\xff\0\xff\xff\0\xff\xff\0\xff\xff"
                "\0\xff\xff\xff\0";
        const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
        for (size_t i = 0; i < AUDIT_TIME_LEN; i += 8) {
                uint64_t x, want, m;
                memcpy(&x, t + i, 8);
                memcpy(&want, shape + i, 8);
                memcpy(&m, digit + i, 8);
                uint64_t in_range = (x + 0x50 * ones) & ~(x + 0x46 * ones);
                if (((x ^ want) & ~m) != 0 || (x & high & m) != 0 || ((in_range & high) ^ high) & m)
                        return false;
        }
        return true;
}

static int scan(const char *line, size_t len, bool resolve, AuditRecordHead *ret, const char **ret_what) {
        const char *p = line, *end = line + len;
        AuditRecordHead h = {};

        if (len < 2 || line[len - 1] != '}')
                return scan_fail(ret_what, "not a JSON object on one line");
        if (!LIT(p, end, "{\"v\":"))
                return scan_fail(ret_what, "does not start with the format version \"v\"");
        if (p >= end || !is_digit(*p))
                return scan_fail(ret_what, "format version is not a number");
        for (unsigned n = 0; p < end && is_digit(*p); p++, n++) {
                if (n >= 6)
                        return scan_fail(ret_what, "format version is not a number");
                h.version = h.version * 10 + (unsigned) (*p - '0');
        }
        if (h.version != AUDIT_FORMAT_VERSION) {
                if (ret) {
                        *ret = h;
                }
                if (ret_what)
                        *ret_what = "unknown format version";
                return -EPROTONOSUPPORT;
        }
        if (!LIT(p, end, ",\"seq\":"))
                return scan_fail(ret_what, "no sequence number \"seq\"");
        if (p >= end || !is_digit(*p) || *p == '0')
                return scan_fail(ret_what, "sequence number is not a positive integer");
        for (unsigned n = 0; p < end && is_digit(*p); p++, n++) {
                unsigned d = (unsigned) (*p - '0');
                if (n >= 19 || h.seq > (UINT64_MAX - d) / 10)
                        return scan_fail(ret_what, "sequence number is too large");
                h.seq = h.seq * 10 + d;
        }
        if (!LIT(p, end, ",\"time\":\""))
                return scan_fail(ret_what, "no \"time\"");
        if ((size_t) (end - p) < AUDIT_TIME_LEN || !time_shape_ok(p))
                return scan_fail(ret_what, "\"time\" is not YYYY-MM-DDTHH:MM:SS.mmmZ");
        h.time = p;
        p += AUDIT_TIME_LEN;
        if (!LIT(p, end, "\",\"prev\":\""))
                return scan_fail(ret_what, "no chain hash \"prev\"");
        if ((size_t) (end - p) < AUDIT_HASH_HEX || !audit_is_hex(p, AUDIT_HASH_HEX))
                return scan_fail(ret_what, "\"prev\" is not 64 lowercase hex digits");
        h.prev = p;
        p += AUDIT_HASH_HEX;
        if (!LIT(p, end, "\",\"event\":\""))
                return scan_fail(ret_what, "no \"event\"");
        h.event_name = p;
        while (p < end && ((*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '-'))
                p++;
        h.event_len = (size_t) (p - h.event_name);
        if (h.event_len == 0 || h.event_len > 64 || p >= end || *p != '"')
                return scan_fail(ret_what, "\"event\" is not an event name");
        p++;
        if (p >= end || (*p != ',' && *p != '}'))
                return scan_fail(ret_what, "garbage after \"event\"");
        h.event = resolve ? audit_event_type_from_stringn(h.event_name, h.event_len) : _AUDIT_EVENT_INVALID;
        if (ret)
                *ret = h;
        return 0;
}

int audit_record_scan(const char *line, size_t len, AuditRecordHead *ret, const char **ret_what) {
        return scan(line, len, true, ret, ret_what);
}

int audit_record_scan_prefix(const char *line, size_t len, AuditRecordHead *ret, const char **ret_what) {
        return scan(line, len, false, ret, ret_what);
}

int audit_record_chain(
        const char *line, size_t len, const AuditRecordHead *h, char ret[AUDIT_CHAIN_HEX + 1]) {
        static const char key[] = "\",\"chain\":\"";
        const char *p = h->event_name + h->event_len, *end = line + len;

        if (p < line || p > end || (size_t) (end - p) < sizeof(key) - 1 + AUDIT_CHAIN_HEX + 1 ||
            memcmp(p, key, sizeof(key) - 1) != 0)
                return -ENOENT;
        p += sizeof(key) - 1;
        if (!audit_is_hex(p, AUDIT_CHAIN_HEX) || p[AUDIT_CHAIN_HEX] != '"')
                return -ENOENT;
        memcpy(ret, p, AUDIT_CHAIN_HEX);
        ret[AUDIT_CHAIN_HEX] = '\0';
        return 0;
}

int audit_record_find_string(
        const char *line, size_t len, const char *key, const char **ret, size_t *ret_len) {
        size_t kl = strlen(key);
        const char *end = line + len;

        for (const char *p = line; p + kl + 5 <= end; p++) {
                p = memchr(p, '"', (size_t) (end - p));
                if (!p || p + kl + 5 > end)
                        break;
                if (p > line && p[-1] == '\\')
                        continue;
                if (memcmp(p + 1, key, kl) != 0 || memcmp(p + 1 + kl, "\":\"", 3) != 0)
                        continue;
                const char *v = p + kl + 4, *q = v;
                while (q < end && *q != '"') {
                        if (*q == '\\')
                                q++;
                        q++;
                }
                if (q >= end)
                        return -EBADMSG;
                *ret = v;
                *ret_len = (size_t) (q - v);
                return 0;
        }
        return -ENOENT;
}

/* The SHA-256 of a line is taken once per record, a million times in a verify: OpenSSL 3.0's
 * EVP_DigestInit_ex2() frees the provider's context and allocates a new one at every call, which cost verify
 * a twentieth of its time. So the hasher calls the functions of the provider that EVP_MD_fetch() chose
 * directly, on one context of its own; when that provider does not offer them it goes through EVP. */
struct AuditHasher {
        EVP_MD *md;
        EVP_MD_CTX *ctx;
        void *algctx;
        OSSL_FUNC_digest_freectx_fn *freectx;
        OSSL_FUNC_digest_init_fn *init;
        OSSL_FUNC_digest_update_fn *update;
        OSSL_FUNC_digest_final_fn *final;
};

/* Takes the functions of the implementation behind h->md from the provider's table, when it has them all. */
static void hasher_take_provider(AuditHasher *h) {
        const OSSL_PROVIDER *prov = EVP_MD_get0_provider(h->md);
        const OSSL_ALGORITHM *algs, *a;
        OSSL_FUNC_digest_newctx_fn *newctx = NULL;
        int no_cache = 0;
        char name[64];

        algs = prov ? OSSL_PROVIDER_query_operation(prov, OSSL_OP_DIGEST, &no_cache) : NULL;
        for (a = algs; a && a->algorithm_names; a++) {
                /* The first of the names (aliases of one another) is enough to tell the algorithm. */
                size_t n = strcspn(a->algorithm_names, ":");
                if (n >= sizeof(name))
                        continue;
                memcpy(name, a->algorithm_names, n);
                name[n] = '\0';
                if (EVP_MD_is_a(h->md, name))
                        break;
        }
        for (const OSSL_DISPATCH *d = a && a->algorithm_names ? a->implementation : NULL;
             d && d->function_id; d++)
                switch (d->function_id) {
                case OSSL_FUNC_DIGEST_NEWCTX:
                        newctx = OSSL_FUNC_digest_newctx(d);
                        break;
                case OSSL_FUNC_DIGEST_FREECTX:
                        h->freectx = OSSL_FUNC_digest_freectx(d);
                        break;
                case OSSL_FUNC_DIGEST_INIT:
                        h->init = OSSL_FUNC_digest_init(d);
                        break;
                case OSSL_FUNC_DIGEST_UPDATE:
                        h->update = OSSL_FUNC_digest_update(d);
                        break;
                case OSSL_FUNC_DIGEST_FINAL:
                        h->final = OSSL_FUNC_digest_final(d);
                        break;
                }
        if (newctx && h->freectx && h->init && h->update && h->final)
                h->algctx = newctx(OSSL_PROVIDER_get0_provider_ctx(prov));
        if (algs)
                OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_DIGEST, algs);
}

int audit_hasher_new(AuditHasher **ret) {
        AuditHasher *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
        h->ctx = EVP_MD_CTX_new();
        if (!h->md || !h->ctx) {
                audit_hasher_free(h);
                return -ENOMEM;
        }
        hasher_take_provider(h);
        *ret = h;
        return 0;
}

AuditHasher *audit_hasher_free(AuditHasher *h) {
        if (!h)
                return NULL;
        if (h->algctx)
                h->freectx(h->algctx);
        EVP_MD_CTX_free(h->ctx);
        EVP_MD_free(h->md);
        free(h);
        return NULL;
}

void audit_hex(const unsigned char *bin, size_t n, char *ret_hex) {
        hex_encode(bin, n, ret_hex);
}

int audit_hasher_line(AuditHasher *h, const void *line, size_t len, char ret_hex[AUDIT_HASH_HEX + 1]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        size_t out = 0;

        if (h->algctx) {
                if (h->init(h->algctx, NULL) != 1 || h->update(h->algctx, line, len) != 1 ||
                    h->final(h->algctx, md, &out, sizeof(md)) != 1 || out != 32)
                        return -EIO;
        } else if (
                EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 || EVP_DigestUpdate(h->ctx, line, len) != 1 ||
                EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
                return -EIO;
        audit_hex(md, 32, ret_hex);
        return 0;
}

int64_t audit_days_from_civil(int y, unsigned m, unsigned d) {
        /* Howard Hinnant's days_from_civil. */
        y -= m <= 2;
        const int64_t era = (y >= 0 ? y : y - 399) / 400;
        const unsigned yoe = (unsigned) (y - era * 400);
        const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

void audit_civil_from_days(int64_t z, int *ret_y, unsigned *ret_m, unsigned *ret_d) {
        z += 719468;
        const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        const unsigned doe = (unsigned) (z - era * 146097);
        const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        const unsigned mp = (5 * doy + 2) / 153;
        const unsigned d = doy - (153 * mp + 2) / 5 + 1;
        const unsigned m = mp < 10 ? mp + 3 : mp - 9;
        *ret_y = (int) (yoe + era * 400 + (m <= 2));
        *ret_m = m;
        *ret_d = d;
}

void audit_format_time(uint64_t ms, char buf[AUDIT_TIME_LEN + 1]) {
        int64_t days = (int64_t) (ms / 86400000ULL);
        unsigned rem = (unsigned) (ms % 86400000ULL);
        int y;
        unsigned m, d;

        char tmp[64];

        audit_civil_from_days(days, &y, &m, &d);
        snprintf(
                tmp, sizeof(tmp), "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", y % 10000, m, d, rem / 3600000,
                rem / 60000 % 60, rem / 1000 % 60, rem % 1000);
        memcpy(buf, tmp, AUDIT_TIME_LEN);
        buf[AUDIT_TIME_LEN] = '\0';
}

static int parse_uint(const char **p, unsigned ndigits, unsigned *ret) {
        unsigned v = 0;
        for (unsigned i = 0; i < ndigits; i++) {
                if (!is_digit((*p)[i]))
                        return -EINVAL;
                v = v * 10 + (unsigned) ((*p)[i] - '0');
        }
        *p += ndigits;
        *ret = v;
        return 0;
}

int audit_parse_time(const char *s, int64_t *ret_ms) {
        unsigned y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
        const char *p = s;
        int64_t offset_min = 0;

        if (parse_uint(&p, 4, &y) < 0 || *p++ != '-' || parse_uint(&p, 2, &mo) < 0 || *p++ != '-' ||
            parse_uint(&p, 2, &d) < 0)
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > 31)
                return -EINVAL;
        if (*p == 'T' || *p == ' ') {
                p++;
                if (parse_uint(&p, 2, &h) < 0 || *p++ != ':' || parse_uint(&p, 2, &mi) < 0)
                        return -EINVAL;
                if (*p == ':') {
                        p++;
                        if (parse_uint(&p, 2, &sec) < 0)
                                return -EINVAL;
                        if (*p == '.') {
                                p++;
                                if (parse_uint(&p, 3, &ms) < 0)
                                        return -EINVAL;
                        }
                }
                if (h > 23 || mi > 59 || sec > 60)
                        return -EINVAL;
        }
        if (*p == 'Z')
                p++;
        else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1;
                unsigned oh, om;
                p++;
                if (parse_uint(&p, 2, &oh) < 0 || *p++ != ':' || parse_uint(&p, 2, &om) < 0)
                        return -EINVAL;
                offset_min = sign * (int64_t) (oh * 60 + om);
        }
        if (*p != '\0')
                return -EINVAL;

        /* Reject dates like 2026-02-31 rather than silently moving them. */
        int cy;
        unsigned cm, cd;
        int64_t days = audit_days_from_civil((int) y, mo, d);
        audit_civil_from_days(days, &cy, &cm, &cd);
        if (cy != (int) y || cm != mo || cd != d)
                return -EINVAL;

        *ret_ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + ms;
        return 0;
}

void audit_buf_done(AuditBuf *b) {
        b->data = mfree(b->data);
        b->len = b->alloc = 0;
}

static bool buf_reserve(AuditBuf *b, size_t extra) {
        if (b->error)
                return false;
        if (b->len + extra + 1 <= b->alloc)
                return true;
        size_t n = MAX(b->alloc * 2, b->len + extra + 1);
        n = MAX(n, (size_t) 256);
        char *d = realloc(b->data, n);
        if (!d) {
                b->error = -ENOMEM;
                return false;
        }
        b->data = d;
        b->alloc = n;
        return true;
}

void audit_buf_put(AuditBuf *b, const void *p, size_t n) {
        if (!buf_reserve(b, n))
                return;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void audit_buf_puts(AuditBuf *b, const char *s) {
        audit_buf_put(b, s, strlen(s));
}

void audit_buf_printf(AuditBuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
                b->error = -EINVAL;
                return;
        }
        if (!buf_reserve(b, (size_t) n))
                return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t) n;
}

bool audit_utf8_valid(const char *s, size_t n) {
        return utf8_is_valid_n(s, n);
}

void audit_buf_put_json_stringn(AuditBuf *b, const char *s, size_t n) {
        const unsigned char *u = (const unsigned char *) s;
        size_t start = 0;

        audit_buf_put(b, "\"", 1);
        for (size_t i = 0; i < n;) {
                unsigned char c = u[i];
                const char *esc = NULL;
                char tmp[8];
                size_t k = 1;

                if (c == '"')
                        esc = "\\\"";
                else if (c == '\\')
                        esc = "\\\\";
                else if (c == '\n')
                        esc = "\\n";
                else if (c == '\t')
                        esc = "\\t";
                else if (c == '\r')
                        esc = "\\r";
                else if (c < 0x20 || c == 0x7f) {
                        snprintf(tmp, sizeof(tmp), "\\u%04x", c);
                        esc = tmp;
                } else if (c >= 0x80) {
                        uint32_t cp;
                        int len = utf8_decode(s + i, n - i, &cp);
                        if (len < 0)
                                esc = "\xef\xbf\xbd"; /* U+FFFD */
                        else
                                k = (size_t) len;
                }
                if (esc) {
                        audit_buf_put(b, s + start, i - start);
                        audit_buf_puts(b, esc);
                        start = i + k;
                }
                i += k;
        }
        audit_buf_put(b, s + start, n - start);
        audit_buf_put(b, "\"", 1);
}

void audit_buf_put_json_string(AuditBuf *b, const char *s) {
        audit_buf_put_json_stringn(b, s, strlen(s));
}

struct json_tokener *audit_record_json_tokener_new(void) {
        json_tokener *tok = json_tokener_new();
        if (tok)
                json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        return tok;
}

struct json_object *audit_record_parse_json(struct json_tokener *tok, const char *line, size_t len) {
        if (len > INT_MAX)
                return NULL;
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, line, (int) len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int64_t audit_record_time_ms(const AuditRecordHead *h) {
        char t[AUDIT_TIME_LEN + 1];
        int64_t ms = 0;
        memcpy(t, h->time, AUDIT_TIME_LEN);
        t[AUDIT_TIME_LEN] = '\0';
        (void) audit_parse_time(t, &ms);
        return ms;
}

/* The record encoder: the writer's side of the scanner above. */

static void put_field(AuditBuf *b, bool *first, const char *key, const char *value) {
        if (!value)
                return;
        audit_buf_puts(b, *first ? "\"" : ",\"");
        audit_buf_puts(b, key);
        audit_buf_puts(b, "\":");
        size_t n = strlen(value);
        if (n > AUDIT_FIELD_MAX) {
                n = AUDIT_FIELD_MAX;
                /* Cut at a character boundary. */
                while (n > 0 && ((unsigned char) value[n] & 0xc0) == 0x80)
                        n--;
        }
        audit_buf_put_json_stringn(b, value, n);
        *first = false;
}

static void put_object(AuditBuf *b, const char *key, const char *const *kv) {
        bool any = false;
        for (size_t i = 0; kv[i * 2]; i++)
                if (kv[i * 2 + 1])
                        any = true;
        if (!any)
                return;
        bool first = true;
        audit_buf_printf(b, ",\"%s\":{", key);
        for (size_t i = 0; kv[i * 2]; i++)
                put_field(b, &first, kv[i * 2], kv[i * 2 + 1]);
        audit_buf_puts(b, "}");
}

static bool extra_key_ok(const char *k) {
        static const char *const secret_names[] = { "pin",      "so_pin",     "user_pin", "puk",
                                                    "password", "passphrase", "secret" };
        size_t n = strlen(k);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
                        return false;
        for (size_t i = 0; i < ELEMENTSOF(secret_names); i++)
                if (streq(k, secret_names[i]))
                        return false;
        return true;
}

int audit_record_build(const AuditEvent *ev, const AuditRecordStamp *stamp, AuditBuf *b) {
        const char *name = audit_event_type_to_string(ev->type);
        char t[AUDIT_TIME_LEN + 1];
        size_t start = b->len;
        bool first;

        if (!name)
                return -EINVAL;
        if (ev->extra)
                for (size_t i = 0; ev->extra[i]; i += 2)
                        if (!ev->extra[i + 1] || !extra_key_ok(ev->extra[i]))
                                return -EINVAL;

        audit_format_time(stamp->time_ms, t);
        audit_buf_printf(
                b, "{\"v\":%d,\"seq\":%" PRIu64 ",\"time\":\"%s\",\"prev\":\"%s\",\"event\":\"%s\"",
                AUDIT_FORMAT_VERSION, stamp->seq, t, stamp->prev, name);
        if (stamp->chain)
                audit_buf_printf(b, ",\"chain\":\"%s\"", stamp->chain);

        const AuditCaller *c = ev->caller ?: stamp->self;
        audit_buf_printf(b, ",\"caller\":{\"uid\":%u,\"pid\":%d", (unsigned) c->uid, (int) c->pid);
        first = false;
        put_field(b, &first, "exe", c->exe);
        audit_buf_puts(b, "}");

        first = false;
        put_field(b, &first, "message", ev->message);
        put_object(
                b, "document",
                (const char *const[]){ "name", ev->document, "sha256_before", ev->sha256_before,
                                       "sha256_after", ev->sha256_after, NULL });
        put_object(
                b, "cert",
                (const char *const[]){ "subject", ev->cert_subject, "issuer", ev->cert_issuer, "serial",
                                       ev->cert_serial, "fingerprint", ev->cert_fingerprint, "kind",
                                       ev->cert_kind, "ca", ev->cert_ca, "not_after", ev->cert_not_after,
                                       "status", ev->cert_status, NULL });
        put_object(
                b, "token",
                (const char *const[]){ "uri", ev->token_uri, "label", ev->token_label, "serial",
                                       ev->token_serial, "manufacturer", ev->token_manufacturer, "model",
                                       ev->token_model, NULL });
        first = false;
        put_field(b, &first, "request", ev->request);
        put_field(b, &first, "role", ev->role);
        put_field(b, &first, "decision", ev->decision);
        put_field(b, &first, "reason", ev->reason);
        put_field(b, &first, "article", ev->article);
        put_field(b, &first, "timestamp_time", ev->timestamp_time);
        put_field(b, &first, "error", ev->error);
        if (ev->extra && ev->extra[0]) {
                audit_buf_puts(b, ",\"data\":{");
                first = true;
                for (size_t i = 0; ev->extra[i]; i += 2)
                        put_field(b, &first, ev->extra[i], ev->extra[i + 1]);
                audit_buf_puts(b, "}");
        }
        audit_buf_puts(b, "}");
        if (b->error)
                return b->error;
        if (b->len - start > AUDIT_LINE_MAX)
                return -E2BIG;
        return 0;
}
