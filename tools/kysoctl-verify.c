/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kysoctl verify FILE [SIGNATURE.p7s] [--json] [--policy FILE]: verifies the detached CMS/CAdES signatures
 * of a file without the agent: integrity (formats/), the signer certificate at signing time and now, the
 * time-stamp's TSA, and whether each signer counts as a competent person. Exit 0 only when all are valid. */
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <locale.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "formats/content-digest.h"
#include "formats/pdf-verify.h"
#include "hex.h"
#include "i18n.h"
#include "kysoctl.h"
#include "log.h"
#include "openssl-util.h"
#include "policy/signature-check.h"
#include "string-util.h"
#include "utf8.h"

/* Vietnam time (UTC+7, no daylight saving), the regulation's reference. */
static void format_vn_time(time_t t, char buf[static 64]) {
        struct tm tm;
        time_t local = t + 7 * 3600;
        if (!gmtime_r(&local, &tm) || strftime(buf, 64, "%Y-%m-%dT%H:%M:%S+07:00", &tm) == 0)
                snprintf(buf, 64, "?");
}

static const char *kind_text(CertKind k) {
        switch (k) {
        case CERT_KIND_PERSONAL:
                return _("personal certificate");
        case CERT_KIND_ORGANIZATION:
                return _("organisation certificate");
        case CERT_KIND_DEVICE:
                return _("device or service certificate");
        default:
                return _("certificate of unknown kind");
        }
}

static const char *status_text(CertStatus s) {
        switch (s) {
        case CERT_STATUS_VALID:
                return _("the certificate is valid");
        case CERT_STATUS_EXPIRING:
                return _("the certificate is valid but expires soon");
        case CERT_STATUS_EXPIRED:
                return _("the certificate has expired");
        case CERT_STATUS_NOT_YET_VALID:
                return _("the certificate is not valid yet");
        case CERT_STATUS_REVOKED:
                return _("the certificate is revoked");
        case CERT_STATUS_UNTRUSTED:
                return _("the certificate is not trusted");
        case CERT_STATUS_UNKNOWN_REVOCATION:
                return _("its revocation status is unknown");
        case CERT_STATUS_WEAK_KEY:
                return _("its key or algorithm is too weak");
        case CERT_STATUS_WRONG_USAGE:
                return _("it is not for signing documents");
        default:
                return "?";
        }
}

static const char *source_text(RevocationSource s) {
        switch (s) {
        case REVOCATION_SOURCE_OCSP:
                return "OCSP";
        case REVOCATION_SOURCE_CRL:
                return "CRL";
        case REVOCATION_SOURCE_OFF:
                return _("not checked (test policy)");
        default:
                return _("revocation not checked");
        }
}

static char *fingerprint(X509 *x) {
        char fp[65];
        if (!x || cert_fingerprint_sha256(x, fp) < 0)
                return NULL;
        return strdup(fp);
}

static char *oneline(X509_NAME *n) {
        _cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
        if (!b || X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
                return NULL;
        char *data;
        long len = BIO_get_mem_data(b, &data);
        return strndup(data, (size_t) MAX(len, 0L));
}

/* Prints "  LABEL" padded to 30 characters (not bytes: Vietnamese labels are multi-byte). */
static void print_label(const char *label) {
        size_t chars = 0;
        for (const unsigned char *c = (const unsigned char *) label; *c; c++)
                if ((*c & 0xc0) != 0x80)
                        chars++;
        printf("  %s%*s ", label, (int) (chars < 30 ? 30 - chars : 0), "");
}

static void
print_human(const SignatureCheck *c, const CmsSignerResult *s, size_t index, size_t total, ssize_t parent) {
        char when[64];

        if (parent >= 0)
                printf(_("Countersignature on signature %zd\n"), parent + 1);
        else
                printf(_("Signature %zu of %zu\n"), index + 1, total);
        print_label(_("Signer:"));
        if (c->signer)
                printf("%s%s%s%s\n", strna(c->signer_name), c->signer_title ? " (" : "",
                       strempty(c->signer_title), c->signer_title ? ")" : "");
        else
                printf("%s\n", _("(certificate missing)"));
        print_label(_("Certificate kind:"));
        printf("%s\n", kind_text(c->kind));
        print_label(_("Organisation:"));
        printf("%s\n", c->organization ?: "-");
        format_vn_time(c->signing_time, when);
        print_label(_("Signing time:"));
        printf("%s (%s)\n", when,
               c->time_source == SIGNING_TIME_TIMESTAMP ? _("time-stamped")
               : c->time_source == SIGNING_TIME_CLAIMED ? _("claimed by the signer, not proven")
                                                        : _("unknown; judged at the present time"));
        if (c->has_timestamp) {
                print_label(_("Time-stamp:"));
                if (c->timestamp_trusted)
                        printf(_("trusted, from %s\n"), strna(c->tsa_name));
                else
                        printf("%s: %s\n", _("NOT trusted"), strempty(c->timestamp_reason));
        }
        print_label(_("Integrity:"));
        printf("%s %s\n", c->integrity_ok ? _("intact.") : _("BROKEN."), strempty(c->integrity_reason));
        if (c->signer) {
                print_label(_("Certificate binding:"));
                printf("%s\n", strempty(c->binding_reason));
        }
        if (s->digest_nid != NID_undef) {
                print_label(_("Algorithms:"));
                printf("%s, %s\n", OBJ_nid2sn(s->digest_nid),
                       strna(cms_signature_scheme_to_string(s->scheme)));
        }
        if (c->signer) {
                /* An expired certificate is not checked now; its status at signing time was. */
                const CertValidation *rv =
                        c->now.revocation_source == REVOCATION_SOURCE_NONE &&
                                        c->at_signing.revocation_source != REVOCATION_SOURCE_NONE
                                ? &c->at_signing
                                : &c->now;
                bool checked = rv->revocation_url && rv->revocation_source != REVOCATION_SOURCE_NONE;
                print_label(_("Certificate at signing time:"));
                printf("%s. %s\n", status_text(c->at_signing.status), strempty(c->at_signing.reason));
                print_label(_("Certificate now:"));
                printf("%s. %s\n", status_text(c->now.status), strempty(c->now.reason));
                print_label(_("Revocation checked by:"));
                printf("%s%s%s\n", source_text(rv->revocation_source), checked ? " " : "",
                       checked ? rv->revocation_url : "");
        }
        print_label(_("Competent person:"));
        printf("%s: %s\n", c->counts_as_leader ? _("counts") : _("does not count"),
               strempty(c->leader_reason));
        print_label(_("Result:"));
        printf("%s %s\n\n", c->valid ? _("VALID.") : _("NOT VALID."), strempty(c->reason));
}

static json_object *json_status(const CertValidation *v) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string(strna(cert_status_to_string(v->status))));
        json_object_object_add(o, "days_left", json_object_new_int(v->days_left));
        json_object_object_add(
                o, "revocation_source",
                json_object_new_string(strna(revocation_source_to_string(v->revocation_source))));
        json_object_object_add(
                o, "revocation_url", v->revocation_url ? json_object_new_string(v->revocation_url) : NULL);
        json_object_object_add(o, "reason", json_object_new_string(strempty(v->reason)));
        return o;
}

static json_object *json_signature(const SignatureCheck *c, const CmsSignerResult *s, ssize_t parent) {
        json_object *o = json_object_new_object();
        char when[64];
        _cleanup_free_ char *fp = fingerprint(c->signer), *subj = NULL, *iss = NULL, *serial = NULL;

        if (c->signer) {
                subj = oneline(X509_get_subject_name(c->signer));
                iss = oneline(X509_get_issuer_name(c->signer));
                BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->signer), NULL);
                char *hex = bn ? BN_bn2hex(bn) : NULL;
                serial = hex ? strdup(hex) : NULL;
                OPENSSL_free(hex);
                BN_free(bn);
        }
        json_object_object_add(
                o, "countersignature_of", parent >= 0 ? json_object_new_int((int) parent + 1) : NULL);
        json_object *signer = json_object_new_object();
        json_object_object_add(
                signer, "name", c->signer_name ? json_object_new_string(c->signer_name) : NULL);
        json_object_object_add(
                signer, "title", c->signer_title ? json_object_new_string(c->signer_title) : NULL);
        json_object_object_add(signer, "subject", subj ? json_object_new_string(subj) : NULL);
        json_object_object_add(signer, "issuer", iss ? json_object_new_string(iss) : NULL);
        json_object_object_add(signer, "serial", serial ? json_object_new_string(serial) : NULL);
        json_object_object_add(signer, "sha256_fingerprint", fp ? json_object_new_string(fp) : NULL);
        json_object_object_add(o, "signer", signer);
        json_object_object_add(o, "kind", json_object_new_string(cert_kind_to_string(c->kind)));
        json_object_object_add(
                o, "organization", c->organization ? json_object_new_string(c->organization) : NULL);
        format_vn_time(c->signing_time, when);
        json_object_object_add(o, "signing_time", json_object_new_string(when));
        json_object_object_add(
                o, "signing_time_source",
                json_object_new_string(signing_time_source_to_string(c->time_source)));
        json_object_object_add(
                o, "integrity", json_object_new_string(strna(cms_problem_to_string(s->problem))));
        json_object_object_add(o, "integrity_ok", json_object_new_boolean(c->integrity_ok));
        json_object_object_add(
                o, "integrity_message", json_object_new_string(strempty(c->integrity_reason)));
        json_object_object_add(
                o, "signing_certificate",
                json_object_new_string(strna(cms_signing_cert_to_string(s->signing_cert))));
        json_object_object_add(
                o, "signing_certificate_bound", json_object_new_boolean(c->signing_cert_bound));
        json_object_object_add(
                o, "signing_certificate_message", json_object_new_string(strempty(c->binding_reason)));
        json_object_object_add(
                o, "digest",
                s->digest_nid != NID_undef ? json_object_new_string(OBJ_nid2sn(s->digest_nid)) : NULL);
        json_object_object_add(
                o, "scheme",
                cms_signature_scheme_to_string(s->scheme)
                        ? json_object_new_string(cms_signature_scheme_to_string(s->scheme))
                        : NULL);
        json_object *ts = NULL;
        if (c->has_timestamp) {
                ts = json_object_new_object();
                json_object_object_add(
                        ts, "status",
                        json_object_new_string(strna(cms_timestamp_status_to_string(s->timestamp.status))));
                json_object_object_add(ts, "trusted", json_object_new_boolean(c->timestamp_trusted));
                json_object_object_add(
                        ts, "reason",
                        c->timestamp_reason ? json_object_new_string(c->timestamp_reason) : NULL);
                json_object_object_add(ts, "tsa", c->tsa_name ? json_object_new_string(c->tsa_name) : NULL);
                if (s->timestamp.status == CMS_TIMESTAMP_OK && s->timestamp.tsa_cert)
                        json_object_object_add(ts, "tsa_status", json_status(&c->tsa_status));
        }
        json_object_object_add(o, "timestamp", ts);
        json_object_object_add(o, "status_at_signing", c->signer ? json_status(&c->at_signing) : NULL);
        json_object_object_add(o, "status_now", c->signer ? json_status(&c->now) : NULL);
        json_object_object_add(o, "competent_person", json_object_new_boolean(c->counts_as_leader));
        json_object_object_add(
                o, "competent_person_reason", json_object_new_string(strempty(c->leader_reason)));
        json_object_object_add(o, "valid", json_object_new_boolean(c->valid));
        json_object_object_add(o, "reason", json_object_new_string(strempty(c->reason)));
        return o;
}

typedef struct Output {
        bool json;
        json_object *array;
        size_t total;
        size_t n_valid, n_checked;
} Output;

static int check_signer(
        const Policy *p, const CmsVerifyResult *res, const CmsSignerResult *s, size_t index, ssize_t parent,
        Output *out) {
        _cleanup_(signature_check_done) SignatureCheck c = {};
        int r = signature_check(p, res, s, &c);
        if (r < 0)
                return r;
        out->n_checked++;
        if (c.valid)
                out->n_valid++;
        if (out->json)
                json_object_array_add(out->array, json_signature(&c, s, parent));
        else
                print_human(&c, s, index, out->total, parent);
        for (size_t i = 0; i < s->n_countersigners; i++) {
                r = check_signer(p, res, &s->countersigners[i], i, (ssize_t) index, out);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct SignOrder {
        size_t index; /* position in the file */
        bool has_timestamp, has_claimed;
        time_t timestamp, claimed;
} SignOrder;

/* Signing order: the time-stamp's time when both have one, else the claimed time when both have one, else
 * the position. */
static int sign_order_cmp(const void *x, const void *y) {
        const SignOrder *a = x, *b = y;

        if (a->has_timestamp && b->has_timestamp && a->timestamp != b->timestamp)
                return a->timestamp < b->timestamp ? -1 : 1;
        if (a->has_claimed && b->has_claimed && a->claimed != b->claimed)
                return a->claimed < b->claimed ? -1 : 1;
        return a->index < b->index ? -1 : a->index > b->index ? 1 : 0;
}

static void sign_order_sort(SignOrder *o, size_t n) {
        if (n > 1)
                qsort(o, n, sizeof(SignOrder), sign_order_cmp);
}

static const char *pdf_level(const PdfVerifyResult *res, const PdfSignature *s) {
        if (s->kind == PDF_SIGNATURE_TIMESTAMP)
                return "-";
        if (s->signer && s->signer->timestamp.status == CMS_TIMESTAMP_OK)
                return res->has_dss ? "B-LT" : "B-T";
        return "B-B";
}

static const char *pdf_kind_text(PdfSignatureKind k) {
        switch (k) {
        case PDF_SIGNATURE_CERTIFICATION:
                return _("certifying signature");
        case PDF_SIGNATURE_TIMESTAMP:
                return _("document time-stamp");
        default:
                return _("signature");
        }
}

/* Why a PDF signature is not valid: the PDF's own check first (coverage, later changes), then policy's. */
static char *pdf_reason(const PdfSignature *s, const SignatureCheck *c) {
        char *m = NULL;

        if (!pdf_signature_counts(s)) {
                /* The change in the reader's language; the English `change` is --json's. */
                _cleanup_free_ char *change = pdf_signature_change_message(s);
                if (asprintf(
                            &m, "%s%s%s", pdf_signature_problem_message(s->problem), change ? " " : "",
                            strempty(change)) < 0)
                        return NULL;
                return m;
        }
        return strdup(c && c->reason ? c->reason : "");
}

static void html_row(FILE *f, const char *label, const char *value) {
        fputs("<tr><th>", f);
        fputs_html(f, label);
        fputs("</th><td>", f);
        fputs_html(f, value);
        fputs("</td></tr>\n", f);
}

typedef struct PdfOutput {
        const char *file;
        bool json;
        json_object *array;
        FILE *html;
        size_t n_valid, n_checked;
} PdfOutput;

/* A document time-stamp counts only from a TSA the policy trusts, at its own time, with hashes it allows.
 * Returns 1 when trusted, 0 with *ret_why (translated) when not, or a negative errno. */
static int doc_timestamp_trusted(const Policy *p, const PdfSignature *s, char **ret_tsa, char **ret_why) {
        const CmsTimestamp *t = &s->doc_timestamp;
        _cleanup_(cert_validation_done) CertValidation v = {};
        int r;

        if (t->status != CMS_TIMESTAMP_OK || !t->tsa_cert)
                return 0;
        *ret_tsa = cert_display_name(t->tsa_cert);
        if (!policy_hash_allowed(p, t->imprint_digest_nid) ||
            !policy_hash_allowed(p, t->signature_digest_nid)) {
                *ret_why = strdup(_("The time-stamp uses a hash the policy does not allow."));
                return *ret_why ? 0 : -ENOMEM;
        }
        r = cert_validate(p, t->tsa_cert, t->certs, t->gen_time, CERT_VALIDATE_TIMESTAMPING, &v);
        if (r < 0)
                return r;
        if (cert_status_is_usable(v.status))
                return 1;
        if (asprintf(ret_why, _("The time-stamp authority is not trusted: %s"), strempty(v.reason)) < 0)
                return -ENOMEM;
        return 0;
}

static int
pdf_one(const Policy *p, const PdfVerifyResult *res, const PdfSignature *s, size_t k, PdfOutput *out) {
        _cleanup_(signature_check_done) SignatureCheck c = {};
        bool checked = false, valid;
        char claimed[64] = "-", stamped[64] = "-", rev[64];
        _cleanup_free_ char *reason = NULL;
        /* An allowed later change the reader is told of (a text stamp), in the reader's language. */
        _cleanup_free_ char *noted = pdf_signature_noted_message(s);
        int r;

        /* Certificates, revocation and the competent person only for a CMS that verified over the ranges. */
        if (s->signer && s->cms) {
                r = signature_check_claimed(
                        p, s->cms, s->signer, s->has_claimed_time ? &s->claimed_time : NULL, &c);
                if (r < 0)
                        return r;
                checked = true;
                /* What the PDF says about coverage and later changes is part of integrity: a CMS that
                 * verifies over a revision the document no longer is does not make it intact. */
                if (!pdf_signature_counts(s)) {
                        _cleanup_free_ char *why = pdf_reason(s, NULL);
                        if (!why || free_and_asprintf(&c.integrity_reason, "%s", why) < 0 ||
                            free_and_asprintf(&c.reason, "%s", why) < 0)
                                return log_oom();
                        c.integrity_ok = c.valid = c.counts_as_leader = false;
                }
        }
        _cleanup_free_ char *tsa = NULL, *tsa_why = NULL;
        bool tsa_ok = false;
        if (s->kind == PDF_SIGNATURE_TIMESTAMP && pdf_signature_counts(s)) {
                r = doc_timestamp_trusted(p, s, &tsa, &tsa_why);
                if (r < 0)
                        return r;
                tsa_ok = r > 0;
        }
        valid = pdf_signature_counts(s) &&
                (s->kind == PDF_SIGNATURE_TIMESTAMP ? tsa_ok : checked && c.valid);
        reason = tsa_why ? strdup(tsa_why) : pdf_reason(s, checked ? &c : NULL);
        if (!reason)
                return log_oom();
        out->n_checked++;
        if (valid)
                out->n_valid++;
        if (s->has_claimed_time)
                format_vn_time(s->claimed_time, claimed);
        if (s->has_timestamp_time)
                format_vn_time(s->timestamp_time, stamped);
        snprintf(rev, sizeof rev, "%u/%u", s->covers_revision ? s->revision : 0, res->n_revisions);

        if (out->json) {
                json_object *o = checked ? json_signature(&c, s->signer, -1) : json_object_new_object();
                json_object_object_add(o, "field", json_object_new_string(s->field_name));
                json_object_object_add(
                        o, "pdf_kind", json_object_new_string(pdf_signature_kind_to_string(s->kind)));
                json_object_object_add(
                        o, "sub_filter",
                        s->sub_filter_name ? json_object_new_string(s->sub_filter_name) : NULL);
                json_object_object_add(
                        o, "claimed_time", s->has_claimed_time ? json_object_new_string(claimed) : NULL);
                json_object_object_add(
                        o, "timestamp_time", s->has_timestamp_time ? json_object_new_string(stamped) : NULL);
                json_object_object_add(o, "level", json_object_new_string(pdf_level(res, s)));
                if (s->kind == PDF_SIGNATURE_TIMESTAMP) {
                        json_object_object_add(o, "tsa", tsa ? json_object_new_string(tsa) : NULL);
                        json_object_object_add(o, "tsa_trusted", json_object_new_boolean(tsa_ok));
                }
                json_object_object_add(
                        o, "revision", s->covers_revision ? json_object_new_int((int) s->revision) : NULL);
                json_object_object_add(o, "revisions", json_object_new_int((int) res->n_revisions));
                json_object_object_add(
                        o, "covers_whole_file", json_object_new_boolean(s->covers_whole_file));
                json_object_object_add(
                        o, "pdf_problem",
                        json_object_new_string(pdf_signature_problem_to_string(s->problem)));
                json_object_object_add(o, "change", s->change ? json_object_new_string(s->change) : NULL);
                json_object_object_add(
                        o, "noted_change", s->noted_change ? json_object_new_string(s->noted_change) : NULL);
                json_object_object_add(
                        o, "competent_person", json_object_new_boolean(checked && c.counts_as_leader));
                json_object_object_add(o, "valid", json_object_new_boolean(valid));
                json_object_object_add(o, "reason", json_object_new_string(reason));
                json_object_array_add(out->array, o);
        } else {
                if (checked)
                        print_human(&c, s->signer, k, res->n_signatures, -1);
                else
                        printf(_("Signature %zu of %zu\n"), k + 1, res->n_signatures);
                print_label(_("Field:"));
                printf("%s (%s, %s)\n", s->field_name, pdf_kind_text(s->kind), strna(s->sub_filter_name));
                print_label(_("Claimed time (/M):"));
                printf("%s\n", claimed);
                print_label(_("Time-stamp time:"));
                printf("%s\n", stamped);
                if (s->kind == PDF_SIGNATURE_TIMESTAMP) {
                        print_label(_("Time-stamp authority:"));
                        printf("%s\n", strna(tsa));
                }
                print_label(_("Level:"));
                printf("%s\n", pdf_level(res, s));
                print_label(_("Revision signed:"));
                printf("%s\n", rev);
                print_label(_("Whole file signed:"));
                printf("%s\n", s->covers_whole_file ? _("yes") : _("no, later revisions were added"));
                if (noted) {
                        print_label(_("Later change:"));
                        printf("%s\n", noted);
                }
                print_label(_("Verdict:"));
                printf("%s %s\n\n", valid ? _("VALID.") : _("NOT VALID."), reason);
        }
        if (out->html) {
                fputs("<h2>", out->html);
                fputs_html(out->html, pdf_kind_text(s->kind));
                fprintf(out->html, " %zu</h2>\n<table>\n", k + 1);
                html_row(out->html, _("Verdict:"), valid ? _("VALID.") : _("NOT VALID."));
                html_row(out->html, _("Reason:"), reason);
                html_row(out->html, _("Signer:"), checked ? strna(c.signer_name) : (s->name ?: "-"));
                html_row(out->html, _("Organisation:"), checked && c.organization ? c.organization : "-");
                html_row(
                        out->html, _("Competent person:"),
                        checked && c.counts_as_leader ? _("counts") : _("does not count"));
                html_row(out->html, _("Claimed time (/M):"), claimed);
                html_row(out->html, _("Time-stamp time:"), stamped);
                html_row(out->html, _("Level:"), pdf_level(res, s));
                html_row(out->html, _("Revision signed:"), rev);
                html_row(
                        out->html, _("Document intact:"),
                        pdf_signature_counts(s)
                                ? (s->covers_whole_file
                                           ? _("yes")
                                           : _("yes; later revisions add only signatures or validation data"))
                                : _("no"));
                if (noted)
                        html_row(out->html, _("Later change:"), noted);
                html_row(out->html, _("Field:"), s->field_name);
                fputs("</table>\n", out->html);
        }
        return 0;
}

/* Returns the exit code: a policy named with --policy that cannot be used is the caller's mistake (usage,
 * as for audit report), the default one the installation's. */
static int load_policy(const char *policy_path, Policy **ret) {
        _cleanup_strv_free_ char **errors = NULL;
        const char *pp = policy_path ?: policy_tools_path();
        int r = policy_load(pp, policy_tools_flags(), ret, &errors);
        if (r >= 0)
                return KYSOCTL_EXIT_OK;
        STRV_FOREACH (e, errors)
                kysoctl_error("verify", "%s\n", *e);
        kysoctl_error(
                "verify",
                _("Cannot verify: the policy %s cannot be used (%s). Check it with 'kysoctl policy check'.\n"),
                pp, kysoctl_policy_failure(pp, r));
        return policy_path ? KYSOCTL_EXIT_USAGE : KYSOCTL_EXIT_INTERNAL;
}

/* The whole file's SHA-256 in hex, for the reports that name it (--json, --html): a second pass over the
 * file that the text report does not pay for. */
static int file_sha256_hex(int fd, char hex[static 65]) {
        _cleanup_(content_digests_done) ContentDigests d = {};
        const uint8_t *h;
        size_t hs = 0;
        int r;

        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = content_digests_add(&d, NID_sha256);
        if (r >= 0)
                r = content_digests_read(&d, content_read_fd, &fd); /* and finishes */
        if (r < 0)
                return r;
        h = content_digests_get(&d, NID_sha256, &hs);
        if (!h || hs != 32)
                return -EINVAL;
        hex_encode(h, 32, hex);
        return 0;
}

/* A file name as --json writes it: UTF-8 whatever the name, a byte of a legacy code page as \xNN and a
 * backslash doubled (utf8_escape(), as the agent names a document), so that every JSON reader takes it. */
static json_object *json_file_name(const char *name) {
        _cleanup_free_ char *e = utf8_escape(name);
        return e ? json_object_new_string(e) : NULL;
}

/* The --json of a file whose signatures cannot be checked at all: the file, what identifies it (key: value),
 * why (error), not valid and no signatures, the same fields as a verified file's. */
static void
print_json_unverifiable(const char *file, const char *key, const char *value, const char *error) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "file", json_file_name(file));
        json_object_object_add(o, key, json_file_name(value));
        json_object_object_add(o, "valid", json_object_new_boolean(false));
        json_object_object_add(o, "error", json_object_new_string(error));
        json_object_object_add(o, "signatures", json_object_new_array());
        printf("%s\n",
               json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

/* The --html report, written to an unnamed file in REPORT's folder and put in place only once it is whole:
 * an earlier report is replaced whole or kept as it was (a full disk, an error while verifying). A REPORT
 * that exists and is not a regular file (a FIFO, /dev/stdout, /dev/null) is written into instead: a rename
 * would replace it. */
typedef struct HtmlReport {
        FILE *f;
        char *target; /* the file replaced: what REPORT points to when it exists */
        char *tmp; /* the named temporary file where there are no unnamed ones: removed unless committed */
        bool replace; /* false when writing into REPORT itself */
} HtmlReport;

static void html_report_done(HtmlReport *h) {
        if (h->tmp)
                (void) unlink(h->tmp);
        free(h->tmp);
        free(h->target);
        if (h->f)
                (void) fclose(h->f);
}

static int html_report_open(HtmlReport *h, const char *path) {
        mode_t um = umask(0);
        struct stat st;
        int fd;

        (void) umask(um);
        if (stat(path, &st) >= 0 && !S_ISREG(st.st_mode)) {
                h->f = fopen(path, "we");
                return h->f ? 0 : -errno;
        }
        h->target = realpath(path, NULL);
        if (!h->target && !(h->target = strdup(path)))
                return -ENOMEM;
        fd = atomic_output_open(h->target, 0666 & ~um, &h->tmp);
        if (fd < 0)
                return fd;
        h->replace = true;
        h->f = fdopen(fd, "w");
        if (!h->f) {
                int r = -errno;
                safe_close(fd);
                return r;
        }
        return 0;
}

/* Writes what is buffered, makes it durable and puts it in place of the report. */
static int html_report_commit(HtmlReport *h) {
        int r;

        if (fflush(h->f) != 0)
                return -errno;
        if (ferror(h->f))
                return -EIO;
        if (!h->replace)
                return 0;
        r = atomic_output_commit(fileno(h->f), h->tmp, h->target);
        if (r < 0)
                return r;
        h->tmp = mfree(h->tmp);
        h->replace = false;
        return 0;
}

static int verify_pdf(const char *file, int fd, const char *policy_path, bool json, const char *html_path) {
        _cleanup_(pdf_verify_result_freep) PdfVerifyResult *res = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(html_report_done) HtmlReport report = {};
        FILE *html = NULL;
        PdfOutput out = { .file = file, .json = json };
        char hex[65];
        int r;

        r = pdf_verify_fd(fd, &res);
        if (r == -ESTALE) {
                kysoctl_error(
                        "verify",
                        _("Cannot verify %s: the file changed while it was being read (is an application still "
                          "writing it?). Verify it again once it is saved.\n"),
                        file);
                return KYSOCTL_EXIT_INTERNAL;
        }
        if (r < 0) {
                kysoctl_error("verify", _("Cannot verify %s: %s\n"), file, strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }
        hex[0] = '\0';
        if (json || html_path) {
                r = file_sha256_hex(fd, hex);
                if (r < 0) {
                        kysoctl_error("verify", _("Cannot verify %s: %s\n"), file, strerror(-r));
                        return KYSOCTL_EXIT_INTERNAL;
                }
        }
        if (res->document_problem != PDF_DOCUMENT_OK) {
                if (json)
                        print_json_unverifiable(
                                file, "sha256", hex, pdf_document_problem_to_string(res->document_problem));
                else
                        kysoctl_error(
                                "verify", _("%s (PDF): %s\n"), file,
                                pdf_document_problem_message(res->document_problem));
                return KYSOCTL_EXIT_REFUSED;
        }
        /* The policy is needed only once there is a PDF to judge. */
        r = load_policy(policy_path, &p);
        if (r != KYSOCTL_EXIT_OK)
                return r;
        if (html_path) {
                r = html_report_open(&report, html_path);
                if (r < 0) {
                        kysoctl_error("verify", _("Cannot write %s: %s\n"), html_path, strerror(-r));
                        return KYSOCTL_EXIT_USAGE;
                }
                out.html = html = report.f;
                fputs("<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><title>", html);
                fputs_html(html, _("Signature verification report"));
                fputs("</title><style>body{font-family:serif;margin:2cm}table{border-collapse:collapse;width:100%}"
                      "th,td{border:1px solid #444;padding:4px;text-align:left;vertical-align:top}th{width:35%}"
                      "</style></head><body>\n<h1>",
                      html);
                fputs_html(html, _("Signature verification report"));
                fputs("</h1>\n<table>\n", html);
                html_row(html, _("File:"), file);
                html_row(html, "SHA-256", hex);
                fputs("</table>\n", html);
        }
        if (json)
                out.array = json_object_new_array();
        else
                printf(_("File: %s (PDF, %u revision(s))\n\n"), file, res->n_revisions);

        /* The position of the signed range is the signing order: a later revision cannot be signed first. */
        for (size_t k = 0; k < res->n_signatures; k++) {
                r = pdf_one(p, res, &res->signatures[k], k, &out);
                if (r < 0) {
                        json_object_put(out.array);
                        kysoctl_error("verify", _("Cannot verify %s: %s\n"), file, strerror(-r));
                        return KYSOCTL_EXIT_INTERNAL;
                }
        }
        bool all = out.n_checked > 0 && out.n_valid == out.n_checked;
        if (json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "file", json_file_name(file));
                json_object_object_add(o, "sha256", json_object_new_string(hex));
                json_object_object_add(o, "revisions", json_object_new_int((int) res->n_revisions));
                json_object_object_add(o, "dss", json_object_new_boolean(res->has_dss));
                json_object_object_add(o, "valid", json_object_new_boolean(all));
                json_object_object_add(o, "signatures", out.array);
                printf("%s\n", json_object_to_json_string_ext(
                                       o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else if (res->n_signatures == 0)
                printf(_("%s has no signature: NOT VALID.\n"), file);
        else if (all)
                printf(_("All %zu signature(s) are valid.\n"), out.n_checked);
        else
                printf(_("%zu of %zu signature(s) are NOT valid.\n"), out.n_checked - out.n_valid,
                       out.n_checked);
        if (html) {
                fputs("<h2>", html);
                fputs_html(
                        html, all ? _("Conclusion: every signature is valid.")
                                  : _("Conclusion: NOT every signature is valid."));
                fputs("</h2>\n</body></html>\n", html);
                r = html_report_commit(&report);
                if (r < 0) {
                        kysoctl_error("verify", _("Cannot write %s: %s\n"), html_path, strerror(-r));
                        return KYSOCTL_EXIT_INTERNAL;
                }
        }
        return all ? KYSOCTL_EXIT_OK : KYSOCTL_EXIT_REFUSED;
}

static bool looks_like_pdf(const char *path, int fd) {
        char head[5] = {};
        size_t l = strlen(path);
        if (l >= 4 && strcasecmp(path + l - 4, ".pdf") == 0)
                return true;
        ssize_t n = pread(fd, head, sizeof head, 0);
        return n == 5 && memcmp(head, "%PDF-", 5) == 0;
}

static void help(void) {
        printf(_("Usage: kysoctl verify FILE [SIGNATURE.p7s] [--json] [--policy FILE]\n\n"
                 "Verifies the detached CMS/CAdES signature of FILE (default: FILE.p7s) against the policy\n"
                 "(default: $KYSO_POLICY or %s). Exit status 0 only when every signature is valid.\n"),
               POLICY_SYSTEM_PATH);
        printf(_("\nkysoctl verify FILE.pdf [--json] [--html REPORT.html] [--policy FILE]\n\n"
                 "Verifies every signature inside a PDF: what it covers, every change made after it, the\n"
                 "signer's certificate and role. --html writes a printable report in Vietnamese.\n"));
        kysoctl_verbose_help();
}

int verb_verify(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },         { "json", no_argument, NULL, 'j' },
                { "policy", required_argument, NULL, 'p' }, { "html", required_argument, NULL, 'H' },
                { "verbose", no_argument, NULL, 'v' },      {},
        };
        const char *policy_path = NULL, *html_path = NULL;
        Output out = {};
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "hjp:H:v", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        out.json = true;
                        break;
                case 'p':
                        policy_path = optarg;
                        break;
                case 'H':
                        html_path = optarg;
                        break;
                default:
                        r = kysoctl_shared_option(c, help);
                        if (r >= 0)
                                return r;
                }
        if (optind >= argc || argc - optind > 2) {
                if (optind >= argc)
                        kysoctl_error("verify", _("give the FILE to verify.\n"));
                else
                        kysoctl_error(
                                "verify",
                                _("unexpected argument '%s': give FILE and at most one SIGNATURE.p7s.\n"),
                                argv[optind + 2]);
                help();
                return KYSOCTL_EXIT_USAGE;
        }
        const char *file = argv[optind];
        _cleanup_free_ char *sigpath = NULL;

        _cleanup_close_ int fd = kysoctl_open_input(file);
        if (fd < 0) {
                kysoctl_error("verify", _("Cannot open %s: %s\n"), file, strerror(-fd));
                return KYSOCTL_EXIT_USAGE;
        }
        bool pdf = argc - optind == 1 && looks_like_pdf(file, fd);
        if (html_path && !pdf) {
                kysoctl_error("verify", _("--html is for PDF files.\n"));
                return KYSOCTL_EXIT_USAGE;
        }
        if (html_path) {
                struct stat a, b;

                /* The report written over the document verified would destroy it (also through a link). */
                if (stat(html_path, &a) >= 0 && fstat(fd, &b) >= 0 && a.st_dev == b.st_dev &&
                    a.st_ino == b.st_ino) {
                        kysoctl_error(
                                "verify",
                                _("--html %s is the document verified; nothing was written. Name another file "
                                  "for the report.\n"),
                                html_path);
                        return KYSOCTL_EXIT_USAGE;
                }
                /* The report is for Vietnamese auditors whatever the terminal's language. */
                setenv("LANGUAGE", "vi", 1);
                if (!i18n_is_vietnamese())
                        (void) setlocale(LC_MESSAGES, "C.UTF-8");
        }
        if (argc - optind == 2)
                sigpath = strdup(argv[optind + 1]);
        else if (!pdf && asprintf(&sigpath, "%s.p7s", file) < 0)
                sigpath = NULL;
        if (pdf)
                return verify_pdf(file, fd, policy_path, out.json, html_path);
        if (!sigpath) {
                (void) log_oom();
                return KYSOCTL_EXIT_INTERNAL;
        }

        /* A missing input is the command line's mistake, whatever the policy. */
        _cleanup_close_ int sfd = kysoctl_open_input(sigpath);
        if (sfd < 0) {
                kysoctl_error("verify", _("Cannot open the signature %s: %s\n"), sigpath, strerror(-sfd));
                /* The signature given alone, as FILE: the document it signs comes first. */
                size_t l = strlen(file);
                if (sfd == -ENOENT && argc - optind == 1 && l > 4 && strcasecmp(file + l - 4, ".p7s") == 0)
                        kysoctl_error(
                                "verify",
                                _("%s looks like a signature: name the signed document first (kysoctl verify "
                                  "DOCUMENT %s).\n"),
                                file, file);
                return KYSOCTL_EXIT_USAGE;
        }
        _cleanup_(policy_freep) Policy *p = NULL;
        r = load_policy(policy_path, &p);
        if (r != KYSOCTL_EXIT_OK)
                return r;

        _cleanup_free_ uint8_t *sig = NULL;
        size_t sig_size = 0;
        r = cms_signature_read_fd(sfd, &sig, &sig_size);
        if (r < 0) {
                kysoctl_error("verify", _("Cannot read the signature %s: %s\n"), sigpath, strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }

        _cleanup_(cms_verify_result_freep) CmsVerifyResult *res = NULL;
        r = cms_verify_detached_fd(sig, sig_size, fd, &res);
        if (r == -EBADMSG || r == -E2BIG || r == -EFBIG || r == -EOPNOTSUPP) {
                if (out.json)
                        print_json_unverifiable(
                                file, "signature_file", sigpath,
                                r == -EOPNOTSUPP ? "attached-signature" : "not-a-signature");
                else if (r == -EOPNOTSUPP)
                        printf(_("%s is an attached CMS signature (the document is inside it): attached "
                                 "signatures are not supported, NOT VALID. Ask the signer for a detached "
                                 "signature (kysoctl sign makes one; with openssl cms -sign, leave out "
                                 "-nodetach).\n"),
                               sigpath);
                else
                        printf(_("%s is not a usable detached CMS signature: NOT VALID.\n"), sigpath);
                return KYSOCTL_EXIT_REFUSED;
        }
        if (r < 0) {
                kysoctl_error("verify", _("Cannot verify %s: %s\n"), file, strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }

        out.total = res->n_signers;
        if (out.json)
                out.array = json_object_new_array();
        else
                printf(_("File: %s\nSignature file: %s\n\n"), file, sigpath);
        /* A SET OF SignerInfo is sorted by its encoding, not by who signed first: list them in signing order
         * (the leader before the seal). */
        _cleanup_free_ SignOrder *order = calloc(MAX(res->n_signers, (size_t) 1), sizeof(SignOrder));
        if (!order) {
                (void) log_oom();
                return KYSOCTL_EXIT_INTERNAL;
        }
        for (size_t i = 0; i < res->n_signers; i++) {
                const CmsSignerResult *si = &res->signers[i];
                order[i] = (SignOrder){
                        .index = i,
                        .has_timestamp =
                                si->timestamp.status == CMS_TIMESTAMP_OK && si->timestamp.has_gen_time,
                        .timestamp = si->timestamp.gen_time,
                        .has_claimed = si->has_signing_time,
                        .claimed = si->signing_time,
                };
        }
        sign_order_sort(order, res->n_signers);
        for (size_t k = 0; k < res->n_signers; k++) {
                size_t i = order[k].index;
                r = check_signer(p, res, &res->signers[i], k, -1, &out);
                if (r < 0) {
                        json_object_put(out.array);
                        kysoctl_error("verify", _("Cannot verify %s: %s\n"), file, strerror(-r));
                        return KYSOCTL_EXIT_INTERNAL;
                }
        }
        bool all = out.n_checked > 0 && out.n_valid == out.n_checked;
        if (out.json) {
                char hex[65];
                hex_encode(res->content_sha256, sizeof res->content_sha256, hex);
                json_object *o = json_object_new_object();
                json_object_object_add(o, "file", json_file_name(file));
                json_object_object_add(o, "signature_file", json_file_name(sigpath));
                json_object_object_add(o, "content_sha256", json_object_new_string(hex));
                json_object_object_add(o, "valid", json_object_new_boolean(all));
                json_object_object_add(o, "signatures", out.array);
                printf("%s\n", json_object_to_json_string_ext(
                                       o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else if (all)
                printf(_("All %zu signature(s) are valid.\n"), out.n_checked);
        else
                printf(_("%zu of %zu signature(s) are NOT valid.\n"), out.n_checked - out.n_valid,
                       out.n_checked);
        return all ? KYSOCTL_EXIT_OK : KYSOCTL_EXIT_REFUSED;
}
