/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The classification words: a document whose classification names one of them (Mật, Tối mật, ...) is
 * refused. Words are compared whole, with case and Vietnamese diacritics ignored. */
#include <stdint.h>

#include "policy-internal.h"
#include "utf8.h"

static const char *const default_words[] = {
        "Mật", "Tối mật", "Tuyệt mật", "Mat", "Toi mat", "Tuyet mat",
};

char **classification_default_words(void) {
        return strv_from_array(default_words, ELEMENTSOF(default_words));
}

static const char *const fold_table[] = {
        "aàáảãạăằắẳẵặâầấẩẫậÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ",
        "eèéẻẽẹêềếểễệÈÉẺẼẸÊỀẾỂỄỆ",
        "iìíỉĩịÌÍỈĨỊ",
        "oòóỏõọôồốổỗộơờớởỡợÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ",
        "uùúủũụưừứửữựÙÚỦŨỤƯỪỨỬỮỰ",
        "yỳýỷỹỵỲÝỶỸỴ",
        "dđĐ",
};

static char fold_codepoint(uint32_t cp) {
        for (size_t i = 0; i < ELEMENTSOF(fold_table); i++) {
                const char *t = fold_table[i];
                while (*t) {
                        uint32_t c = 0;
                        int n = utf8_decode(t, strlen(t), &c);
                        if (n > 0 && c == cp)
                                return fold_table[i][0];
                        t += n > 0 ? n : 1;
                }
        }
        return 0;
}

/* Marks that word processors put inside a word and that show nothing: the soft hyphen, the joiners, the word
 * joiner, a byte-order mark. "M<soft hyphen>ật" reads as "Mật". */
static bool is_invisible_in_word(uint32_t cp) {
        return cp == 0xad || cp == 0x200c || cp == 0x200d || cp == 0x2060 || cp == 0xfeff;
}

/* The other spaces and dashes: a marking copied from a word processor often has a no-break space (U+00A0)
 * between its words, which must part them as an ASCII space does. */
static bool is_separator(uint32_t cp) {
        return cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200b) ||
               (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
               cp == 0x205f || cp == 0x2212 || cp == 0x3000;
}

char *fold_vietnamese(const char *s) {
        size_t len = strlen(s);
        char *out = malloc(len + 1), *o = out;
        if (!out)
                return NULL;
        const char *p = s;
        while (*p) {
                uint32_t cp;
                int n = utf8_decode(p, len - (size_t) (p - s), &cp);
                if (n < 0) {
                        *o++ = '?';
                        p++;
                        continue;
                }
                p += n;
                if (cp < 0x80) {
                        char c = (char) cp;
                        if (c >= 'A' && c <= 'Z')
                                c = (char) (c - 'A' + 'a');
                        *o++ = c;
                } else if ((cp >= 0x300 && cp <= 0x36f) || is_invisible_in_word(cp))
                        continue; /* combining marks of decomposed text */
                else if (is_separator(cp))
                        *o++ = ' ';
                else if (cp >= 0xff01 && cp <= 0xff5e) {
                        /* Full-width ASCII, as East Asian input methods type it. */
                        char c = (char) (cp - 0xfee0);
                        *o++ = c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
                } else {
                        char c = fold_codepoint(cp);
                        *o++ = c ? c : '?';
                }
        }
        *o = 0;
        return out;
}

/* Folded text is ASCII: its words are letters and digits, and '?' for what could not be folded. */
static bool is_not_word_char(char c) {
        return !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '?');
}

bool policy_is_classified(const Policy *p, const char *classification) {
        if (isempty(classification))
                return false;
        _cleanup_free_ char *f = fold_vietnamese(classification);
        _cleanup_strv_free_ char **text = NULL;
        if (!f || strv_split(f, is_not_word_char, &text) < 0)
                return true; /* out of memory: refuse rather than allow */
        size_t nt = strv_length(text);
        STRV_FOREACH (w, p->classification_words) {
                _cleanup_free_ char *fw = fold_vietnamese(*w);
                _cleanup_strv_free_ char **phrase = NULL;
                if (!fw || strv_split(fw, is_not_word_char, &phrase) < 0)
                        return true;
                size_t np = strv_length(phrase);
                if (np == 0 || np > nt)
                        continue;
                for (size_t i = 0; i + np <= nt; i++) {
                        bool all = true;
                        for (size_t j = 0; j < np && all; j++)
                                all = streq(text[i + j], phrase[j]);
                        if (all)
                                return true;
                }
        }
        return false;
}

int classification_word_valid(const char *v) {
        _cleanup_free_ char *f = fold_vietnamese(v);
        if (!f)
                return -ENOMEM;
        for (char *c = f; *c; c++)
                if ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'))
                        return 1;
        return 0;
}
