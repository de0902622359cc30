/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <hb-ot.h>
#include <hb-subset.h>
#include <hb.h>
#include <inttypes.h>
#include <stdio.h>

#include "macro.h"
#include "pdf-text.h"
#include "utf8.h"

struct PdfFont {
        hb_blob_t *blob;
        hb_face_t *face;
        hb_font_t *font;
        unsigned upem;
        unsigned n_glyphs;
        /* Per glyph ID: whether a run used it and the text it first stood for (UTF-8, for ToUnicode). */
        uint8_t *used;
        char **text;
        size_t n_used;
};

PdfFont *pdf_font_free(PdfFont *f) {
        if (!f)
                return NULL;
        for (unsigned i = 0; f->text && i < f->n_glyphs; i++)
                free(f->text[i]);
        free(f->text);
        free(f->used);
        hb_font_destroy(f->font);
        hb_face_destroy(f->face);
        hb_blob_destroy(f->blob);
        return mfree(f);
}

int pdf_font_new(const char *path, PdfFont **ret) {
        _cleanup_(pdf_font_freep) PdfFont *f = NULL;
        _cleanup_fclose_ FILE *probe = NULL;
        hb_blob_t *glyf;
        unsigned glyf_size;

        /* HarfBuzz says only "empty blob"; tell a missing file from a bad one. */
        probe = fopen(path, "re");
        if (!probe)
                return negative_errno();

        f = calloc(1, sizeof(PdfFont));
        if (!f)
                return -ENOMEM;
        f->blob = hb_blob_create_from_file_or_fail(path);
        if (!f->blob) /* a folder, an unreadable file; HarfBuzz does not say which */
                return -EBADMSG;
        if (hb_blob_get_length(f->blob) == 0 || hb_blob_get_length(f->blob) > PDF_FONT_MAX_BYTES)
                return -EBADMSG;
        f->face = hb_face_create(f->blob, 0);
        f->upem = hb_face_get_upem(f->face);
        f->n_glyphs = hb_face_get_glyph_count(f->face);
        /* Only TrueType outlines go into a FontFile2. */
        glyf = hb_face_reference_table(f->face, HB_TAG('g', 'l', 'y', 'f'));
        glyf_size = hb_blob_get_length(glyf);
        hb_blob_destroy(glyf);
        if (f->n_glyphs == 0 || f->n_glyphs > 0xffff || f->upem < 16 || f->upem > 16384 || glyf_size == 0)
                return -EBADMSG;
        f->font = hb_font_create(f->face);
        hb_font_set_scale(f->font, (int) f->upem, (int) f->upem);
        f->used = calloc(f->n_glyphs, 1);
        f->text = calloc(f->n_glyphs, sizeof(char *));
        if (!f->used || !f->text)
                return -ENOMEM;
        *ret = TAKE_PTR(f);
        return 0;
}

PdfTextRun *pdf_text_run_free(PdfTextRun *r) {
        if (!r)
                return NULL;
        free(r->glyphs);
        return mfree(r);
}

static bool text_is_printable(const char *s, size_t n) {
        if (!utf8_is_valid_n(s, n))
                return false;
        for (size_t i = 0; i < n;) {
                uint32_t cp;
                int l = utf8_decode(s + i, n - i, &cp);

                if (l < 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
                        return false;
                i += (size_t) l;
        }
        return true;
}

int pdf_font_shape(PdfFont *f, const char *utf8, PdfTextRun **ret) {
        _cleanup_(pdf_text_run_freep) PdfTextRun *r = NULL;
        hb_buffer_t *buf;
        hb_glyph_info_t *info;
        hb_glyph_position_t *pos;
        unsigned n;
        size_t len = strlen(utf8);
        int ret_r = 0;

        if (len > PDF_TEXT_MAX_BYTES)
                return -E2BIG;
        if (!text_is_printable(utf8, len))
                return -EBADMSG;

        buf = hb_buffer_create();
        hb_buffer_add_utf8(buf, utf8, (int) len, 0, (int) len);
        hb_buffer_set_direction(buf, HB_DIRECTION_LTR);
        hb_buffer_set_script(buf, HB_SCRIPT_LATIN);
        hb_buffer_set_language(buf, hb_language_from_string("vi", -1));
        hb_buffer_set_cluster_level(buf, HB_BUFFER_CLUSTER_LEVEL_MONOTONE_CHARACTERS);
        hb_shape(f->font, buf, NULL, 0);
        if (!hb_buffer_allocation_successful(buf)) {
                hb_buffer_destroy(buf);
                return -ENOMEM;
        }
        info = hb_buffer_get_glyph_infos(buf, &n);
        pos = hb_buffer_get_glyph_positions(buf, NULL);

        r = calloc(1, sizeof(PdfTextRun));
        if (r)
                r->glyphs = calloc(n ?: 1, sizeof(PdfGlyph));
        if (!r || !r->glyphs) {
                hb_buffer_destroy(buf);
                return -ENOMEM;
        }
        r->upem = f->upem;
        for (unsigned i = 0; i < n; i++) {
                uint32_t g = info[i].codepoint;
                size_t start = info[i].cluster, end = len;

                if (g == 0 || g >= f->n_glyphs) {
                        ret_r = -EOPNOTSUPP;
                        break;
                }
                r->glyphs[i] = (PdfGlyph){
                        .gid = g,
                        .width = (int32_t) hb_font_get_glyph_h_advance(f->font, g),
                        .x_advance = pos[i].x_advance,
                        .x_offset = pos[i].x_offset,
                        .y_offset = pos[i].y_offset,
                };
                r->advance += pos[i].x_advance;
                if (!f->used[g]) {
                        f->used[g] = 1;
                        f->n_used++;
                }
                /* The first glyph of a cluster stands for the cluster's text (a ligature for several
                 * characters); later glyphs of the same cluster (a mark drawn apart) add no text. */
                if (f->text[g] || (i > 0 && info[i - 1].cluster == info[i].cluster))
                        continue;
                for (unsigned j = i + 1; j < n; j++)
                        if (info[j].cluster != info[i].cluster) {
                                end = info[j].cluster;
                                break;
                        }
                if (start >= end || end > len)
                        continue;
                f->text[g] = strndup(utf8 + start, end - start);
                if (!f->text[g]) {
                        ret_r = -ENOMEM;
                        break;
                }
        }
        r->n_glyphs = n;
        hb_buffer_destroy(buf);
        if (ret_r < 0)
                return ret_r;
        *ret = TAKE_PTR(r);
        return 0;
}

double pdf_text_run_width(const PdfTextRun *r, double size_pt) {
        return r->upem ? (double) r->advance * size_pt / r->upem : 0;
}

int pdf_text_run_operators(
        const PdfTextRun *r, const char *font_resource, double size_pt, double x, double y, char **ret) {
        _cleanup_free_ char *out = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char a[PDF_NUMBER_MAX], b[PDF_NUMBER_MAX], c[PDF_NUMBER_MAX];
        double scale = size_pt / r->upem;
        int64_t pen = 0, cur_x = 0, cur_y = 0;
        bool open = false;
        size_t size;

        f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "BT /%s %s Tf 0 g\n", font_resource, pdf_number(size_pt, a));
        for (size_t i = 0; i < r->n_glyphs; i++) {
                const PdfGlyph *g = &r->glyphs[i];
                int64_t gx = pen + g->x_offset, gy = g->y_offset;

                /* TJ moves only along the baseline: a glyph above or below it (a mark HarfBuzz placed
                 * by hand) starts a new piece at its own text matrix. */
                if (!open || gy != cur_y) {
                        if (open)
                                fputs("] TJ\n", f);
                        fprintf(f, "1 0 0 1 %s %s Tm [", pdf_number(x + (double) gx * scale, b),
                                pdf_number(y + (double) gy * scale, c));
                        open = true;
                        cur_x = gx;
                        cur_y = gy;
                } else if (gx != cur_x)
                        /* In thousandths of the font size, positive moves left. */
                        fprintf(f, " %s ", pdf_number(-(double) (gx - cur_x) * 1000.0 / r->upem, a));
                fprintf(f, "<%04" PRIX32 ">", g->gid);
                cur_x = gx + g->width;
                pen += g->x_advance;
        }
        if (open)
                fputs("] TJ\n", f);
        fputs("ET\n", f);
        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        fclose(TAKE_PTR(f));
        *ret = TAKE_PTR(out);
        return 0;
}

int pdf_font_subset(PdfFont *f, uint8_t **ret, size_t *ret_size) {
        static const hb_tag_t drop[] = {
                /* Shaping is done; the PDF draws glyph IDs, so layout and kerning tables are dead weight. */
                HB_TAG('G', 'S', 'U', 'B'), HB_TAG('G', 'P', 'O', 'S'), HB_TAG('G', 'D', 'E', 'F'),
                HB_TAG('k', 'e', 'r', 'n'), HB_TAG('D', 'S', 'I', 'G'), HB_TAG('g', 'a', 's', 'p'),
        };
        hb_subset_input_t *in;
        hb_face_t *sub;
        hb_blob_t *blob;
        const char *data;
        unsigned len;
        uint8_t *copy;

        in = hb_subset_input_create_or_fail();
        if (!in)
                return -ENOMEM;
        for (unsigned g = 0; g < f->n_glyphs; g++)
                if (f->used[g])
                        hb_set_add(hb_subset_input_glyph_set(in), g);
        for (size_t i = 0; i < ELEMENTSOF(drop); i++)
                hb_set_add(hb_subset_input_set(in, HB_SUBSET_SETS_DROP_TABLE_TAG), drop[i]);
        /* Keeping glyph IDs lets the CID be the glyph ID (CIDToGIDMap /Identity); hinting only matters for
         * screen rasterizers at tiny sizes and is most of a hinted font's bytes. */
        hb_subset_input_set_flags(in, HB_SUBSET_FLAGS_RETAIN_GIDS | HB_SUBSET_FLAGS_NO_HINTING);
        sub = hb_subset_or_fail(f->face, in);
        hb_subset_input_destroy(in);
        if (!sub)
                return -ENOMEM;
        blob = hb_face_reference_blob(sub);
        data = hb_blob_get_data(blob, &len);
        copy = len > 0 ? memdup(data, len) : NULL;
        hb_blob_destroy(blob);
        hb_face_destroy(sub);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        *ret_size = len;
        return 0;
}

/* The PDF name of the font: the subset tag (six capitals that change with the glyph set, as the PDF
 * specification asks of subsets) and the PostScript name, kept to characters a PDF name takes as they are.
 */
static void font_name(PdfFont *f, char buf[static 80]) {
        char ps[64] = "";
        unsigned size = sizeof ps;
        uint32_t h = 2166136261U;
        size_t k = 0;

        (void) hb_ot_name_get_utf8(f->face, HB_OT_NAME_ID_POSTSCRIPT_NAME, HB_LANGUAGE_INVALID, &size, ps);
        for (unsigned g = 0; g < f->n_glyphs; g++)
                if (f->used[g])
                        h = (h ^ g) * 16777619U;
        for (int i = 0; i < 6; i++, h /= 26)
                buf[k++] = (char) ('A' + h % 26);
        buf[k++] = '+';
        for (const char *p = ps; *p && k < 78; p++)
                if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    *p == '-')
                        buf[k++] = *p;
        if (buf[k - 1] == '+')
                memcpy(buf + k, "Font", 5);
        else
                buf[k] = '\0';
}

static int16_t be16(const char *p) {
        return (int16_t) (((uint16_t) (uint8_t) p[0] << 8) | (uint8_t) p[1]);
}

static int font_descriptor(PdfFont *f, const char *name, unsigned fontfile_obj, PdfObjectBody *ret) {
        hb_blob_t *head = hb_face_reference_table(f->face, HB_TAG('h', 'e', 'a', 'd'));
        unsigned len;
        const char *h = hb_blob_get_data(head, &len);
        int16_t bbox[4] = {};
        hb_font_extents_t ext = {};
        hb_position_t cap = 0;
        double k = 1000.0 / f->upem;
        int r;

        if (h && len >= 44)
                for (int i = 0; i < 4; i++)
                        bbox[i] = be16(h + 36 + 2 * i);
        hb_blob_destroy(head);
        (void) hb_font_get_h_extents(f->font, &ext);
        if (!hb_ot_metrics_get_position(f->font, HB_OT_METRICS_TAG_CAP_HEIGHT, &cap))
                cap = ext.ascender;
        /* Flags 34: serif, non-symbolic (the glyphs are Latin, not a private set). */
        r = pdf_object_body_new(
                ret, NULL, 0,
                "<< /Type /FontDescriptor /FontName /%s /Flags 34 /FontBBox [%d %d %d %d]"
                " /ItalicAngle 0 /Ascent %d /Descent %d /CapHeight %d /StemV 80 /FontFile2 %u 0 R>>",
                name, (int) (bbox[0] * k), (int) (bbox[1] * k), (int) (bbox[2] * k), (int) (bbox[3] * k),
                (int) (ext.ascender * k), (int) (ext.descender * k), (int) (cap * k), fontfile_obj);
        return r;
}

static int to_unicode_cmap(PdfFont *f, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ char *out = NULL;
        _cleanup_fclose_ FILE *m = NULL;
        size_t size, in_block = 0, n_mapped = 0;
        int r;

        for (unsigned g = 0; g < f->n_glyphs; g++)
                n_mapped += f->text[g] ? 1 : 0;
        m = open_memstream(&out, &size);
        if (!m)
                return -ENOMEM;
        fputs("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
              "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
              "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
              "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
              m);
        for (unsigned g = 0; g < f->n_glyphs; g++) {
                const char *t = f->text[g];

                if (!t)
                        continue;
                /* At most 100 entries per block (PDF 32000-1, 9.10.3). */
                if (in_block == 0)
                        fprintf(m, "%zu beginbfchar\n", MIN(n_mapped, (size_t) 100));
                fprintf(m, "<%04X> <", g);
                for (size_t i = 0, l = strlen(t); i < l;) {
                        uint32_t c;
                        int k = utf8_decode(t + i, l - i, &c);

                        if (k < 0)
                                break;
                        utf16be_hex_write(m, c);
                        i += (size_t) k;
                }
                fputs(">\n", m);
                n_mapped--;
                if (++in_block == 100 || n_mapped == 0) {
                        fputs("endbfchar\n", m);
                        in_block = 0;
                }
        }
        fputs("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n", m);
        if (fflush(m) != 0 || ferror(m))
                return -ENOMEM;
        fclose(TAKE_PTR(m));
        r = pdf_deflate(out, size, ret, ret_size);
        return r;
}

static int widths_array(PdfFont *f, char **ret) {
        _cleanup_free_ char *out = NULL;
        _cleanup_fclose_ FILE *m = NULL;
        size_t size;

        m = open_memstream(&out, &size);
        if (!m)
                return -ENOMEM;
        fputc('[', m);
        for (unsigned g = 0; g < f->n_glyphs; g++)
                if (f->used[g])
                        fprintf(m, "%u [%d] ", g,
                                (int) (hb_font_get_glyph_h_advance(f->font, g) * 1000.0 / f->upem + 0.5));
        fputc(']', m);
        if (fflush(m) != 0 || ferror(m))
                return -ENOMEM;
        fclose(TAKE_PTR(m));
        *ret = TAKE_PTR(out);
        return 0;
}

int pdf_font_objects(
        PdfFont *f, unsigned first_objnum, PdfObjectBody ret_bodies[static PDF_FONT_N_OBJECTS]) {
        PdfObjectBody b[PDF_FONT_N_OBJECTS] = {};
        _cleanup_free_ char *w = NULL;
        uint8_t *font = NULL, *zfont = NULL, *cmap = NULL;
        size_t font_size = 0, zfont_size = 0, cmap_size = 0;
        char name[80];
        unsigned n = first_objnum;
        int r;

        if (f->n_used == 0)
                return -ENODATA;
        font_name(f, name);
        r = pdf_font_subset(f, &font, &font_size);
        if (r >= 0) {
                r = pdf_deflate(font, font_size, &zfont, &zfont_size);
                free(font);
        }
        if (r >= 0)
                r = to_unicode_cmap(f, &cmap, &cmap_size);
        if (r >= 0)
                r = widths_array(f, &w);
        if (r < 0) {
                free(zfont);
                free(cmap);
                return r;
        }
        r = pdf_object_body_new(
                &b[0], NULL, 0,
                "<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H"
                " /DescendantFonts [%u 0 R] /ToUnicode %u 0 R>>",
                name, n + 1, n + 4);
        if (r >= 0)
                r = pdf_object_body_new(
                        &b[1], NULL, 0,
                        "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s"
                        " /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
                        " /FontDescriptor %u 0 R /DW 1000 /W %s /CIDToGIDMap /Identity>>",
                        name, n + 2, w);
        if (r >= 0)
                r = font_descriptor(f, name, n + 3, &b[2]);
        if (r >= 0)
                r = pdf_object_body_new(
                        &b[3], TAKE_PTR(zfont), zfont_size, "<< /Length1 %zu /Filter /FlateDecode>>",
                        font_size);
        if (r >= 0)
                r = pdf_object_body_new(&b[4], TAKE_PTR(cmap), cmap_size, "<< /Filter /FlateDecode>>");
        free(zfont);
        free(cmap);
        if (r < 0) {
                pdf_object_bodies_done(b, PDF_FONT_N_OBJECTS);
                return r;
        }
        memcpy(ret_bodies, b, sizeof b);
        return 0;
}
