/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>
#include <string.h>

#include "macro.h"
#include "p11-uri.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(P11KitUri *, p11_kit_uri_free);

/* CK_TOKEN_INFO strings are blank-padded, not NUL-terminated. */
static int pad_field(unsigned char *field, size_t size, const char *value) {
        size_t n = value ? strlen(value) : 0;
        if (n > size)
                return -EINVAL;
        memset(field, ' ', size);
        if (n > 0)
                memcpy(field, value, n);
        return 0;
}

static int token_info_fill(CK_TOKEN_INFO *ti, const P11UriToken *t) {
        *ti = (CK_TOKEN_INFO){};
        if (pad_field(ti->label, sizeof(ti->label), t->label) < 0 ||
            pad_field(ti->manufacturerID, sizeof(ti->manufacturerID), t->manufacturer) < 0 ||
            pad_field(ti->model, sizeof(ti->model), t->model) < 0 ||
            pad_field(ti->serialNumber, sizeof(ti->serialNumber), t->serial) < 0)
                return -EINVAL;
        return 0;
}

static int uri_to_string(P11KitUri *u, P11KitUriType type, char **ret) {
        char *s = NULL;
        int k = p11_kit_uri_format(u, type, &s);
        if (k == P11_KIT_URI_NO_MEMORY)
                return -ENOMEM;
        if (k != P11_KIT_URI_OK || !s)
                return -EINVAL;
        *ret = s;
        return 0;
}

int p11_uri_format_token(const P11UriToken *t, char **ret) {
        _cleanup_(p11_kit_uri_freep) P11KitUri *u = p11_kit_uri_new();
        if (!u)
                return -ENOMEM;
        if (token_info_fill(p11_kit_uri_get_token_info(u), t) < 0)
                return -EINVAL;
        return uri_to_string(u, P11_KIT_URI_FOR_TOKEN, ret);
}

int p11_uri_format_certificate(
        const P11UriToken *t, const uint8_t *id, size_t id_size, const char *object_label, char **ret) {
        _cleanup_(p11_kit_uri_freep) P11KitUri *u = p11_kit_uri_new();
        CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
        CK_ATTRIBUTE a;

        if (!u)
                return -ENOMEM;
        if (token_info_fill(p11_kit_uri_get_token_info(u), t) < 0)
                return -EINVAL;
        if (id && id_size > 0) {
                a = (CK_ATTRIBUTE){ CKA_ID, (void *) id, id_size };
                if (p11_kit_uri_set_attribute(u, &a) != P11_KIT_URI_OK)
                        return -ENOMEM;
        }
        if (!isempty(object_label)) {
                a = (CK_ATTRIBUTE){ CKA_LABEL, (void *) object_label, strlen(object_label) };
                if (p11_kit_uri_set_attribute(u, &a) != P11_KIT_URI_OK)
                        return -ENOMEM;
        }
        a = (CK_ATTRIBUTE){ CKA_CLASS, &klass, sizeof(klass) };
        if (p11_kit_uri_set_attribute(u, &a) != P11_KIT_URI_OK)
                return -ENOMEM;
        return uri_to_string(u, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, ret);
}

static int uri_parse(const char *s, P11KitUri **ret) {
        _cleanup_(p11_kit_uri_freep) P11KitUri *u = NULL;

        if (isempty(s))
                return -EINVAL;
        u = p11_kit_uri_new();
        if (!u)
                return -ENOMEM;
        int k = p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, u);
        if (k == P11_KIT_URI_NO_MEMORY)
                return -ENOMEM;
        if (k != P11_KIT_URI_OK)
                return -EINVAL;
        if (p11_kit_uri_any_unrecognized(u))
                return -EINVAL;
        if (p11_kit_uri_get_pin_value(u) || p11_kit_uri_get_pin_source(u))
                return -EINVAL;
        CK_ATTRIBUTE *c = p11_kit_uri_get_attribute(u, CKA_CLASS);
        if (c) {
                if (!c->pValue || c->ulValueLen != sizeof(CK_OBJECT_CLASS))
                        return -EINVAL;
                CK_OBJECT_CLASS klass;
                memcpy(&klass, c->pValue, sizeof(klass));
                if (klass != CKO_CERTIFICATE)
                        return -EINVAL;
        }
        *ret = TAKE_PTR(u);
        return 0;
}

int p11_uri_validate(const char *s) {
        _cleanup_(p11_kit_uri_freep) P11KitUri *u = NULL;
        return uri_parse(s, &u);
}

static int match_token(P11KitUri *u, const P11Token *token) {
        CK_TOKEN_INFO ti;
        P11UriToken t = {
                .label = token->label,
                .manufacturer = token->manufacturer,
                .model = token->model,
                .serial = token->serial,
        };

        if (token_info_fill(&ti, &t) < 0)
                return 0;
        if (!p11_kit_uri_match_token_info(u, &ti))
                return 0;
        CK_SLOT_ID slot = p11_kit_uri_get_slot_id(u);
        if (slot != (CK_SLOT_ID) -1 && slot != token->slot_id)
                return 0;
        const char *path = p11_kit_uri_get_module_path(u);
        if (path && !streq_ptr(path, token->module_path))
                return 0;
        return 1;
}

int p11_uri_match_token(const char *uri, const P11Token *token) {
        _cleanup_(p11_kit_uri_freep) P11KitUri *u = NULL;
        int r = uri_parse(uri, &u);
        if (r < 0)
                return r;
        return match_token(u, token);
}

int p11_uri_match_certificate(const char *uri, const P11Token *token, const P11Certificate *cert) {
        _cleanup_(p11_kit_uri_freep) P11KitUri *u = NULL;
        CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
        CK_ATTRIBUTE attrs[3];
        size_t n = 0;

        int r = uri_parse(uri, &u);
        if (r < 0)
                return r;
        if (!match_token(u, token))
                return 0;
        attrs[n++] = (CK_ATTRIBUTE){ CKA_CLASS, &klass, sizeof(klass) };
        attrs[n++] = (CK_ATTRIBUTE){ CKA_ID, cert->id, cert->id_size };
        attrs[n++] = (CK_ATTRIBUTE){ CKA_LABEL, cert->label, cert->label ? strlen(cert->label) : 0 };
        return p11_kit_uri_match_attributes(u, attrs, n) ? 1 : 0;
}
