/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "i18n.h"
#include "macro.h"
#include "pdf-diff.h"
#include "pdf-document.h"
#include "qpdf-dl.h"
#include "string-table.h"

/* Arrays (/Annots, /Fields) longer than this are not compared item by item: the change is refused. */
#define MAX_ARRAY_COMPARE 4096
/* How deep and how wide the walk below /DSS goes. */
#define MAX_DSS_DEPTH 4
#define MAX_DSS_VISITS 65536

static const char *const pdf_diff_verdict_table[_PDF_DIFF_VERDICT_MAX] = {
        [PDF_DIFF_ALLOWED] = "allowed",
        [PDF_DIFF_DISALLOWED] = "disallowed",
        [PDF_DIFF_DOCMDP_VIOLATION] = "docmdp-violation",
        [PDF_DIFF_UNREADABLE] = "unreadable",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pdf_diff_verdict, PdfDiffVerdict);

/* qpdf on memory (path NULL) or on a file, recovery off; NULL when it cannot be read. */
static qpdf_data qpdf_open(const void *data, size_t size, const char *path) {
        qpdf_data q = qpdf_init();

        if (!q)
                return NULL;
        qpdf_silence_errors(q);
        qpdf_set_suppress_warnings(q, QPDF_TRUE);
        /* A verifier must see the file as written: a damaged file fails instead of being repaired. */
        qpdf_set_attempt_recovery(q, QPDF_FALSE);
        if ((path ? qpdf_read(q, path, NULL) : qpdf_read_memory(q, "pdf", data, size, NULL)) & QPDF_ERRORS) {
                (void) qpdf_get_error(q); /* else qpdf_cleanup() complains on stderr */
                qpdf_cleanup(&q);
                return NULL;
        }
        return q;
}

/* The first n bytes of fd in a private file: in the kernel when it can (copy_file_range), else through a
 * small buffer. -ESTALE when fd is shorter than n. */
static int copy_prefix(int fd, uint64_t n, int *ret) {
        _cleanup_close_ int out = pdf_temporary_fd();
        loff_t in_off = 0;
        uint64_t done = 0;

        if (out < 0)
                return out;
        while (done < n) {
                ssize_t k = copy_file_range(
                        fd, &in_off, out, NULL, (size_t) MIN(n - done, (uint64_t) 1 << 30), 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        break;
                if (k == 0)
                        return -ESTALE;
                done += (uint64_t) k;
        }
        if (done < n) {
                _cleanup_free_ uint8_t *buf = malloc(1 << 20);
                if (!buf)
                        return -ENOMEM;
                if (lseek(out, (off_t) done, SEEK_SET) < 0)
                        return -errno;
                while (done < n) {
                        ssize_t k = pread(fd, buf, (size_t) MIN(n - done, (uint64_t) 1 << 20), (off_t) done);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0)
                                return -errno;
                        if (k == 0)
                                return -ESTALE;
                        int r = loop_write(out, buf, (size_t) k);
                        if (r < 0)
                                return r;
                        done += (uint64_t) k;
                }
        }
        *ret = TAKE_FD(out);
        return 0;
}

int pdf_source_qpdf_open(const PdfSource *s, uint64_t end, qpdf_data *ret) {
        char path[sizeof("/proc/self/fd/") + 12];
        _cleanup_close_ int copy = -1;
        int r;

        if (!s || end > s->size || !ret)
                return -EINVAL;
        if (s->data) {
                *ret = qpdf_open(s->data, (size_t) end, NULL);
                return 0;
        }
        /* qpdf reads a file through its own buffered reads: given a mapping instead it makes most of the
         * document resident. A prefix (a revision before the last) is given as a private copy of it. */
        if (end < s->size) {
                r = copy_prefix(s->fd, end, &copy);
                if (r < 0)
                        return r;
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", copy >= 0 ? copy : s->fd);
        *ret = qpdf_open(NULL, 0, path);
        return 0;
}

qpdf_oh pdf_oh_key(qpdf_data q, qpdf_oh oh, const char *key) {
        if (qpdf_oh_is_stream(q, oh))
                oh = qpdf_oh_get_dict(q, oh);
        if (!qpdf_oh_is_dictionary(q, oh))
                return qpdf_oh_new_null(q);
        return qpdf_oh_get_key(q, oh, key);
}

qpdf_oh pdf_root(qpdf_data q) {
        return pdf_oh_key(q, qpdf_get_trailer(q), "/Root");
}

void pdf_qpdf_closep(qpdf_data *q) {
        if (q && *q)
                qpdf_cleanup(q);
}

/* unparse results live in q until the next call: keep a copy. */
static char *unparse_copy(qpdf_data q, qpdf_oh oh) {
        const char *s = qpdf_oh_unparse_resolved(q, oh);
        size_t l = qpdf_get_last_string_length(q);
        char *c;

        if (!s)
                return NULL;
        c = malloc(l + 1);
        if (!c)
                return NULL;
        memcpy(c, s, l);
        c[l] = 0;
        return c;
}

static bool unparse_equal(qpdf_data qa, qpdf_oh a, qpdf_data qb, qpdf_oh b) {
        _cleanup_free_ char *x = unparse_copy(qa, a);
        _cleanup_free_ char *y = unparse_copy(qb, b);

        return x && y && streq(x, y);
}

bool pdf_object_equal(qpdf_data qa, qpdf_oh a, qpdf_data qb, qpdf_oh b) {
        unsigned char *da = NULL, *db = NULL;
        size_t la = 0, lb = 0;
        bool eq;

        if (qpdf_oh_is_stream(qa, a) != qpdf_oh_is_stream(qb, b))
                return false;
        if (!qpdf_oh_is_stream(qa, a))
                return unparse_equal(qa, a, qb, b);

        if (!unparse_equal(qa, qpdf_oh_get_dict(qa, a), qb, qpdf_oh_get_dict(qb, b)))
                return false;
        if (qpdf_oh_get_stream_data(qa, a, qpdf_dl_none, NULL, &da, &la) != QPDF_SUCCESS ||
            qpdf_oh_get_stream_data(qb, b, qpdf_dl_none, NULL, &db, &lb) != QPDF_SUCCESS)
                eq = false;
        else
                eq = la == lb && (la == 0 || memcmp(da, db, la) == 0);
        free(da);
        free(db);
        return eq;
}

typedef struct Touched {
        uint32_t number;
        uint32_t generation;
        PdfXrefEntryKind kind;
        unsigned revision;
} Touched;

static int touched_cmp(const void *x, const void *y) {
        const Touched *a = x, *b = y;

        if (a->number != b->number)
                return a->number < b->number ? -1 : 1;
        /* The latest revision first: it is the one in force. */
        return a->revision > b->revision ? -1 : a->revision < b->revision ? 1 : 0;
}

typedef struct Ctx {
        qpdf_data old_q, new_q;
        int old_root, old_acroform, old_info, old_metadata;
        int docmdp_p; /* the certification's /P when the signature analysed is one, else 0 */
        /* Changed objects allowed for what they are (the document information, the metadata, validation
         * data below /DSS), with their revision: the document itself must not use them too. */
        Touched *side;
        size_t n_side, allocated_side;
        PdfDiff *d;
        /* Numbers the signed revision does not have and a later one defines, sorted, with their revision. */
        uint32_t *added;
        unsigned *added_revision;
        size_t n_added, allocated_added;
        /* The revisions' ends and the objects they touched (sorted, the latest entry first): what a text
         * stamp is checked against. */
        const PdfRevision *revs;
        size_t n_revs;
        const Touched *touched;
        size_t n_touched;
        /* The object numbers of the signed pages' indirect /Annots arrays, sorted; read once. */
        int *page_annots;
        size_t n_page_annots;
        bool page_annots_read;
        size_t n_text_stamps; /* of d->stamps, those of kind PDF_CHANGE_STAMP */
        int error;            /* a negative errno met where a bool is returned */
} Ctx;

static int oid(qpdf_data q, qpdf_oh oh) {
        return qpdf_oh_is_indirect(q, oh) ? qpdf_oh_get_object_id(q, oh) : 0;
}

static bool is_type(qpdf_data q, qpdf_oh dict, const char *key, const char *name) {
        return qpdf_oh_is_dictionary(q, dict) &&
               qpdf_oh_is_name_and_equals(q, pdf_oh_key(q, dict, key), name);
}

/* What a reader of the message would call object n of the signed document. */
static PdfObjectRole describe(qpdf_data q, int n, unsigned *ret_page) {
        int pages = qpdf_get_num_pages(q);
        qpdf_oh o;

        *ret_page = 0;
        if (n == qpdf_oh_get_object_id(q, pdf_root(q)))
                return PDF_OBJECT_CATALOG;
        if (n == oid(q, pdf_oh_key(q, pdf_root(q), "/AcroForm")))
                return PDF_OBJECT_INTERACTIVE_FORM;
        if (n == oid(q, pdf_oh_key(q, pdf_oh_key(q, pdf_root(q), "/AcroForm"), "/Fields")))
                return PDF_OBJECT_FIELD_LIST;
        for (int i = 0; i < pages && i < 100000; i++) {
                qpdf_oh p = qpdf_get_page_n(q, (size_t) i), c;
                PdfObjectRole role = _PDF_OBJECT_ROLE_INVALID;

                c = pdf_oh_key(q, p, "/Contents");
                if (oid(q, p) == n)
                        role = PDF_OBJECT_PAGE;
                else if (oid(q, c) == n)
                        role = PDF_OBJECT_PAGE_CONTENT;
                else if (qpdf_oh_is_array(q, c)) {
                        for (int j = 0; j < qpdf_oh_get_array_n_items(q, c) && j < 10000; j++)
                                if (oid(q, qpdf_oh_get_array_item(q, c, j)) == n)
                                        role = PDF_OBJECT_PAGE_CONTENT;
                }
                if (role < 0 && oid(q, pdf_oh_key(q, p, "/Resources")) == n)
                        role = PDF_OBJECT_PAGE_RESOURCES;
                if (role < 0 && oid(q, pdf_oh_key(q, p, "/Annots")) == n)
                        role = PDF_OBJECT_PAGE_ANNOTS;
                if (role >= 0) {
                        *ret_page = (unsigned) i + 1;
                        return role;
                }
        }
        o = qpdf_get_object_by_id(q, n, 0);
        if (qpdf_oh_is_stream(q, o))
                o = qpdf_oh_get_dict(q, o);
        if (is_type(q, o, "/Type", "/Pages"))
                return PDF_OBJECT_PAGE_TREE;
        if (is_type(q, o, "/Type", "/Font"))
                return PDF_OBJECT_FONT;
        if (is_type(q, o, "/Subtype", "/Image"))
                return PDF_OBJECT_IMAGE;
        if (is_type(q, o, "/Subtype", "/Form"))
                return PDF_OBJECT_FORM_XOBJECT;
        if (is_type(q, o, "/Type", "/Annot") || qpdf_oh_has_key(q, o, "/Subtype"))
                return PDF_OBJECT_ANNOTATION;
        if (is_type(q, o, "/Type", "/Sig"))
                return PDF_OBJECT_SIGNATURE;
        if (is_type(q, o, "/Type", "/ObjStm"))
                return PDF_OBJECT_OBJECT_STREAM;
        if (qpdf_oh_has_key(q, o, "/FT"))
                return PDF_OBJECT_FORM_FIELD;
        if (qpdf_oh_has_key(q, o, "/S") && qpdf_oh_is_name(q, pdf_oh_key(q, o, "/S")))
                return PDF_OBJECT_ACTION;
        return PDF_OBJECT_OTHER;
}

/* s as written (English) or in the calling thread's language. format_arg: the compiler checks the
 * literal given against the arguments of the printf that uses the result. */
__attribute__((format_arg(2))) static const char *tr(bool translate, const char *s) {
        return translate ? _(s) : s;
}

static char *role_text(PdfObjectRole role, unsigned page, bool t) {
        char *m = NULL;
        int r;

        switch (role) {
        case PDF_OBJECT_CATALOG:
                return strdup(tr(t, N_("the document catalog")));
        case PDF_OBJECT_INTERACTIVE_FORM:
                return strdup(tr(t, N_("the interactive form")));
        case PDF_OBJECT_FIELD_LIST:
                return strdup(tr(t, N_("the form's field list")));
        case PDF_OBJECT_PAGE:
                r = asprintf(&m, tr(t, N_("page %u")), page);
                break;
        case PDF_OBJECT_PAGE_CONTENT:
                r = asprintf(&m, tr(t, N_("the content of page %u")), page);
                break;
        case PDF_OBJECT_PAGE_RESOURCES:
                r = asprintf(&m, tr(t, N_("the resources of page %u")), page);
                break;
        case PDF_OBJECT_PAGE_ANNOTS:
                r = asprintf(&m, tr(t, N_("the annotations of page %u")), page);
                break;
        case PDF_OBJECT_PAGE_TREE:
                return strdup(tr(t, N_("the page tree")));
        case PDF_OBJECT_FONT:
                return strdup(tr(t, N_("a font")));
        case PDF_OBJECT_IMAGE:
                return strdup(tr(t, N_("an image")));
        case PDF_OBJECT_FORM_XOBJECT:
                return strdup(tr(t, N_("a form XObject")));
        case PDF_OBJECT_ANNOTATION:
                return strdup(tr(t, N_("an annotation")));
        case PDF_OBJECT_SIGNATURE:
                return strdup(tr(t, N_("a signature")));
        case PDF_OBJECT_OBJECT_STREAM:
                return strdup(tr(t, N_("an object stream")));
        case PDF_OBJECT_FORM_FIELD:
                return strdup(tr(t, N_("a form field")));
        case PDF_OBJECT_ACTION:
                return strdup(tr(t, N_("an action")));
        default:
                return strdup(tr(t, N_("an object")));
        }
        return r < 0 ? NULL : m;
}

/* Whole sentences, one per kind, so that a translation may order its words as its language wants. */
char *pdf_change_message(const PdfChange *c, bool t) {
        _cleanup_free_ char *what = NULL;
        const char *key;
        char *m = NULL;
        int r;

        if (!c || c->kind <= PDF_CHANGE_NONE || c->kind >= _PDF_CHANGE_KIND_MAX)
                return NULL;
        switch (c->kind) {
        case PDF_CHANGE_ROOT_REPLACED:
                r = asprintf(
                        &m, tr(t, N_("the document catalog (/Root) was replaced in revision %u")),
                        c->revision);
                return r < 0 ? NULL : m;
        case PDF_CHANGE_REVISION_UNREADABLE:
                r = asprintf(&m, tr(t, N_("revision %u cannot be read without repair")), c->revision);
                return r < 0 ? NULL : m;
        case PDF_CHANGE_HIDDEN_UPDATE:
                r = asprintf(
                        &m,
                        tr(t,
                           N_("revision %u does not continue revision %u: its /Prev leads to changes that no revision ends")),
                        c->revision, c->revision - 1);
                return r < 0 ? NULL : m;
        case PDF_CHANGE_DOCMDP_SIGNATURE:
                return strdup(tr(
                        t,
                        N_("a signature was added to a document certified with no changes allowed (P=1)")));
        case PDF_CHANGE_STAMP:
                r = asprintf(
                        &m,
                        tr(t, N_("a text stamp was added on page %u in revision %u, with its signature")),
                        c->page, c->revision);
                return r < 0 ? NULL : m;
        case PDF_CHANGE_STAMP_UNVERIFIED:
                r = asprintf(
                        &m,
                        tr(t,
                           N_("a text stamp was added on page %u in revision %u, and the signature of that "
                              "revision does not verify")),
                        c->page, c->revision);
                return r < 0 ? NULL : m;
        case PDF_CHANGE_SIG_FIELD_UNSIGNED:
                r = asprintf(
                        &m,
                        tr(t,
                           N_("revision %u adds a signature field that is not signed and draws on page %u: its "
                              "appearance could hide or change what was signed")),
                        c->revision, c->page);
                return r < 0 ? NULL : m;
        case PDF_CHANGE_SIG_FIELD:
                r = asprintf(
                        &m,
                        tr(t,
                           N_("revision %u adds a signature field that draws on page %u, with its signature")),
                        c->revision, c->page);
                return r < 0 ? NULL : m;
        case PDF_CHANGE_SIG_FIELD_UNVERIFIED:
                r = asprintf(
                        &m,
                        tr(t,
                           N_("revision %u adds a signature field that draws on page %u, and its signature does not "
                              "verify: its appearance could hide or change what was signed")),
                        c->revision, c->page);
                return r < 0 ? NULL : m;
        default:
                break;
        }

        what = role_text(c->role, c->page, t);
        if (!what)
                return NULL;
        key = c->key[0] ? c->key : tr(t, N_("(too many or too long keys)"));
        switch (c->kind) {
        case PDF_CHANGE_CHANGED:
                r = asprintf(
                        &m, tr(t, N_("object %u (%s) changed in revision %u")), c->object, what,
                        c->revision);
                break;
        case PDF_CHANGE_DELETED:
                r = asprintf(
                        &m, tr(t, N_("object %u (%s) was deleted in revision %u")), c->object, what,
                        c->revision);
                break;
        case PDF_CHANGE_NEW_GENERATION:
                r = asprintf(
                        &m, tr(t, N_("object %u (%s) was replaced by a new generation in revision %u")),
                        c->object, what, c->revision);
                break;
        case PDF_CHANGE_UNREADABLE:
                r = asprintf(
                        &m, tr(t, N_("object %u (%s) cannot be read in revision %u")), c->object, what,
                        c->revision);
                break;
        case PDF_CHANGE_REDEFINED:
                r = asprintf(
                        &m,
                        tr(t,
                           N_("object %u (%s) cannot be read in the signed revision and was redefined in revision %u")),
                        c->object, what, c->revision);
                break;
        case PDF_CHANGE_KEY:
                r = asprintf(
                        &m, tr(t, N_("object %u (%s) had %s changed in revision %u")), c->object, what, key,
                        c->revision);
                break;
        case PDF_CHANGE_FORM_KEY:
                r = asprintf(
                        &m, tr(t, N_("object %u (%s) (its interactive form) had %s changed in revision %u")),
                        c->object, what, key, c->revision);
                break;
        case PDF_CHANGE_EMPTY_FIELD_KEY:
                r = asprintf(
                        &m,
                        tr(t, N_("object %u (%s) (an empty signature field) had %s changed in revision %u")),
                        c->object, what, key, c->revision);
                break;
        case PDF_CHANGE_ANNOTS:
                r = asprintf(
                        &m,
                        tr(t,
                           N_("object %u (%s) gained annotations other than signature widgets in revision %u")),
                        c->object, what, c->revision);
                break;
        case PDF_CHANGE_FIELDS:
                r = asprintf(
                        &m, tr(t, N_("object %u (%s) gained fields other than signatures in revision %u")),
                        c->object, what, c->revision);
                break;
        case PDF_CHANGE_FORM_FIELDS:
                r = asprintf(
                        &m,
                        tr(t,
                           N_("object %u (%s) (its interactive form) gained fields other than signatures in revision %u")),
                        c->object, what, c->revision);
                break;
        case PDF_CHANGE_FIELD_LIST:
                r = asprintf(
                        &m,
                        tr(t,
                           N_("object %u (%s) (the form's field list) gained fields other than signatures in revision %u")),
                        c->object, what, c->revision);
                break;
        case PDF_CHANGE_DANGLING:
                r = asprintf(
                        &m,
                        tr(t,
                           N_("object %u (%s) refers to object %u, undefined when signed and defined later in revision %u")),
                        c->object, what, c->referred, c->revision);
                break;
        default:
                return NULL;
        }
        return r < 0 ? NULL : m;
}

/* Records the first disallowed change (revision: 0-based index). key: the *_KEY kinds' key, referred:
 * DANGLING's object. */
static int disallow_change(Ctx *c, const PdfChange *ch) {
        char *msg;

        if (c->d->verdict != PDF_DIFF_ALLOWED)
                return 0; /* the first one is reported */
        msg = pdf_change_message(ch, false);
        if (!msg)
                return -ENOMEM;
        c->d->verdict = PDF_DIFF_DISALLOWED;
        c->d->change = msg;
        c->d->facts = *ch;
        return 0;
}

static int
disallow_full(Ctx *c, int n, unsigned revision, PdfChangeKind kind, const char *key, unsigned referred) {
        PdfChange ch = { .kind = kind, .revision = revision + 1, .referred = referred };

        if (c->d->verdict != PDF_DIFF_ALLOWED)
                return 0;
        if (n > 0) {
                ch.object = (unsigned) n;
                ch.role = describe(c->old_q, n, &ch.page);
        }
        if (key)
                snprintf(ch.key, sizeof ch.key, "%s", key);
        return disallow_change(c, &ch);
}

static int disallow(Ctx *c, int n, unsigned revision, PdfChangeKind kind) {
        return disallow_full(c, n, revision, kind, NULL, 0);
}

/* An object that the signed revision does not have. */
static bool is_new(Ctx *c, qpdf_oh ref) {
        qpdf_oh o;

        if (!qpdf_oh_is_indirect(c->new_q, ref))
                return false;
        o = qpdf_get_object_by_id(
                c->old_q, qpdf_oh_get_object_id(c->new_q, ref), qpdf_oh_get_generation(c->new_q, ref));
        return qpdf_oh_is_null(c->old_q, o) && !qpdf_has_error(c->old_q);
}

static bool is_sig_field(qpdf_data q, qpdf_oh f) {
        for (int depth = 0; depth < 16 && qpdf_oh_is_dictionary(q, f); depth++) {
                qpdf_oh ft = pdf_oh_key(q, f, "/FT");
                if (!qpdf_oh_is_null(q, ft))
                        return qpdf_oh_is_name_and_equals(q, ft, "/Sig");
                f = pdf_oh_key(q, f, "/Parent");
        }
        return false;
}

/* The revision (0-based) of the entry in force for object n, or -1 when no later revision touched it. */
static int latest_revision(const Ctx *c, uint32_t n) {
        size_t lo = 0, hi = c->n_touched;

        /* The first entry of n: touched_cmp() puts the latest revision first. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (c->touched[mid].number < n)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < c->n_touched && c->touched[lo].number == n ? (int) c->touched[lo].revision : -1;
}

/* v is a signature dictionary that revision rev added and whose range ends where rev ends. holder: the
 * object v is written in when it is direct (then that one must be rev's), else 0. */
static bool signature_of_revision(Ctx *c, qpdf_oh v, int holder, unsigned rev) {
        qpdf_oh range = pdf_oh_key(c->new_q, v, "/ByteRange");
        long long end = 0;
        int id = oid(c->new_q, v);

        if (rev >= c->n_revs)
                return false;
        if (id <= 0 && holder <= 0)
                return false;
        if (!is_type(c->new_q, v, "/Type", "/Sig") || (id > 0 && !is_new(c, v)) ||
            latest_revision(c, (uint32_t) (id > 0 ? id : holder)) != (int) rev ||
            !qpdf_oh_is_array(c->new_q, range) || qpdf_oh_get_array_n_items(c->new_q, range) != 4)
                return false;
        for (int k = 2; k < 4; k++) {
                qpdf_oh x = qpdf_oh_get_array_item(c->new_q, range, k);
                long long v_k = 0;

                if (!qpdf_oh_is_integer(c->new_q, x) || !qpdf_oh_get_value_as_longlong(c->new_q, x, &v_k) ||
                    v_k < 0 || v_k > INT64_MAX / 2)
                        return false;
                end += v_k;
        }
        return (uint64_t) end == c->revs[rev].end;
}

/* A signature dictionary that revision rev added and that covers it to its end, the value of a field of the
 * final form: what the text stamps of rev were signed by (pdf-verify then checks it as any signature). */
static bool revision_signed(Ctx *c, unsigned rev) {
        qpdf_oh fields =
                pdf_oh_key(c->new_q, pdf_oh_key(c->new_q, pdf_root(c->new_q), "/AcroForm"), "/Fields");
        int n = qpdf_oh_is_array(c->new_q, fields) ? qpdf_oh_get_array_n_items(c->new_q, fields) : 0;

        for (int i = 0; i < MIN(n, MAX_ARRAY_COMPARE); i++)
                if (signature_of_revision(
                            c, pdf_oh_key(c->new_q, qpdf_oh_get_array_item(c->new_q, fields, i), "/V"), 0,
                            rev))
                        return true;
        return false;
}

/* A new annotation that only shows text: /Subtype /Stamp with an appearance stream, no action, popup or
 * other key beyond these, written by revision rev (the one adding it to the page) and signed there. The
 * first one is noted, so that the reader is told. */
static bool stamp_allowed(Ctx *c, qpdf_oh a, int owner, unsigned rev) {
        static const char *const keys[] = { "/Type",     "/Subtype", "/Rect", "/AP",   "/F", "/P",
                                            "/Contents", "/NM",      "/M",    "/Name", NULL };
        qpdf_oh ap = pdf_oh_key(c->new_q, a, "/AP");
        int id = oid(c->new_q, a), count = 0, page_id;
        PdfObjectRole role;
        unsigned page = 0;
        qpdf_oh p = pdf_oh_key(c->new_q, a, "/P");

        /* A certification with /P 1 or 2 allows no new annotation (ISO 32000-1, table 254). */
        if (c->docmdp_p == 1 || c->docmdp_p == 2)
                return false;
        if (id <= 0 || qpdf_oh_is_stream(c->new_q, a) || !is_type(c->new_q, a, "/Subtype", "/Stamp") ||
            !qpdf_oh_is_dictionary(c->new_q, ap) ||
            !qpdf_oh_is_stream(c->new_q, pdf_oh_key(c->new_q, ap, "/N")))
                return false;
        qpdf_oh_begin_dict_key_iter(c->new_q, a);
        while (qpdf_oh_dict_more_keys(c->new_q)) {
                const char *k = qpdf_oh_dict_next_key(c->new_q);
                bool known = false;

                if (!k || ++count > 64)
                        return false;
                for (const char *const *e = keys; *e && !known; e++)
                        known = streq(*e, k);
                if (!known)
                        return false; /* /A, /AA, /Popup, /OC, ...: more than a drawing of text */
        }
        /* Only /N: a /D (down) or /R (rollover) appearance would show something the page does not. */
        count = 0;
        qpdf_oh_begin_dict_key_iter(c->new_q, ap);
        while (qpdf_oh_dict_more_keys(c->new_q)) {
                const char *k = qpdf_oh_dict_next_key(c->new_q);
                if (!k || !streq(k, "/N") || ++count > 1)
                        return false;
        }
        /* On the page whose /Annots gained it (owner: the page or its array), and saying so if it says. */
        role = describe(c->old_q, owner, &page);
        if ((role != PDF_OBJECT_PAGE && role != PDF_OBJECT_PAGE_ANNOTS) || page == 0)
                return false;
        page_id = oid(c->old_q, qpdf_get_page_n(c->old_q, page - 1));
        if (qpdf_has_error(c->old_q))
                (void) qpdf_get_error(c->old_q);
        if (page_id <= 0 || (!qpdf_oh_is_null(c->new_q, p) && oid(c->new_q, p) != page_id))
                return false;
        if (latest_revision(c, (uint32_t) id) != (int) rev || !revision_signed(c, rev) ||
            c->n_text_stamps >= PDF_DIFF_MAX_STAMPS)
                return false;
        c->n_text_stamps++;
        c->d->stamps[c->d->n_stamps++] = (PdfChange){
                .kind = PDF_CHANGE_STAMP, .object = (unsigned) id, .page = page, .revision = rev + 1
        };
        if (c->d->noted.kind == PDF_CHANGE_NONE)
                c->d->noted = c->d->stamps[c->d->n_stamps - 1];
        return true;
}

/* The content stream s paints nothing: its operators only set state, build paths that are not painted, or
 * mark content. Anything else (Do, text showing, path painting, sh, inline images, an unknown operator or a
 * stream that cannot be decoded) counts as painting. */
static bool stream_paints(qpdf_data q, qpdf_oh s) {
        static const char *const quiet[] = { "q",  "Q",    "cm",    "w",    "J",  "j",   "M",  "d",   "ri",
                                             "i",  "gs",   "CS",    "cs",   "SC", "SCN", "sc", "scn", "G",
                                             "g",  "RG",   "rg",    "K",    "k",  "m",   "l",  "c",   "v",
                                             "y",  "h",    "re",    "n",    "W",  "W*",  "BT", "ET",  "Tc",
                                             "Tw", "Tz",   "TL",    "Tf",   "Tr", "Ts",  "Td", "TD",  "Tm",
                                             "T*", "BMC",  "BDC",   "EMC",  "MP", "DP",  "BX", "EX",  "d0",
                                             "d1", "true", "false", "null", NULL };
        unsigned char *data = NULL;
        QPDF_BOOL filtered = QPDF_FALSE;
        size_t len = 0;
        bool paints = false;

        if (!qpdf_oh_is_stream(q, s))
                return true;
        if (qpdf_oh_get_stream_data(q, s, qpdf_dl_generalized, &filtered, &data, &len) != QPDF_SUCCESS ||
            !filtered) {
                if (qpdf_has_error(q))
                        (void) qpdf_get_error(q);
                free(data);
                return true;
        }
        for (size_t i = 0; i < len && !paints;) {
                unsigned char ch = data[i];

                if (strchr(" \t\r\n\f[]{}", ch) || ch == 0 || ch == '>')
                        i++;
                else if (ch == '%')
                        while (i < len && data[i] != '\n' && data[i] != '\r')
                                i++;
                else if (ch == '(') { /* balanced parentheses, backslash escapes */
                        unsigned depth = 0;
                        for (; i < len; i++) {
                                if (data[i] == '\\')
                                        i++;
                                else if (data[i] == '(')
                                        depth++;
                                else if (data[i] == ')' && --depth == 0) {
                                        i++;
                                        break;
                                }
                        }
                } else if (ch == '<' && i + 1 < len && data[i + 1] == '<')
                        i += 2;
                else if (ch == '<') {
                        while (i < len && data[i] != '>')
                                i++;
                        i++;
                } else if (ch == '/' || (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.') {
                        /* A name or a number: an operand. */
                        for (i++; i < len && !strchr(" \t\r\n\f[]{}()<>/%", data[i]) && data[i] != 0; i++)
                                ;
                } else {
                        char op[8];
                        size_t k = 0;
                        bool known = false;

                        for (; i < len && !strchr(" \t\r\n\f[]{}()<>/%", data[i]) && data[i] != 0; i++)
                                if (k < sizeof(op) - 1)
                                        op[k++] = (char) data[i];
                                else
                                        k = sizeof(op); /* too long for any operator */
                        if (k < sizeof(op)) {
                                op[k] = 0;
                                for (const char *const *e = quiet; *e && !known; e++)
                                        known = streq(*e, op);
                        }
                        paints = !known;
                }
        }
        free(data);
        return paints;
}

/* Widget w of a new signature field shows something on its page: it is not hidden (/F: Hidden, NoView), its
 * /Rect has an area, and one of its appearances paints. ret_later: an object of its appearance is in force
 * from a revision after rev (its signature could not have covered that). */
static bool widget_draws(Ctx *c, qpdf_oh w, unsigned rev, bool *ret_later) {
        static const char *const modes[] = { "/N", "/R", "/D", NULL };
        qpdf_data q = c->new_q;
        qpdf_oh flags = pdf_oh_key(q, w, "/F"), rect = pdf_oh_key(q, w, "/Rect"),
                ap = pdf_oh_key(q, w, "/AP");
        long long f = 0;
        double x[4];
        bool draws = false;

        *ret_later = false;
        /* Hidden (bit 2) and NoView (bit 6): ISO 32000-1, 12.5.3. */
        if (qpdf_oh_is_integer(q, flags) && qpdf_oh_get_value_as_longlong(q, flags, &f) && (f & (2 | 32)))
                return false;
        if (qpdf_oh_is_array(q, rect) && qpdf_oh_get_array_n_items(q, rect) == 4) {
                bool numbers = true;
                for (int k = 0; k < 4; k++) {
                        qpdf_oh v = qpdf_oh_get_array_item(q, rect, k);
                        numbers = numbers && qpdf_oh_is_number(q, v);
                        x[k] = numbers ? qpdf_oh_get_numeric_value(q, v) : 0;
                }
                if (numbers && (x[0] == x[2] || x[1] == x[3]))
                        return false;
        }
        if (qpdf_oh_is_null(q, ap)) {
                /* Without one, a viewer makes an appearance from /MK (poppler does): a background or
                 * border colour paints the field's box. */
                qpdf_oh mk = pdf_oh_key(q, w, "/MK"), bg = pdf_oh_key(q, mk, "/BG"),
                        bc = pdf_oh_key(q, mk, "/BC");

                return (qpdf_oh_is_array(q, bg) && qpdf_oh_get_array_n_items(q, bg) > 0) ||
                       (qpdf_oh_is_array(q, bc) && qpdf_oh_get_array_n_items(q, bc) > 0);
        }
        if (!qpdf_oh_is_dictionary(q, ap))
                return true;
        *ret_later = latest_revision(c, (uint32_t) MAX(oid(q, ap), 0)) > (int) rev;
        for (const char *const *m = modes; *m && !draws; m++) {
                qpdf_oh a = pdf_oh_key(q, ap, *m);
                qpdf_oh states[16];
                int n = 0;

                if (qpdf_oh_is_null(q, a))
                        continue;
                if (qpdf_oh_is_stream(q, a))
                        states[n++] = a;
                else if (qpdf_oh_is_dictionary(q, a)) {
                        /* Appearance states: their streams, collected before looking into them (qpdf has
                         * one key iteration per document). */
                        qpdf_oh_begin_dict_key_iter(q, a);
                        while (qpdf_oh_dict_more_keys(q) && !draws) {
                                const char *k = qpdf_oh_dict_next_key(q);
                                if (!k || n >= (int) ELEMENTSOF(states))
                                        draws = true;
                                else
                                        states[n++] = pdf_oh_key(q, a, k);
                        }
                } else
                        draws = true;
                *ret_later = *ret_later || latest_revision(c, (uint32_t) MAX(oid(q, a), 0)) > (int) rev;
                for (int k = 0; k < n && !draws; k++) {
                        *ret_later = *ret_later ||
                                     latest_revision(c, (uint32_t) MAX(oid(q, states[k]), 0)) > (int) rev;
                        draws = stream_paints(q, states[k]);
                }
        }
        return draws;
}

/* b, a new signature field's widget on the page whose /Annots (owner) revision rev changed, may be added: it
 * draws nothing, or the field's own signature was added in the revision that wrote the widget and covers it
 * (as a signer writes its visible signature), which pdf-verify then checks verifies. Else records why not.
 */
static int check_new_sig_widget(Ctx *c, qpdf_oh b, int owner, unsigned rev) {
        int id = oid(c->new_q, b), w_rev = latest_revision(c, (uint32_t) MAX(id, 0)), holder = 0;
        qpdf_oh f = b, v = qpdf_oh_new_null(c->new_q);
        unsigned page = 0;
        bool later = false;

        if (!widget_draws(c, b, (unsigned) MAX(w_rev, 0), &later))
                return 0;
        (void) describe(c->old_q, owner, &page);
        /* The field's value: the widget's own, or its parent field's. */
        for (int depth = 0; depth < 16 && qpdf_oh_is_dictionary(c->new_q, f); depth++) {
                v = pdf_oh_key(c->new_q, f, "/V");
                if (!qpdf_oh_is_null(c->new_q, v)) {
                        holder = oid(c->new_q, f);
                        break;
                }
                f = pdf_oh_key(c->new_q, f, "/Parent");
        }
        if (w_rev < 0 || later || !signature_of_revision(c, v, holder, (unsigned) w_rev) ||
            c->d->n_stamps >= ELEMENTSOF(c->d->stamps))
                return disallow_change(
                        c, &(PdfChange){ .kind = PDF_CHANGE_SIG_FIELD_UNSIGNED,
                                         .object = (unsigned) MAX(id, 0),
                                         .page = page,
                                         .revision = (w_rev < 0 ? rev : (unsigned) w_rev) + 1 });
        c->d->stamps[c->d->n_stamps++] = (PdfChange){ .kind = PDF_CHANGE_SIG_FIELD,
                                                      .object = (unsigned) id,
                                                      .page = page,
                                                      .revision = (unsigned) w_rev + 1,
                                                      .referred = (unsigned) MAX(oid(c->new_q, v), 0) };
        return 0;
}

/* old_arr's items all stay, and every added item is a new signature field (widgets: also a widget), or with
 * widgets (the /Annots of a page, owner being the page or the array, changed by revision rev), a text stamp
 * that stamp_allowed(). */
static bool
array_grows_by_sig(Ctx *c, qpdf_oh old_arr, qpdf_oh new_arr, bool widget, int owner, unsigned rev) {
        int no = qpdf_oh_is_array(c->old_q, old_arr) ? qpdf_oh_get_array_n_items(c->old_q, old_arr) : 0;
        int nn = qpdf_oh_is_array(c->new_q, new_arr) ? qpdf_oh_get_array_n_items(c->new_q, new_arr) : 0;

        if (!qpdf_oh_is_null(c->old_q, old_arr) && !qpdf_oh_is_array(c->old_q, old_arr))
                return false;
        if (!qpdf_oh_is_array(c->new_q, new_arr) || no > MAX_ARRAY_COMPARE || nn > MAX_ARRAY_COMPARE)
                return false;
        /* The old items keep their places; the new ones come after them. An item written in place (an
         * annotation with no object of its own) keeps its text too. */
        if (nn < no)
                return false;
        for (int i = 0; i < no; i++) {
                qpdf_oh a = qpdf_oh_get_array_item(c->old_q, old_arr, i);
                qpdf_oh b = qpdf_oh_get_array_item(c->new_q, new_arr, i);
                if (oid(c->old_q, a) != oid(c->new_q, b) ||
                    qpdf_oh_get_generation(c->old_q, a) != qpdf_oh_get_generation(c->new_q, b))
                        return false;
                if (oid(c->old_q, a) == 0 && !unparse_equal(c->old_q, a, c->new_q, b))
                        return false;
        }
        for (int i = no; i < nn; i++) {
                qpdf_oh b = qpdf_oh_get_array_item(c->new_q, new_arr, i);
                if (!is_new(c, b))
                        return false;
                if (widget && stamp_allowed(c, b, owner, rev))
                        continue;
                if (!is_sig_field(c->new_q, b))
                        return false;
                if (widget && !is_type(c->new_q, b, "/Subtype", "/Widget"))
                        return false;
                if (widget) {
                        int r = check_new_sig_widget(c, b, owner, rev);
                        if (r < 0)
                                c->error = r;
                        /* Refused: the caller's own reason comes second, the first one is reported. */
                        if (r < 0 || c->d->verdict != PDF_DIFF_ALLOWED)
                                return false;
                }
        }
        return true;
}

static bool value_equal(Ctx *c, qpdf_oh od, qpdf_oh nd, const char *key) {
        qpdf_oh a = pdf_oh_key(c->old_q, od, key), b = pdf_oh_key(c->new_q, nd, key);

        /* A reference to an object is the same value while it names the same object: that object is
         * judged on its own where a revision changes it. (One undefined when signed reads as null.) */
        if (qpdf_oh_is_indirect(c->old_q, a) && qpdf_oh_is_indirect(c->new_q, b) &&
            !qpdf_oh_is_null(c->old_q, a))
                return oid(c->old_q, a) == oid(c->new_q, b) &&
                       qpdf_oh_get_generation(c->old_q, a) == qpdf_oh_get_generation(c->new_q, b);
        return unparse_equal(c->old_q, a, c->new_q, b);
}

/* Every key of either dictionary other than `except` has the same value in both. Returns the first key that
 * differs in *ret_key (a static or qpdf-owned string: use it at once). */
static bool dict_equal_except(
        Ctx *c, qpdf_oh od, qpdf_oh nd, const char *const *except, char *key_buf, size_t key_size) {
        for (int pass = 0; pass < 2; pass++) {
                qpdf_data q = pass == 0 ? c->old_q : c->new_q;
                qpdf_oh d = pass == 0 ? od : nd;
                int count = 0;

                if (!qpdf_oh_is_dictionary(q, d))
                        continue;
                qpdf_oh_begin_dict_key_iter(q, d);
                while (qpdf_oh_dict_more_keys(q)) {
                        char key[128];
                        bool skip = false;
                        const char *k = qpdf_oh_dict_next_key(q);

                        if (!k || ++count > 4096 || strlen(k) >= sizeof(key)) {
                                key_buf[0] = 0; /* pdf_change_message() says so */
                                return false;
                        }
                        strcpy(key, k);
                        for (const char *const *e = except; *e; e++)
                                if (streq(*e, key))
                                        skip = true;
                        /* value_equal() makes no other key iteration on q, so this one carries on. */
                        if (!skip && !value_equal(c, od, nd, key)) {
                                snprintf(key_buf, key_size, "%s", key);
                                return false;
                        }
                }
        }
        return true;
}

/* A dictionary that may change only in `except` and whose array `key` may only gain new signature fields
 * (widgets: also widget annotations). A change of a key is reported as key_kind, a grown array as
 * grown_kind. */
static int check_growing_dict(
        Ctx *c, int n, unsigned rev, qpdf_oh od, qpdf_oh nd, const char *const *except, const char *key,
        bool widget, PdfChangeKind key_kind, PdfChangeKind grown_kind) {
        char changed[128];
        qpdf_oh oa = pdf_oh_key(c->old_q, od, key), na = pdf_oh_key(c->new_q, nd, key);

        if (!dict_equal_except(c, od, nd, except, changed, sizeof(changed)))
                return disallow_full(c, n, rev, key_kind, changed, 0);
        /* An indirect array is an object of its own, checked where it changes. */
        if (oid(c->old_q, oa) != 0 && oid(c->old_q, oa) == oid(c->new_q, na))
                return 0;
        if (!unparse_equal(c->old_q, oa, c->new_q, na) && !array_grows_by_sig(c, oa, na, widget, n, rev))
                return disallow(c, n, rev, grown_kind);
        return 0;
}

static int check_acroform(Ctx *c, int n, unsigned rev, qpdf_oh od, qpdf_oh nd) {
        static const char *const except[] = { "/Fields", "/SigFlags", "/DR", NULL };
        bool in_catalog =
                n == c->old_root; /* n is the catalog's number when the form is written inside it */

        return check_growing_dict(
                c, n, rev, od, nd, except, "/Fields", false,
                in_catalog ? PDF_CHANGE_FORM_KEY : PDF_CHANGE_KEY,
                in_catalog ? PDF_CHANGE_FORM_FIELDS : PDF_CHANGE_FIELDS);
}

static int check_page(Ctx *c, int n, unsigned rev, qpdf_oh od, qpdf_oh nd) {
        static const char *const except[] = { "/Annots", NULL };

        return check_growing_dict(
                c, n, rev, od, nd, except, "/Annots", true, PDF_CHANGE_KEY, PDF_CHANGE_ANNOTS);
}

static int check_catalog(Ctx *c, int n, unsigned rev, qpdf_oh od, qpdf_oh nd) {
        static const char *const except[] = { "/AcroForm", "/DSS", "/Metadata", "/Extensions", NULL };
        char key[128];
        qpdf_oh oa = pdf_oh_key(c->old_q, od, "/AcroForm"), na = pdf_oh_key(c->new_q, nd, "/AcroForm");

        if (!dict_equal_except(c, od, nd, except, key, sizeof(key)))
                return disallow_full(c, n, rev, PDF_CHANGE_KEY, key, 0);
        if (oid(c->old_q, oa) != 0 && oid(c->old_q, oa) == oid(c->new_q, na))
                return 0;
        if (!unparse_equal(c->old_q, oa, c->new_q, na))
                return check_acroform(c, oid(c->new_q, na) ?: n, rev, oa, na);
        return 0;
}

/* Object n is /DSS or sits below it in the signed document. */
static bool below(qpdf_data q, qpdf_oh o, int n, unsigned depth, unsigned *visits) {
        if (oid(q, o) == n)
                return true;
        if (depth >= MAX_DSS_DEPTH || ++*visits > MAX_DSS_VISITS)
                return false;
        if (qpdf_oh_is_array(q, o)) {
                int items = qpdf_oh_get_array_n_items(q, o);
                for (int i = 0; i < items; i++)
                        if (below(q, qpdf_oh_get_array_item(q, o, i), n, depth + 1, visits))
                                return true;
        } else if (qpdf_oh_is_dictionary(q, o) && !qpdf_oh_is_stream(q, o)) {
                static const char *const keys[] = { "/Certs", "/OCSPs", "/CRLs", "/VRI", "/Cert",
                                                    "/OCSP",  "/CRL",   "/TS",   NULL };
                for (const char *const *k = keys; *k; k++)
                        if (below(q, pdf_oh_key(q, o, *k), n, depth + 1, visits))
                                return true;
                if (depth == 1 && qpdf_oh_is_dictionary(q, o)) {
                        /* /VRI's values are keyed by hashes: walk them all. */
                        char key[128];
                        int count = 0;
                        qpdf_oh_begin_dict_key_iter(q, o);
                        while (qpdf_oh_dict_more_keys(q) && ++count < 4096) {
                                const char *k = qpdf_oh_dict_next_key(q);
                                if (!k || strlen(k) >= sizeof(key))
                                        break;
                                strcpy(key, k);
                                if (oid(q, pdf_oh_key(q, o, key)) == n)
                                        return true;
                        }
                }
        }
        return false;
}

static bool in_old_dss(Ctx *c, int n) {
        unsigned visits = 0;
        qpdf_oh dss = pdf_oh_key(c->old_q, pdf_root(c->old_q), "/DSS");

        return !qpdf_oh_is_null(c->old_q, dss) && below(c->old_q, dss, n, 0, &visits);
}

/* A signature field of the signed document that had no value: a later signer may fill it. */
static int check_empty_sig_field(Ctx *c, int n, unsigned rev, qpdf_oh od, qpdf_oh nd) {
        static const char *const except[] = { "/V", "/AP", "/AS", "/F", NULL };
        char key[128];

        if (!dict_equal_except(c, od, nd, except, key, sizeof(key)))
                return disallow_full(c, n, rev, PDF_CHANGE_EMPTY_FIELD_KEY, key, 0);
        /* A widget whose drawing changed draws only what its own signature covers, as a new one. */
        if (is_type(c->new_q, nd, "/Subtype", "/Widget") &&
            (!value_equal(c, od, nd, "/AP") || !value_equal(c, od, nd, "/AS") ||
             !value_equal(c, od, nd, "/F")))
                return check_new_sig_widget(c, nd, oid(c->new_q, pdf_oh_key(c->new_q, nd, "/P")), rev);
        return 0;
}

static int int_cmp(const void *x, const void *y) {
        int a = *(const int *) x, b = *(const int *) y;

        return a < b ? -1 : a > b ? 1 : 0;
}

/* Whether n is a signed page's /Annots array. The pages are walked once, not once per changed array: a file
 * with many pages and many changed arrays must not cost their product. */
static int is_annots_of_old_page(Ctx *c, int n) {
        if (!c->page_annots_read) {
                int pages = MIN(qpdf_get_num_pages(c->old_q), 100000);

                c->page_annots_read = true;
                if (qpdf_has_error(c->old_q))
                        (void) qpdf_get_error(c->old_q); /* a broken page tree: no page claims n */
                if (pages > 0) {
                        c->page_annots = calloc((size_t) pages, sizeof(int));
                        if (!c->page_annots)
                                return -ENOMEM;
                }
                for (int i = 0; i < pages; i++) {
                        int id =
                                oid(c->old_q,
                                    pdf_oh_key(c->old_q, qpdf_get_page_n(c->old_q, (size_t) i), "/Annots"));
                        if (id > 0)
                                c->page_annots[c->n_page_annots++] = id;
                }
                if (c->n_page_annots > 1)
                        qsort(c->page_annots, c->n_page_annots, sizeof(int), int_cmp);
        }
        return c->n_page_annots > 0 &&
               bsearch(&n, c->page_annots, c->n_page_annots, sizeof(int), int_cmp) != NULL;
}

static int side_push(Ctx *c, const Touched *t) {
        if (ARRAY_RESERVE(c->side, c->allocated_side, c->n_side + 1, 16) < 0)
                return -ENOMEM;
        c->side[c->n_side++] = *t;
        return 0;
}

static int check_changed(Ctx *c, const Touched *t, qpdf_oh od, qpdf_oh nd) {
        int n = (int) t->number, r;
        qpdf_oh old_fields;

        if (n == c->old_root)
                return check_catalog(c, n, t->revision, od, nd);
        if (n == c->old_acroform)
                return check_acroform(c, n, t->revision, od, nd);
        if (n == c->old_info || n == c->old_metadata || in_old_dss(c, n))
                return side_push(c, t);
        if (is_type(c->old_q, od, "/Type", "/Page"))
                return check_page(c, n, t->revision, od, nd);
        if (qpdf_oh_is_array(c->old_q, od)) {
                old_fields = pdf_oh_key(
                        c->old_q, pdf_oh_key(c->old_q, pdf_root(c->old_q), "/AcroForm"), "/Fields");
                if (oid(c->old_q, old_fields) == n)
                        return array_grows_by_sig(c, od, nd, false, n, t->revision)
                                       ? 0
                                       : disallow(c, n, t->revision, PDF_CHANGE_FIELD_LIST);
                r = is_annots_of_old_page(c, n);
                if (r < 0)
                        return r;
                if (r > 0)
                        return array_grows_by_sig(c, od, nd, true, n, t->revision)
                                       ? 0
                                       : disallow(c, n, t->revision, PDF_CHANGE_ANNOTS);
        }
        if (qpdf_oh_is_dictionary(c->old_q, od) && !qpdf_oh_is_stream(c->old_q, od) &&
            is_sig_field(c->old_q, od) && qpdf_oh_is_null(c->old_q, pdf_oh_key(c->old_q, od, "/V")))
                return check_empty_sig_field(c, n, t->revision, od, nd);
        return disallow(c, n, t->revision, PDF_CHANGE_CHANGED);
}

static qpdf_oh get_old(Ctx *c, const Touched *t, bool *ret_error) {
        qpdf_oh o = qpdf_get_object_by_id(c->old_q, (int) t->number, (int) t->generation);

        /* A freed object's generation is one more than the one it had. */
        if (qpdf_oh_is_null(c->old_q, o) && t->generation > 0)
                o = qpdf_get_object_by_id(c->old_q, (int) t->number, (int) t->generation - 1);
        if (qpdf_oh_is_null(c->old_q, o) && t->generation != 0)
                o = qpdf_get_object_by_id(c->old_q, (int) t->number, 0);
        *ret_error = qpdf_has_error(c->old_q);
        if (*ret_error)
                (void) qpdf_get_error(c->old_q);
        return o;
}

static int added_push(Ctx *c, uint32_t n, unsigned revision) {
        if (c->n_added >= c->allocated_added) {
                size_t want = MAX(c->allocated_added * 2, (size_t) 64);
                uint32_t *a = reallocarray(c->added, want, sizeof(uint32_t));
                if (!a)
                        return -ENOMEM;
                c->added = a;
                unsigned *r = reallocarray(c->added_revision, want, sizeof(unsigned));
                if (!r)
                        return -ENOMEM;
                c->added_revision = r;
                c->allocated_added = want;
        }
        /* Objects are checked in increasing number: the array stays sorted. */
        c->added[c->n_added] = n;
        c->added_revision[c->n_added++] = revision;
        return 0;
}

static ssize_t added_find(const Ctx *c, uint64_t n) {
        size_t lo = 0, hi = c->n_added;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (c->added[mid] == n)
                        return (ssize_t) mid;
                if (c->added[mid] < n)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

/* The first "N G R" in text whose N is an added object, or -1. */
static ssize_t find_added_ref(const Ctx *c, const char *text) {
        const char *p = text;

        while ((p = strstr(p, " R"))) {
                const char *e = p, *g, *n;
                uint64_t v = 0, mul = 1;

                p += 2;
                if (*p && !strchr(" \t\r\n/[]<>()", *p))
                        continue;
                /* Back over the generation, a space, the number. */
                g = e;
                while (g > text && g[-1] >= '0' && g[-1] <= '9')
                        g--;
                if (g == e || g == text || g[-1] != ' ')
                        continue;
                n = g - 1;
                while (n > text && n[-1] >= '0' && n[-1] <= '9' && mul < UINT64_C(10000000000)) {
                        v += (uint64_t) (n[-1] - '0') * mul;
                        mul *= 10;
                        n--;
                }
                if (mul == 1)
                        continue;
                ssize_t i = added_find(c, v);
                if (i >= 0)
                        return i;
        }
        return -1;
}

static bool touched_has(const Touched *t, size_t n, uint32_t number) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (t[mid].number == number)
                        return true;
                if (t[mid].number < number)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

/* An object of the signed revision that refers to a number it did not define (null when signed: qpdf drops
 * such a reference from what it shows of the signed revision) would show whatever a later revision puts
 * there: a shadow attack without changing any signed object. The objects no later revision touched are read
 * as the final document resolves them, where such a reference is visible. */
static int check_dangling(Ctx *c, const Touched *touched, size_t n_touched) {
        long long size = 0;
        qpdf_oh sz = pdf_oh_key(c->old_q, qpdf_get_trailer(c->old_q), "/Size");

        if (c->n_added == 0 || !qpdf_oh_is_integer(c->old_q, sz) ||
            !qpdf_oh_get_value_as_longlong(c->old_q, sz, &size))
                return 0;
        for (long long n = 1; n < size && n < INT32_MAX; n++) {
                _cleanup_free_ char *text = NULL;
                qpdf_oh o;
                ssize_t i;

                if (touched_has(touched, n_touched, (uint32_t) n))
                        continue;
                o = qpdf_get_object_by_id(c->new_q, (int) n, 0);
                if (qpdf_has_error(c->new_q)) {
                        (void) qpdf_get_error(c->new_q);
                        continue;
                }
                if (qpdf_oh_is_null(c->new_q, o) || qpdf_oh_is_scalar(c->new_q, o)) {
                        qpdf_oh_release(c->new_q, o);
                        continue;
                }
                text = unparse_copy(
                        c->new_q, qpdf_oh_is_stream(c->new_q, o) ? qpdf_oh_get_dict(c->new_q, o) : o);
                qpdf_oh_release(c->new_q, o);
                if (!text)
                        return -ENOMEM;
                i = find_added_ref(c, text);
                if (i >= 0)
                        return disallow_full(
                                c, (int) n, c->added_revision[i], PDF_CHANGE_DANGLING, NULL, c->added[i]);
        }
        return 0;
}

static int check_object(Ctx *c, const Touched *t) {
        int n = (int) t->number;
        bool old_error = false;
        qpdf_oh od = get_old(c, t, &old_error), nd;
        bool old_exists = !qpdf_oh_is_null(c->old_q, od);

        if (old_error)
                return disallow(c, n, t->revision, PDF_CHANGE_REDEFINED);
        if (t->kind == PDF_XREF_ENTRY_FREE)
                return old_exists ? disallow(c, n, t->revision, PDF_CHANGE_DELETED) : 0;

        nd = qpdf_get_object_by_id(
                c->new_q, n, t->kind == PDF_XREF_ENTRY_COMPRESSED ? 0 : (int) t->generation);
        if (qpdf_has_error(c->new_q)) {
                (void) qpdf_get_error(c->new_q);
                return disallow(c, n, t->revision, PDF_CHANGE_UNREADABLE);
        }
        if (!old_exists) {
                /* New: harmless unless something that counts refers to it, which the checks of changed
                 * objects decide. Count the signatures a certification must know about. */
                qpdf_oh dict = qpdf_oh_is_stream(c->new_q, nd) ? qpdf_oh_get_dict(c->new_q, nd) : nd;
                if (is_type(c->new_q, dict, "/Type", "/Sig"))
                        c->d->n_new_signatures++;
                return added_push(c, t->number, t->revision);
        }
        if (qpdf_oh_is_null(c->new_q, nd))
                return disallow(c, n, t->revision, PDF_CHANGE_DELETED);
        if (qpdf_oh_get_generation(c->old_q, od) != qpdf_oh_get_generation(c->new_q, nd))
                return disallow(c, n, t->revision, PDF_CHANGE_NEW_GENERATION);
        if (pdf_object_equal(c->old_q, od, c->new_q, nd))
                return 0;
        return check_changed(c, t, od, nd);
}

/* Objects walked from the catalog at most (a bitmap of their numbers); a number past it counts as reached.
 */
#define MAX_WALK_OBJECTS ((uint32_t) 1 << 24)

typedef struct Reach {
        uint8_t *seen;        /* bitmap of object numbers */
        uint32_t (*queue)[2]; /* number, generation */
        size_t n_queue, allocated_queue;
} Reach;

/* Marks object n reached; queues it the first time. Returns 1 when n is past the bitmap. */
static int reach_push(Reach *w, uint64_t n, uint64_t generation) {
        if (n == 0)
                return 0;
        if (n >= MAX_WALK_OBJECTS)
                return 1;
        if (w->seen[n / 8] & (1u << (n % 8)))
                return 0;
        w->seen[n / 8] |= (uint8_t) (1u << (n % 8));
        if (ARRAY_RESERVE(w->queue, w->allocated_queue, w->n_queue + 1, 256) < 0)
                return -ENOMEM;
        w->queue[w->n_queue][0] = (uint32_t) n;
        w->queue[w->n_queue++][1] = (uint32_t) MIN(generation, (uint64_t) INT32_MAX);
        return 0;
}

/* Queues every "N G R" of an object's text (qpdf's unparse), strings skipped. Returns 1 when one is past the
 * bitmap. */
static int reach_refs(Reach *w, const char *text) {
        uint64_t num[2] = {};
        unsigned n_num = 0;
        int r;

        for (const char *p = text; *p;) {
                if (*p == '(') { /* a literal string: balanced parentheses, backslash escapes */
                        unsigned depth = 0;
                        for (; *p; p++) {
                                if (*p == '\\' && p[1])
                                        p++;
                                else if (*p == '(')
                                        depth++;
                                else if (*p == ')' && --depth == 0) {
                                        p++;
                                        break;
                                }
                        }
                        n_num = 0;
                } else if (*p == '<' && p[1] == '<') {
                        p += 2;
                        n_num = 0;
                } else if (*p == '<') { /* a hexadecimal string */
                        while (*p && *p != '>')
                                p++;
                        if (*p)
                                p++;
                        n_num = 0;
                } else if (*p >= '0' && *p <= '9') {
                        uint64_t v = 0;
                        bool prefixed = p > text && !strchr(" \t\r\n[]<>/(){}", p[-1]);
                        for (; *p >= '0' && *p <= '9'; p++)
                                v = v < UINT64_C(1) << 40 ? v * 10 + (uint64_t) (*p - '0') : v;
                        if (prefixed || *p == '.') /* part of a name or a real */
                                n_num = 0;
                        else if (n_num < 2)
                                num[n_num++] = v;
                        else {
                                num[0] = num[1];
                                num[1] = v;
                        }
                } else if (*p == 'R' && n_num == 2 && !(p[1] && !strchr(" \t\r\n[]<>/(){}", p[1]))) {
                        r = reach_push(w, num[0], num[1]);
                        if (r != 0)
                                return r;
                        n_num = 0;
                        p++;
                } else {
                        if (!strchr(" \t\r\n", *p))
                                n_num = 0;
                        p++;
                }
        }
        return 0;
}

/* The objects allowed to change for what they are (c->side) must not be used by the signed document
 * otherwise: one that is also, say, a page's content (listed among the DSS certificates by a prepared
 * document) would change what the signer saw. Walks every object reachable from the signed catalog, except
 * through its /DSS and /Metadata. */
static int check_side_unshared(Ctx *c) {
        qpdf_oh root = pdf_root(c->old_q);
        Reach w = {};
        int r = 0, reached_past = 0;

        w.seen = calloc(MAX_WALK_OBJECTS / 8, 1);
        if (!w.seen)
                return -ENOMEM;
        /* The catalog's own keys, but /DSS and /Metadata, are where the walk starts. */
        {
                char **keys = NULL;
                size_t n_keys = 0;
                int count = 0;

                qpdf_oh_begin_dict_key_iter(c->old_q, root);
                while (r >= 0 && qpdf_oh_dict_more_keys(c->old_q) && ++count <= 4096) {
                        const char *k = qpdf_oh_dict_next_key(c->old_q);
                        char **a;

                        if (!k || streq(k, "/DSS") || streq(k, "/Metadata"))
                                continue;
                        a = reallocarray(keys, n_keys + 1, sizeof(char *));
                        if (!a || !(a[n_keys] = strdup(k))) {
                                keys = a ?: keys;
                                r = -ENOMEM;
                                break;
                        }
                        keys = a;
                        n_keys++;
                }
                for (size_t i = 0; i < n_keys; i++) {
                        _cleanup_free_ char *text = NULL;

                        if (r >= 0 && !(text = unparse_copy(c->old_q, pdf_oh_key(c->old_q, root, keys[i]))))
                                r = -ENOMEM;
                        if (r >= 0) {
                                r = reach_refs(&w, text);
                                reached_past |= r > 0;
                                r = MIN(r, 0);
                        }
                        free(keys[i]);
                }
                free(keys);
                if (count > 4096)
                        reached_past = 1;
        }
        for (size_t i = 0; r >= 0 && !reached_past && i < w.n_queue; i++) {
                _cleanup_free_ char *text = NULL;
                qpdf_oh o = qpdf_get_object_by_id(c->old_q, (int) w.queue[i][0], (int) w.queue[i][1]);

                if (qpdf_has_error(c->old_q))
                        (void) qpdf_get_error(c->old_q);
                if (qpdf_oh_is_null(c->old_q, o)) {
                        /* Not defined: nothing to follow. */
                        qpdf_oh_release(c->old_q, o);
                        continue;
                }
                text = unparse_copy(
                        c->old_q, qpdf_oh_is_stream(c->old_q, o) ? qpdf_oh_get_dict(c->old_q, o) : o);
                qpdf_oh_release(c->old_q, o);
                if (!text) {
                        r = -ENOMEM;
                        break;
                }
                r = reach_refs(&w, text);
                reached_past |= r > 0;
                r = MIN(r, 0);
        }
        for (size_t i = 0; r >= 0 && i < c->n_side; i++) {
                uint32_t n = c->side[i].number;

                if (reached_past || n >= MAX_WALK_OBJECTS || (w.seen[n / 8] & (1u << (n % 8)))) {
                        r = disallow(c, (int) n, c->side[i].revision, PDF_CHANGE_CHANGED);
                        break;
                }
        }
        free(w.seen);
        free(w.queue);
        return r;
}

/* The trailer qpdf read (the last section's: a table's trailer, or the cross-reference stream's dictionary)
 * names `offset` as its /Prev. */
static bool prev_is(qpdf_data q, uint64_t offset) {
        qpdf_oh prev = pdf_oh_key(q, qpdf_get_trailer(q), "/Prev");
        long long v;

        return qpdf_oh_is_integer(q, prev) && qpdf_oh_get_value_as_longlong(q, prev, &v) && v >= 0 &&
               (uint64_t) v == offset;
}

int pdf_diff_analyse(
        const PdfSource *src, const PdfRevision *revs, size_t n_revs, size_t signed_rev, qpdf_data signed_q,
        qpdf_data final_q, int docmdp_p, PdfDiff *ret) {
        _cleanup_free_ Touched *touched = NULL;
        size_t n_touched = 0, allocated = 0;
        PdfDiff d = { .verdict = PDF_DIFF_ALLOWED };
        Ctx c = { .old_q = signed_q, .new_q = final_q, .d = &d, .docmdp_p = docmdp_p };
        qpdf_oh old_root, new_root;
        int r = 0;

        if (!src || !revs || signed_rev >= n_revs || !signed_q || !final_q || !ret)
                return -EINVAL;

        old_root = pdf_root(signed_q);
        new_root = pdf_root(final_q);
        c.old_root = oid(signed_q, old_root);
        c.old_acroform = oid(signed_q, pdf_oh_key(signed_q, old_root, "/AcroForm"));
        c.old_info = oid(signed_q, pdf_oh_key(signed_q, qpdf_get_trailer(signed_q), "/Info"));
        c.old_metadata = oid(signed_q, pdf_oh_key(signed_q, old_root, "/Metadata"));

        for (size_t k = signed_rev + 1; k < n_revs && r >= 0 && d.verdict == PDF_DIFF_ALLOWED; k++) {
                _cleanup_(pdf_qpdf_closep) qpdf_data q = NULL;
                _cleanup_free_ PdfXrefEntry *e = NULL;
                size_t n_e = 0;

                int k_r = revs[k].end > src->size ? -EBADMSG : pdf_source_qpdf_open(src, revs[k].end, &q);

                if (k_r >= 0 && q)
                        k_r = pdf_revision_xref(src, &revs[k], q, &e, &n_e);
                if (k_r == -ESTALE || k_r == -ENOMEM) {
                        r = k_r; /* not the document's fault, or not the document as it was */
                        goto fail;
                }
                if (k_r < 0 || !q) {
                        d.verdict = PDF_DIFF_UNREADABLE;
                        d.facts = (PdfChange){ .kind = PDF_CHANGE_REVISION_UNREADABLE,
                                               .revision = (unsigned) k + 1 };
                        d.change = pdf_change_message(&d.facts, false);
                        break;
                }
                if (qpdf_is_encrypted(q) || oid(q, pdf_root(q)) != c.old_root) {
                        r = disallow(&c, 0, (unsigned) k, PDF_CHANGE_ROOT_REPLACED);
                        break;
                }
                /* qpdf reads every section that /Prev leads to; only revision k's own section is compared
                 * below, so it must lead straight to revision k-1's. */
                if (!prev_is(q, revs[k - 1].startxref)) {
                        r = disallow(&c, 0, (unsigned) k, PDF_CHANGE_HIDDEN_UPDATE);
                        break;
                }
                for (size_t i = 0; i < n_e; i++) {
                        if (e[i].number == 0)
                                continue;
                        if (ARRAY_RESERVE(touched, allocated, n_touched + 1, 64) < 0)
                                return -ENOMEM;
                        touched[n_touched++] = (Touched){
                                .number = e[i].number,
                                .generation = e[i].kind == PDF_XREF_ENTRY_COMPRESSED ? 0 : e[i].generation,
                                .kind = e[i].kind,
                                .revision = (unsigned) k,
                        };
                }
        }
        if (r < 0)
                goto fail;
        if (d.verdict == PDF_DIFF_ALLOWED && oid(final_q, new_root) != c.old_root)
                r = disallow(&c, 0, (unsigned) (n_revs - 1), PDF_CHANGE_ROOT_REPLACED);

        if (n_touched > 0)
                qsort(touched, n_touched, sizeof(Touched), touched_cmp);
        c.revs = revs;
        c.n_revs = n_revs;
        c.touched = touched;
        c.n_touched = n_touched;
        for (size_t i = 0; i < n_touched && r >= 0 && d.verdict == PDF_DIFF_ALLOWED; i++) {
                if (i > 0 && touched[i].number == touched[i - 1].number)
                        continue; /* an older entry of the same object: the latest one is in force */
                r = check_object(&c, &touched[i]);
        }
        if (r >= 0 && c.error < 0)
                r = c.error;
        if (r >= 0 && d.verdict == PDF_DIFF_ALLOWED && c.n_side > 0)
                r = check_side_unshared(&c);
        if (r >= 0 && d.verdict == PDF_DIFF_ALLOWED)
                r = check_dangling(&c, touched, n_touched);
        if (r < 0)
                goto fail;

        if (d.verdict == PDF_DIFF_ALLOWED && docmdp_p == 1 && d.n_new_signatures > 0) {
                d.verdict = PDF_DIFF_DOCMDP_VIOLATION;
                d.facts = (PdfChange){ .kind = PDF_CHANGE_DOCMDP_SIGNATURE };
                d.change = pdf_change_message(&d.facts, false);
                if (!d.change) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        if (d.verdict != PDF_DIFF_ALLOWED) {
                d.noted = (PdfChange){};
                d.n_stamps = 0;
        } else if (d.noted.kind != PDF_CHANGE_NONE) {
                d.noted_change = pdf_change_message(&d.noted, false);
                if (!d.noted_change) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        free(c.added);
        free(c.added_revision);
        free(c.page_annots);
        free(c.side);
        *ret = d;
        return 0;
fail:
        free(c.added);
        free(c.added_revision);
        free(c.page_annots);
        free(c.side);
        free(d.change);
        return r;
}

void pdf_diff_done(PdfDiff *d) {
        if (!d)
                return;
        d->change = mfree(d->change);
        d->noted_change = mfree(d->noted_change);
}
