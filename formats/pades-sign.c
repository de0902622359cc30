/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cades-sign.h"
#include "content-digest.h"
#include "hex.h"
#include "pades-sign.h"

#define FIELD_NAME_MAX 64
/* Room in /Contents beyond the certificates and the signature: the SignedData's structure, the signed
 * attributes and algorithm identifiers take well under 1 KiB; the rest is slack. */
#define CONTENTS_MARGIN 2048U

typedef struct PadesPending {
        SignPending base;
        SignPending *cades;
        PdfSignatureUpdate update;
        PdfTail tail; /* after the signature update */
        char *field_name;
        size_t contents_reserve;
        uint64_t original_size;
        char vri_key[41]; /* upper-case hex SHA-1 of /Contents, once finished */
} PadesPending;

static int pades_set_signature(SignPending *base, const uint8_t *sig, size_t size, SignError *e) {
        PadesPending *p = (PadesPending *) base;
        int r = sign_pending_set_signature(p->cades, sig, size, e);

        if (r < 0)
                return r;
        p->base.signature = p->cades->signature;
        p->base.signature_size = p->cades->signature_size;
        return 0;
}

static int set_vri_key(PadesPending *p) {
        const uint8_t *contents = p->update.data + p->update.contents_offset + 1;
        size_t n = p->update.contents_length - 2;
        _cleanup_free_ uint8_t *bin = malloc(n / 2);
        uint8_t sha1[EVP_MAX_MD_SIZE];
        unsigned sha1_size = 0;
        int r;

        if (!bin)
                return -ENOMEM;
        for (size_t i = 0; i < n / 2; i++)
                bin[i] =
                        (uint8_t) (unhexchar((char) contents[2 * i]) << 4 | unhexchar((char) contents[2 * i + 1]));
        r = digest_buffer(NID_sha1, bin, n / 2, sha1, &sha1_size);
        if (r < 0 || sha1_size != 20)
                return r < 0 ? r : -EINVAL;
        hex_encode(sha1, sha1_size, p->vri_key);
        for (char *c = p->vri_key; *c; c++)
                *c = (char) toupper((unsigned char) *c);
        return 0;
}

static int pades_finish(
        SignPending *base, const uint8_t *token, size_t token_size, uint8_t **ret, size_t *ret_size,
        SignError *e) {
        PadesPending *p = (PadesPending *) base;
        _cleanup_free_ uint8_t *cms = NULL;
        size_t cms_size = 0;
        int r;

        r = sign_pending_finish(p->cades, token, token_size, &cms, &cms_size, e);
        if (r < 0)
                return r;
        r = pdf_signature_update_fill(&p->update, cms, cms_size);
        if (r == -ENOBUFS)
                return sign_error(
                        e, r, "the signature (%zu bytes) does not fit the %zu bytes reserved in the PDF",
                        cms_size, p->contents_reserve);
        if (r < 0)
                return sign_error(e, r, "cannot place the signature in the PDF");
        r = set_vri_key(p);
        if (r < 0)
                return sign_error(e, r, "cannot hash the signature");
        *ret = memdup(p->update.data, p->update.size);
        if (!*ret)
                return sign_error(e, -ENOMEM, "out of memory");
        *ret_size = p->update.size;
        return 0;
}

static void pades_free(SignPending *base) {
        PadesPending *p = (PadesPending *) base;

        sign_pending_free(p->cades);
        pdf_signature_update_done(&p->update);
        pdf_tail_done(&p->tail);
        free(p->field_name);
        free(p);
}

static const SignPendingVTable pades_vtable = {
        .set_signature = pades_set_signature,
        .finish = pades_finish,
        .free = pades_free,
};

bool sign_pending_is_pades(const SignPending *p) {
        return p && p->vtable == &pades_vtable;
}

static bool field_name_valid(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= FIELD_NAME_MAX &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int pick_field_name(const PadesOptions *o, const PdfDocumentInfo *info, char **ret, SignError *e) {
        char *name = NULL;

        if (o->field_name) {
                if (!field_name_valid(o->field_name))
                        return sign_error(e, -EINVAL, "invalid signature field name");
                if (strv_contains(info->field_names, o->field_name))
                        return sign_error(e, -EEXIST, "the PDF already has a field named %s", o->field_name);
                name = strdup(o->field_name);
        } else
                for (unsigned i = 1; !name && i < 100000; i++) {
                        if (asprintf(&name, "Signature%u", i) < 0)
                                return sign_error(e, -ENOMEM, "out of memory");
                        if (strv_contains(info->field_names, name))
                                name = mfree(name);
                }
        if (!name)
                return sign_error(e, -ENOMEM, "out of memory");
        *ret = name;
        return 0;
}

static int cert_der_size(X509 *c, size_t *size) {
        int n = i2d_X509(c, NULL);

        if (n <= 0)
                return -EINVAL;
        *size += (size_t) n;
        return 0;
}

/* What /Contents must hold: the certificates, the signature value, the structure, the time-stamp. */
static int contents_reserve(const SignParams *p, const PadesOptions *o, size_t *ret, SignError *e) {
        size_t need = CONTENTS_MARGIN;
        int key_size = EVP_PKEY_get_size(X509_get0_pubkey(p->cert)), r;

        r = cert_der_size(p->cert, &need);
        for (int i = 0; r >= 0 && i < sk_X509_num(p->chain); i++)
                r = cert_der_size(sk_X509_value(p->chain, i), &need);
        if (r < 0 || key_size <= 0)
                return sign_error(e, -EINVAL, "cannot encode the certificates");
        need += (size_t) key_size;
        if (o->timestamp)
                need += o->timestamp_reserve > 0 ? o->timestamp_reserve : PADES_TIMESTAMP_RESERVE_DEFAULT;
        if (o->contents_reserve > 0) {
                if (o->contents_reserve < need - CONTENTS_MARGIN / 2)
                        return sign_error(
                                e, -ENOBUFS,
                                "%zu bytes reserved for the signature cannot hold its %zu bytes of "
                                "certificates and signature",
                                o->contents_reserve, need - CONTENTS_MARGIN / 2);
                need = o->contents_reserve;
        }
        if (need > PADES_CONTENTS_MAX)
                return sign_error(
                        e, -ENOBUFS, "the signature would need more than %u bytes", PADES_CONTENTS_MAX);
        *ret = need;
        return 0;
}

/* The leader's widget: the one named, else the last signed one on a page. */
static const PdfSignedWidget *find_leader(const PdfDocumentInfo *info, const char *name) {
        for (size_t i = info->n_signed_widgets; i > 0; i--)
                if (!name || streq(info->signed_widgets[i - 1].field_name, name))
                        return &info->signed_widgets[i - 1];
        return NULL;
}

/* r turned clockwise by degrees (a multiple of 90) about the origin, as a viewer turns a page with /Rotate:
 * the seal is placed where the reader sees the signature, not in user space. */
static PdfRect rect_turn(PdfRect r, int degrees) {
        switch (((degrees % 360) + 360) % 360) {
        case 90: /* (x, y) -> (y, -x) */
                return (PdfRect){ r.y, -(r.x + r.w), r.h, r.w };
        case 180:
                return (PdfRect){ -(r.x + r.w), -(r.y + r.h), r.w, r.h };
        case 270: /* (x, y) -> (-y, x) */
                return (PdfRect){ -(r.y + r.h), r.x, r.h, r.w };
        default:
                return r;
        }
}

/* The place of a visible signature: its page (read again from doc), its /Rect and the upright size its
 * appearance is drawn at (0 x 0 for a stamp: the text's own size). */
static int visible_place(
        const PadesVisible *v, const PdfDocument *doc, const PdfDocumentInfo *info, PdfPage *page,
        PdfRect *rect, double *width, double *height, SignError *e) {
        const PdfSignedWidget *leader;
        PdfRect seen;
        bool turned;
        int r;

        switch (v->placement) {
        case PADES_PLACEMENT_RECT:
                r = pdf_document_read_page(doc, v->page, page, e);
                if (r < 0)
                        return r;
                turned = page->rotate == 90 || page->rotate == 270;
                *rect = v->rect;
                if (v->image && pdf_rect_fit(
                                        &v->rect, turned ? v->image->height : v->image->width,
                                        turned ? v->image->width : v->image->height, rect) < 0)
                        return sign_error(e, -EINVAL, "invalid rectangle for the visible signature");
                if (!(rect->w > 0) || !(rect->h > 0))
                        return sign_error(e, -EINVAL, "invalid rectangle for the visible signature");
                *width = turned ? rect->h : rect->w;
                *height = turned ? rect->w : rect->h;
                return 0;
        case PADES_PLACEMENT_SEAL:
                if (!v->image)
                        return sign_error(e, -EINVAL, "a seal needs its image");
                leader = find_leader(info, v->leader_field);
                if (!leader)
                        return sign_error(
                                e, -ENOENT, "the PDF has no visible signature to place the seal over");
                r = pdf_document_read_page(doc, leader->page, page, e);
                if (r < 0)
                        return r;
                seen = rect_turn(
                        (PdfRect){ leader->rect[0], leader->rect[1], leader->rect[2] - leader->rect[0],
                                   leader->rect[3] - leader->rect[1] },
                        page->rotate);
                r = pdf_seal_rect(&seen, v->seal_diameter_mm, rect);
                if (r < 0)
                        return sign_error(e, r, "invalid seal diameter %g mm", v->seal_diameter_mm);
                *rect = rect_turn(*rect, -page->rotate);
                *width = rect->w;
                *height = rect->h;
                return 0;
        case PADES_PLACEMENT_STAMP:
                if (v->n_lines == 0)
                        return sign_error(e, -EINVAL, "a stamp needs its text");
                r = pdf_document_read_page(doc, 0, page, e);
                *width = *height = 0;
                return r;
        case PADES_PLACEMENT_TEXT:
                if (v->n_texts == 0)
                        return sign_error(e, -EINVAL, "no text to place");
                r = pdf_document_read_page(doc, v->texts[0].page, page, e);
                *rect = (PdfRect){};
                *width = *height = 0;
                return r;
        default:
                return sign_error(e, -EINVAL, "invalid placement of the visible signature");
        }
}

/* SEAL and TEXT with placed texts: the seal's place and the texts on its page, as the reader sees the page,
 * go into the spec; the appearance covers them all. The texts on other pages get stamps (page_stamps()). */
static int placed_texts(
        const PadesVisible *v, const PdfPage *page, const PdfRect *seal, PdfAppearanceSpec *as,
        PdfRect *seal_seen, PdfPlacedText **ret) {
        PdfPlacedText *t;
        size_t n = 0;

        t = calloc(v->n_texts, sizeof *t);
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < v->n_texts; i++)
                if (v->texts[i].page == page->index)
                        t[n++] = (PdfPlacedText){ rect_turn(v->texts[i].rect, page->rotate),
                                                  v->texts[i].text };
        if (n > 0 && v->placement == PADES_PLACEMENT_SEAL) {
                *seal_seen = rect_turn(*seal, page->rotate);
                as->image_box = seal_seen;
        }
        as->texts = t;
        as->n_texts = n;
        *ret = t;
        return 0;
}

static int appearance_error(int r, SignError *e) {
        if (r == -EOPNOTSUPP)
                return sign_error(e, r, "the font has no letter for a character of the signature's text");
        return sign_error(e, r, "cannot draw the visible signature: %s", strerror(-r));
}

/* The texts on another page than the widget's: a stamp annotation there, in the same update. */
typedef struct PadesStamp {
        PdfPage page;
        PdfAppearanceObjects objects;
        PdfRect rect;
        char *contents;
} PadesStamp;

static void pades_stamps_free(PadesStamp *s, size_t n) {
        for (size_t i = 0; s && i < n; i++) {
                pdf_page_done(&s[i].page);
                pdf_appearance_objects_done(&s[i].objects);
                free(s[i].contents);
        }
        free(s);
}

/* The stamp of the texts on the page of texts[first] (the first one there), its objects numbered from
 * first_objnum. */
static int page_stamp(
        const PadesVisible *v, const PdfDocument *doc, size_t first, unsigned first_objnum, PadesStamp *s,
        SignError *e) {
        _cleanup_free_ PdfPlacedText *t = calloc(v->n_texts, sizeof(PdfPlacedText));
        unsigned index = v->texts[first].page;
        PdfAppearanceSpec as = { .font_path = v->font_path };
        size_t length = 0;
        int r;

        if (!t)
                return sign_error(e, -ENOMEM, "out of memory");
        r = pdf_document_read_page(doc, index, &s->page, e);
        if (r < 0)
                return r;
        for (size_t i = first; i < v->n_texts; i++)
                if (v->texts[i].page == index) {
                        t[as.n_texts++] = (PdfPlacedText){ rect_turn(v->texts[i].rect, s->page.rotate),
                                                           v->texts[i].text };
                        length += strlen(v->texts[i].text) + 1;
                }
        /* /Contents: the texts, one a line, for a reader that cannot see the drawing. */
        s->contents = calloc(length, 1);
        if (!s->contents)
                return sign_error(e, -ENOMEM, "out of memory");
        for (size_t i = 0; i < as.n_texts; i++) {
                if (i > 0)
                        strcat(s->contents, "\n");
                strcat(s->contents, t[i].text);
        }
        as.rotate = s->page.rotate;
        as.texts = t;
        r = pdf_appearance_objects(&as, first_objnum, &s->objects);
        if (r < 0)
                return appearance_error(r, e);
        s->rect = rect_turn(s->objects.box, -s->page.rotate);
        return 0;
}

/* One stamp for each page other than the widget's that has placed texts, numbered on from first_objnum. */
static int page_stamps(
        const PadesVisible *v, const PdfDocument *doc, unsigned widget_page, unsigned first_objnum,
        PadesStamp **ret, size_t *ret_n, SignError *e) {
        PadesStamp *s = NULL;
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; i < v->n_texts; i++) {
                bool seen = v->texts[i].page == widget_page;

                for (size_t j = 0; j < i && !seen; j++)
                        seen = v->texts[j].page == v->texts[i].page;
                if (seen)
                        continue;
                /* A stamp is a new annotation, which a certification with /P 2 does not allow (ISO 32000-1,
                 * table 254): the document would lose its certification. */
                if (pdf_document_info(doc)->docmdp_p == 2) {
                        r = sign_error(
                                e, -EPERM,
                                "the document is certified with DocMDP /P 2, which allows no new annotation: "
                                "the text on page %u would need a stamp (the widget is on page %u)",
                                v->texts[i].page + 1, widget_page + 1);
                        break;
                }
                if (!s) {
                        s = calloc(v->n_texts, sizeof *s);
                        if (!s)
                                return sign_error(e, -ENOMEM, "out of memory");
                }
                r = page_stamp(v, doc, i, first_objnum, &s[n++], e);
                if (r < 0)
                        break;
                first_objnum += (unsigned) s[n - 1].objects.n_bodies;
        }
        if (r < 0) {
                pades_stamps_free(s, n);
                return r;
        }
        *ret = s;
        *ret_n = n;
        return 0;
}

/* The appearance objects (numbered from info->next_object, as the writer wants) and the widget's place; the
 * stamps on other pages after it. */
static int visible_prepare(
        const PadesVisible *v, const PdfDocument *doc, const PdfDocumentInfo *info, PdfPage *page,
        PdfRect *rect, PdfAppearanceObjects *objects, PadesStamp **ret_stamps, size_t *ret_n_stamps,
        SignError *e) {
        PdfAppearanceSpec as = {
                .image = v->image,
                .lines = v->lines,
                .n_lines = v->n_lines,
                .font_path = v->font_path,
                .align_right = v->placement == PADES_PLACEMENT_STAMP,
        };
        _cleanup_free_ PdfPlacedText *texts = NULL;
        PdfRect seal_seen;
        double visible[4];
        int r;

        if (v->n_texts > 0 && v->placement != PADES_PLACEMENT_SEAL && v->placement != PADES_PLACEMENT_TEXT)
                return sign_error(e, -EINVAL, "only a seal places texts");
        r = visible_place(v, doc, info, page, rect, &as.width, &as.height, e);
        if (r < 0)
                return r;
        as.rotate = page->rotate;
        if (v->n_texts > 0) {
                r = placed_texts(v, page, rect, &as, &seal_seen, &texts);
                if (r < 0)
                        return sign_error(e, r, "out of memory");
        }
        r = pdf_appearance_objects(&as, info->next_object, objects);
        if (r < 0)
                return appearance_error(r, e);
        if (as.n_texts > 0)
                *rect = rect_turn(objects->box, -page->rotate);
        if (v->placement == PADES_PLACEMENT_STAMP) {
                r = pdf_page_visible_box(page->media, page->has_crop ? page->crop : NULL, visible);
                if (r >= 0)
                        r = pdf_stamp_rect(visible, page->rotate, objects->width, objects->height, rect);
                if (r < 0)
                        return sign_error(e, -ERANGE, "the stamp does not fit page 1");
        }
        return page_stamps(
                v, doc, page->index, info->next_object + (unsigned) objects->n_bodies, ret_stamps,
                ret_n_stamps, e);
}

/* The digest of the byte ranges: the original bytes from the mapping, then the update around /Contents. */
static int hash_ranges(
        const PdfDocument *doc, const PdfSignatureUpdate *u, int nid, const EVP_MD_CTX *original,
        ContentDigests *d) {
        size_t after = u->contents_offset + u->contents_length, size = 0;
        const EVP_MD *md = original ? EVP_MD_CTX_get0_md(original) : NULL;
        int r;

        /* The first range starts with the whole original: a state that has hashed it already saves a pass
         * over the document (a second SHA-256 of 100 MB is a third of signing it). */
        if (md && EVP_MD_get_type(md) == nid) {
                (void) pdf_document_data(doc, &size);
                r = content_digests_add_state(d, nid, original, size);
        } else {
                r = content_digests_add(d, nid);
                if (r >= 0)
                        r = pdf_document_digest(doc, d);
        }
        if (r >= 0)
                r = content_digests_update(d, u->data, u->contents_offset);
        if (r >= 0)
                r = content_digests_update(d, u->data + after, u->size - after);
        if (r >= 0)
                r = content_digests_finish(d);
        return r;
}

int pades_prepare(
        const SignParams *p, const PadesOptions *o, const PdfDocument *doc, SignPending **ret,
        SignError *e) {
        static const PadesOptions no_options = {};
        _cleanup_(sign_pending_freep) SignPending *pending = NULL;
        _cleanup_(content_digests_done) ContentDigests d = {};
        _cleanup_(pdf_page_done) PdfPage page = {};
        _cleanup_(pdf_appearance_objects_done) PdfAppearanceObjects objects = {};
        _cleanup_free_ PdfStampSpec *stamp_specs = NULL;
        const PdfDocumentInfo *info = pdf_document_info(doc);
        PadesStamp *stamps = NULL;
        size_t n_stamps = 0;
        PdfSignatureSpec spec;
        PadesPending *pp;
        CadesInput in;
        int r;

        if (!p || !p->cert || !doc || !info || !ret)
                return sign_error(e, -EINVAL, "missing arguments");
        if (!o)
                o = &no_options;
        if (!X509_get0_pubkey(p->cert))
                return sign_error(e, -EINVAL, "the signer certificate has no usable public key");
        pp = calloc(1, sizeof *pp);
        if (!pp)
                return sign_error(e, -ENOMEM, "out of memory");
        pp->base.vtable = &pades_vtable;
        pending = &pp->base;
        pp->original_size = info->size;

        r = pick_field_name(o, info, &pp->field_name, e);
        if (r < 0)
                return r;
        r = contents_reserve(p, o, &pp->contents_reserve, e);
        if (r < 0)
                return r;
        spec = (PdfSignatureSpec){
                .field_name = pp->field_name,
                .reason = o->reason,
                .location = o->location,
                .name = o->name,
                .contact_info = o->contact_info,
                .signing_time = p->signing_time != 0 ? p->signing_time : time(NULL),
                .contents_reserve = pp->contents_reserve,
        };
        if (o->visible && o->visible->placement != PADES_PLACEMENT_NONE) {
                r = visible_prepare(
                        o->visible, doc, info, &page, &spec.rect, &objects, &stamps, &n_stamps, e);
                if (r < 0)
                        return r;
                spec.page = &page;
                spec.appearance = objects.bodies;
                spec.n_appearance = objects.n_bodies;
        }
        if (n_stamps > 0) {
                stamp_specs = calloc(n_stamps, sizeof *stamp_specs);
                if (!stamp_specs) {
                        pades_stamps_free(stamps, n_stamps);
                        return sign_error(e, -ENOMEM, "out of memory");
                }
                for (size_t i = 0; i < n_stamps; i++)
                        stamp_specs[i] =
                                (PdfStampSpec){ &stamps[i].page, stamps[i].rect, stamps[i].objects.bodies,
                                                stamps[i].objects.n_bodies, stamps[i].contents };
                spec.stamps = stamp_specs;
                spec.n_stamps = n_stamps;
        }
        r = pdf_write_signature_update(info, &spec, &pp->update, &pp->tail);
        pades_stamps_free(stamps, n_stamps);
        if (r == -EFBIG)
                return sign_error(e, r, "the signed PDF would be too large");
        if (r == -EOPNOTSUPP)
                return sign_error(e, r, "the PDF's form or page shares objects in a way kyso cannot update");
        if (r == -EINVAL)
                return sign_error(e, r, "invalid signature text (reason, location or name is not UTF-8)");
        if (r < 0)
                return sign_error(e, r, "cannot write the signature update");

        r = hash_ranges(doc, &pp->update, p->digest_nid, o->original_digest, &d);
        if (r < 0)
                return sign_error(e, r == -ENOMEM ? r : -EINVAL, "cannot hash the PDF with this digest");
        in = (CadesInput){ .profile = CADES_PROFILE_PADES, .digests = &d };
        r = cades_prepare(p, &in, &pp->cades, e);
        if (r < 0)
                return r;
        pp->base.tbs = pp->cades->tbs;
        pp->base.tbs_size = pp->cades->tbs_size;
        pp->base.tbs_data = pp->cades->tbs_data;
        pp->base.tbs_data_size = pp->cades->tbs_data_size;
        *ret = TAKE_PTR(pending);
        return 0;
}

int pades_pending_layout(const SignPending *p, PadesLayout *ret) {
        const PadesPending *pp = (const PadesPending *) p;

        if (!sign_pending_is_pades(p) || !ret)
                return -EINVAL;
        *ret = (PadesLayout){
                .field_name = pp->field_name,
                .signed_size = pp->tail.end,
                .contents_offset = pp->original_size + pp->update.contents_offset,
                .contents_reserve = pp->contents_reserve,
                .revision = pp->tail.revisions,
        };
        memcpy(ret->byte_range, pp->update.byte_range, sizeof ret->byte_range);
        return 0;
}

int pades_append_dss(
        SignPending *finished, const PadesDss *dss, uint8_t **ret, size_t *ret_size, SignError *e) {
        PadesPending *pp = (PadesPending *) finished;
        PdfDssContent content;
        int r;

        if (!sign_pending_is_pades(finished) || !finished->finished || !dss || !ret || !ret_size)
                return sign_error(e, -EINVAL, "a finished PDF signature is required");
        content = (PdfDssContent){
                .certs = dss->certs,
                .n_certs = dss->n_certs,
                .ocsps = dss->ocsps,
                .n_ocsps = dss->n_ocsps,
                .crls = dss->crls,
                .n_crls = dss->n_crls,
                .vri_key = dss->vri ? pp->vri_key : NULL,
        };
        r = pdf_write_dss_update(&pp->tail, &content, ret, ret_size);
        if (r == -EFBIG)
                return sign_error(e, r, "the PDF would be too large with the validation data");
        if (r < 0)
                return sign_error(e, r, "cannot write the validation data (DSS)");
        return 0;
}
