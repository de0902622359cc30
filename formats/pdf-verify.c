/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>

#include "i18n.h"
#include "openssl-util.h"
#include "pdf-diff.h"
#include "pdf-revisions.h"
#include "pdf-verify.h"
#include "qpdf-dl.h"
#include "string-table.h"

/* Field trees are walked this deep and this wide at most. */
#define MAX_FIELD_DEPTH 32
#define MAX_FIELD_VISITS 65536

static const char *const pdf_signature_problem_table[_PDF_SIGNATURE_PROBLEM_MAX] = {
        [PDF_SIGNATURE_OK] = "ok",
        [PDF_SIGNATURE_UNSUPPORTED_SUBFILTER] = "unsupported-subfilter",
        [PDF_SIGNATURE_CONTENTS_MISSING] = "contents-missing",
        [PDF_SIGNATURE_BYTE_RANGE_MISSING] = "byte-range-missing",
        [PDF_SIGNATURE_BYTE_RANGE_MALFORMED] = "byte-range-malformed",
        [PDF_SIGNATURE_BYTE_RANGE_GAP] = "byte-range-gap",
        [PDF_SIGNATURE_NOT_AT_REVISION_END] = "not-at-revision-end",
        [PDF_SIGNATURE_REVISION_UNREADABLE] = "revision-unreadable",
        [PDF_SIGNATURE_CMS_MALFORMED] = "cms-malformed",
        [PDF_SIGNATURE_CMS_INVALID] = "cms-invalid",
        [PDF_SIGNATURE_DOCMDP_VIOLATION] = "docmdp-violation",
        [PDF_SIGNATURE_DISALLOWED_CHANGE] = "disallowed-change",
};
DEFINE_STRING_TABLE_LOOKUP(pdf_signature_problem, PdfSignatureProblem);

static const char *const pdf_document_problem_table[_PDF_DOCUMENT_PROBLEM_MAX] = {
        [PDF_DOCUMENT_OK] = "ok",
        [PDF_DOCUMENT_NOT_PDF] = "not-pdf",
        [PDF_DOCUMENT_DAMAGED] = "damaged",
        [PDF_DOCUMENT_ENCRYPTED] = "encrypted",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pdf_document_problem, PdfDocumentProblem);

static const char *const pdf_sub_filter_table[_PDF_SUBFILTER_MAX] = {
        [PDF_SUBFILTER_CADES_DETACHED] = "ETSI.CAdES.detached",
        [PDF_SUBFILTER_PKCS7_DETACHED] = "adbe.pkcs7.detached",
        [PDF_SUBFILTER_RFC3161] = "ETSI.RFC3161",
        [PDF_SUBFILTER_PKCS7_SHA1] = "adbe.pkcs7.sha1",
        [PDF_SUBFILTER_OTHER] = "other",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pdf_sub_filter, PdfSubFilter);

static const char *const pdf_signature_kind_table[_PDF_SIGNATURE_KIND_MAX] = {
        [PDF_SIGNATURE_APPROVAL] = "approval",
        [PDF_SIGNATURE_CERTIFICATION] = "certification",
        [PDF_SIGNATURE_TIMESTAMP] = "timestamp",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pdf_signature_kind, PdfSignatureKind);

const char *pdf_signature_problem_message(PdfSignatureProblem p) {
        switch (p) {
        case PDF_SIGNATURE_OK:
                return _("The signed part of the PDF is intact and nothing added later changes it.");
        case PDF_SIGNATURE_UNSUPPORTED_SUBFILTER:
                return _("The signature uses a format that is not accepted (adbe.pkcs7.sha1 or unknown).");
        case PDF_SIGNATURE_CONTENTS_MISSING:
                return _("The signature has no signature value (/Contents is missing or empty).");
        case PDF_SIGNATURE_BYTE_RANGE_MISSING:
                return _("The signature does not say which bytes it signs (/ByteRange is missing).");
        case PDF_SIGNATURE_BYTE_RANGE_MALFORMED:
                return _("The signature's byte range is malformed or lies outside the file.");
        case PDF_SIGNATURE_BYTE_RANGE_GAP:
                return _("The bytes left out of the signature are not exactly its signature value: the "
                         "signature was moved or wrapped.");
        case PDF_SIGNATURE_NOT_AT_REVISION_END:
                return _("The signature does not end at the end of a version of the document.");
        case PDF_SIGNATURE_REVISION_UNREADABLE:
                return _("The version of the document that was signed cannot be read.");
        case PDF_SIGNATURE_CMS_MALFORMED:
                return _("The signature value is damaged and cannot be read.");
        case PDF_SIGNATURE_CMS_INVALID:
                return _("The signature value does not verify over the signed part of the PDF.");
        case PDF_SIGNATURE_DOCMDP_VIOLATION:
                return _(
                        "The document was changed after it was certified, which the certification forbids.");
        case PDF_SIGNATURE_DISALLOWED_CHANGE:
                return _("The document was changed after it was signed (content, pages or other parts).");
        default:
                return _("Unknown problem.");
        }
}

const char *pdf_document_problem_message(PdfDocumentProblem p) {
        switch (p) {
        case PDF_DOCUMENT_OK:
                return _("The PDF can be read.");
        case PDF_DOCUMENT_NOT_PDF:
                return _("The file is not a PDF.");
        case PDF_DOCUMENT_DAMAGED:
                return _("The PDF is damaged: re-save it from its application.");
        case PDF_DOCUMENT_ENCRYPTED:
                return _("The PDF is encrypted: remove the password first.");
        default:
                return _("Unknown problem.");
        }
}

char *pdf_signature_change_message(const PdfSignature *s) {
        return s && s->change ? pdf_change_message(&s->change_facts, true) : NULL;
}

char *pdf_signature_noted_message(const PdfSignature *s) {
        return s && s->noted_change ? pdf_change_message(&s->noted_facts, true) : NULL;
}

_printf_(3, 4) static int sig_fail(PdfSignature *s, PdfSignatureProblem p, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;
        int r;

        if (s->problem != PDF_SIGNATURE_OK)
                return 0; /* the first failing check is the one reported */
        va_start(ap, fmt);
        r = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        free(s->detail);
        s->detail = m;
        s->problem = p;
        return 0;
}

static char *oh_text(qpdf_data q, qpdf_oh oh) {
        const char *v;

        if (!qpdf_oh_is_string(q, oh) || !(v = qpdf_oh_get_utf8_value(q, oh)))
                return NULL;
        return strdup(v);
}

static int two_digits(const char *s, int *v) {
        if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
                return -EINVAL;
        *v = (s[0] - '0') * 10 + (s[1] - '0');
        return 0;
}

/* A PDF date "D:YYYYMMDDHHmmSSOHH'mm" (7.9.4): the parts after the year are optional. */
static int parse_pdf_date(const char *s, time_t *ret) {
        struct tm tm = { .tm_mday = 1 };
        int v[5] = { 1, 1, 0, 0, 0 }, hi, lo, off = 0;
        size_t l;

        if (!s)
                return -EINVAL;
        if (strncmp(s, "D:", 2) == 0)
                s += 2;
        l = strlen(s);
        if (l < 4 || two_digits(s, &hi) < 0 || two_digits(s + 2, &lo) < 0)
                return -EINVAL;
        tm.tm_year = hi * 100 + lo - 1900;
        s += 4;
        for (int i = 0; i < 5 && s[0] >= '0' && s[0] <= '9'; i++, s += 2)
                if (two_digits(s, &v[i]) < 0)
                        return -EINVAL;
        if (v[0] < 1 || v[0] > 12 || v[1] < 1 || v[1] > 31 || v[2] > 23 || v[3] > 59 || v[4] > 60)
                return -EINVAL;
        tm.tm_mon = v[0] - 1;
        tm.tm_mday = v[1];
        tm.tm_hour = v[2];
        tm.tm_min = v[3];
        tm.tm_sec = v[4];
        if (s[0] == '+' || s[0] == '-') {
                int h = 0, m = 0;
                if (two_digits(s + 1, &h) < 0)
                        return -EINVAL;
                if (s[3] == '\'' && two_digits(s + 4, &m) < 0)
                        m = 0;
                off = (h * 60 + m) * 60 * (s[0] == '-' ? -1 : 1);
        }
        *ret = timegm(&tm) - off;
        return 0;
}

typedef struct RangeReader {
        const PdfSource *src;
        uint64_t start[2], len[2];
        unsigned part;
        uint64_t pos;
} RangeReader;

/* The signed ranges, one after the other; a negative errno (-ESTALE: the file shrank) ends the read. */
static ssize_t range_read(void *userdata, void *buf, size_t size) {
        RangeReader *rr = userdata;
        int r;

        while (rr->part < 2 && rr->pos >= rr->len[rr->part]) {
                rr->part++;
                rr->pos = 0;
        }
        if (rr->part >= 2)
                return 0;
        size = (size_t) MIN((uint64_t) size, rr->len[rr->part] - rr->pos);
        size = MIN(size, (size_t) SSIZE_MAX);
        r = pdf_source_read(rr->src, rr->start[rr->part] + rr->pos, buf, size);
        if (r < 0)
                return r;
        rr->pos += size;
        return (ssize_t) size;
}

/* /Contents is padded with zeros after the DER: its outer length says where the CMS ends. */
static size_t der_length(const uint8_t *p, size_t size) {
        size_t len = 0, hdr = 2;

        if (size < 2 || p[0] != 0x30)
                return size;
        if (p[1] < 0x80)
                len = p[1];
        else {
                unsigned n = p[1] & 0x7f;
                if (n == 0 || n > 4 || size < 2 + n)
                        return size;
                for (unsigned i = 0; i < n; i++)
                        len = (len << 8) | p[2 + i];
                hdr += n;
        }
        return len <= size - hdr ? hdr + len : size;
}

static bool is_hex(uint8_t c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static uint8_t hex_val(uint8_t c) {
        return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* How far before the gap "/Contents" is looked for in a file (memory: anywhere before it). */
#define CONTENTS_KEY_LOOKBACK ((uint64_t) 4096)

/* The gap [a, b) holds exactly "<hex>" decoding to `contents`, right after this dictionary's "/Contents".
 * Returns 1 or 0, or a negative errno when a file cannot be read (-ESTALE: it shrank). */
static int gap_is_contents(const PdfSource *src, uint64_t a, uint64_t b, const uint8_t *contents, size_t n) {
        _cleanup_free_ uint8_t *owned = NULL;
        uint64_t base = src->data ? 0 : a - MIN(a, CONTENTS_KEY_LOOKBACK);
        const uint8_t *d;
        size_t d_n;
        uint64_t p;
        int r;

        if (b - a < 2 || (b - a - 2) % 2 != 0 || (b - a - 2) / 2 != n)
                return 0;
        /* Only now is the gap read: its length is that of the (bounded) /Contents. */
        r = pdf_source_view(src, base, (size_t) (b - base), &d, &d_n, &owned);
        if (r < 0)
                return r;
        if (d_n != b - base)
                return -ESTALE;
        /* Offsets below are the file's: the byte at x is d[x - base]. */
        if (d[a - base] != '<' || d[b - 1 - base] != '>')
                return 0;
        for (uint64_t i = 0; i < n; i++) {
                uint8_t h = d[a + 1 + 2 * i - base], l = d[a + 2 + 2 * i - base];
                if (!is_hex(h) || !is_hex(l) || (uint8_t) (hex_val(h) << 4 | hex_val(l)) != contents[i])
                        return 0;
        }
        /* The key before the gap is /Contents: the gap is this dictionary's value, not a copy elsewhere. */
        p = a - base;
        while (p > 0 && (d[p - 1] == ' ' || d[p - 1] == '\n' || d[p - 1] == '\r' || d[p - 1] == '\t'))
                p--;
        return p >= 9 && memcmp(d + p - 9, "/Contents", 9) == 0;
}

static int digest_ranges(int nid, const RangeReader *proto, uint8_t *md, unsigned *md_len) {
        const EVP_MD *m = EVP_get_digestbynid(nid);
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        RangeReader rr = *proto;
        uint8_t buf[65536];
        ssize_t n;

        if (!m || !(ctx = EVP_MD_CTX_new()))
                return -ENOMEM;
        rr.part = 0;
        rr.pos = 0;
        if (!EVP_DigestInit_ex(ctx, m, NULL))
                return -EIO;
        while ((n = range_read(&rr, buf, sizeof buf)) > 0)
                if (!EVP_DigestUpdate(ctx, buf, (size_t) n))
                        return -EIO;
        if (n < 0)
                return (int) n;
        return EVP_DigestFinal_ex(ctx, md, md_len) ? 0 : -EIO;
}

/* A document time-stamp: the token's own signature (cms-verify) and its imprint against the signed ranges.
 */
static int verify_doc_timestamp(PdfSignature *s, const RangeReader *rr) {
        const uint8_t *p = s->contents;
        PKCS7 *p7;
        TS_TST_INFO *tst = NULL;
        CmsTimestamp t = {};
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        bool match = false;
        int r;

        r = cms_verify_timestamp_token(s->contents, s->contents_size, NULL, 0, &t);
        if (r < 0)
                return r == -ENOMEM ? r
                                    : sig_fail(
                                              s, PDF_SIGNATURE_CMS_MALFORMED,
                                              "the time-stamp token does not parse");
        p7 = d2i_PKCS7(NULL, &p, (long) s->contents_size);
        if (p7)
                tst = PKCS7_to_TS_TST_INFO(p7);
        if (tst && t.imprint_digest_nid != NID_undef &&
            (r = digest_ranges(t.imprint_digest_nid, rr, md, &md_len)) == -ESTALE) {
                TS_TST_INFO_free(tst);
                PKCS7_free(p7);
                cms_timestamp_done(&t);
                return r;
        }
        if (tst && t.imprint_digest_nid != NID_undef && r >= 0) {
                const ASN1_OCTET_STRING *imprint = TS_MSG_IMPRINT_get_msg(TS_TST_INFO_get_msg_imprint(tst));
                match = imprint && (unsigned) imprint->length == md_len &&
                        memcmp(imprint->data, md, md_len) == 0;
        }
        TS_TST_INFO_free(tst);
        PKCS7_free(p7);

        s->cms_problem = t.signature_valid && match ? CMS_PROBLEM_OK : CMS_PROBLEM_BAD_TIMESTAMP;
        s->has_timestamp_time = t.has_gen_time;
        s->timestamp_time = t.gen_time;
        if (!t.status || t.status == CMS_TIMESTAMP_MALFORMED)
                r = sig_fail(s, PDF_SIGNATURE_CMS_MALFORMED, "the time-stamp token is malformed");
        else if (!t.signature_valid)
                r = sig_fail(
                        s, PDF_SIGNATURE_CMS_INVALID, "the time-stamp token's signature does not verify");
        else if (!match)
                r = sig_fail(
                        s, PDF_SIGNATURE_CMS_INVALID,
                        "the time-stamp token does not stamp the signed ranges");
        else if (!t.has_gen_time)
                r = sig_fail(
                        s, PDF_SIGNATURE_CMS_MALFORMED, "the time-stamp token's genTime does not parse");
        else {
                /* cms-verify compared the imprint with nothing (the ranges are not one buffer): it holds. */
                t.status = CMS_TIMESTAMP_OK;
                t.imprint_matches = true;
                t.detail = mfree(t.detail);
                r = 0;
        }
        /* Kept for policy/: the TSA certificate and chain, the hashes, genTime. */
        s->doc_timestamp = t;
        return r;
}

static int verify_cms(PdfSignature *s, RangeReader *rr) {
        int r;

        r = cms_verify_detached(s->contents, s->contents_size, range_read, rr, &s->cms);
        if (r == -ENOMEM || r == -ESTALE)
                return r;
        if (r < 0)
                return sig_fail(
                        s, PDF_SIGNATURE_CMS_MALFORMED, "/Contents is not a detached CMS SignedData (%s)",
                        strerror(-r));
        if (s->cms->n_signers != 1) {
                s->cms_problem = CMS_PROBLEM_MALFORMED;
                return sig_fail(
                        s, PDF_SIGNATURE_CMS_MALFORMED, "the CMS has %zu signers, not one",
                        s->cms->n_signers);
        }
        s->signer = &s->cms->signers[0];
        s->cms_problem = s->signer->problem;
        if (s->signer->timestamp.status == CMS_TIMESTAMP_OK && s->signer->timestamp.has_gen_time) {
                s->has_timestamp_time = true;
                s->timestamp_time = s->signer->timestamp.gen_time;
        }
        if (s->signer->problem != CMS_PROBLEM_OK)
                return sig_fail(
                        s, PDF_SIGNATURE_CMS_INVALID, "the CMS does not verify: %s (%s)",
                        cms_problem_to_string(s->signer->problem), s->signer->detail);
        return 0;
}

typedef struct Doc {
        const PdfSource *src;
        uint64_t size;
        PdfRevision *revs;
        size_t n_revs;
        qpdf_data q;
        int certification; /* object id of the certifying signature dictionary, 0 for none */
        int docmdp_p;
} Doc;

static void read_identity(Doc *doc, qpdf_oh v, PdfSignature *s) {
        qpdf_data q = doc->q;
        qpdf_oh sf = pdf_oh_key(q, v, "/SubFilter"), m = pdf_oh_key(q, v, "/M");
        const char *name = qpdf_oh_is_name(q, sf) ? qpdf_oh_get_name(q, sf) : NULL;

        s->sub_filter = PDF_SUBFILTER_OTHER;
        if (name) {
                s->sub_filter_name = strdup(name[0] == '/' ? name + 1 : name);
                for (PdfSubFilter f = 0; f < PDF_SUBFILTER_OTHER; f++)
                        if (s->sub_filter_name && streq(s->sub_filter_name, pdf_sub_filter_to_string(f)))
                                s->sub_filter = f;
        }
        if (qpdf_oh_is_name_and_equals(q, pdf_oh_key(q, v, "/Type"), "/DocTimeStamp") ||
            s->sub_filter == PDF_SUBFILTER_RFC3161)
                s->kind = PDF_SIGNATURE_TIMESTAMP;
        else if (doc->certification != 0 && qpdf_oh_get_object_id(q, v) == doc->certification) {
                s->kind = PDF_SIGNATURE_CERTIFICATION;
                s->docmdp_p = doc->docmdp_p;
        } else
                s->kind = PDF_SIGNATURE_APPROVAL;

        s->name = oh_text(q, pdf_oh_key(q, v, "/Name"));
        s->reason = oh_text(q, pdf_oh_key(q, v, "/Reason"));
        s->location = oh_text(q, pdf_oh_key(q, v, "/Location"));
        s->contact_info = oh_text(q, pdf_oh_key(q, v, "/ContactInfo"));
        if (qpdf_oh_is_string(q, m))
                s->has_claimed_time = parse_pdf_date(qpdf_oh_get_utf8_value(q, m), &s->claimed_time) >= 0;
}

/* /ByteRange: four non-negative integers [0 a b c] with a < b and b + c inside the file. */
static int read_byte_range(Doc *doc, qpdf_oh v, PdfSignature *s) {
        qpdf_data q = doc->q;
        qpdf_oh br = pdf_oh_key(q, v, "/ByteRange");
        long long x[4];

        if (qpdf_oh_is_null(q, br))
                return sig_fail(s, PDF_SIGNATURE_BYTE_RANGE_MISSING, "/ByteRange is missing");
        if (!qpdf_oh_is_array(q, br) || qpdf_oh_get_array_n_items(q, br) != 4)
                return sig_fail(s, PDF_SIGNATURE_BYTE_RANGE_MALFORMED, "/ByteRange is not an array of four");
        for (int i = 0; i < 4; i++) {
                qpdf_oh it = qpdf_oh_get_array_item(q, br, i);
                if (!qpdf_oh_is_integer(q, it) || !qpdf_oh_get_value_as_longlong(q, it, &x[i]) || x[i] < 0)
                        return sig_fail(
                                s, PDF_SIGNATURE_BYTE_RANGE_MALFORMED,
                                "/ByteRange item %d is not a non-negative integer", i);
        }
        if (x[0] != 0 || x[1] >= x[2] || (uint64_t) x[2] > doc->size ||
            (uint64_t) x[3] > doc->size - (uint64_t) x[2])
                return sig_fail(
                        s, PDF_SIGNATURE_BYTE_RANGE_MALFORMED,
                        "/ByteRange [%lld %lld %lld %lld] is not [0 a b c] with a < b and b + c within the file of %" PRIu64
                        " bytes",
                        x[0], x[1], x[2], x[3], doc->size);
        for (int i = 0; i < 4; i++)
                s->byte_range[i] = (uint64_t) x[i];
        s->byte_range_valid = true;
        return 0;
}

static int verify_one(Doc *doc, qpdf_oh field, qpdf_oh v, PdfSignature *s) {
        qpdf_data q = doc->q;
        qpdf_oh contents = pdf_oh_key(q, v, "/Contents");
        const char *bytes;
        size_t n = 0;
        uint64_t end;
        int rev, r;
        _cleanup_(pdf_qpdf_closep) qpdf_data signed_q = NULL;
        RangeReader rr;

        read_identity(doc, v, s);
        if (s->sub_filter == PDF_SUBFILTER_PKCS7_SHA1 || s->sub_filter == PDF_SUBFILTER_OTHER) {
                r = sig_fail(
                        s, PDF_SIGNATURE_UNSUPPORTED_SUBFILTER, "/SubFilter %s is not accepted",
                        s->sub_filter_name ?: "(missing)");
                if (r < 0)
                        return r;
        }

        if (!qpdf_oh_is_string(q, contents) || !(bytes = qpdf_oh_get_binary_string_value(q, contents, &n)) ||
            n == 0)
                r = sig_fail(
                        s, PDF_SIGNATURE_CONTENTS_MISSING,
                        "/Contents is missing, null, empty or not a string");
        else if (n > CMS_VERIFY_MAX_SIGNATURE_SIZE)
                r = sig_fail(
                        s, PDF_SIGNATURE_CMS_MALFORMED, "/Contents is larger than %u bytes",
                        CMS_VERIFY_MAX_SIGNATURE_SIZE);
        else {
                s->contents = malloc(n);
                if (!s->contents)
                        return -ENOMEM;
                memcpy(s->contents, bytes, n);
                s->contents_size = n;
                r = 0;
        }
        if (r < 0)
                return r;

        r = read_byte_range(doc, v, s);
        if (r < 0 || !s->byte_range_valid)
                return r;
        if (s->contents) {
                r = gap_is_contents(
                        doc->src, s->byte_range[1], s->byte_range[2], s->contents, s->contents_size);
                if (r < 0)
                        return r;
        }
        if (s->contents && r == 0) {
                r = sig_fail(
                        s, PDF_SIGNATURE_BYTE_RANGE_GAP,
                        "the bytes between the signed ranges (%" PRIu64 "..%" PRIu64
                        ") are not this signature's /Contents",
                        s->byte_range[1], s->byte_range[2]);
                if (r < 0)
                        return r;
        }

        end = s->byte_range[2] + s->byte_range[3];
        rev = pdf_revisions_ending_at(doc->revs, doc->n_revs, end);
        if (rev < 0)
                return sig_fail(
                        s, PDF_SIGNATURE_NOT_AT_REVISION_END,
                        "the signed range ends at %" PRIu64 ", not at the end of a revision", end);
        s->revision = (unsigned) rev + 1;
        s->covers_revision = true;
        s->covers_whole_file = (size_t) rev == doc->n_revs - 1 && doc->revs[rev].end == doc->size;
        s->n_later_revisions = (unsigned) (doc->n_revs - 1 - (size_t) rev);

        /* The revision as signed must read without repair and hold this very signature. */
        r = pdf_source_qpdf_open(doc->src, end, &signed_q);
        if (r < 0)
                return r;
        if (!signed_q)
                return sig_fail(
                        s, PDF_SIGNATURE_REVISION_UNREADABLE, "revision %d cannot be read without repair",
                        rev + 1);
        {
                qpdf_oh mine = qpdf_oh_is_indirect(q, v) ? v : field;
                qpdf_oh theirs = qpdf_get_object_by_id(
                        signed_q, qpdf_oh_get_object_id(q, mine), qpdf_oh_get_generation(q, mine));
                if (!qpdf_oh_is_indirect(q, mine) || qpdf_oh_is_null(signed_q, theirs) ||
                    !pdf_object_equal(q, mine, signed_q, theirs))
                        return sig_fail(
                                s, PDF_SIGNATURE_REVISION_UNREADABLE,
                                "the signed revision %d does not hold this signature dictionary as it is now",
                                rev + 1);
        }

        if (s->problem != PDF_SIGNATURE_OK || !s->contents)
                return 0;

        s->contents_size = der_length(s->contents, s->contents_size);
        rr = (RangeReader){
                .src = doc->src,
                .start = { 0, s->byte_range[2] },
                .len = { s->byte_range[1], s->byte_range[3] },
        };
        r = s->kind == PDF_SIGNATURE_TIMESTAMP ? verify_doc_timestamp(s, &rr) : verify_cms(s, &rr);
        if (r < 0 || s->problem != PDF_SIGNATURE_OK)
                return r;

        if ((size_t) rev + 1 < doc->n_revs) {
                PdfDiff d = {};

                r = pdf_diff_analyse(
                        doc->src, doc->revs, doc->n_revs, (size_t) rev, signed_q, q,
                        s->kind == PDF_SIGNATURE_CERTIFICATION ? s->docmdp_p : 0, &d);
                if (r < 0)
                        return r;
                if (d.verdict != PDF_DIFF_ALLOWED) {
                        s->change = TAKE_PTR(d.change);
                        s->change_object = d.facts.object;
                        s->change_facts = d.facts;
                        r = sig_fail(
                                s,
                                d.verdict == PDF_DIFF_DOCMDP_VIOLATION ? PDF_SIGNATURE_DOCMDP_VIOLATION
                                                                       : PDF_SIGNATURE_DISALLOWED_CHANGE,
                                "%s", s->change ?: "a later revision cannot be read");
                } else {
                        s->noted_change = TAKE_PTR(d.noted_change);
                        s->noted_facts = d.noted;
                        memcpy(s->stamps, d.stamps, d.n_stamps * sizeof(PdfChange));
                        s->n_stamps = d.n_stamps;
                }
                pdf_diff_done(&d);
        }
        return r;
}

typedef struct Walk {
        Doc *doc;
        PdfVerifyResult *res;
        unsigned visits;
        size_t allocated;
        /* For each signature found (same index): the object of the field or widget that holds its
         * dictionary when that is direct, else 0. The same field is met in /Fields and on its page. */
        unsigned *holders;
} Walk;

static int add_signature(Walk *w, qpdf_oh field, qpdf_oh v, const char *name) {
        PdfVerifyResult *res = w->res;
        qpdf_data q = w->doc->q;
        unsigned object = qpdf_oh_is_indirect(q, v) ? (unsigned) qpdf_oh_get_object_id(q, v) : 0;
        unsigned holder = object == 0 && qpdf_oh_is_indirect(q, field)
                                  ? (unsigned) qpdf_oh_get_object_id(q, field)
                                  : 0;
        PdfSignature *s;
        int r;

        for (size_t i = 0; i < res->n_signatures; i++)
                if ((object != 0 && res->signatures[i].object == object) ||
                    (holder != 0 && w->holders[i] == holder))
                        return 0;

        if (res->n_signatures >= PDF_VERIFY_MAX_SIGNATURES)
                return -E2BIG;
        if (res->n_signatures >= w->allocated) {
                size_t want = MAX(w->allocated * 2, (size_t) 4);
                PdfSignature *a = reallocarray(res->signatures, want, sizeof(PdfSignature));
                if (!a)
                        return -ENOMEM;
                res->signatures = a;
                unsigned *h = reallocarray(w->holders, want, sizeof(unsigned));
                if (!h)
                        return -ENOMEM;
                w->holders = h;
                w->allocated = want;
        }
        w->holders[res->n_signatures] = holder;
        s = &res->signatures[res->n_signatures++];
        *s = (PdfSignature){ .cms_problem = CMS_PROBLEM_MALFORMED, .object = object };
        s->field_name = strdup(name);
        s->detail = strdup("ok");
        if (!s->field_name || !s->detail)
                return -ENOMEM;
        r = verify_one(w->doc, field, v, s);
        if (r < 0)
                return r;
        if (s->problem == PDF_SIGNATURE_OK && s->cms_problem == CMS_PROBLEM_MALFORMED &&
            s->kind != PDF_SIGNATURE_TIMESTAMP)
                s->cms_problem = CMS_PROBLEM_OK;
        return 0;
}

/* A signature whose revision ends at revision (1-based) and whose value verifies over what it covers: what a
 * text stamp of that revision needs. A later disallowed change does not undo that. */
static bool revision_verified(const PdfVerifyResult *res, unsigned revision) {
        for (size_t i = 0; i < res->n_signatures; i++) {
                const PdfSignature *t = &res->signatures[i];

                if (t->covers_revision && t->revision == revision && t->kind != PDF_SIGNATURE_TIMESTAMP &&
                    t->cms_problem == CMS_PROBLEM_OK &&
                    (t->problem == PDF_SIGNATURE_OK || t->problem == PDF_SIGNATURE_DISALLOWED_CHANGE ||
                     t->problem == PDF_SIGNATURE_DOCMDP_VIOLATION))
                        return true;
        }
        return false;
}

/* The signature object (a signature field that draws: its own) verifies over its revision, which ends at
 * revision. 0 (a signature written inside its field) is any signature of that revision. */
static bool signature_verified(const PdfVerifyResult *res, unsigned object, unsigned revision) {
        if (object == 0)
                return revision_verified(res, revision);
        for (size_t i = 0; i < res->n_signatures; i++) {
                const PdfSignature *t = &res->signatures[i];

                if (t->object == object)
                        return t->covers_revision && t->revision == revision &&
                               t->kind != PDF_SIGNATURE_TIMESTAMP && t->cms_problem == CMS_PROBLEM_OK &&
                               (t->problem == PDF_SIGNATURE_OK ||
                                t->problem == PDF_SIGNATURE_DISALLOWED_CHANGE ||
                                t->problem == PDF_SIGNATURE_DOCMDP_VIOLATION);
        }
        return false;
}

/* pdf-diff allowed each text stamp because a signature of its revision covers it, and each signature field
 * that draws because its own signature does; only now that every signature is verified can it be told
 * whether that one verifies. */
static int check_stamps_signed(PdfVerifyResult *res) {
        for (size_t i = 0; i < res->n_signatures; i++) {
                PdfSignature *s = &res->signatures[i];

                for (size_t j = 0; j < s->n_stamps; j++) {
                        PdfChange f = s->stamps[j];
                        bool field = f.kind == PDF_CHANGE_SIG_FIELD;

                        if (field ? signature_verified(res, f.referred, f.revision)
                                  : revision_verified(res, f.revision))
                                continue;
                        f.kind = field ? PDF_CHANGE_SIG_FIELD_UNVERIFIED : PDF_CHANGE_STAMP_UNVERIFIED;
                        free(s->change);
                        s->change = pdf_change_message(&f, false);
                        if (!s->change)
                                return -ENOMEM;
                        s->change_object = f.object;
                        s->change_facts = f;
                        s->noted_change = mfree(s->noted_change);
                        s->noted_facts = (PdfChange){};
                        s->n_stamps = 0;
                        if (sig_fail(s, PDF_SIGNATURE_DISALLOWED_CHANGE, "%s", s->change) < 0)
                                return -ENOMEM;
                        break;
                }
        }
        return 0;
}

static int walk_fields(Walk *w, qpdf_oh arr, const char *prefix, bool parent_sig, unsigned depth) {
        qpdf_data q = w->doc->q;
        int n;

        if (!qpdf_oh_is_array(q, arr))
                return 0;
        if (depth > MAX_FIELD_DEPTH)
                return 0;
        n = qpdf_oh_get_array_n_items(q, arr);
        for (int i = 0; i < n; i++) {
                qpdf_oh f = qpdf_oh_get_array_item(q, arr, i), ft, t, v, kids;
                _cleanup_free_ char *name = NULL;
                const char *partial = NULL;
                bool sig;
                int r;

                if (++w->visits > MAX_FIELD_VISITS)
                        return -E2BIG;
                if (!qpdf_oh_is_dictionary(q, f))
                        continue;
                t = pdf_oh_key(q, f, "/T");
                if (qpdf_oh_is_string(q, t))
                        partial = qpdf_oh_get_utf8_value(q, t);
                if (partial && *prefix)
                        r = asprintf(&name, "%s.%s", prefix, partial);
                else
                        r = asprintf(&name, "%s", partial ?: prefix);
                if (r < 0)
                        return -ENOMEM;

                ft = pdf_oh_key(q, f, "/FT");
                sig = qpdf_oh_is_null(q, ft) ? parent_sig : qpdf_oh_is_name_and_equals(q, ft, "/Sig");
                kids = pdf_oh_key(q, f, "/Kids");
                v = pdf_oh_key(q, f, "/V");
                if (sig && qpdf_oh_is_dictionary(q, v))
                        r = add_signature(w, f, v, name);
                else if (qpdf_oh_is_array(q, kids))
                        r = walk_fields(w, kids, name, sig, depth + 1);
                else
                        r = 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Signature widgets on the pages that /Fields does not list. */
static int walk_widgets(Walk *w) {
        qpdf_data q = w->doc->q;
        int pages = qpdf_get_num_pages(q);

        if (qpdf_has_error(q)) {
                (void) qpdf_get_error(q);
                return 0;
        }
        for (int i = 0; i < pages; i++) {
                qpdf_oh annots = pdf_oh_key(q, qpdf_get_page_n(q, (size_t) i), "/Annots");
                int n = qpdf_oh_is_array(q, annots) ? qpdf_oh_get_array_n_items(q, annots) : 0;

                for (int j = 0; j < n; j++) {
                        qpdf_oh a = qpdf_oh_get_array_item(q, annots, j);
                        qpdf_oh t = pdf_oh_key(q, a, "/T"), v = pdf_oh_key(q, a, "/V");
                        const char *name = qpdf_oh_is_string(q, t) ? qpdf_oh_get_utf8_value(q, t) : NULL;
                        _cleanup_free_ char *copy = NULL;
                        int r;

                        if (++w->visits > MAX_FIELD_VISITS)
                                return -E2BIG;
                        if (!qpdf_oh_is_name_and_equals(q, pdf_oh_key(q, a, "/FT"), "/Sig") ||
                            !qpdf_oh_is_dictionary(q, v))
                                continue;
                        copy = strdup(name ?: "");
                        if (!copy)
                                return -ENOMEM;
                        r = add_signature(w, a, v, copy);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int sig_cmp(const void *x, const void *y) {
        const PdfSignature *a = x, *b = y;
        uint64_t ea = a->byte_range_valid ? a->byte_range[2] + a->byte_range[3] : UINT64_MAX;
        uint64_t eb = b->byte_range_valid ? b->byte_range[2] + b->byte_range[3] : UINT64_MAX;

        return ea < eb ? -1 : ea > eb ? 1 : 0;
}

static void find_certification(Doc *doc) {
        qpdf_data q = doc->q;
        qpdf_oh sig = pdf_oh_key(q, pdf_oh_key(q, pdf_root(q), "/Perms"), "/DocMDP");
        qpdf_oh refs = pdf_oh_key(q, sig, "/Reference");

        if (!qpdf_oh_is_indirect(q, sig))
                return;
        doc->certification = qpdf_oh_get_object_id(q, sig);
        doc->docmdp_p = 2; /* the default of /TransformParams /P */
        for (int i = 0; qpdf_oh_is_array(q, refs) && i < qpdf_oh_get_array_n_items(q, refs) && i < 16; i++) {
                qpdf_oh ref = qpdf_oh_get_array_item(q, refs, i);
                qpdf_oh p = pdf_oh_key(q, pdf_oh_key(q, ref, "/TransformParams"), "/P");
                long long v;

                if (qpdf_oh_is_name_and_equals(q, pdf_oh_key(q, ref, "/TransformMethod"), "/DocMDP") &&
                    qpdf_oh_is_integer(q, p) && qpdf_oh_get_value_as_longlong(q, p, &v) && v >= 1 && v <= 3)
                        doc->docmdp_p = (int) v;
        }
}

_printf_(3, 4) static int doc_fail(PdfVerifyResult *res, PdfDocumentProblem p, const char *fmt, ...) {
        va_list ap;
        int r;

        res->document_problem = p;
        va_start(ap, fmt);
        r = vasprintf(&res->document_detail, fmt, ap);
        va_end(ap);
        if (r < 0) {
                res->document_detail = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int verify_source(const PdfSource *src, PdfVerifyResult **ret);
static void pdf_signature_done(PdfSignature *s);

/* Without /proc, the old way: the file mapped (it must not shrink meanwhile). */
static int verify_mapped(int fd, size_t size, PdfVerifyResult **ret) {
        PdfSource src;
        void *m;
        int r;

        if (size == 0)
                return pdf_verify("", 0, ret);
        m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
                return -errno;
        src = pdf_source_memory(m, size);
        r = verify_source(&src, ret);
        munmap(m, size);
        return r;
}

static int verify_source(const PdfSource *src, PdfVerifyResult **ret) {
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = NULL;
        _cleanup_free_ PdfRevision *revs = NULL;
        _cleanup_(pdf_qpdf_closep) qpdf_data q = NULL;
        uint8_t header[1024]; /* where readers look for "%PDF-" */
        PdfRevision tail;
        size_t n_revs = 0;
        Doc doc = {};
        Walk w = {};
        int r;

        res = calloc(1, sizeof(PdfVerifyResult));
        if (!res)
                return -ENOMEM;
        r = pdf_source_read(src, 0, header, (size_t) MIN(src->size, (uint64_t) sizeof header));
        if (r < 0)
                return r;
        if (src->size < 8 ||
            !memmem(header, (size_t) MIN(src->size, (uint64_t) sizeof header), "%PDF-", 5)) {
                r = doc_fail(res, PDF_DOCUMENT_NOT_PDF, "no %%PDF- header");
                goto done;
        }
        r = pdf_revisions_find_source(src, PDF_VERIFY_MAX_REVISIONS, &revs, &n_revs);
        if (r == -E2BIG || (r >= 0 && n_revs == 0)) {
                r = doc_fail(
                        res, PDF_DOCUMENT_DAMAGED,
                        n_revs == 0 ? "no startxref/%%%%EOF" : "more than %u revisions",
                        PDF_VERIFY_MAX_REVISIONS);
                goto done;
        }
        if (r < 0)
                return r;
        /* An update whose %%EOF was left off is still what qpdf shows: it is a revision to analyse too. */
        r = pdf_revisions_find_unended(src, revs[n_revs - 1].end, &tail);
        if (r == -EBADMSG || (r > 0 && n_revs >= PDF_VERIFY_MAX_REVISIONS)) {
                r = doc_fail(
                        res, PDF_DOCUMENT_DAMAGED,
                        r > 0 ? "more than %u revisions"
                              : "the bytes after the last %%%%EOF hold a startxref without an offset",
                        PDF_VERIFY_MAX_REVISIONS);
                goto done;
        }
        if (r < 0)
                return r;
        if (r > 0) {
                PdfRevision *a = reallocarray(revs, n_revs + 1, sizeof(PdfRevision));
                if (!a)
                        return -ENOMEM;
                revs = a;
                revs[n_revs++] = tail;
        }
        res->n_revisions = (unsigned) n_revs;

        r = pdf_source_qpdf_open(src, src->size, &q);
        if (r < 0)
                return r;
        if (!q) {
                r = doc_fail(res, PDF_DOCUMENT_DAMAGED, "qpdf cannot read the file without repair");
                goto done;
        }
        if (!qpdf_oh_is_dictionary(q, pdf_root(q))) {
                r = doc_fail(res, PDF_DOCUMENT_DAMAGED, "the trailer has no /Root dictionary");
                goto done;
        }
        if (qpdf_is_encrypted(q)) {
                r = doc_fail(res, PDF_DOCUMENT_ENCRYPTED, "the file is encrypted");
                goto done;
        }
        res->has_dss = !qpdf_oh_is_null(q, pdf_oh_key(q, pdf_root(q), "/DSS"));

        doc = (Doc){ .src = src, .size = src->size, .revs = revs, .n_revs = n_revs, .q = q };
        find_certification(&doc);
        w = (Walk){ .doc = &doc, .res = res };
        r = walk_fields(&w, pdf_oh_key(q, pdf_oh_key(q, pdf_root(q), "/AcroForm"), "/Fields"), "", false, 0);
        if (r >= 0)
                r = walk_widgets(&w);
        w.holders = mfree(w.holders);
        if (r == -E2BIG) {
                /* Past the walk's limits the signatures found are not all there are: none is reported. */
                for (size_t i = 0; i < res->n_signatures; i++)
                        pdf_signature_done(&res->signatures[i]);
                res->signatures = mfree(res->signatures);
                res->n_signatures = 0;
                r = doc_fail(
                        res, PDF_DOCUMENT_DAMAGED, "more than %u form fields or %u signatures",
                        MAX_FIELD_VISITS, PDF_VERIFY_MAX_SIGNATURES);
                goto done;
        }
        if (r < 0)
                return r;
        r = check_stamps_signed(res);
        if (r < 0)
                return r;
        if (res->n_signatures > 1)
                qsort(res->signatures, res->n_signatures, sizeof(PdfSignature), sig_cmp);
        /* signer points into cms, which moved with its PdfSignature: nothing to fix, cms is a pointer. */
        r = 0;
done:
        if (r < 0)
                return r;
        *ret = TAKE_PTR(res);
        return 0;
}

int pdf_verify(const void *data, size_t size, PdfVerifyResult **ret) {
        PdfSource src = pdf_source_memory(data ?: "", size);

        if ((!data && size > 0) || !ret)
                return -EINVAL;
        return verify_source(&src, ret);
}

int pdf_verify_fd(int fd, PdfVerifyResult **ret) {
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = NULL;
        struct stat st, after;
        PdfSource src;
        int r;

        if (fd < 0 || !ret)
                return -EINVAL;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -ESPIPE;
        if ((uint64_t) st.st_size > SIZE_MAX)
                return -EFBIG;
        /* Read, never mapped: a mapping makes the file resident as qpdf and the digests go through it, and
         * a file truncated under a mapping kills the reader with SIGBUS. qpdf reads the file by its
         * /proc/self/fd path. */
        if (access("/proc/self/fd", X_OK) < 0)
                return verify_mapped(fd, (size_t) st.st_size, ret);
        src = (PdfSource){ .fd = fd, .size = (uint64_t) st.st_size };
        r = verify_source(&src, &res);
        if (r < 0)
                return r;
        /* What was read is one file only if it kept its size (a shorter one gives -ESTALE while read). */
        if (fstat(fd, &after) < 0)
                return -errno;
        if (after.st_size != st.st_size || after.st_mtim.tv_sec != st.st_mtim.tv_sec ||
            after.st_mtim.tv_nsec != st.st_mtim.tv_nsec)
                return -ESTALE;
        *ret = TAKE_PTR(res);
        return 0;
}

static void pdf_signature_done(PdfSignature *s) {
        free(s->field_name);
        free(s->sub_filter_name);
        free(s->name);
        free(s->reason);
        free(s->location);
        free(s->contact_info);
        free(s->contents);
        cms_verify_result_free(s->cms);
        cms_timestamp_done(&s->doc_timestamp);
        free(s->change);
        free(s->noted_change);
        free(s->detail);
}

PdfVerifyResult *pdf_verify_result_free(PdfVerifyResult *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_signatures; i++)
                pdf_signature_done(&r->signatures[i]);
        free(r->signatures);
        free(r->document_detail);
        free(r);
        return NULL;
}
