/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* TrustEntry: one certificate of a policy's trust store ([trust] root and intermediate) with the file it is
 * read from; and the administrator's changes to the store (kysoctl trust add/remove), written atomically. */

#include <openssl/x509.h>
#include <stdbool.h>
#include <time.h>

#include "policy.h"

typedef struct TrustEntry {
        X509 *cert;
        char *file;
        bool root; /* from [trust] root (else intermediate) */
        char fingerprint[65];
} TrustEntry;

void trust_entries_free(TrustEntry *e, size_t n);

/* Every certificate of p's trust store, roots first, each with its file, in the order the policy reads
 * them. Files that do not load are skipped (policy_load() has reported them). */
int trust_store_list(const Policy *p, PolicyLoadFlags flags, TrustEntry **ret, size_t *ret_n);

/* Whether x may be added: a CA certificate, valid at now, not in the store already. 0 when it may, 1 with
 * *ret_problem (translated) when not, negative errno. */
int trust_store_check_new(const Policy *p, X509 *x, time_t now, char **ret_problem);

/* The folder that receives a new certificate: the first [trust] root (root) or intermediate path of p that
 * is a folder. -ENOENT when the policy names none. */
int trust_store_folder(const Policy *p, bool root, const char **ret);

/* Writes x as PEM into folder as "kyso-<fingerprint>.pem" (temporary file, fsync, rename, fsync of the
 * folder), mode 0644, owned by root:root when we are root, as the policy's owner check wants. -EEXIST when
 * the file exists. */
int trust_store_write(const char *folder, X509 *x, char **ret_path);

/* Takes the certificate with this fingerprint out of file: removes the file when it holds nothing else,
 * else writes the rest back atomically. *ret_old (optional) gets the file's former bytes, to put them back
 * with trust_store_restore() when the change cannot be recorded. -ENOENT when the file does not hold it. */
int trust_store_remove_from(const char *file, const char *fingerprint, char **ret_old, size_t *ret_old_size);
int trust_store_restore(const char *file, const char *data, size_t size);

/* The certificate's validity as ISO 8601 UTC ("2027-01-31T00:00:00Z"); -EBADMSG when it cannot be read. */
int cert_time_iso(const ASN1_TIME *t, char ret[static 21]);
/* Whole days from now to the certificate's notAfter (negative once expired); -EBADMSG on a bad time. */
int cert_days_left(X509 *x, time_t now, long *ret);
