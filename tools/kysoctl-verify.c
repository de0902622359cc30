/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kysoctl verify FILE [SIGNATURE.p7s] [--json] [--policy FILE]: verifies the detached CMS/CAdES signatures
 * of a file without the agent: integrity (formats/), the signer certificate at signing time and now, the
 * time-stamp's TSA, and whether each signer counts as a competent person. Exit 0 only when all are valid. */
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

#include "hex.h"
#include "i18n.h"
#include "kysoctl.h"
#include "log.h"
#include "openssl-util.h"
#include "policy/signature-check.h"

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
}

int verb_verify(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "json", no_argument, NULL, 'j' },
                { "policy", required_argument, NULL, 'p' },
                {},
        };
        const char *policy_path = NULL;
        Output out = {};
        int c, r;

        i18n_setup();
        optind = 0;
        while ((c = getopt_long(argc, argv, "hjp:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return KYSOCTL_EXIT_OK;
                case 'j':
                        out.json = true;
                        break;
                case 'p':
                        policy_path = optarg;
                        break;
                default:
                        return KYSOCTL_EXIT_USAGE;
                }
        if (optind >= argc || argc - optind > 2) {
                help();
                return KYSOCTL_EXIT_USAGE;
        }
        const char *file = argv[optind];
        _cleanup_free_ char *sigpath = NULL;

        _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                kysoctl_error("verify", _("Cannot open %s: %s\n"), file, strerror(errno));
                return KYSOCTL_EXIT_USAGE;
        }
        if (argc - optind == 2)
                sigpath = strdup(argv[optind + 1]);
        else {
                if (looks_like_pdf(file, fd)) {
                        kysoctl_error(
                                "verify",
                                _("%s is a PDF: verifying PDF (PAdES) signatures is not supported yet. Give "
                                  "a detached signature file (.p7s) to verify.\n"),
                                file);
                        return KYSOCTL_EXIT_REFUSED;
                }
                if (asprintf(&sigpath, "%s.p7s", file) < 0)
                        sigpath = NULL;
        }
        if (!sigpath) {
                (void) log_oom();
                return KYSOCTL_EXIT_INTERNAL;
        }

        /* A missing input is the command line's mistake, whatever the policy. */
        _cleanup_close_ int sfd = open(sigpath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (sfd < 0) {
                kysoctl_error("verify", _("Cannot open the signature %s: %s\n"), sigpath, strerror(errno));
                return KYSOCTL_EXIT_USAGE;
        }
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        const char *pp = policy_path ?: policy_tools_path();
        r = policy_load(pp, policy_tools_flags(), &p, &errors);
        if (r < 0) {
                STRV_FOREACH (e, errors)
                        fprintf(stderr, "%s\n", *e);
                kysoctl_error(
                        "verify",
                        _("Cannot verify: the policy %s cannot be used (%s). Check it with 'kysoctl policy "
                          "check'.\n"),
                        pp, r == -EINVAL ? _("it is invalid") : strerror(-r));
                return KYSOCTL_EXIT_INTERNAL;
        }

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
                if (out.json) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "file", json_object_new_string(file));
                        json_object_object_add(o, "signature_file", json_object_new_string(sigpath));
                        json_object_object_add(o, "valid", json_object_new_boolean(false));
                        json_object_object_add(
                                o, "error",
                                json_object_new_string(
                                        r == -EOPNOTSUPP ? "attached-signature" : "not-a-signature"));
                        json_object_object_add(o, "signatures", json_object_new_array());
                        printf("%s\n", json_object_to_json_string_ext(
                                               o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                        json_object_put(o);
                } else if (r == -EOPNOTSUPP)
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
        for (size_t i = 0; i < res->n_signers; i++) {
                r = check_signer(p, res, &res->signers[i], i, -1, &out);
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
                json_object_object_add(o, "file", json_object_new_string(file));
                json_object_object_add(o, "signature_file", json_object_new_string(sigpath));
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
