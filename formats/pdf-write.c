/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "hex.h"
#include "pdf-write.h"
#include "utf8.h"

/* /ByteRange is written as "[0 a b c]" in this many bytes, padded with spaces, so that the offsets can be
 * filled in once the update's size is known without moving anything: 3 numbers of at most 10 digits. */
#define BYTE_RANGE_WIDTH (sizeof("[0 0000000000 0000000000 0000000000]") - 1)

typedef struct XrefEntry {
        uint32_t num, gen;
        uint64_t offset;
} XrefEntry;

/* One update being written: a memory stream whose first byte lands at `base` in the file. */
typedef struct Writer {
        FILE *f;
        char *buf;
        size_t size;
        uint64_t base;
        XrefEntry *entries;
        size_t n_entries;
        uint32_t next_object;
} Writer;

static int writer_init(Writer *w, uint64_t base, uint32_t next_object, bool need_newline) {
        *w = (Writer){ .base = base, .next_object = next_object };
        w->f = open_memstream(&w->buf, &w->size);
        if (!w->f)
                return -ENOMEM;
        /* The original may end without an end-of-line after %%EOF: the first object must start a line. */
        if (need_newline)
                fputc('\n', w->f);
        return 0;
}

static void writer_done(Writer *w) {
        if (w->f)
                fclose(w->f);
        free(w->buf);
        free(w->entries);
        *w = (Writer){};
}

static uint64_t writer_offset(Writer *w) {
        long pos = ftell(w->f);

        return w->base + (pos < 0 ? 0 : (uint64_t) pos);
}

static size_t writer_pos(Writer *w) {
        long pos = ftell(w->f);

        return pos < 0 ? 0 : (size_t) pos;
}

static int writer_new_object(Writer *w, uint32_t *ret) {
        if (w->next_object >= 8388607)
                return -E2BIG;
        *ret = w->next_object++;
        return 0;
}

static int begin_object(Writer *w, uint32_t num, uint32_t gen) {
        XrefEntry *e;

        for (size_t i = 0; i < w->n_entries; i++)
                if (w->entries[i].num == num)
                        /* One object would get two bodies (e.g. /Annots and /Fields are the same array). */
                        return -EOPNOTSUPP;
        e = ARRAY_APPEND(w->entries, w->n_entries);
        if (!e)
                return -ENOMEM;
        *e = (XrefEntry){ .num = num, .gen = gen, .offset = writer_offset(w) };
        fprintf(w->f, "%" PRIu32 " %" PRIu32 " obj\n", num, gen);
        return 0;
}

static int begin_new_object(Writer *w, uint32_t *ret) {
        int r = writer_new_object(w, ret);

        return r < 0 ? r : begin_object(w, *ret, 0);
}

static void end_object(Writer *w) {
        fputs("\nendobj\n", w->f);
}

/* Starts object num as a dictionary, "<< " and the entries format gives; end_dict() closes it. */
_printf_(4, 5) static int begin_dict(Writer *w, uint32_t num, uint32_t gen, const char *format, ...) {
        va_list ap;
        int r = begin_object(w, num, gen);

        if (r < 0)
                return r;
        fputs("<< ", w->f);
        va_start(ap, format);
        vfprintf(w->f, format, ap);
        va_end(ap);
        return 0;
}

static void end_dict(Writer *w) {
        fputs(" >>", w->f);
        end_object(w);
}

static void write_ref(FILE *f, PdfRef r) {
        fprintf(f, "%" PRIu32 " %" PRIu32 " R", r.num, r.gen);
}

/* How many entries from i on have consecutive object numbers: one cross-reference subsection. */
static size_t subsection_length(const Writer *w, size_t i) {
        size_t run = 1;

        while (i + run < w->n_entries && w->entries[i + run].num == w->entries[i].num + run)
                run++;
        return run;
}

static int compare_entries(const void *a, const void *b) {
        const XrefEntry *x = a, *y = b;

        return x->num < y->num ? -1 : x->num > y->num;
}

/* The trailer keys every section repeats. */
static void write_trailer_keys(Writer *w, const PdfTail *t, uint32_t size) {
        fprintf(w->f, "/Size %" PRIu32 " /Root ", size);
        write_ref(w->f, t->root);
        if (t->info.num > 0) {
                fputs(" /Info ", w->f);
                write_ref(w->f, t->info);
        }
        if (t->id)
                fprintf(w->f, " /ID %s", t->id);
        fprintf(w->f, " /Prev %" PRIu64, t->startxref);
}

static void write_table(Writer *w, const PdfTail *t, uint64_t *ret_startxref) {
        *ret_startxref = writer_offset(w);
        fputs("xref\n", w->f);
        for (size_t i = 0; i < w->n_entries;) {
                size_t run = subsection_length(w, i);

                fprintf(w->f, "%" PRIu32 " %zu\n", w->entries[i].num, run);
                for (size_t j = i; j < i + run; j++)
                        /* Exactly 20 bytes per entry, as the format requires. */
                        fprintf(w->f, "%010" PRIu64 " %05" PRIu32 " n\r\n", w->entries[j].offset,
                                w->entries[j].gen);
                i += run;
        }
        fputs("trailer\n<< ", w->f);
        write_trailer_keys(w, t, w->next_object);
        fputs(" >>\n", w->f);
}

static void put_be(FILE *f, uint64_t v, unsigned bytes) {
        while (bytes-- > 0)
                fputc((int) ((v >> (8 * bytes)) & 0xff), f);
}

static int write_xref_stream(Writer *w, const PdfTail *t, uint64_t *ret_startxref) {
        uint32_t num;
        unsigned width;
        int r;

        r = begin_new_object(w, &num);
        if (r < 0)
                return r;
        *ret_startxref = w->entries[w->n_entries - 1].offset;
        qsort(w->entries, w->n_entries, sizeof *w->entries, compare_entries);
        width = *ret_startxref + 64 > UINT32_MAX ? 5 : 4;

        fprintf(w->f, "<< /Type /XRef ");
        write_trailer_keys(w, t, w->next_object);
        fprintf(w->f, " /W [1 %u 2] /Index [", width);
        for (size_t i = 0; i < w->n_entries;) {
                size_t run = subsection_length(w, i);

                fprintf(w->f, "%s%" PRIu32 " %zu", i > 0 ? " " : "", w->entries[i].num, run);
                i += run;
        }
        fprintf(w->f, "] /Length %zu >>\nstream\n", w->n_entries * (3 + width));
        for (size_t i = 0; i < w->n_entries; i++) {
                put_be(w->f, 1, 1);
                put_be(w->f, w->entries[i].offset, width);
                put_be(w->f, w->entries[i].gen, 2);
        }
        fputs("\nendstream", w->f);
        end_object(w);
        return 0;
}

/* Closes the update with a cross-reference section of the tail's kind; *ret_next (may be NULL) is where the
 * file stands after it. */
static int writer_finish(Writer *w, const PdfTail *t, uint8_t **ret, size_t *ret_size, PdfTail *ret_next) {
        uint64_t startxref = 0;
        int r;

        if (t->xref_kind == PDF_XREF_STREAM) {
                r = write_xref_stream(w, t, &startxref);
                if (r < 0)
                        return r;
        } else {
                qsort(w->entries, w->n_entries, sizeof *w->entries, compare_entries);
                write_table(w, t, &startxref);
        }
        fprintf(w->f, "startxref\n%" PRIu64 "\n%%%%EOF\n", startxref);
        r = fclose(w->f);
        w->f = NULL;
        if (r != 0)
                return -ENOMEM;
        if (w->base + w->size > PDF_DOCUMENT_MAX_SIZE)
                return -EFBIG;
        if (ret_next) {
                ret_next->end = w->base + w->size;
                ret_next->startxref = startxref;
                ret_next->xref_kind = t->xref_kind == PDF_XREF_STREAM ? PDF_XREF_STREAM : PDF_XREF_TABLE;
                ret_next->next_object = w->next_object;
                ret_next->revisions = t->revisions + 1;
        }
        *ret = (uint8_t *) TAKE_PTR(w->buf);
        *ret_size = w->size;
        return 0;
}

/* ---- text */

int pdf_text_string(const char *utf8, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, n;
        bool ascii = true;
        FILE *f;

        if (!utf8 || !ret)
                return -EINVAL;
        n = strlen(utf8);
        if (!utf8_is_valid(utf8))
                return -EINVAL;
        for (const char *p = utf8; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e)
                        ascii = false;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        if (ascii) {
                fputc('(', f);
                for (const char *p = utf8; *p; p++) {
                        if (*p == '(' || *p == ')' || *p == '\\')
                                fputc('\\', f);
                        fputc(*p, f);
                }
                fputc(')', f);
        } else {
                fputs("<FEFF", f);
                for (size_t i = 0; i < n;) {
                        uint32_t cp;
                        int l = utf8_decode(utf8 + i, n - i, &cp);

                        if (l <= 0) {
                                fclose(f);
                                return -EINVAL;
                        }
                        utf16be_hex_write(f, cp);
                        i += (size_t) l;
                }
                fputc('>', f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

int pdf_date(time_t t, char buf[static PDF_DATE_MAX]) {
        struct tm tm;

        if (!gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 8099)
                return -ERANGE;
        if (strftime(buf, PDF_DATE_MAX, "D:%Y%m%d%H%M%S+00'00'", &tm) == 0)
                return -ERANGE;
        return 0;
}

/* "/Key <text string>" when value is set. */
static int write_text_key(FILE *f, const char *key, const char *value) {
        _cleanup_free_ char *s = NULL;
        int r;

        if (isempty(value))
                return 0;
        r = pdf_text_string(value, &s);
        if (r < 0)
                return r;
        fprintf(f, " %s %s", key, s);
        return 0;
}

/* ---- tails */

void pdf_tail_done(PdfTail *t) {
        if (!t)
                return;
        free(t->id);
        free(t->root_entries);
        free(t->root_acroform);
        free(t->dss_entries);
        free(t->dss_vri_entries);
        free(t->dss_certs_items);
        free(t->dss_ocsps_items);
        free(t->dss_crls_items);
        *t = (PdfTail){};
}

static int strdup_or_null(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int tail_from_info(const PdfDocumentInfo *info, PdfTail *ret) {
        _cleanup_(pdf_tail_done) PdfTail t = {
                .end = info->size,
                .startxref = info->startxref,
                .xref_kind = info->xref_kind,
                .next_object = info->next_object,
                .root = info->root,
                .info = info->info,
                .dss_present = info->dss_present,
                .dss_ref = info->dss_ref,
                .revisions = info->revisions,
        };

        if (strdup_or_null(info->id, &t.id) < 0 || strdup_or_null(info->root_entries, &t.root_entries) < 0 ||
            strdup_or_null(info->dss_entries, &t.dss_entries) < 0 ||
            strdup_or_null(info->dss_vri_entries, &t.dss_vri_entries) < 0 ||
            strdup_or_null(info->dss_certs_items, &t.dss_certs_items) < 0 ||
            strdup_or_null(info->dss_ocsps_items, &t.dss_ocsps_items) < 0 ||
            strdup_or_null(info->dss_crls_items, &t.dss_crls_items) < 0)
                return -ENOMEM;
        *ret = t;
        t = (PdfTail){};
        return 0;
}

/* " /Name [items...]" for a DSS array, with extra references after the existing items. */
static void write_ref_array(FILE *f, const char *key, const char *items, const uint32_t *refs, size_t n) {
        if (isempty(items) && n == 0)
                return;
        fprintf(f, " %s [%s", key, strempty(items));
        for (size_t i = 0; i < n; i++) {
                fputs(!isempty(items) || i > 0 ? " " : "", f);
                write_ref(f, (PdfRef){ .num = refs[i] });
        }
        fputc(']', f);
}

/* The catalog's /DSS value when it is kept as it is. */
static void write_dss_value(FILE *f, const PdfTail *t) {
        if (t->dss_ref.num > 0) {
                write_ref(f, t->dss_ref);
                return;
        }
        fprintf(f, "<< %s", strempty(t->dss_entries));
        write_ref_array(f, "/Certs", t->dss_certs_items, NULL, 0);
        write_ref_array(f, "/OCSPs", t->dss_ocsps_items, NULL, 0);
        write_ref_array(f, "/CRLs", t->dss_crls_items, NULL, 0);
        if (t->dss_vri_entries)
                fprintf(f, " /VRI << %s >>", t->dss_vri_entries);
        fputs(" >>", f);
}

/* The catalog with the tail's /AcroForm and the given /DSS (dss_num 0: the tail's own, if any). */
static int write_catalog(Writer *w, const PdfTail *t, uint32_t dss_num) {
        int r = begin_dict(w, t->root.num, t->root.gen, "%s", strempty(t->root_entries));

        if (r < 0)
                return r;
        if (t->root_acroform)
                fprintf(w->f, " /AcroForm %s", t->root_acroform);
        if (dss_num > 0) {
                fputs(" /DSS ", w->f);
                write_ref(w->f, (PdfRef){ .num = dss_num });
        } else if (t->dss_present) {
                fputs(" /DSS ", w->f);
                write_dss_value(w->f, t);
        }
        end_dict(w);
        return 0;
}

/* ---- the signature update */

void pdf_signature_update_done(PdfSignatureUpdate *u) {
        if (!u)
                return;
        free(u->data);
        *u = (PdfSignatureUpdate){};
}

static int write_signature_dict(
        Writer *w, uint32_t num, const PdfSignatureSpec *spec, size_t *ret_range_pos,
        size_t *ret_contents_pos) {
        char date[PDF_DATE_MAX];
        int r;

        r = pdf_date(spec->signing_time, date);
        if (r < 0)
                return r;
        r = begin_dict(
                w, num, 0, "/Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange ");
        if (r < 0)
                return r;
        *ret_range_pos = writer_pos(w);
        fprintf(w->f, "%-*s", (int) BYTE_RANGE_WIDTH, "[0 0 0 0]");
        fputs(" /Contents ", w->f);
        *ret_contents_pos = writer_pos(w);
        fputc('<', w->f);
        for (size_t i = 0; i < spec->contents_reserve * 2; i++)
                fputc('0', w->f);
        fputc('>', w->f);
        fprintf(w->f, " /M (%s)", date);
        r = write_text_key(w->f, "/Name", spec->name);
        if (r >= 0)
                r = write_text_key(w->f, "/Reason", spec->reason);
        if (r >= 0)
                r = write_text_key(w->f, "/Location", spec->location);
        if (r >= 0)
                r = write_text_key(w->f, "/ContactInfo", spec->contact_info);
        if (r < 0)
                return r;
        end_dict(w);
        return 0;
}

/* Object num: the dictionary dict ("<< ... >>", complete), then the stream's bytes when stream is set. */
static int
write_object(Writer *w, uint32_t num, const char *dict, const uint8_t *stream, size_t stream_size) {
        int r = begin_object(w, num, 0);

        if (r < 0)
                return r;
        fputs(dict, w->f);
        if (stream) {
                fputs("\nstream\n", w->f);
                if (stream_size > 0 && fwrite(stream, 1, stream_size, w->f) != stream_size)
                        return -ENOMEM;
                fputs("\nendstream", w->f);
        }
        end_object(w);
        return 0;
}

static void write_rect(FILE *f, const PdfRect *rect) {
        char n[4][PDF_NUMBER_MAX];

        fprintf(f, " /Rect [%s %s %s %s]", pdf_number(rect->x, n[0]), pdf_number(rect->y, n[1]),
                pdf_number(rect->x + rect->w, n[2]), pdf_number(rect->y + rect->h, n[3]));
}

/* " /AP << /N N 0 R >> /P page" */
static void write_ap_and_page(FILE *f, uint32_t ap, PdfRef page) {
        fputs(" /AP << /N ", f);
        write_ref(f, (PdfRef){ .num = ap });
        fputs(" >> /P ", f);
        write_ref(f, page);
}

static int
write_widget(Writer *w, uint32_t num, uint32_t sig, const PdfSignatureSpec *spec, PdfRef page, uint32_t ap) {
        _cleanup_free_ char *t = NULL;
        int r;

        r = pdf_text_string(spec->field_name, &t);
        if (r < 0)
                return r;
        /* A field merged with its widget; printed and locked (/F 4 + 128); invisible: a zero rectangle. */
        r = begin_dict(w, num, 0, "/Type /Annot /Subtype /Widget /FT /Sig /T %s /V ", t);
        if (r < 0)
                return r;
        write_ref(w->f, (PdfRef){ .num = sig });
        fputs(" /F 132", w->f);
        if (ap > 0) {
                write_rect(w->f, &spec->rect);
                write_ap_and_page(w->f, ap, page);
        } else {
                fputs(" /Rect [0 0 0 0] /P ", w->f);
                write_ref(w->f, page);
        }
        end_dict(w);
        return 0;
}

/* A stamp of the signature's texts on another page: printed, read-only, locked and its contents locked
 * (/F 4 + 64 + 128 + 512), no action; /NM names it by the field and page, unique in the document. */
static int write_stamp(Writer *w, uint32_t num, const char *field_name, const PdfStampSpec *s, uint32_t ap) {
        _cleanup_free_ char *contents = NULL, *name = NULL, *nm = NULL;
        int r;

        r = pdf_text_string(s->contents, &contents);
        if (r < 0)
                return r;
        if (asprintf(&name, "kyso-%s-page-%u", field_name, s->page->index + 1) < 0) {
                name = NULL;
                return -ENOMEM;
        }
        r = pdf_text_string(name, &nm);
        if (r < 0)
                return r;
        r = begin_dict(w, num, 0, "/Type /Annot /Subtype /Stamp /F 708");
        if (r < 0)
                return r;
        write_rect(w->f, &s->rect);
        write_ap_and_page(w->f, ap, s->page->ref);
        fprintf(w->f, " /Contents %s /NM %s", contents, nm);
        end_dict(w);
        return 0;
}

/* "[items... N 0 R]" */
static void write_array_plus(FILE *f, const char *items, uint32_t num) {
        fprintf(f, "[%s%s", strempty(items), isempty(items) ? "" : " ");
        write_ref(f, (PdfRef){ .num = num });
        fputc(']', f);
}

static int write_array_object(Writer *w, PdfRef ref, const char *items, uint32_t num) {
        int r = begin_object(w, ref.num, ref.gen);

        if (r < 0)
                return r;
        write_array_plus(w->f, items, num);
        end_object(w);
        return 0;
}

/* The page the widget is on, as its text was read. */
typedef struct PageText {
        PdfRef ref;
        const char *entries;
        PdfRef annots_ref;
        const char *annots_items;
} PageText;

static int write_page(Writer *w, const PageText *p, uint32_t widget) {
        int r;

        if (p->annots_ref.num > 0)
                return write_array_object(w, p->annots_ref, p->annots_items, widget);
        r = begin_dict(w, p->ref.num, p->ref.gen, "%s /Annots ", strempty(p->entries));
        if (r < 0)
                return r;
        write_array_plus(w->f, p->annots_items, widget);
        end_dict(w);
        return 0;
}

/* The AcroForm's dictionary text with the widget in /Fields and /SigFlags 3 (an indirect /Fields array is
 * rewritten as its own object). */
static int acroform_text(Writer *w, const PdfDocumentInfo *info, uint32_t widget, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        if (info->fields_ref.num > 0) {
                r = write_array_object(w, info->fields_ref, info->fields_items, widget);
                if (r < 0)
                        return r;
        }
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "<< %s%s/Fields ", strempty(info->acroform_entries),
                isempty(info->acroform_entries) ? "" : " ");
        if (info->fields_ref.num > 0)
                write_ref(f, info->fields_ref);
        else
                write_array_plus(f, info->fields_items, widget);
        /* SignaturesExist | AppendOnly, keeping any other bits. */
        fprintf(f, " /SigFlags %" PRId64 " >>", (info->sig_flags > 0 ? info->sig_flags : 0) | 3);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Writes what the form needs; sets tail->root_acroform to the catalog's new /AcroForm value and says
 * whether the catalog must be rewritten. */
static int
write_acroform(Writer *w, const PdfDocumentInfo *info, uint32_t widget, PdfTail *tail, bool *ret_catalog) {
        _cleanup_free_ char *text = NULL;
        uint32_t num;
        int r;

        if (info->acroform_present && info->acroform_ref.num > 0) {
                if (info->fields_ref.num > 0 && info->sig_flags > 0 && (info->sig_flags & 3) == 3)
                        /* Only the /Fields array changes. */
                        r = write_array_object(w, info->fields_ref, info->fields_items, widget);
                else {
                        r = acroform_text(w, info, widget, &text);
                        if (r >= 0)
                                r = begin_object(w, info->acroform_ref.num, info->acroform_ref.gen);
                        if (r >= 0) {
                                fputs(text, w->f);
                                end_object(w);
                        }
                }
                if (r < 0)
                        return r;
                if (asprintf(
                            &tail->root_acroform, "%" PRIu32 " %" PRIu32 " R", info->acroform_ref.num,
                            info->acroform_ref.gen) < 0) {
                        tail->root_acroform = NULL;
                        return -ENOMEM;
                }
                *ret_catalog = false;
                return 0;
        }
        if (info->acroform_present) {
                /* A direct AcroForm stays direct, in the rewritten catalog. */
                r = acroform_text(w, info, widget, &tail->root_acroform);
                if (r < 0)
                        return r;
                *ret_catalog = true;
                return 0;
        }
        r = writer_new_object(w, &num);
        if (r >= 0)
                r = begin_dict(w, num, 0, "/Fields ");
        if (r < 0)
                return r;
        write_array_plus(w->f, NULL, widget);
        fputs(" /SigFlags 3", w->f);
        end_dict(w);
        if (asprintf(&tail->root_acroform, "%" PRIu32 " 0 R", num) < 0) {
                tail->root_acroform = NULL;
                return -ENOMEM;
        }
        *ret_catalog = true;
        return 0;
}

static PageText page_text(const PdfPage *p) {
        return (PageText){ p->ref, p->entries, p->annots_ref, p->annots_items };
}

/* A stamp on a page of its own, neither the widget's nor another stamp's (a page is written once). */
static bool stamp_valid(const PdfStampSpec *s, const PdfPage *widget_page) {
        return s->page && s->page->ref.num > 0 && s->page->ref.num != widget_page->ref.num &&
               s->appearance && s->n_appearance > 0 && s->rect.w > 0 && s->rect.h > 0 && s->contents;
}

/* Writes the appearance objects, numbered on from the writer's next object; *ret_ap is the first. */
static int write_appearance(Writer *w, const PdfObjectBody *bodies, size_t n, uint32_t *ret_ap) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < n; i++) {
                uint32_t num = 0;

                r = writer_new_object(w, &num);
                if (r >= 0)
                        r = write_object(w, num, bodies[i].dict, bodies[i].stream, bodies[i].stream_size);
                if (i == 0)
                        *ret_ap = num;
        }
        return r;
}

int pdf_write_signature_update(
        const PdfDocumentInfo *info, const PdfSignatureSpec *spec, PdfSignatureUpdate *ret,
        PdfTail *ret_next) {
        _cleanup_(writer_done) Writer w = {};
        _cleanup_(pdf_tail_done) PdfTail tail = {};
        PdfSignatureUpdate u = {};
        _cleanup_free_ uint32_t *stamp_nums = NULL; /* the stamps' objects, then their /AP /N */
        size_t range_pos = 0, contents_pos = 0;
        uint32_t sig = 0, widget = 0, ap = 0;
        PageText page;
        bool catalog = false;
        char range[BYTE_RANGE_WIDTH + 1];
        uint64_t b, total;
        int r;

        if (!info || !spec || !ret || isempty(spec->field_name) || spec->contents_reserve == 0 ||
            info->size == 0 || info->root.num == 0 || info->page.num == 0 ||
            (spec->page && (spec->n_appearance == 0 || !spec->appearance || spec->page->ref.num == 0 ||
                            !(spec->rect.w > 0) || !(spec->rect.h > 0))))
                return -EINVAL;
        for (size_t i = 0; i < spec->n_stamps; i++) {
                if (!spec->page || !spec->stamps || !stamp_valid(&spec->stamps[i], spec->page))
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (spec->stamps[j].page->ref.num == spec->stamps[i].page->ref.num)
                                return -EINVAL;
        }
        page = spec->page
                       ? page_text(spec->page)
                       : (PageText){ info->page, info->page_entries, info->annots_ref, info->annots_items };
        r = tail_from_info(info, &tail);
        if (r < 0)
                return r;
        r = writer_init(&w, info->size, info->next_object, true);
        if (r < 0)
                return r;
        stamp_nums = calloc(MAX(spec->n_stamps, (size_t) 1) * 2, sizeof(uint32_t));
        if (!stamp_nums)
                return -ENOMEM;

        /* The appearances first: their builders numbered them from info->next_object on. */
        if (spec->page)
                r = write_appearance(&w, spec->appearance, spec->n_appearance, &ap);
        for (size_t i = 0; r >= 0 && i < spec->n_stamps; i++)
                r = write_appearance(
                        &w, spec->stamps[i].appearance, spec->stamps[i].n_appearance,
                        &stamp_nums[spec->n_stamps + i]);
        if (r >= 0)
                r = writer_new_object(&w, &sig);
        if (r >= 0)
                r = writer_new_object(&w, &widget);
        for (size_t i = 0; r >= 0 && i < spec->n_stamps; i++)
                r = writer_new_object(&w, &stamp_nums[i]);
        if (r >= 0)
                r = write_signature_dict(&w, sig, spec, &range_pos, &contents_pos);
        if (r >= 0)
                r = write_widget(&w, widget, sig, spec, page.ref, ap);
        if (r >= 0)
                r = write_page(&w, &page, widget);
        for (size_t i = 0; r >= 0 && i < spec->n_stamps; i++) {
                PageText p = page_text(spec->stamps[i].page);

                r = write_stamp(
                        &w, stamp_nums[i], spec->field_name, &spec->stamps[i],
                        stamp_nums[spec->n_stamps + i]);
                if (r >= 0)
                        r = write_page(&w, &p, stamp_nums[i]);
        }
        if (r >= 0)
                r = write_acroform(&w, info, widget, &tail, &catalog);
        if (r >= 0 && catalog)
                r = write_catalog(&w, &tail, 0);
        if (r < 0)
                return r;
        r = writer_finish(&w, &tail, &u.data, &u.size, &tail);
        if (r < 0)
                return r;

        /* The signed ranges: everything but the /Contents hex string, '<' and '>' included. */
        u.contents_offset = contents_pos;
        u.contents_length = spec->contents_reserve * 2 + 2;
        b = info->size + contents_pos + u.contents_length;
        total = info->size + u.size;
        u.byte_range[0] = 0;
        u.byte_range[1] = info->size + contents_pos;
        u.byte_range[2] = b;
        u.byte_range[3] = total - b;
        r = snprintf(
                range, sizeof range, "[0 %" PRIu64 " %" PRIu64 " %" PRIu64 "]", u.byte_range[1],
                u.byte_range[2], u.byte_range[3]);
        if (r < 0 || (size_t) r > BYTE_RANGE_WIDTH) {
                free(u.data);
                return -EFBIG;
        }
        memset(range + r, ' ', BYTE_RANGE_WIDTH - (size_t) r);
        memcpy(u.data + range_pos, range, BYTE_RANGE_WIDTH);

        *ret = u;
        if (ret_next) {
                *ret_next = tail;
                tail = (PdfTail){};
        }
        return 0;
}

int pdf_signature_update_fill(PdfSignatureUpdate *u, const uint8_t *der, size_t size) {
        char *hex;

        if (!u || !u->data || (!der && size > 0) || u->contents_length < 2)
                return -EINVAL;
        if (size > (u->contents_length - 2) / 2)
                return -ENOBUFS;
        hex = (char *) u->data + u->contents_offset + 1;
        for (size_t i = 0; i < size; i++) {
                hex[2 * i] = hexchar(der[i] >> 4);
                hex[2 * i + 1] = hexchar(der[i] & 0xf);
        }
        memset(hex + 2 * size, '0', u->contents_length - 2 - 2 * size);
        return 0;
}

/* ---- the DSS update */

static int write_stream(Writer *w, uint32_t num, const PdfBlob *b) {
        char dict[64];

        snprintf(dict, sizeof dict, "<< /Length %zu >>", b->size);
        return write_object(w, num, dict, b->data, b->size);
}

/* Writes the distinct blobs as streams; refs[i] is the object of blobs[i]. */
static int write_streams(Writer *w, const PdfBlob *blobs, size_t n, uint32_t *refs) {
        int r;

        for (size_t i = 0; i < n; i++) {
                size_t same = i;

                if (!blobs[i].data || blobs[i].size == 0)
                        return -EINVAL;
                for (size_t j = 0; j < i && same == i; j++)
                        if (blobs[j].size == blobs[i].size &&
                            memcmp(blobs[j].data, blobs[i].data, blobs[i].size) == 0)
                                same = j;
                if (same != i) {
                        refs[i] = refs[same];
                        continue;
                }
                r = writer_new_object(w, &refs[i]);
                if (r < 0)
                        return r;
                r = write_stream(w, refs[i], &blobs[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Drops repeated references (the same blob given twice) from refs, in place; returns the new count. */
static size_t unique_refs(uint32_t *refs, size_t n) {
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                bool seen = false;

                for (size_t j = 0; j < k; j++)
                        seen = seen || refs[j] == refs[i];
                if (!seen)
                        refs[k++] = refs[i];
        }
        return k;
}

int pdf_write_dss_update(const PdfTail *tail, const PdfDssContent *dss, uint8_t **ret, size_t *ret_size) {
        _cleanup_(writer_done) Writer w = {};
        _cleanup_free_ uint32_t *refs = NULL;
        uint32_t *certs, *ocsps, *crls;
        PdfRef dss_ref;
        size_t n_certs, n_ocsps, n_crls, total;
        bool new_dss;
        int r;

        if (!tail || !dss || !ret || !ret_size || tail->end == 0 || tail->root.num == 0)
                return -EINVAL;
        if ((dss->n_certs > 0 && !dss->certs) || (dss->n_ocsps > 0 && !dss->ocsps) ||
            (dss->n_crls > 0 && !dss->crls) || dss->n_certs > 100000 || dss->n_ocsps > 100000 ||
            dss->n_crls > 100000)
                return -EINVAL;
        if (dss->vri_key && (strlen(dss->vri_key) != 40 || strspn(dss->vri_key, "0123456789ABCDEF") != 40))
                return -EINVAL;
        total = dss->n_certs + dss->n_ocsps + dss->n_crls;
        refs = calloc(MAX(total, (size_t) 1), sizeof *refs);
        if (!refs)
                return -ENOMEM;
        certs = refs;
        ocsps = certs + dss->n_certs;
        crls = ocsps + dss->n_ocsps;

        /* The update starts right after the previous one, which ends with a newline. */
        r = writer_init(&w, tail->end, tail->next_object, false);
        if (r < 0)
                return r;
        r = write_streams(&w, dss->certs, dss->n_certs, certs);
        if (r >= 0)
                r = write_streams(&w, dss->ocsps, dss->n_ocsps, ocsps);
        if (r >= 0)
                r = write_streams(&w, dss->crls, dss->n_crls, crls);
        if (r < 0)
                return r;
        n_certs = unique_refs(certs, dss->n_certs);
        n_ocsps = unique_refs(ocsps, dss->n_ocsps);
        n_crls = unique_refs(crls, dss->n_crls);

        /* An indirect DSS is rewritten in place, so the catalog stays as it is. */
        new_dss = tail->dss_ref.num == 0;
        dss_ref = new_dss ? (PdfRef){} : tail->dss_ref;
        if (new_dss)
                r = writer_new_object(&w, &dss_ref.num);
        if (r >= 0)
                r = begin_dict(&w, dss_ref.num, dss_ref.gen, "%s", strempty(tail->dss_entries));
        if (r < 0)
                return r;
        /* An existing /Type is kept rather than written twice. */
        if (!tail->dss_entries || !strstr(tail->dss_entries, "/Type "))
                fputs(isempty(tail->dss_entries) ? "/Type /DSS" : " /Type /DSS", w.f);
        write_ref_array(w.f, "/Certs", tail->dss_certs_items, certs, n_certs);
        write_ref_array(w.f, "/OCSPs", tail->dss_ocsps_items, ocsps, n_ocsps);
        write_ref_array(w.f, "/CRLs", tail->dss_crls_items, crls, n_crls);
        if (tail->dss_vri_entries || dss->vri_key) {
                fprintf(w.f, " /VRI <<%s%s", isempty(tail->dss_vri_entries) ? "" : " ",
                        strempty(tail->dss_vri_entries));
                if (dss->vri_key) {
                        fprintf(w.f, " /%s <<", dss->vri_key);
                        write_ref_array(w.f, "/Cert", NULL, certs, n_certs);
                        write_ref_array(w.f, "/OCSP", NULL, ocsps, n_ocsps);
                        write_ref_array(w.f, "/CRL", NULL, crls, n_crls);
                        fputs(" >>", w.f);
                }
                fputs(" >>", w.f);
        }
        end_dict(&w);
        if (new_dss) {
                r = write_catalog(&w, tail, dss_ref.num);
                if (r < 0)
                        return r;
        }
        return writer_finish(&w, tail, ret, ret_size, NULL);
}
