/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "openssl-util.h"
#include "sign-pdf.h"

static char *strdup_or_null(const char *s, bool *failed) {
        char *c;

        if (!s)
                return NULL;
        c = strdup(s);
        if (!c)
                *failed = true;
        return c;
}

int pdf_prepare_new(const PdfPrepareParams *params, PdfPrepare **ret) {
        const SignParams *sp;
        PdfPrepare *p;
        bool failed = false;

        if (!params || !params->policy || !params->sign.cert || !ret)
                return -EINVAL;
        sp = &params->sign;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->policy = policy_ref(params->policy);
        p->sign = (SignParams){
                .digest_nid = sp->digest_nid,
                .scheme = sp->scheme,
                .signing_time = sp->signing_time,
        };
        if (X509_up_ref(sp->cert) == 1)
                p->sign.cert = sp->cert;
        else
                failed = true;
        if (sp->chain && !(p->sign.chain = X509_chain_up_ref(sp->chain)))
                failed = true;
        if (sp->signing_certificate) {
                p->signing_certificate = memdup(sp->signing_certificate, sp->signing_certificate_size);
                p->sign.signing_certificate = p->signing_certificate;
                p->sign.signing_certificate_size = sp->signing_certificate_size;
                if (!p->signing_certificate)
                        failed = true;
        }
        p->reason = strdup_or_null(params->reason, &failed);
        p->location = strdup_or_null(params->location, &failed);
        p->name = strdup_or_null(params->name, &failed);
        p->timestamp = params->timestamp;
        p->check_signatures = params->check_signatures;
        p->role = params->role;
        p->visible = params->visible;
        p->page_from_end = params->page_from_end;
        p->page = params->page;
        p->rect = params->rect;
        p->seal_diameter_mm = params->seal_diameter_mm;
        p->image = strdup_or_null(params->image, &failed);
        p->organization = strdup_or_null(params->organization, &failed);
        p->doc_number = strdup_or_null(params->doc_number, &failed);
        p->copy_form = strdup_or_null(params->copy_form, &failed);
        p->doc_date = strdup_or_null(params->doc_date, &failed);
        p->number_place = params->number_place;
        p->date_place = params->date_place;
        if (params->image_data && params->image_size > 0) {
                p->image_data = memdup(params->image_data, params->image_size);
                p->image_size = params->image_size;
                if (!p->image_data)
                        failed = true;
        }
        if (failed) {
                pdf_prepare_free(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

PdfPrepare *pdf_prepare_free(PdfPrepare *p) {
        if (!p)
                return NULL;
        sign_pending_free(p->pending);
        for (size_t i = 0; i < p->n_checks; i++) {
                signature_check_done(&p->checks[i]);
                free(p->reasons[i]);
        }
        free(p->checks);
        free(p->existing);
        free(p->reasons);
        pdf_verify_result_free(p->verified); /* after the checks, which borrow its certificates */
        pdf_document_free(p->doc);
        free(p->detail);
        free(p->reason);
        free(p->location);
        free(p->name);
        free(p->image);
        free(p->organization);
        free(p->doc_number);
        free(p->copy_form);
        free(p->doc_date);
        free(p->image_data);
        free(p->invisible_why);
        free(p->bad_image);
        free(p->bad_place);
        free(p->signing_certificate);
        sk_X509_pop_free(p->sign.chain, X509_free);
        X509_free(p->sign.cert);
        policy_free(p->policy);
        free(p);
        return NULL;
}

char *pdf_signature_reason(const PdfSignature *s) {
        char *why;

        if (s->change) {
                _cleanup_free_ char *change = pdf_signature_change_message(s); /* in the caller's language */
                if (asprintf(
                            &why, _("%s The change: %s"), pdf_signature_problem_message(s->problem),
                            change ?: s->change) < 0)
                        return NULL;
                return why;
        }
        return strdup(pdf_signature_problem_message(s->problem));
}

/* Issue: every signature of the PDF (but document time-stamps) is checked under the policy, as the leader's
 * detached signature is; one counts only if nothing after it undid what it signed. */
static int check_signatures(PdfPrepare *p, ClientReader *reader) {
        const PdfVerifyResult *v = p->verified;
        size_t n = v->n_signatures;

        p->checks = calloc(n ?: 1, sizeof *p->checks);
        p->existing = calloc(n ?: 1, sizeof *p->existing);
        p->reasons = calloc(n ?: 1, sizeof *p->reasons);
        if (!p->checks || !p->existing || !p->reasons)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const PdfSignature *s = &v->signatures[i];
                SignatureCheck *c = &p->checks[p->n_checks];
                ExistingSignature *x = &p->existing[p->n_checks];
                bool counts = pdf_signature_counts(s);
                int k;

                if (s->kind == PDF_SIGNATURE_TIMESTAMP)
                        continue;
                /* OCSP and CRL requests, not worth making for a cancelled request. */
                if (client_reader_cancelled(reader))
                        return -ECANCELED;
                if (s->cms && s->signer) {
                        k = signature_check_claimed(
                                p->policy, s->cms, s->signer, s->has_claimed_time ? &s->claimed_time : NULL,
                                c);
                        if (k < 0)
                                return k;
                        *x = signature_check_to_existing(c, counts);
                } else
                        *x = (ExistingSignature){};
                if (!counts) {
                        p->reasons[p->n_checks] = pdf_signature_reason(s);
                        if (!p->reasons[p->n_checks]) {
                                signature_check_done(c);
                                return -ENOMEM;
                        }
                        x->integrity_ok = false;
                        x->integrity_reason = p->reasons[p->n_checks];
                }
                p->n_checks++;
        }
        return 0;
}

static PdfRefusal refusal_of(PdfDocumentProblem problem) {
        return problem == PDF_DOCUMENT_ENCRYPTED ? PDF_REFUSAL_ENCRYPTED
               : problem == PDF_DOCUMENT_NOT_PDF ? PDF_REFUSAL_NOT_PDF
                                                 : PDF_REFUSAL_DAMAGED;
}

/* The image a visible signature draws: the request's, else the certificate's from kysod.conf. */
static int load_image(PdfPrepare *p, PdfImage **ret, PdfImageProblem *problem) {
        if (p->image_data)
                return pdf_image_from_png(
                        p->image_data, p->image_size, PDF_IMAGE_REQUIRE_ALPHA, ret, problem);
        if (p->image)
                return pdf_image_from_png_file(p->image, PDF_IMAGE_REQUIRE_ALPHA, ret, problem);
        *ret = NULL;
        return 0;
}

static int invisible(PdfPrepare *p, const char *why) {
        free(p->invisible_why);
        p->invisible_why = strdup(why);
        return p->invisible_why ? 0 : -ENOMEM;
}

/* Issue: the document number and date at the places the request names, into texts; how many. */
static size_t issue_texts(PdfPrepare *p, PadesPlacedText texts[static 2]) {
        size_t n = 0;

        if (p->number_place.set && p->doc_number)
                texts[n++] = (PadesPlacedText){ p->number_place.page, p->number_place.rect, p->doc_number };
        if (p->date_place.set && p->doc_date)
                texts[n++] = (PadesPlacedText){ p->date_place.page, p->date_place.rect, p->doc_date };
        return n;
}

/* A place the request names must lie on one of the document's pages, inside what is shown of it: else the
 * request is wrong (InvalidArgs), not the document, and it is said before any prompt. */
static int check_place(PdfPrepare *p, const PdfPlace *place, const char *option, SignError *e) {
        _cleanup_(pdf_page_done) PdfPage page = {};
        const PdfDocumentInfo *info = pdf_document_info(p->doc);
        double box[4];
        int k;

        if (!place->set)
                return 0;
        if (place->page >= info->n_pages) {
                if (asprintf(
                            &p->bad_place, _("The option '%s' names page %u, but the PDF has %u page(s)."),
                            option, place->page + 1, info->n_pages) < 0)
                        p->bad_place = NULL;
                return p->bad_place ? -EINVAL : -ENOMEM;
        }
        k = pdf_document_read_page(p->doc, place->page, &page, e);
        if (k < 0)
                return k;
        k = pdf_page_visible_box(page.media, page.has_crop ? page.crop : NULL, box);
        if (k < 0)
                return sign_error(e, k, "page %u has no visible area", place->page + 1);
        if (place->rect.x >= box[0] && place->rect.y >= box[1] && place->rect.x + place->rect.w <= box[2] &&
            place->rect.y + place->rect.h <= box[3])
                return 0;
        if (asprintf(
                    &p->bad_place,
                    _("The option '%s' names a rectangle outside page %u, whose visible area runs from (%g, "
                      "%g) to (%g, %g) in PDF points."),
                    option, place->page + 1, box[0], box[1], box[2], box[3]) < 0)
                p->bad_place = NULL;
        return p->bad_place ? -EINVAL : -ENOMEM;
}

/* What the role draws, into v (placement NONE: invisible, p->invisible_why says why when something was
 * asked for). lines must hold 3 items; buffers hold the stamp's text. */
static int visible_for_role(
        PdfPrepare *p, PdfImage *image, PadesVisible *v, const char **lines,
        char time_text[static PDF_STAMP_TIME_MAX], char **appendix_line, PadesPlacedText texts[static 2]) {
        int k;

        *v = (PadesVisible){};
        switch (p->role) {
        case SIGN_ROLE_ISSUE:
                v->texts = texts;
                v->n_texts = issue_texts(p, texts);
                if (!image) {
                        /* The number and date are still written where the app asked. */
                        v->placement = v->n_texts > 0 ? PADES_PLACEMENT_TEXT : PADES_PLACEMENT_NONE;
                        return invisible(
                                p, _("no seal image is configured for this certificate (signature-image in "
                                     "kysod.conf)"));
                }
                v->placement = PADES_PLACEMENT_SEAL;
                v->seal_diameter_mm = p->seal_diameter_mm;
                v->image = image;
                return 0;
        case SIGN_ROLE_COPY:
        case SIGN_ROLE_APPENDIX:
                /* The stamp's time is the signature's /M: fixed now, before both are written. */
                if (p->sign.signing_time == 0)
                        p->sign.signing_time = time(NULL);
                k = pdf_stamp_time(p->sign.signing_time, time_text);
                if (k < 0)
                        return k;
                if (p->role == SIGN_ROLE_COPY) {
                        /* Decree 30/2020, Appendix I: the form of the copy, the organisation, the time. */
                        lines[0] = copy_form_text(p->copy_form);
                        lines[1] = p->organization;
                        lines[2] = time_text;
                        v->n_lines = p->organization ? 3 : 0;
                } else {
                        if (!p->doc_number)
                                return invisible(
                                        p, _("the request gives no document number (doc_number) for the "
                                             "appendix stamp"));
                        if (asprintf(appendix_line, "Phụ lục kèm theo văn bản số %s", p->doc_number) < 0) {
                                *appendix_line = NULL;
                                return -ENOMEM;
                        }
                        lines[0] = *appendix_line;
                        lines[1] = time_text;
                        v->n_lines = 2;
                }
                if (v->n_lines == 0)
                        return invisible(p, _("the certificate names no organisation for the copy stamp"));
                v->placement = PADES_PLACEMENT_STAMP;
                v->lines = lines;
                return 0;
        default:
                if (!p->visible)
                        return 0;
                if (!image)
                        return invisible(
                                p, _("no signature image was given (--image) or configured for this "
                                     "certificate (signature-image in kysod.conf)"));
                *v = (PadesVisible){
                        .placement = PADES_PLACEMENT_RECT, .page = p->page, .rect = p->rect, .image = image
                };
                return 0;
        }
}

/* The number or date on another page than the signature's would need a stamp annotation there, which a
 * certification with /P 2 forbids: signing would end the certification, which has legal weight, so the
 * document is refused before any prompt, saying where the texts can go instead. */
static int refuse_certified_texts(PdfPrepare *p, const PadesVisible *v, int k) {
        const PdfDocumentInfo *info = pdf_document_info(p->doc);
        /* Where pades_prepare() put the widget: over the last signed widget, else at the first text. */
        unsigned page = v->placement == PADES_PLACEMENT_SEAL && info->n_signed_widgets > 0
                                ? info->signed_widgets[info->n_signed_widgets - 1].page
                                : v->texts[0].page;
        unsigned other = page;

        for (size_t i = 0; i < v->n_texts && other == page; i++)
                other = v->texts[i].page;
        if (asprintf(
                    &p->bad_image,
                    _("The PDF is certified by its author with DocMDP P=2, which allows later signatures but no "
                      "new annotation: the document number or date on page %u, away from the signature on page "
                      "%u, would need one and end the certification. Put them on page %u, with the signature, "
                      "or sign without them."),
                    other + 1, page + 1, page + 1) < 0) {
                p->bad_image = NULL;
                return -ENOMEM;
        }
        return k;
}

/* Prepares the signature with its appearance; a place that cannot be had (no visible leader's signature to
 * seal over, a page too small for the stamp, text the font cannot draw) gives an invisible signature rather
 * than none: the prompt says so. */
static int prepare_visible(PdfPrepare *p, PadesOptions *o, SignError *e) {
        _cleanup_(pdf_image_freep) PdfImage *image = NULL;
        _cleanup_free_ char *appendix_line = NULL;
        char time_text[PDF_STAMP_TIME_MAX];
        const char *lines[3] = {};
        PdfImageProblem problem = PDF_IMAGE_OK;
        PadesPlacedText texts[2];
        PadesVisible v;
        int k;

        if (p->visible && p->page_from_end) {
                unsigned n = pdf_document_info(p->doc)->n_pages;
                /* Past the first page: no such page, the signature is invisible and the prompt says so. */
                p->page = p->page < n ? n - 1 - p->page : n;
        }
        if (p->role == SIGN_ROLE_ISSUE) {
                k = check_place(p, &p->number_place, "doc_number_place", e);
                if (k >= 0)
                        k = check_place(p, &p->date_place, "doc_date_place", e);
                if (k < 0)
                        return k;
        }

        /* Only a seal or an asked-for signature draws an image: nothing else reads it. */
        if (p->role == SIGN_ROLE_ISSUE ||
            (p->visible && p->role != SIGN_ROLE_COPY && p->role != SIGN_ROLE_APPENDIX)) {
                k = load_image(p, &image, &problem);
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        /* An image asked for (or configured) that cannot be drawn is refused before any
                         * prompt, saying what to give instead (issue 11). */
                        if (asprintf(
                                    &p->bad_image,
                                    _("The signature image cannot be used: %s Give a PNG with a transparent "
                                      "background, at most 4 MiB and 4000 pixels a side (--image, or "
                                      "signature-image in kysod.conf), then sign again."),
                                    strna(pdf_image_problem_to_string(problem))) < 0) {
                                p->bad_image = NULL;
                                return -ENOMEM;
                        }
                        return sign_error(e, -EBADMSG, "the signature image is not a usable PNG");
                }
        }
        k = visible_for_role(p, image, &v, lines, time_text, &appendix_line, texts);
        if (k < 0)
                return k;
        if (v.placement != PADES_PLACEMENT_NONE) {
                o->visible = &v;
                k = pades_prepare(&p->sign, o, p->doc, &p->pending, e);
                if (k == -ENOENT && v.placement == PADES_PLACEMENT_SEAL && v.n_texts > 0) {
                        /* No leader's widget to seal over: the number and date are written all the same. */
                        log_info("The seal will be invisible: %s", strna(e->message));
                        sign_error_done(e);
                        k = invisible(p, _("the PDF has no visible signature to place the seal over"));
                        if (k < 0)
                                return k;
                        v.placement = PADES_PLACEMENT_TEXT;
                        k = pades_prepare(&p->sign, o, p->doc, &p->pending, e);
                }
                o->visible = NULL;
                if (k == -EPERM)
                        return refuse_certified_texts(p, &v, k);
                if (k >= 0) {
                        p->shown = true;
                        p->texts_only = v.placement == PADES_PLACEMENT_TEXT;
                        return 0;
                }
                if (k != -ENOENT && k != -ERANGE && k != -EOPNOTSUPP && k != -ENXIO)
                        return k;
                log_info("The PDF signature will be invisible: %s", strna(e->message));
                /* -ENOENT is also a missing font: only a seal looks for the leader's widget. */
                k = invisible(
                        p, k == -ENOENT && v.placement == PADES_PLACEMENT_SEAL
                                   ? _("the PDF has no visible signature to place the seal over")
                           : k == -ENXIO ? _("the PDF has no such page")
                           : k == -ERANGE
                                   ? _("the signature's appearance does not fit the page")
                                   : _("the signature's appearance cannot be drawn (kysod's log says why)"));
                if (k < 0)
                        return k;
                sign_error_done(e);
        }
        return pades_prepare(&p->sign, o, p->doc, &p->pending, e);
}

void pdf_prepare_run(PdfPrepare *p, int fd, ClientReader *reader, const EVP_MD_CTX *sha256) {
        _cleanup_(sign_error_done) SignError e = {};
        PadesLayout layout;
        int k;

        k = pdf_document_open_fd(fd, &p->doc, &p->refusal, &e);
        if (k < 0) {
                p->error = k;
                p->detail = TAKE_PTR(e.message);
                return;
        }
        /* The signatures are read from the file, not the mapping: resident memory stays small. */
        if (p->check_signatures) {
                k = pdf_verify_fd(fd, &p->verified);
                if (k < 0) {
                        p->error = k;
                        return;
                }
                if (p->verified->document_problem != PDF_DOCUMENT_OK) {
                        p->refusal = refusal_of(p->verified->document_problem);
                        p->detail =
                                p->verified->document_detail ? strdup(p->verified->document_detail) : NULL;
                        p->error = -EBADMSG;
                        return;
                }
                k = check_signatures(p, reader);
                if (k < 0) {
                        p->error = k;
                        return;
                }
        }

        PadesOptions o = {
                .reason = p->reason,
                .location = p->location,
                .name = p->name,
                .timestamp = p->timestamp,
                /* The document's SHA-256 as it was read: the byte ranges' digest goes on from it. */
                .original_digest = sha256,
        };
        k = prepare_visible(p, &o, &e);
        if (k < 0) {
                p->error = k;
                p->detail = TAKE_PTR(e.message);
                return;
        }
        if (pades_pending_layout(p->pending, &layout) >= 0)
                p->revision = layout.revision;
}

static const char *const copy_forms[][2] = {
        { "sao-y", "SAO Y" },
        { "sao-luc", "SAO LỤC" },
        { "trich-sao", "TRÍCH SAO" },
};

bool copy_form_valid(const char *form) {
        for (size_t i = 0; i < ELEMENTSOF(copy_forms); i++)
                if (streq_ptr(form, copy_forms[i][0]))
                        return true;
        return false;
}

const char *copy_form_text(const char *form) {
        for (size_t i = 0; i < ELEMENTSOF(copy_forms); i++)
                if (streq_ptr(form, copy_forms[i][0]))
                        return copy_forms[i][1];
        return copy_forms[0][1];
}
