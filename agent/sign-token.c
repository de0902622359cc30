/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formats/pades-sign.h"
#include "hex.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "openssl-util.h"
#include "pin-cache.h"
#include "pkcs11/p11-protocol.h"
#include "prompt-text.h"
#include "sign-jobs.h"
#include "sign-request.h"

/* The token pipeline of a request: each document's signature is prepared (formats/signer.h), signed by the
 * token (through the P11Manager and its helper), time-stamped on a worker thread (B-T), finished, and handed
 * to sign-records.c. */

/* A token that answers faster than this gets up to P11_PIPELINE_MAX signatures at once, so that it does not
 * wait for kysod between them; a slower one (a real eToken) one at a time, which costs it next to nothing
 * and keeps Cancel prompt: only the signature the token is making is finished. */
#define SIGN_FAST_TOKEN_USEC (20U * 1000U)

static void sign_result(P11Manager *m, const P11SignResult *res, void *userdata);

/* The next document for the token: pending and not signed yet. */
static size_t next_pending(SignRequest *r, size_t from) {
        while (from < r->n_docs && (r->docs[from].status != DOC_PENDING || r->docs[from].sig))
                from++;
        return from;
}

/* The signature of a document up to what the token is to sign (d->pending), done once. Returns 0, or -EAGAIN
 * when the document failed here (finished). */
static int doc_prepare(SignRequest *r, SignDoc *d) {
        _cleanup_(sign_error_done) SignError e = {};
        int k;

        if (d->pending)
                return 0;
        if (d->is_pdf) /* prepared with the document, on the worker thread (sign-pdf.c) */
                return -EINVAL;
        SignParams p = request_sign_params(r);
        CadesInput in = {
                .profile = CADES_PROFILE_BASELINE_B,
                .digests = &d->digests,
                .existing = d->existing,
                .existing_size = d->existing_size,
        };
        k = cades_prepare(&p, &in, &d->pending, &e);
        if (k < 0) {
                log_error("Cannot prepare the signature of %s: %s", strna(d->name), strna(e.message));
                doc_finish(
                        r, d, DOC_FAILED,
                        k == -EBADMSG ? KYSO_BUS_ERROR_BAD_DOCUMENT : KYSO_BUS_ERROR_INTERNAL,
                        _("The signature could not be prepared. Nothing was written; see the agent's log."));
                return -EAGAIN;
        }
        return 0;
}

/* Starts the token's signature of document idx (prepared first if it is not yet). Returns 0 when the token
 * works on it, -EAGAIN when the document failed here (finished), or the manager's error. */
static int sign_start(SignRequest *r, size_t idx) {
        SignDoc *d = &r->docs[idx];
        const uint8_t *tbs;
        size_t tbs_size = 0;
        unsigned flags = 0;
        int k;

        k = doc_prepare(r, d);
        if (k < 0)
                return k;
        k = sign_pending_tbs(d->pending, &tbs, &tbs_size);
        if (k < 0)
                return k;
        if (next_pending(r, idx + 1) < r->n_docs)
                flags |= P11_SIGN_KEEP_LOGIN; /* later documents use this login, one PIN */
        if (r->token.batch_login)
                flags |= P11_SIGN_USE_LOGIN;
        k = p11_manager_sign(
                r->owner->manager, r->cert_uri, r->token.pin, &r->token.mech, tbs, tbs_size, flags,
                sign_result, r);
        if (k < 0)
                return k;
        if (r->token.n_in_flight++ == 0)
                r->token.cur = idx;
        r->token.last_sent = idx;
        return 0;
}

/* A document the token signed that waits for its time-stamp (none in a request without one). */
static SignDoc *doc_awaiting_timestamp(SignRequest *r) {
        for (size_t i = 0; i < r->n_docs; i++)
                if (r->docs[i].status == DOC_PENDING && r->docs[i].sig && !(r->job && r->job_doc == i))
                        return &r->docs[i];
        return NULL;
}

/* Places the token's signature (d->sig) in d's pending signature, once: it must verify with the
 * certificate. */
static int doc_set_signature(SignDoc *d, SignError *e) {
        if (sign_pending_has_signature(d->pending))
                return 0;
        return sign_pending_set_signature(d->pending, d->sig, d->sig_size, e);
}

/* A certificate's DER, for the /DSS. */
static int dss_add_cert(X509 *x, PadesBlob *blobs, uint8_t **ders, size_t *n) {
        unsigned char *der = NULL;
        int len = i2d_X509(x, &der);

        if (len <= 0)
                return -ENOMEM;
        ders[*n] = der;
        blobs[*n] = (PadesBlob){ .data = der, .size = (size_t) len };
        (*n)++;
        return 0;
}

/* B-LT: the /DSS update after the signature's, with the signer's chain, the OCSP answers and CRLs that
 * showed it not revoked when the request was validated (CERT_VALIDATE_KEEP_PROOFS), and the time-stamp
 * authority's certificates with those of its validation when the token came (tsa_status). */
static int doc_pdf_dss(
        SignRequest *r, SignDoc *d, const CmsTimestamp *ts, const CertValidation *tsa_status, SignError *e) {
        const CertValidation *validations[] = { &r->status, tsa_status };
        size_t max =
                2 + (size_t) sk_X509_num(r->chain) + (ts && ts->certs ? (size_t) sk_X509_num(ts->certs) : 0);
        size_t n_proofs = r->status.n_proofs + (tsa_status ? tsa_status->n_proofs : 0);
        _cleanup_free_ PadesBlob *certs = calloc(max, sizeof *certs);
        _cleanup_free_ uint8_t **ders = calloc(max, sizeof *ders);
        _cleanup_free_ PadesBlob *ocsps = calloc(n_proofs + 1, sizeof *ocsps);
        _cleanup_free_ PadesBlob *crls = calloc(n_proofs + 1, sizeof *crls);
        size_t n = 0, n_ocsps = 0, n_crls = 0;
        int k = certs && ders && ocsps && crls ? dss_add_cert(r->cert, certs, ders, &n) : -ENOMEM;

        for (size_t v = 0; v < ELEMENTSOF(validations) && validations[v]; v++)
                for (size_t i = 0; i < validations[v]->n_proofs; i++) {
                        const RevocationProof *proof = &validations[v]->proofs[i];
                        PadesBlob b = { .data = proof->der, .size = proof->size };
                        if (proof->crl)
                                crls[n_crls++] = b;
                        else
                                ocsps[n_ocsps++] = b;
                }

        for (int i = 0; k >= 0 && i < sk_X509_num(r->chain); i++)
                k = dss_add_cert(sk_X509_value(r->chain, i), certs, ders, &n);
        if (k >= 0 && ts && ts->tsa_cert)
                k = dss_add_cert(ts->tsa_cert, certs, ders, &n);
        for (int i = 0; k >= 0 && ts && ts->certs && i < sk_X509_num(ts->certs); i++)
                k = dss_add_cert(sk_X509_value(ts->certs, i), certs, ders, &n);
        if (k >= 0) {
                PadesDss dss = {
                        .certs = certs,
                        .n_certs = n,
                        .ocsps = ocsps,
                        .n_ocsps = n_ocsps,
                        .crls = crls,
                        .n_crls = n_crls,
                        .vri = true,
                };
                free(d->dss);
                d->dss = NULL;
                k = pades_append_dss(d->pending, &dss, &d->dss, &d->dss_size, e);
        }
        for (size_t i = 0; ders && i < n; i++)
                OPENSSL_free(ders[i]);
        return k;
}

/* The SHA-256 of the signed PDF: the original's, kept unfinished, goes on with the updates. */
static int doc_pdf_sha256_after(SignDoc *d, const uint8_t *update, size_t update_size) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();
        uint8_t h[EVP_MAX_MD_SIZE];
        unsigned hs = 0;

        if (!c || !d->sha256_tail || EVP_MD_CTX_copy_ex(c, d->sha256_tail) != 1 ||
            EVP_DigestUpdate(c, update, update_size) != 1 ||
            (d->dss && EVP_DigestUpdate(c, d->dss, d->dss_size) != 1) ||
            EVP_DigestFinal_ex(c, h, &hs) != 1 || hs != 32)
                return -ENOMEM;
        hex_encode(h, 32, d->sha256_after);
        return 0;
}

/* Finishes the signature of d with the time-stamp token (NULL: B-B), unless k says an earlier step failed
 * (msg: why). With later, d is recorded with the documents that finish soon after it (the token is already
 * signing the next one). */
static void doc_seal(
        SignRequest *r, SignDoc *d, int k, const char *msg, const uint8_t *token, size_t token_size,
        const CmsTimestamp *ts, const CertValidation *tsa_status, bool later) {
        _cleanup_(sign_error_done) SignError e = {};
        _cleanup_free_ uint8_t *der = NULL;
        size_t der_size = 0;

        if (k >= 0)
                k = doc_set_signature(d, &e);
        if (k >= 0)
                k = sign_pending_finish(d->pending, token, token_size, &der, &der_size, &e);
        if (k >= 0 && d->pdf && r->level >= SIGNATURE_LEVEL_B_LT)
                k = doc_pdf_dss(r, d, ts, tsa_status, &e);
        d->pending = sign_pending_free(d->pending);
        if (k < 0) {
                _cleanup_free_ char *text = NULL;
                log_error("Cannot finish the signature of %s: %s", strna(d->name), strna(msg ?: e.message));
                if (k == -EKEYREJECTED)
                        (void) asprintf(
                                &text,
                                _("The time-stamp server's certificate cannot be kept as validation data "
                                  "(B-LT): %s Nothing was written. Try again later, or sign at level B-T."),
                                strna(msg));
                else if (r->timestamp && (k == -EHOSTUNREACH || k == -EPROTO || k == -EBADMSG))
                        (void) asprintf(
                                &text,
                                _("The time-stamp server (%s) %s, so nothing was written. Try again later, "
                                  "or sign without a time-stamp."),
                                r->policy->tsa_url,
                                k == -EHOSTUNREACH ? _("could not be reached")
                                                   : _("gave no valid time-stamp"));
                doc_finish(
                        r, d, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                        text
                                ?: _("The signature could not be finished. Nothing was written; see the agent's "
                                     "log."));
                return;
        }
        if (ts && ts->has_gen_time) {
                char buf[32];
                struct tm tm;
                gmtime_r(&ts->gen_time, &tm);
                strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
                d->timestamp_time = strdup(buf);
        }
        /* For a PDF, der is the update that follows the original bytes (sign-records.c writes both). */
        if ((d->pdf ? doc_pdf_sha256_after(d, der, der_size) : sha256_hex(der, der_size, d->sha256_after)) <
            0)
                d->sha256_after[0] = '\0'; /* the record then has no sha256_after */
        free(d->sig);
        d->sig = TAKE_PTR(der);
        d->sig_size = der_size;
        if (later)
                doc_done_later(r, d);
        else
                doc_finish(r, d, DOC_DONE, 0, NULL);
}

static void timestamp_done(void *data, void *userdata) {
        TimestampJob *j = data;
        SignRequest *r = userdata;

        r->job = NULL;
        doc_seal(
                r, &r->docs[r->job_doc], j->error, j->message, j->token, j->token_size, &j->timestamp,
                &j->tsa_status, false);
        sign_next(r);
}

/* B-T: the time-stamp server is asked on a worker thread (over a copy of the signature value), while the
 * token signs the next document. Returns -EAGAIN when d failed here (finished): the token's signature does
 * not verify. */
static int timestamp_start(SignRequest *r, SignDoc *d) {
        _cleanup_free_ char *url = policy_rewrite_url(r->policy, r->policy->tsa_url);
        _cleanup_(sign_error_done) SignError e = {};
        const uint8_t *stamped;
        size_t stamped_size = 0;
        TsaOptions tsa;
        TimestampJob *j;
        int k;

        if (!url)
                return -ENOMEM;
        k = doc_set_signature(d, &e);
        if (k < 0) {
                doc_seal(r, d, k, e.message, NULL, 0, NULL, NULL, false);
                return -EAGAIN;
        }
        k = sign_pending_timestamp_data(d->pending, &stamped, &stamped_size);
        if (k < 0)
                return k;
        tsa = (TsaOptions){
                .url = url,
                .proxy = r->policy->proxy,
                .timeout_sec = (int) r->policy->tsa_timeout_sec,
        };
        k = timestamp_job_new(
                &tsa, stamped, stamped_size, d->pdf && r->level >= SIGNATURE_LEVEL_B_LT ? r->policy : NULL,
                &j);
        if (k < 0)
                return k;
        k = request_job_submit(r, timestamp_job_run, timestamp_done, timestamp_job_free, j);
        if (k < 0)
                return k;
        r->job_doc = (size_t) (d - r->docs);
        return 0;
}

/* What comes next once the token or the time-stamp server is done: the time-stamp of a signed document (one
 * at a time), the token's next document (at most one signed document waits for its time-stamp), or the end.
 */
void sign_next(SignRequest *r) {
        SignDoc *waiting;
        size_t idx;
        int k;

        if (r->cancelled) {
                if (r->token.n_in_flight > 0)
                        return; /* sign_result() discards what the token makes */
                request_fail_all(
                        r, DOC_CANCELLED, KYSO_BUS_ERROR_CANCELLED,
                        _("The request was cancelled, so nothing more was signed."));
                return;
        }
        while (!r->job && (waiting = doc_awaiting_timestamp(r))) {
                k = timestamp_start(r, waiting);
                if (k < 0 && k != -EAGAIN) {
                        log_error_errno(k, "Cannot ask for the time-stamp of %s: %m", strna(waiting->name));
                        doc_finish(
                                r, waiting, DOC_FAILED, KYSO_BUS_ERROR_INTERNAL,
                                _("The signature could not be finished. Nothing was written; see the agent's "
                                  "log."));
                }
        }
        if (r->token.n_in_flight > 0 || doc_awaiting_timestamp(r))
                return;
        idx = next_pending(r, r->token.cur);
        if (idx >= r->n_docs) {
                if (!r->job)
                        request_finish(r);
                return;
        }
        k = sign_start(r, idx);
        if (k == -EAGAIN) {
                request_schedule(r);
                return;
        }
        if (k < 0)
                request_fail_errno(
                        r, k,
                        k == -ENODEV ? _("The token was removed, so nothing was signed. Insert it and "
                                         "sign again.")
                                     : NULL);
}

/* Keeps the token busy once it is logged in: a fast one gets up to P11_PIPELINE_MAX documents at once (the
 * manager hands them to the helper, which goes from one to the next without waiting for us), a slow one the
 * next as the answer comes. Not while a PIN is to be tried (nor for a key that wants it for each signature),
 * nor for a request with time-stamps (sign_next() keeps the token and the time-stamp server busy). */
static void sign_feed(SignRequest *r) {
        unsigned max = r->token.fast ? P11_PIPELINE_MAX : 1;

        while (!r->cancelled && r->token.n_in_flight < max && !r->token.pin) {
                size_t next = next_pending(r, r->token.last_sent + 1);
                int k;

                if (next >= r->n_docs)
                        return;
                k = sign_start(r, next);
                if (k < 0 && k != -EAGAIN) /* the document failed here (-EAGAIN): on to the one after */
                        return;
        }
}

/* Wrong PIN typed on the reader. Not tried again on our own: the reader would ask at once, and a PIN typed
 * in a hurry is how a token gets locked. The person signs again. */
static void sign_pinpad_wrong(SignRequest *r, const P11SignResult *res) {
        r->token.pin_flags = res->pin_flags;
        r->token.batch_login = false;
        if (record_wrong_pin(r, "Wrong PIN typed on the reader") < 0)
                return;
        if (res->pin_flags & P11_PIN_LOCKED) {
                request_fail_locked(r);
                return;
        }
        _cleanup_free_ char *text = prompt_text_pinpad_wrong(pin_tries_left(res->pin_flags));
        request_fail_all(
                r, DOC_FAILED, KYSO_BUS_ERROR_PIN_INCORRECT,
                text ?: kyso_bus_error_message(KYSO_BUS_ERROR_PIN_INCORRECT));
}

/* Wrong PIN: the token says how many tries are left (count low, final try). The helper dropped its session,
 * so the next try logs in again. */
static void sign_wrong_pin(SignRequest *r, const P11SignResult *res) {
        r->token.pin_flags = res->pin_flags;
        r->token.pin = secret_free(r->token.pin);
        r->token.batch_login = false;
        if (r->token.pin_from_cache) {
                /* The token refused the kept PIN (changed elsewhere?): forget it now, the person is asked;
                 * the final-try confirmation below applies as usual. */
                r->token.pin_from_cache = false;
                if (r->owner->pin_cache)
                        (void) pin_cache_forget(r->owner->pin_cache, r->token_uri);
                log_notice(
                        "Token '%s' refused the kept PIN; it is forgotten and the PIN is asked.",
                        strna(r->token_label));
        }
        if (record_wrong_pin(r, "Wrong PIN") < 0)
                return;
        if (r->cancelled) {
                sign_next(r);
                return;
        }
        if (res->pin_flags & P11_PIN_LOCKED) {
                request_fail_locked(r);
                return;
        }
        if (++r->prompt.wrong_pins >= REQUEST_WRONG_PIN_MAX) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(
                            &msg,
                            _("The PIN was wrong %u times, so nothing was signed. Check the PIN of token '%s', "
                              "then sign again; more wrong PINs can lock the token (Article 15)."),
                            r->prompt.wrong_pins, strna(r->token_label)) < 0)
                        msg = NULL;
                request_fail_all(
                        r, DOC_FAILED, KYSO_BUS_ERROR_PIN_INCORRECT,
                        msg ?: kyso_bus_error_message(KYSO_BUS_ERROR_PIN_INCORRECT));
                return;
        }
        r->prompt.previous_wrong = true;
        /* Before the last try the person confirms again, explicitly (PROMPT_FLAG_FINAL_TRY). */
        if ((res->pin_flags & P11_PIN_FINAL_TRY) && !r->prompt.confirmed_final)
                r->prompt.confirmed = false;
        if (request_enter(r, REQ_WAIT_PROMPT))
                request_schedule(r);
}

/* The token could not sign: the request ends (nothing is written). */
static void sign_failed(SignRequest *r, SignDoc *d, const P11SignResult *res) {
        if (res->error == -ENOLCK) {
                request_fail_locked(r);
                return;
        }
        if (r->cancelled) {
                sign_next(r);
                return;
        }
        log_error("Signing %s on %s failed: %s", strna(d->name), strna(r->token_label), strna(res->message));
        /* The error's name comes from the one table (kyso_bus_error_from_errno()); only the words that say
         * what to do next are chosen here. */
        request_fail_errno(
                r, res->error,
                res->error == -ENODEV ? _("The token was removed while signing, so nothing was written. "
                                          "Insert the token and sign again.")
                : res->error == -ENOKEY
                        ? _("The token has no private key for this certificate, so nothing was "
                            "signed. Choose a certificate listed by 'kysoctl certs' with a key.")
                : res->error == -ECONNRESET || res->error == -ETIME
                        ? _("The token's driver stopped working while signing, so nothing was written. "
                            "Sign again; if it happens again, reinsert the token.")
                : res->error == -ECANCELED ? NULL
                                           : _("The token could not sign, so nothing was written. Sign "
                                               "again; if it happens again, reinsert the token."));
}

/* The token signed d. */
static void sign_done(SignRequest *r, SignDoc *d, const P11SignResult *res) {
        bool pipelined;
        int k;

        /* A PIN was accepted: the prompt is free for others; later documents use the login. A PIN the
         * person typed is kept when the cache is on for this kind of certificate. */
        if (r->token.pin && !r->token.pin_from_cache && !r->token.batch_login &&
            request_pin_cache_usable(r)) {
                k = pin_cache_put(
                        r->owner->pin_cache, r->token_uri, pin_cache_kind_of(r->kind), r->token.pin);
                if (k < 0)
                        log_warning_errno(k, "Cannot keep the PIN of token '%s': %m", strna(r->token_label));
                else if (k > 0)
                        log_debug("Keeping the PIN of token '%s'.", strna(r->token_label));
        }
        /* The later documents use this login (P11_SIGN_KEEP_LOGIN); after the last one the helper logged
         * out. A key with CKA_ALWAYS_AUTHENTICATE wants the PIN for each signature: the batch has one PIN,
         * kept (wiped at the batch's end by request_finish) only for such a key. */
        r->token.batch_login = next_pending(r, r->token.cur + 1) < r->n_docs;
        if (!res->always_authenticate || !r->token.batch_login) {
                r->token.pin = secret_free(r->token.pin);
                r->token.pin_from_cache = false;
        }
        prompt_release(r);
        r->prompt.previous_wrong = false;

        free(d->sig);
        d->sig = memdup(res->signature, res->signature_size);
        d->sig_size = res->signature_size;
        if (!d->sig) {
                request_fail_errno(r, -ENOMEM, NULL);
                return;
        }
        if (r->cancelled) {
                /* Cancel (or the client's disconnect) came while the token signed: the person approved,
                 * the app withdrew, so the signature is never delivered. The record says it existed. */
                log_info("Request %s: the token's signature of %s is discarded.", r->path, strna(d->name));
                doc_finish(r, d, DOC_CANCELLED, KYSO_BUS_ERROR_CANCELLED, request_discarded_message());
                sign_next(r);
                return;
        }
        if (r->timestamp) {
                sign_next(r); /* the time-stamp of d on a worker thread, the token on the next document */
                return;
        }
        /* The token goes on with the next documents while this one gets its CMS, output and audit record,
         * and the one after them is prepared, so that the token waits for nothing. */
        sign_feed(r);
        pipelined = r->token.n_in_flight > 0;
        doc_seal(r, d, 0, NULL, NULL, 0, NULL, NULL, pipelined);
        if (!pipelined) {
                sign_next(r);
                return;
        }
        /* The one after the document the token now signs is prepared too, so that the token waits for
         * nothing when it answers. */
        size_t next = next_pending(r, r->token.last_sent + 1);
        if (next < r->n_docs)
                (void) doc_prepare(r, &r->docs[next]);
}

static void sign_result(P11Manager *m, const P11SignResult *res, void *userdata) {
        SignRequest *r = userdata;
        I18N_LOCALE_SCOPE(r->locale);
        SignDoc *d;
        uint64_t now;
        bool pinpad;
        (void) m;

        r->token.n_in_flight--;
        if (!r->owner || r->state == REQ_FINISHED) {
                if (r->token.n_in_flight == 0 && !r->output_job) /* else request_respond() frees it */
                        request_free(r);
                return;
        }
        if (sd_event_now(r->owner->event, CLOCK_MONOTONIC, &now) >= 0) {
                r->token.fast = r->token.last_answer_usec > 0 &&
                                now - r->token.last_answer_usec < SIGN_FAST_TOKEN_USEC;
                r->token.last_answer_usec = now;
        }
        /* Answers come in the order the documents were sent; the ones still with the token are pending. */
        d = &r->docs[r->token.cur];
        if (r->token.n_in_flight > 0)
                r->token.cur = next_pending(r, r->token.cur + 1);
        pinpad = r->prompt.pinpad;
        if (r->prompt.pinpad) {
                prompter_cancel(request_prompter(r));
                r->prompt.pinpad = false;
        }
        if (res->error == -EKEYREJECTED && pinpad && !r->token.pin)
                sign_pinpad_wrong(r, res);
        else if (res->error == -EKEYREJECTED && r->token.pin)
                sign_wrong_pin(r, res);
        else if (res->error < 0)
                sign_failed(r, d, res);
        else
                sign_done(r, d, res);
}
