/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qpdf/qpdf-c.h>

#include "alloc-util.h"
#include "fileio.h"
#include "pdf-appearance.h"
#include "pdf-document.h"
#include "qpdf-dl.h"
#include "string-table.h"

/* Bounds on what is walked in the untrusted form tree: deeper or larger trees are refused, not recursed. */
#define FIELD_DEPTH_MAX 32
#define FIELD_NODES_MAX 20000
/* Where readers look for "%PDF-" and for the last "startxref" (qpdf searches the last 1054 bytes). */
#define HEADER_WINDOW PDF_HEADER_WINDOW
#define STARTXREF_WINDOW 1054
/* The largest object number the writer may reach (PDF's limit is 8388607). */
#define OBJECT_NUMBER_MAX 8000000

struct PdfDocument {
        const uint8_t *data;
        size_t size;
        void *map; /* owned mapping, or NULL for caller's memory */
        size_t map_size;
        int fd;        /* while pdf_document_open_fd() reads it: the caller's file, else -1 */
        int reread_fd; /* a copy of it kept for pdf_document_read_page(), else -1 */
        PdfDocumentInfo info;
};

static const char *const pdf_refusal_table[_PDF_REFUSAL_MAX] = {
        [PDF_REFUSAL_NONE] = "none",
        [PDF_REFUSAL_NOT_PDF] = "not-pdf",
        [PDF_REFUSAL_ENCRYPTED] = "encrypted",
        [PDF_REFUSAL_DAMAGED] = "damaged",
        [PDF_REFUSAL_CERTIFIED_NO_CHANGES] = "certified-no-changes",
        [PDF_REFUSAL_UNSUPPORTED] = "unsupported",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pdf_refusal, PdfRefusal);
DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(pdf_refusal, PdfRefusal);

static const char *const pdf_refusal_advice_table[_PDF_REFUSAL_MAX] = {
        [PDF_REFUSAL_NONE] = "the PDF can be signed",
        [PDF_REFUSAL_NOT_PDF] = "the file is not a PDF document",
        [PDF_REFUSAL_ENCRYPTED] = "the PDF is encrypted: remove the password, then sign",
        [PDF_REFUSAL_DAMAGED] =
                "the PDF is damaged and needs repair: re-save it from its application, then sign",
        [PDF_REFUSAL_CERTIFIED_NO_CHANGES] =
                "the PDF is certified with no changes allowed: it cannot take another signature",
        [PDF_REFUSAL_UNSUPPORTED] =
                "the PDF has a structure kyso cannot sign: re-save it from its application, then sign",
};

const char *pdf_refusal_advice(PdfRefusal r) {
        if (r < 0 || r >= _PDF_REFUSAL_MAX)
                return NULL;
        return pdf_refusal_advice_table[r];
}

int pdf_refusal_to_errno(PdfRefusal r) {
        switch (r) {
        case PDF_REFUSAL_NONE:
                return 0;
        case PDF_REFUSAL_NOT_PDF:
                return -EMEDIUMTYPE;
        case PDF_REFUSAL_ENCRYPTED:
                return -EACCES;
        case PDF_REFUSAL_DAMAGED:
                return -EBADMSG;
        case PDF_REFUSAL_CERTIFIED_NO_CHANGES:
                return -EPERM;
        case PDF_REFUSAL_UNSUPPORTED:
                return -EOPNOTSUPP;
        default:
                return -EINVAL;
        }
}

/* ---- the bytes around the last cross-reference section, read by hand (qpdf's C API does not say) */

static bool is_pdf_space(uint8_t c) {
        return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}

static bool is_pdf_delimiter(uint8_t c) {
        return strchr("()<>[]{}/%", c) && c != '\0';
}

/* Parses a non-negative decimal at data[*pos] (at most 19 digits), moving *pos past it. */
static int parse_uint(const uint8_t *data, size_t size, size_t *pos, uint64_t *ret) {
        uint64_t v = 0;
        size_t i = *pos, n = 0;

        while (i < size && data[i] >= '0' && data[i] <= '9') {
                if (++n > 19)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (data[i] - '0');
                i++;
        }
        if (n == 0)
                return -EBADMSG;
        *pos = i;
        *ret = v;
        return 0;
}

static size_t skip_space(const uint8_t *data, size_t size, size_t i) {
        while (i < size && is_pdf_space(data[i]))
                i++;
        return i;
}

/* The offset after the last "startxref" keyword in the file's tail, as readers find it. */
static int find_startxref(const uint8_t *data, size_t size, uint64_t *ret) {
        size_t start = size > STARTXREF_WINDOW ? size - STARTXREF_WINDOW : 0;

        for (size_t i = size; i >= start + 9; i--) {
                size_t at = i - 9, pos;
                uint64_t v;

                if (memcmp(data + at, "startxref", 9) != 0)
                        continue;
                if (at > 0 && !is_pdf_space(data[at - 1]) && !is_pdf_delimiter(data[at - 1]))
                        continue;
                pos = skip_space(data, size, i);
                if (parse_uint(data, size, &pos, &v) < 0 || v >= size)
                        return -EBADMSG;
                *ret = v;
                return 0;
        }
        return -EBADMSG;
}

/* Whether the trailer dictionary after the table at offset names /XRefStm. Only the bytes up to the next
 * "startxref" are looked at; a string containing the name would make a table look hybrid, which changes
 * nothing in what is written (both get a table without /XRefStm). */
static PdfXrefKind table_kind(const uint8_t *data, size_t size, uint64_t offset) {
        const uint8_t *from = data + offset, *trailer, *end;
        size_t left = size - offset;

        trailer = memmem(from, left, "trailer", 7);
        if (!trailer)
                return PDF_XREF_TABLE;
        left = size - (size_t) (trailer - data);
        end = memmem(trailer, left, "startxref", 9);
        if (end)
                left = (size_t) (end - trailer);
        for (const uint8_t *p = trailer; (p = memmem(p, left - (size_t) (p - trailer), "/XRefStm", 8));
             p += 8)
                if ((size_t) (p - trailer) + 8 < left &&
                    (is_pdf_space(p[8]) || is_pdf_delimiter(p[8]) || (p[8] >= '0' && p[8] <= '9')))
                        return PDF_XREF_HYBRID;
        return PDF_XREF_TABLE;
}

static int xref_kind(const uint8_t *data, size_t size, uint64_t offset, PdfXrefKind *ret) {
        size_t pos = skip_space(data, size, (size_t) offset);
        uint64_t num, gen;

        if (size - pos >= 4 && memcmp(data + pos, "xref", 4) == 0) {
                *ret = table_kind(data, size, pos);
                return 0;
        }
        /* "N G obj": a cross-reference stream (qpdf checked it is one). */
        if (parse_uint(data, size, &pos, &num) < 0)
                return -EBADMSG;
        pos = skip_space(data, size, pos);
        if (parse_uint(data, size, &pos, &gen) < 0)
                return -EBADMSG;
        pos = skip_space(data, size, pos);
        if (size - pos < 3 || memcmp(data + pos, "obj", 3) != 0)
                return -EBADMSG;
        *ret = PDF_XREF_STREAM;
        return 0;
}

/* ---- qpdf */

typedef struct Reader {
        qpdf_data q;
        PdfRefusal refusal;
        SignError *e;
        size_t nodes;
        unsigned highest_object; /* from qpdf's warning about a wrong /Size, 0 when none */
        /* The pages' references sorted, for finding a widget's page: made at the first signed widget. */
        struct PageRef *pages;
        size_t n_pages;
} Reader;

/* Records why the document is refused (the first reason wins) and returns its errno. */
_printf_(3, 4) static int refuse(Reader *rd, PdfRefusal refusal, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;

        if (rd->refusal == PDF_REFUSAL_NONE)
                rd->refusal = refusal;
        if (rd->e && !rd->e->message) {
                va_start(ap, fmt);
                if (vasprintf(&m, fmt, ap) < 0)
                        m = NULL;
                va_end(ap);
                rd->e->message = m;
        }
        return pdf_refusal_to_errno(refusal);
}

/* A qpdf error or warning raised since the last check makes the document damaged: with recovery off,
 * qpdf warns where it would have guessed. */
static int check_qpdf(Reader *rd, const char *what) {
        qpdf_error err;

        if (qpdf_has_error(rd->q)) {
                err = qpdf_get_error(rd->q);
                if (err && qpdf_get_error_code(rd->q, err) == qpdf_e_password)
                        return refuse(rd, PDF_REFUSAL_ENCRYPTED, "%s: the PDF needs a password", what);
                return refuse(
                        rd, PDF_REFUSAL_DAMAGED, "%s: %s", what,
                        err ? qpdf_get_error_full_text(rd->q, err) : "unknown error");
        }
        while (qpdf_more_warnings(rd->q)) {
                unsigned reported, highest;

                err = qpdf_next_warning(rd->q);
                /* A trailer /Size that is not the highest object number + 1 is the one warning that needs no
                 * repair: the update's objects are numbered above both. */
                if (err &&
                    sscanf(qpdf_get_error_message_detail(rd->q, err),
                           "reported number of objects (%u) is not one plus the highest object number "
                           "(%u)",
                           &reported, &highest) == 2 &&
                    highest < OBJECT_NUMBER_MAX) {
                        rd->highest_object = MAX(rd->highest_object, highest);
                        continue;
                }
                return refuse(
                        rd, PDF_REFUSAL_DAMAGED, "%s: %s", what,
                        err ? qpdf_get_error_full_text(rd->q, err) : "unknown warning");
        }
        return 0;
}

static bool oh_is_dict(qpdf_data q, qpdf_oh oh) {
        return qpdf_oh_is_dictionary(q, oh) && !qpdf_oh_is_stream(q, oh);
}

/* dict[key], or null when dict is not a dictionary: qpdf warns (and the document would count as damaged)
 * when asked for a key of anything else, and a missing /Perms is not damage. */
static qpdf_oh dict_get(qpdf_data q, qpdf_oh dict, const char *key) {
        if (!qpdf_oh_is_dictionary(q, dict))
                return qpdf_oh_new_null(q);
        return qpdf_oh_get_key(q, dict, key);
}

static PdfRef oh_ref(qpdf_data q, qpdf_oh oh) {
        int num, gen;

        if (!qpdf_oh_is_indirect(q, oh))
                return (PdfRef){};
        num = qpdf_oh_get_object_id(q, oh);
        gen = qpdf_oh_get_generation(q, oh);
        if (num <= 0 || gen < 0 || gen > 65535)
                return (PdfRef){};
        return (PdfRef){ .num = (uint32_t) num, .gen = (uint32_t) gen };
}

/* A name as PDF text: qpdf gives names decoded ("/A B"); bytes outside the regular characters are written
 * #xx so that the name reads back the same. */
static void write_name(FILE *f, const char *name) {
        fputc('/', f);
        for (const unsigned char *p = (const unsigned char *) name + (name[0] == '/'); *p; p++)
                if (*p < '!' || *p > '~' || *p == '#' || is_pdf_delimiter(*p))
                        fprintf(f, "#%02X", *p);
                else
                        fputc(*p, f);
}

static int oh_write(Reader *rd, FILE *f, qpdf_oh oh) {
        const char *text = qpdf_oh_unparse(rd->q, oh);
        int r = check_qpdf(rd, "cannot read an object");

        if (r < 0)
                return r;
        fputs(text, f);
        return 0;
}

/* Closes the memstream f on *buf, written by a loop that ended with r: the text in *ret, or r, or qpdf's
 * error (about what), or -ENOMEM. */
static int memstream_finish(Reader *rd, FILE *f, char **buf, int r, const char *what, char **ret) {
        if (r >= 0)
                r = check_qpdf(rd, what);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                *buf = mfree(*buf);
                return r;
        }
        *ret = TAKE_PTR(*buf);
        return 0;
}

/* The entries of dict as PDF text, without the keys in skip (names with their slash). */
static int dict_entries(Reader *rd, qpdf_oh dict, const char *const *skip, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        bool first = true;
        int r = 0;

        if (!f)
                return -ENOMEM;
        qpdf_oh_begin_dict_key_iter(rd->q, dict);
        while (r >= 0 && qpdf_oh_dict_more_keys(rd->q)) {
                _cleanup_free_ char *key = strdup(qpdf_oh_dict_next_key(rd->q));
                bool skipped = false;
                qpdf_oh v;

                if (!key) {
                        r = -ENOMEM;
                        break;
                }
                for (const char *const *s = skip; s && *s; s++)
                        if (streq(key, *s))
                                skipped = true;
                if (skipped)
                        continue;
                v = dict_get(rd->q, dict, key);
                if (qpdf_oh_is_null(rd->q, v)) {
                        qpdf_oh_release(rd->q, v);
                        continue;
                }
                if (!first)
                        fputc(' ', f);
                first = false;
                write_name(f, key);
                fputc(' ', f);
                r = oh_write(rd, f, v);
                qpdf_oh_release(rd->q, v);
        }
        return memstream_finish(rd, f, &buf, r, "cannot read a dictionary", ret);
}

/* The items of array as PDF text separated by spaces. */
static int array_items(Reader *rd, qpdf_oh array, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        int n = qpdf_oh_get_array_n_items(rd->q, array), r = 0;

        if (!f)
                return -ENOMEM;
        for (int i = 0; r >= 0 && i < n; i++) {
                qpdf_oh item = qpdf_oh_get_array_item(rd->q, array, i);

                if (i > 0)
                        fputc(' ', f);
                r = oh_write(rd, f, item);
                qpdf_oh_release(rd->q, item);
        }
        return memstream_finish(rd, f, &buf, r, "cannot read an array", ret);
}

/* The items of dict[key] when it is an array ("" when absent or not an array), and its reference when it
 * is an indirect one. */
static int key_array_items(Reader *rd, qpdf_oh dict, const char *key, char **ret, PdfRef *ret_ref) {
        qpdf_oh a = dict_get(rd->q, dict, key);
        int r;

        if (qpdf_oh_is_array(rd->q, a)) {
                if (ret_ref)
                        *ret_ref = oh_ref(rd->q, a);
                r = array_items(rd, a, ret);
        } else {
                if (ret_ref)
                        *ret_ref = (PdfRef){};
                *ret = strdup("");
                r = *ret ? 0 : -ENOMEM;
        }
        qpdf_oh_release(rd->q, a);
        return r;
}

static bool get_int(qpdf_data q, qpdf_oh dict, const char *key, long long *ret) {
        qpdf_oh v = dict_get(q, dict, key);
        bool ok = qpdf_oh_is_integer(q, v);

        if (ok)
                *ret = qpdf_oh_get_int_value(q, v);
        qpdf_oh_release(q, v);
        return ok;
}

/* DocMDP with /P 1 in the catalog's /Perms: the author allowed no change at all, a signature included. Any
 * other /P goes into *ret_p (2 when absent, as the verifier reads it), 0 without a certification. */
static int check_docmdp(Reader *rd, qpdf_oh root, int *ret_p) {
        qpdf_oh perms = dict_get(rd->q, root, "/Perms");
        qpdf_oh sig = dict_get(rd->q, perms, "/DocMDP");
        qpdf_oh refs = dict_get(rd->q, sig, "/Reference");
        int n = qpdf_oh_is_array(rd->q, refs) ? qpdf_oh_get_array_n_items(rd->q, refs) : 0;
        int r = 0;

        *ret_p = qpdf_oh_is_dictionary(rd->q, sig) ? 2 : 0;
        for (int i = 0; i < n && r >= 0; i++) {
                qpdf_oh ref = qpdf_oh_get_array_item(rd->q, refs, i);
                qpdf_oh method = dict_get(rd->q, ref, "/TransformMethod");
                qpdf_oh params = dict_get(rd->q, ref, "/TransformParams");
                long long p = 2; /* the default */

                if (qpdf_oh_is_name_and_equals(rd->q, method, "/DocMDP")) {
                        (void) get_int(rd->q, params, "/P", &p);
                        if (p == 2 || p == 3)
                                *ret_p = (int) p;
                        if (p == 1)
                                r = refuse(
                                        rd, PDF_REFUSAL_CERTIFIED_NO_CHANGES,
                                        "the document is certified with DocMDP /P 1 (no changes allowed)");
                }
                qpdf_oh_release(rd->q, params);
                qpdf_oh_release(rd->q, method);
                qpdf_oh_release(rd->q, ref);
        }
        qpdf_oh_release(rd->q, refs);
        qpdf_oh_release(rd->q, sig);
        qpdf_oh_release(rd->q, perms);
        if (r < 0)
                return r;
        return check_qpdf(rd, "cannot read the document's permissions");
}

/* A rectangle or box: an array of 4 numbers, normalized to [llx lly urx ury]. */
static bool get_box(qpdf_data q, qpdf_oh a, double ret[static 4]) {
        double v[4];

        if (!qpdf_oh_is_array(q, a) || qpdf_oh_get_array_n_items(q, a) != 4)
                return false;
        for (int i = 0; i < 4; i++) {
                qpdf_oh item = qpdf_oh_get_array_item(q, a, i);
                bool ok = qpdf_oh_is_number(q, item);

                v[i] = ok ? qpdf_oh_get_numeric_value(q, item) : 0;
                qpdf_oh_release(q, item);
                if (!ok)
                        return false;
        }
        return pdf_box_normalize(v, ret);
}

typedef struct PageRef {
        PdfRef ref;
        unsigned index;
} PageRef;

static int compare_page_refs(const void *a, const void *b) {
        const PageRef *x = a, *y = b;

        if (x->ref.num != y->ref.num)
                return x->ref.num < y->ref.num ? -1 : 1;
        return x->ref.gen < y->ref.gen ? -1 : x->ref.gen > y->ref.gen;
}

/* The index of the page whose object is ref, -1 when none is. Looked up in a sorted copy of the page list
 * rather than with qpdf_find_page_by_oh(), which raises an error (and the document would count as damaged)
 * for a stale /P, and so that many signed fields on many pages stay cheap. */
static int page_index(Reader *rd, PdfRef ref) {
        PageRef key = { .ref = ref }, *found;

        if (!rd->pages) {
                int n = MAX(qpdf_get_num_pages(rd->q), 0);

                rd->pages = calloc(MAX(n, 1), sizeof(PageRef));
                if (!rd->pages)
                        return -ENOMEM;
                for (int i = 0; i < n; i++) {
                        qpdf_oh page = qpdf_get_page_n(rd->q, (size_t) i);

                        rd->pages[i] = (PageRef){ .ref = oh_ref(rd->q, page), .index = (unsigned) i };
                        qpdf_oh_release(rd->q, page);
                }
                rd->n_pages = (size_t) n;
                qsort(rd->pages, rd->n_pages, sizeof(PageRef), compare_page_refs);
        }
        if (ref.num == 0)
                return -1;
        found = bsearch(&key, rd->pages, rd->n_pages, sizeof(PageRef), compare_page_refs);
        return found ? (int) found->index : -1;
}

/* Records widget (a signed field's widget annotation) when it has a /Rect that is not empty and a /P that
 * is one of the pages; one without either is invisible and cannot take a seal. */
static int record_signed_widget(Reader *rd, qpdf_oh widget, const char *name, PdfDocumentInfo *info) {
        qpdf_oh rect = dict_get(rd->q, widget, "/Rect"), p = dict_get(rd->q, widget, "/P");
        PdfSignedWidget *a, w = {};
        int index = -1;
        bool ok;

        ok = get_box(rd->q, rect, w.rect) && w.rect[2] > w.rect[0] && w.rect[3] > w.rect[1];
        if (ok)
                index = page_index(rd, oh_ref(rd->q, p));
        qpdf_oh_release(rd->q, rect);
        qpdf_oh_release(rd->q, p);
        if (index == -ENOMEM)
                return -ENOMEM;
        if (!ok || index < 0)
                return 0;
        w.page = (unsigned) index;
        w.field_name = strdup(strempty(name));
        if (!w.field_name)
                return -ENOMEM;
        a = ARRAY_APPEND(info->signed_widgets, info->n_signed_widgets);
        if (!a) {
                free(w.field_name);
                return -ENOMEM;
        }
        *a = w;
        return 0;
}

/* The widgets of a signed field: the field itself when merged with its widget, else its /Kids that have a
 * /Rect and no /T. */
static int record_signed_widgets(Reader *rd, qpdf_oh field, const char *name, PdfDocumentInfo *info) {
        qpdf_oh kids;
        int n, r = 0;

        if (qpdf_oh_has_key(rd->q, field, "/Rect"))
                return record_signed_widget(rd, field, name, info);
        kids = dict_get(rd->q, field, "/Kids");
        n = qpdf_oh_is_array(rd->q, kids) ? qpdf_oh_get_array_n_items(rd->q, kids) : 0;
        for (int i = 0; r >= 0 && i < n; i++) {
                qpdf_oh kid = qpdf_oh_get_array_item(rd->q, kids, i);

                if (oh_is_dict(rd->q, kid) && !qpdf_oh_has_key(rd->q, kid, "/T"))
                        r = record_signed_widget(rd, kid, name, info);
                qpdf_oh_release(rd->q, kid);
        }
        qpdf_oh_release(rd->q, kids);
        return r;
}

/* Collects the fully qualified names of the fields under node (a field dictionary or the /Fields array),
 * bounded in depth and in the number of nodes (a /Kids loop ends there). */
static int walk_fields(Reader *rd, qpdf_oh node, const char *prefix, unsigned depth, PdfDocumentInfo *info) {
        _cleanup_free_ char *name = NULL;
        qpdf_oh kids, t, ft, v;
        int r = 0;

        if (depth > FIELD_DEPTH_MAX || ++rd->nodes > FIELD_NODES_MAX)
                return refuse(rd, PDF_REFUSAL_UNSUPPORTED, "the form's field tree is too deep or too large");
        if (qpdf_oh_is_array(rd->q, node)) {
                int n = qpdf_oh_get_array_n_items(rd->q, node);

                for (int i = 0; r >= 0 && i < n; i++) {
                        qpdf_oh kid = qpdf_oh_get_array_item(rd->q, node, i);
                        r = walk_fields(rd, kid, prefix, depth + 1, info);
                        qpdf_oh_release(rd->q, kid);
                }
                return r;
        }
        if (!oh_is_dict(rd->q, node))
                return 0;

        t = dict_get(rd->q, node, "/T");
        if (qpdf_oh_is_string(rd->q, t)) {
                const char *part = qpdf_oh_get_utf8_value(rd->q, t);

                if (asprintf(&name, "%s%s%s", strempty(prefix), isempty(prefix) ? "" : ".", part) < 0) {
                        name = NULL;
                        r = -ENOMEM;
                } else
                        r = strv_extend(&info->field_names, name);
        }
        qpdf_oh_release(rd->q, t);
        if (r < 0)
                return r;

        ft = dict_get(rd->q, node, "/FT");
        v = dict_get(rd->q, node, "/V");
        if (qpdf_oh_is_name_and_equals(rd->q, ft, "/Sig") && oh_is_dict(rd->q, v)) {
                info->n_signatures++;
                r = record_signed_widgets(rd, node, name ?: prefix, info);
        }
        qpdf_oh_release(rd->q, v);
        qpdf_oh_release(rd->q, ft);
        if (r < 0)
                return r;

        kids = dict_get(rd->q, node, "/Kids");
        if (qpdf_oh_is_array(rd->q, kids))
                r = walk_fields(rd, kids, name ?: prefix, depth + 1, info);
        qpdf_oh_release(rd->q, kids);
        return r;
}

static int read_acroform(Reader *rd, qpdf_oh root, PdfDocumentInfo *info) {
        static const char *const skip[] = { "/Fields", "/SigFlags", NULL };
        qpdf_oh form = dict_get(rd->q, root, "/AcroForm"), fields;
        long long flags = 0;
        int r;

        if (!oh_is_dict(rd->q, form)) {
                /* None, or something that is not a form: the update writes a new one. */
                qpdf_oh_release(rd->q, form);
                info->fields_items = strdup("");
                return info->fields_items ? 0 : -ENOMEM;
        }
        info->acroform_present = true;
        info->acroform_ref = oh_ref(rd->q, form);
        r = dict_entries(rd, form, skip, &info->acroform_entries);
        if (r >= 0 && get_int(rd->q, form, "/SigFlags", &flags))
                info->sig_flags = flags;
        if (r >= 0)
                r = key_array_items(rd, form, "/Fields", &info->fields_items, &info->fields_ref);
        if (r >= 0) {
                fields = dict_get(rd->q, form, "/Fields");
                r = walk_fields(rd, fields, NULL, 0, info);
                qpdf_oh_release(rd->q, fields);
        }
        qpdf_oh_release(rd->q, form);
        if (r < 0)
                return r;
        return check_qpdf(rd, "cannot read the form");
}

static int read_dss(Reader *rd, qpdf_oh root, PdfDocumentInfo *info) {
        static const char *const skip[] = { "/Certs", "/OCSPs", "/CRLs", "/VRI", NULL };
        qpdf_oh dss = dict_get(rd->q, root, "/DSS"), vri;
        int r = 0;

        if (oh_is_dict(rd->q, dss)) {
                info->dss_present = true;
                info->dss_ref = oh_ref(rd->q, dss);
                r = dict_entries(rd, dss, skip, &info->dss_entries);
                if (r >= 0)
                        r = key_array_items(rd, dss, "/Certs", &info->dss_certs_items, NULL);
                if (r >= 0)
                        r = key_array_items(rd, dss, "/OCSPs", &info->dss_ocsps_items, NULL);
                if (r >= 0)
                        r = key_array_items(rd, dss, "/CRLs", &info->dss_crls_items, NULL);
                vri = dict_get(rd->q, dss, "/VRI");
                if (r >= 0 && oh_is_dict(rd->q, vri))
                        r = dict_entries(rd, vri, NULL, &info->dss_vri_entries);
                qpdf_oh_release(rd->q, vri);
        }
        qpdf_oh_release(rd->q, dss);
        if (r < 0)
                return r;
        return check_qpdf(rd, "cannot read the document security store");
}

static int read_page(Reader *rd, PdfDocumentInfo *info) {
        static const char *const skip[] = { "/Annots", NULL };
        int n = qpdf_get_num_pages(rd->q), r;
        qpdf_oh page;

        r = check_qpdf(rd, "cannot read the page tree");
        if (r < 0)
                return r;
        if (n <= 0)
                return refuse(rd, PDF_REFUSAL_UNSUPPORTED, "the document has no pages");
        info->n_pages = (unsigned) n;
        page = qpdf_get_page_n(rd->q, 0);
        info->page = oh_ref(rd->q, page);
        if (!oh_is_dict(rd->q, page) || info->page.num == 0) {
                qpdf_oh_release(rd->q, page);
                return refuse(rd, PDF_REFUSAL_UNSUPPORTED, "the first page is not an indirect dictionary");
        }
        r = dict_entries(rd, page, skip, &info->page_entries);
        if (r >= 0)
                r = key_array_items(rd, page, "/Annots", &info->annots_items, &info->annots_ref);
        qpdf_oh_release(rd->q, page);
        if (r < 0)
                return r;
        return check_qpdf(rd, "cannot read the first page");
}

static int read_trailer(Reader *rd, PdfDocumentInfo *info) {
        qpdf_oh trailer = qpdf_get_trailer(rd->q), v;
        long long size = 0;
        int r = 0;

        if (!get_int(rd->q, trailer, "/Size", &size) || size <= 0 || size > OBJECT_NUMBER_MAX)
                r = refuse(rd, PDF_REFUSAL_DAMAGED, "the trailer has no valid /Size");
        info->next_object = (uint32_t) MAX((unsigned long long) size, rd->highest_object + 1ULL);
        v = dict_get(rd->q, trailer, "/Info");
        if (oh_is_dict(rd->q, v))
                info->info = oh_ref(rd->q, v);
        qpdf_oh_release(rd->q, v);
        v = dict_get(rd->q, trailer, "/ID");
        if (r >= 0 && qpdf_oh_is_array(rd->q, v) && qpdf_oh_get_array_n_items(rd->q, v) == 2) {
                info->id = strdup(qpdf_oh_unparse(rd->q, v));
                if (!info->id)
                        r = -ENOMEM;
        }
        qpdf_oh_release(rd->q, v);
        qpdf_oh_release(rd->q, trailer);
        if (r < 0)
                return r;
        return check_qpdf(rd, "cannot read the trailer");
}

/* Starts qpdf on the document, recovery off. A file is read by qpdf through its own buffered reads: given
 * the mapping instead, qpdf makes every page of it resident (93 MB of a 100 MB PDF; kysod must stay under
 * 64 MiB). Memory is read in place (processMemoryFile wraps it without a copy). */
static void qpdf_begin(Reader *rd, const uint8_t *data, size_t size, int fd) {
        char path[sizeof("/proc/self/fd/") + 12];

        qpdf_silence_errors(rd->q);
        qpdf_set_suppress_warnings(rd->q, QPDF_TRUE);
        qpdf_set_attempt_recovery(rd->q, QPDF_FALSE);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (fd >= 0 && access(path, R_OK) >= 0)
                (void) qpdf_read(rd->q, path, NULL);
        else
                (void) qpdf_read_memory(rd->q, "document", (const char *) data, size, NULL);
}

static int read_document(Reader *rd, const uint8_t *data, size_t size, int fd, PdfDocumentInfo *info) {
        static const char *const root_skip[] = { "/AcroForm", "/DSS", NULL };
        qpdf_oh root;
        int r;

        qpdf_begin(rd, data, size, fd);
        r = check_qpdf(rd, "cannot read the PDF");
        if (r < 0)
                return r;
        if (qpdf_is_encrypted(rd->q))
                return refuse(rd, PDF_REFUSAL_ENCRYPTED, "the PDF is encrypted");
        info->pdf_version = strdup(qpdf_get_pdf_version(rd->q));
        if (!info->pdf_version)
                return -ENOMEM;

        r = read_trailer(rd, info);
        if (r < 0)
                return r;
        root = qpdf_get_root(rd->q);
        info->root = oh_ref(rd->q, root);
        if (!oh_is_dict(rd->q, root) || info->root.num == 0) {
                qpdf_oh_release(rd->q, root);
                r = check_qpdf(rd, "cannot read the catalog");
                return r < 0 ? r
                             : refuse(rd, PDF_REFUSAL_DAMAGED, "the catalog is not an indirect dictionary");
        }
        r = check_docmdp(rd, root, &info->docmdp_p);
        if (r >= 0)
                r = dict_entries(rd, root, root_skip, &info->root_entries);
        if (r >= 0)
                r = read_acroform(rd, root, info);
        if (r >= 0)
                r = read_dss(rd, root, info);
        qpdf_oh_release(rd->q, root);
        if (r >= 0)
                r = read_page(rd, info);
        return r;
}

static void info_done(PdfDocumentInfo *i) {
        free(i->id);
        free(i->pdf_version);
        free(i->root_entries);
        free(i->acroform_entries);
        free(i->fields_items);
        free(i->page_entries);
        free(i->annots_items);
        free(i->dss_entries);
        free(i->dss_vri_entries);
        free(i->dss_certs_items);
        free(i->dss_ocsps_items);
        free(i->dss_crls_items);
        strv_free(i->field_names);
        for (size_t k = 0; k < i->n_signed_widgets; k++)
                free(i->signed_widgets[k].field_name);
        free(i->signed_widgets);
        *i = (PdfDocumentInfo){};
}

static unsigned count_revisions(const PdfDocument *d);

static int document_read(PdfDocument *d, PdfRefusal *ret_refusal, SignError *e) {
        Reader rd = { .refusal = PDF_REFUSAL_NONE, .e = e };
        PdfDocumentInfo *info = &d->info;
        int r;

        if (!pdf_looks_like_pdf(d->data, d->size))
                r = refuse(
                        &rd, PDF_REFUSAL_NOT_PDF, "no %%PDF- header in the first %d bytes", HEADER_WINDOW);
        else if ((uint64_t) d->size > PDF_DOCUMENT_MAX_SIZE)
                r =
                        refuse(&rd, PDF_REFUSAL_UNSUPPORTED, "the PDF is larger than %" PRIu64 " bytes",
                               PDF_DOCUMENT_MAX_SIZE);
        else if (
                find_startxref(d->data, d->size, &info->startxref) < 0 ||
                xref_kind(d->data, d->size, info->startxref, &info->xref_kind) < 0)
                r = refuse(&rd, PDF_REFUSAL_DAMAGED, "no valid startxref at the end of the file");
        else {
                info->size = d->size;
                info->revisions = count_revisions(d);
                info->field_names = calloc(1, sizeof(char *));
                rd.q = qpdf_init();
                if (!info->field_names || !rd.q)
                        r = -ENOMEM;
                else
                        r = read_document(&rd, d->data, d->size, d->fd, info);
                if (rd.q)
                        qpdf_cleanup(&rd.q);
                free(rd.pages);
        }
        if (r < 0 && rd.refusal == PDF_REFUSAL_NONE && e && !e->message)
                (void) sign_error(e, r, "cannot read the PDF: %s", strerror(-r));
        if (ret_refusal)
                *ret_refusal = rd.refusal;
        return r;
}

static int document_new(const void *data, size_t size, void *map, PdfDocument **ret) {
        PdfDocument *d = calloc(1, sizeof *d);

        if (!d)
                return -ENOMEM;
        d->data = data;
        d->size = size;
        d->map = map;
        d->map_size = map ? size : 0;
        d->fd = d->reread_fd = -1;
        *ret = d;
        return 0;
}

static int document_open(PdfDocument *d, PdfDocument **ret, PdfRefusal *ret_refusal, SignError *e) {
        _cleanup_(pdf_document_freep) PdfDocument *owned = d;
        int r = document_read(d, ret_refusal, e);

        if (r < 0)
                return r;
        *ret = TAKE_PTR(owned);
        return 0;
}

int pdf_document_open_memory(
        const void *data, size_t size, PdfDocument **ret, PdfRefusal *ret_refusal, SignError *e) {
        PdfDocument *d;
        int r;

        if (ret_refusal)
                *ret_refusal = PDF_REFUSAL_NONE;
        if (!data || !ret)
                return sign_error(e, -EINVAL, "missing arguments");
        r = document_new(data, size, NULL, &d);
        if (r < 0)
                return sign_error(e, r, "out of memory");
        return document_open(d, ret, ret_refusal, e);
}

int pdf_document_open_fd(int fd, PdfDocument **ret, PdfRefusal *ret_refusal, SignError *e) {
        PdfDocument *d;
        struct stat st;
        void *map;
        int r;

        if (ret_refusal)
                *ret_refusal = PDF_REFUSAL_NONE;
        if (fd < 0 || !ret)
                return sign_error(e, -EINVAL, "missing arguments");
        if (fstat(fd, &st) < 0)
                return sign_error(e, -errno, "cannot stat the PDF: %m");
        if (!S_ISREG(st.st_mode))
                return sign_error(e, -EBADFD, "the PDF is not a regular file");
        if (st.st_size == 0) {
                if (ret_refusal)
                        *ret_refusal = PDF_REFUSAL_NOT_PDF;
                return sign_error(e, -EMEDIUMTYPE, "the file is empty");
        }
        if ((uint64_t) st.st_size > PDF_DOCUMENT_MAX_SIZE || (uint64_t) st.st_size > SIZE_MAX) {
                if (ret_refusal)
                        *ret_refusal = PDF_REFUSAL_UNSUPPORTED;
                return sign_error(e, -EOPNOTSUPP, "the PDF is too large");
        }
        map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
                return sign_error(e, -errno, "cannot map the PDF: %m");
        r = document_new(map, (size_t) st.st_size, map, &d);
        if (r < 0) {
                munmap(map, (size_t) st.st_size);
                return sign_error(e, r, "out of memory");
        }
        d->fd = fd;
        r = document_open(d, ret, ret_refusal, e);
        if (r >= 0) {
                (*ret)->fd = -1;
                /* Without the copy a page is read again from the mapping: correct, but all resident. */
                (*ret)->reread_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        }
        return r;
}

int pdf_temporary_fd(void) {
        const char *dirs[] = { getenv("TMPDIR"), "/var/tmp", "/tmp" };
        int fd;

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                if (!dirs[i] || dirs[i][0] != '/')
                        continue;
                fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                if (fd >= 0)
                        return fd;
        }
        fd = memfd_create("kyso-pdf", MFD_CLOEXEC);
        return fd >= 0 ? fd : -errno;
}

PdfDocument *pdf_document_free(PdfDocument *d) {
        if (!d)
                return NULL;
        info_done(&d->info);
        if (d->reread_fd >= 0)
                close(d->reread_fd);
        if (d->map)
                munmap(d->map, d->map_size);
        free(d);
        return NULL;
}

const PdfDocumentInfo *pdf_document_info(const PdfDocument *d) {
        return d ? &d->info : NULL;
}

const uint8_t *pdf_document_data(const PdfDocument *d, size_t *ret_size) {
        if (!d)
                return NULL;
        if (ret_size)
                *ret_size = d->size;
        return d->data;
}

/* Feeds the original bytes to fn in chunks. Pages of a mapping are released once used: they stay in the
 * page cache, but the process's resident memory stays at one chunk however large the document. */
#define CHUNK_SIZE ((size_t) 1 << 20)
static int document_chunks(
        const PdfDocument *d, int (*fn)(void *userdata, const uint8_t *p, size_t n), void *userdata) {
        long page = sysconf(_SC_PAGESIZE);
        size_t released = 0;
        int r;

        if (d->map)
                (void) madvise(d->map, d->map_size, MADV_SEQUENTIAL);
        for (size_t off = 0; off < d->size; off += CHUNK_SIZE) {
                size_t n = MIN(CHUNK_SIZE, d->size - off), done;

                r = fn(userdata, d->data + off, n);
                if (r < 0)
                        return r;
                done = off + n;
                if (d->map && page > 0 && done - released >= 4 * CHUNK_SIZE) {
                        size_t upto = done / (size_t) page * (size_t) page;
                        (void) madvise((uint8_t *) d->map + released, upto - released, MADV_DONTNEED);
                        released = upto;
                }
        }
        return 0;
}

/* Revisions end with "%%EOF" (a linearized file has one more, after its first-page section). Counted over
 * chunks, with the 4 bytes before each chunk carried over so that a marker across a boundary counts. */
typedef struct EofCounter {
        unsigned n;
        uint8_t tail[4];
        size_t tail_size;
} EofCounter;

static int count_chunk(void *userdata, const uint8_t *p, size_t n) {
        EofCounter *c = userdata;
        uint8_t edge[8];
        size_t k = MIN(n, (size_t) 4);

        memcpy(edge, c->tail, c->tail_size);
        memcpy(edge + c->tail_size, p, k);
        if (c->tail_size > 0 && memmem(edge, c->tail_size + k, "%%EOF", 5) &&
            !memmem(edge + c->tail_size, k, "%%EOF", 5))
                c->n++;
        for (const uint8_t *q = p; (q = memmem(q, n - (size_t) (q - p), "%%EOF", 5)); q += 5)
                if (c->n < UINT_MAX)
                        c->n++;
        c->tail_size = MIN(n, (size_t) 4);
        memcpy(c->tail, p + n - c->tail_size, c->tail_size);
        return 0;
}

static unsigned count_revisions(const PdfDocument *d) {
        EofCounter c = {};

        (void) document_chunks(d, count_chunk, &c);
        return MAX(c.n, 1U);
}

static int digest_chunk(void *userdata, const uint8_t *p, size_t n) {
        return content_digests_update(userdata, p, n);
}

int pdf_document_digest(const PdfDocument *d, ContentDigests *c) {
        if (!d || !c)
                return -EINVAL;
        return document_chunks(d, digest_chunk, c);
}

static int write_chunk(void *userdata, const uint8_t *p, size_t n) {
        return loop_write(*(int *) userdata, p, n);
}

int pdf_document_write_original(const PdfDocument *d, int fd) {
        if (!d || fd < 0)
                return -EINVAL;
        return document_chunks(d, write_chunk, &fd);
}

/* ---- one page, read again */

void pdf_page_done(PdfPage *p) {
        if (!p)
                return;
        free(p->entries);
        free(p->annots_items);
        *p = (PdfPage){};
}

/* page[key], or the nearest /Parent's (MediaBox, CropBox and Rotate are inheritable), bounded in depth. The
 * result is owned by the caller. */
static qpdf_oh get_inherited(qpdf_data q, qpdf_oh page, const char *key) {
        qpdf_oh node = page, v = qpdf_oh_new_null(q);

        for (unsigned depth = 0; depth <= FIELD_DEPTH_MAX && oh_is_dict(q, node); depth++) {
                qpdf_oh parent;

                if (qpdf_oh_has_key(q, node, key)) {
                        qpdf_oh_release(q, v);
                        v = qpdf_oh_get_key(q, node, key);
                        break;
                }
                parent = qpdf_oh_get_key(q, node, "/Parent");
                if (node != page)
                        qpdf_oh_release(q, node);
                node = parent;
        }
        if (node != page)
                qpdf_oh_release(q, node);
        return v;
}

static int read_page_geometry(Reader *rd, qpdf_oh page, PdfPage *p) {
        qpdf_oh media = get_inherited(rd->q, page, "/MediaBox");
        qpdf_oh crop = get_inherited(rd->q, page, "/CropBox");
        qpdf_oh rotate = get_inherited(rd->q, page, "/Rotate");
        long long rot = 0;
        int r = 0;

        if (!get_box(rd->q, media, p->media))
                r = sign_error(rd->e, -EOPNOTSUPP, "page %u has no valid /MediaBox", p->index + 1);
        p->has_crop = get_box(rd->q, crop, p->crop);
        if (qpdf_oh_is_integer(rd->q, rotate))
                rot = qpdf_oh_get_int_value(rd->q, rotate);
        if (r >= 0 && (rot < INT_MIN || rot > INT_MAX || pdf_rotate_normalize((long) rot, &p->rotate) < 0))
                r = sign_error(rd->e, -EOPNOTSUPP, "page %u has an invalid /Rotate", p->index + 1);
        qpdf_oh_release(rd->q, media);
        qpdf_oh_release(rd->q, crop);
        qpdf_oh_release(rd->q, rotate);
        return r;
}

static int read_one_page(Reader *rd, const PdfDocument *d, unsigned index, PdfPage *p) {
        static const char *const skip[] = { "/Annots", NULL };
        qpdf_oh page;
        int r;

        qpdf_begin(rd, d->data, d->size, d->reread_fd);
        if (qpdf_has_error(rd->q))
                return sign_error(rd->e, -EBADMSG, "cannot read the PDF again");
        if (index >= (unsigned) MAX(qpdf_get_num_pages(rd->q), 0))
                return sign_error(rd->e, -ENXIO, "the document has no page %u", index + 1);
        page = qpdf_get_page_n(rd->q, index);
        p->index = index;
        p->ref = oh_ref(rd->q, page);
        if (!oh_is_dict(rd->q, page) || p->ref.num == 0)
                r = sign_error(rd->e, -EOPNOTSUPP, "page %u is not an indirect dictionary", index + 1);
        else
                r = dict_entries(rd, page, skip, &p->entries);
        if (r >= 0)
                r = key_array_items(rd, page, "/Annots", &p->annots_items, &p->annots_ref);
        if (r >= 0)
                r = read_page_geometry(rd, page, p);
        qpdf_oh_release(rd->q, page);
        if (r >= 0 && qpdf_has_error(rd->q))
                r = sign_error(rd->e, -EBADMSG, "cannot read page %u", index + 1);
        return r;
}

int pdf_document_read_page(const PdfDocument *d, unsigned index, PdfPage *ret, SignError *e) {
        _cleanup_(pdf_page_done) PdfPage p = {};
        Reader rd = { .refusal = PDF_REFUSAL_NONE, .e = e };
        int r;

        if (!d || !ret)
                return sign_error(e, -EINVAL, "missing arguments");
        rd.q = qpdf_init();
        if (!rd.q)
                return sign_error(e, -ENOMEM, "out of memory");
        r = read_one_page(&rd, d, index, &p);
        qpdf_cleanup(&rd.q);
        if (r < 0)
                return r;
        *ret = p;
        p = (PdfPage){};
        return 0;
}
