/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes what revocation checking reads from outside: CRLs from the cache folder (the user's, so believed
 * only after the checks a fresh one gets) and from the network, and OCSP responses from the network. A
 * small HTTP server on 127.0.0.1, in a thread of this process, answers every request with the input, so
 * OpenSSL's HTTP client and the parsers and checks of policy/revocation.c read it as they would a server's.
 * The first byte picks the path: 0 a CRL in the cache (the same bytes served if the cache is refused), 1 a
 * CRL from the server only, 2 an OCSP response. The certificates are a fixed test CA (ECDSA P-256) and a
 * leaf it issued, valid until 2100; the seed CRLs and responses are theirs. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../fuzz/fuzz-check.h"
#include "fileio.h"
#include "macro.h"
#include "policy/cert-validate.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ca_pem[] = "-----BEGIN CERTIFICATE-----\n"
                             "MIIBaTCCARCgAwIBAgIUe/xuOQN4hkS4XiAsvBNcTF52TecwCgYIKoZIzj0EAwIw\n"
                             "EjEQMA4GA1UEAwwHRnV6eiBDQTAgFw0yNjEyMDYxMzM0NDdaGA8yMTI2MTExMjEz\n"
                             "MzQ0N1owEjEQMA4GA1UEAwwHRnV6eiBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
                             "A0IABHW9unMaXcQnP04NgZW2A5D+xQm2NFViZ0BDjCFskiURhDTf/BzZhOk3IbIw\n"
                             "I7UuYjDyBSEgrCq3wHENDozxOTujQjBAMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0P\n"
                             "AQH/BAQDAgEGMB0GA1UdDgQWBBT8dg+PG58ounxMCbf3rqdHTPb/LDAKBggqhkjO\n"
                             "PQQDAgNHADBEAiAovJ8aioMT5kdBV9nPoIf087mfKP+mtkUwXrEppi7PKAIgG/8t\n"
                             "Q2TVGCiljRXUJzNpoPE/+BKtxGbrFAHLL+4xG/A=\n"
                             "-----END CERTIFICATE-----\n";

static const char leaf_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBdTCCARugAwIBAgICEAEwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHRnV6eiBD\n"
                               "QTAgFw0yMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowFDESMBAGA1UEAwwJ\n"
                               "RnV6eiBMZWFmMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEU5BCTyYMLhnVfAg5\n"
                               "mRhBF0+sNfxVXsy2Oq8PrCU7oKOqQ8GLX1q1oEOgf/4LOnuqvXnUyxZTGOo1EiFk\n"
                               "nZ73rqNdMFswCQYDVR0TBAIwADAOBgNVHQ8BAf8EBAMCBsAwHwYDVR0jBBgwFoAU\n"
                               "/HYPjxufKLp8TAm3966nR0z2/ywwHQYDVR0OBBYEFPES8Z+ZTKXi92cHaT0ysIRK\n"
                               "2EJjMAoGCCqGSM49BAMCA0gAMEUCIB0wapkL31q/x28H/wHaOjeW3NIgp8H+pC3D\n"
                               "1jmNtWY5AiEA/mFDuq0lLbD8/8qURuw16GQE/9F3iqVhz9rnI1mK2Dc=\n"
                               "-----END CERTIFICATE-----\n";

static struct {
        pthread_mutex_t lock;
        uint8_t *body; /* what the server answers (its own copy), while a check runs */
        size_t size;
        const char *content_type;
} serve = { .lock = PTHREAD_MUTEX_INITIALIZER };

static Policy *policy;
static X509 *ca, *leaf;
static STACK_OF(X509) * chain;
static char dir[] = "/tmp/kyso-fuzz-revocation-XXXXXX";
static char crl_url[64], ocsp_url[64], cache_file[256];

/* Reads the request up to the end of its headers, then its body (Content-Length), then answers. */
static void answer(int fd) {
        char req[8192], head[256];
        size_t got = 0, want = SIZE_MAX;
        const char *end;
        ssize_t n;

        while (got < want && got < sizeof req - 1 && (n = read(fd, req + got, sizeof req - 1 - got)) > 0) {
                got += (size_t) n;
                req[got] = '\0';
                end = strstr(req, "\r\n\r\n");
                if (end && want == SIZE_MAX) {
                        const char *cl = strcasestr(req, "Content-Length:");
                        want = (size_t) (end + 4 - req) + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
                }
        }
        pthread_mutex_lock(&serve.lock);
        n = snprintf(
                head, sizeof head,
                "HTTP/1.0 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                serve.content_type, serve.size);
        (void) !write(fd, head, (size_t) n);
        for (size_t off = 0; off < serve.size; off += (size_t) n) {
                n = write(fd, serve.body + off, serve.size - off);
                if (n <= 0)
                        break;
        }
        pthread_mutex_unlock(&serve.lock);
}

static void *server(void *userdata) {
        int s = (int) (intptr_t) userdata;

        for (;;) {
                int fd = accept(s, NULL, NULL);
                if (fd < 0)
                        continue;
                answer(fd);
                close(fd);
        }
        return NULL;
}

static X509 *pem_cert(const char *pem) {
        BIO *b = BIO_new_mem_buf(pem, -1);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        check(x);
        return x;
}

/* Empties the OCSP answer cache: a good answer cached from one input would spare the next one its parsing.
 */
static void clear_ocsp_cache(void) {
        char ocsp_dir[sizeof dir + 8];
        DIR *d;

        snprintf(ocsp_dir, sizeof ocsp_dir, "%s/ocsp", dir);
        d = opendir(ocsp_dir);
        if (!d)
                return;
        for (struct dirent *e; (e = readdir(d));)
                if (e->d_name[0] != '.')
                        (void) unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
}

static void cleanup(void) {
        char crl_dir[sizeof dir + 8];

        (void) unlink(cache_file);
        clear_ocsp_cache();
        snprintf(crl_dir, sizeof crl_dir, "%s/ocsp", dir);
        (void) rmdir(crl_dir);
        snprintf(crl_dir, sizeof crl_dir, "%s/crl", dir);
        (void) rmdir(crl_dir);
        (void) rmdir(dir);
}

static void setup(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t alen = sizeof a;
        unsigned char md[32];
        char hex[65];
        pthread_t t;
        int s;

        ca = pem_cert(ca_pem);
        leaf = pem_cert(leaf_pem);
        chain = sk_X509_new_null();
        check(chain && sk_X509_push(chain, ca) > 0);
        check(mkdtemp(dir));
        atexit(cleanup);

        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        check(s >= 0 && bind(s, (struct sockaddr *) &a, sizeof a) == 0 && listen(s, 16) == 0);
        check(getsockname(s, (struct sockaddr *) &a, &alen) == 0);
        snprintf(crl_url, sizeof crl_url, "http://127.0.0.1:%u/ca.crl", ntohs(a.sin_port));
        snprintf(ocsp_url, sizeof ocsp_url, "http://127.0.0.1:%u/ocsp", ntohs(a.sin_port));
        check(pthread_create(&t, NULL, server, (void *) (intptr_t) s) == 0);
        check(pthread_detach(t) == 0);

        /* Where crl_check() looks: the policy's cache folder, crl/, the SHA-256 of the URL. */
        check(EVP_Digest(crl_url, strlen(crl_url), md, NULL, EVP_sha256(), NULL));
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        snprintf(cache_file, sizeof cache_file, "%s/crl/%s.der", dir, hex);

        policy = policy_new_defaults();
        check(policy);
        if (!policy->trusted_roots) /* policy_new_defaults() may give an empty store already */
                policy->trusted_roots = sk_X509_new_null();
        check(policy->trusted_roots && X509_up_ref(ca) && sk_X509_push(policy->trusted_roots, ca) > 0);
        policy->cache_dir = strdup(dir);
        check(policy->cache_dir);
        policy->crl_cache_max_age_sec = UINT_MAX / 2;
        policy->ocsp_max_age_sec = UINT_MAX / 2; /* the seed answers were made once, long ago */
        policy->ocsp_require_nonce = false;      /* and could not echo a nonce */
        policy->ocsp_timeout_sec = policy->crl_timeout_sec = 5;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        RevocationResult res = (RevocationResult) -1;
        _cleanup_free_ char *error = NULL;
        time_t at = 0;
        int r;

        if (!policy)
                setup();
        if (size == 0)
                return 0;

        /* A copy the server owns: the fuzzing driver frees data once this returns, and the server may
         * still be writing the answer to a client that has stopped reading. */
        uint8_t *body = size > 1 ? malloc(size - 1) : NULL;
        check(size == 1 || body);
        if (body)
                memcpy(body, data + 1, size - 1);
        pthread_mutex_lock(&serve.lock);
        free(serve.body);
        serve.body = body;
        serve.size = size - 1;
        serve.content_type = data[0] % 3 == 2 ? "application/ocsp-response" : "application/pkix-crl";
        pthread_mutex_unlock(&serve.lock);

        (void) unlink(cache_file);
        clear_ocsp_cache();
        if (data[0] % 3 == 0) {
                _cleanup_close_ int fd = -EBADF;

                check(mkdir_parents(cache_file, 0700) >= 0);
                fd = open(cache_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                check(fd >= 0 && write(fd, data + 1, size - 1) == (ssize_t) (size - 1));
        }
        if (data[0] % 3 == 2)
                r = ocsp_check(policy, ocsp_url, leaf, ca, chain, &res, &at, &error);
        else
                r = crl_check(policy, crl_url, leaf, ca, &res, &at, &error);

        check(r == 0 || r == -ENOMEM);
        if (r == 0) {
                check(res == REVOCATION_RESULT_GOOD || res == REVOCATION_RESULT_REVOKED ||
                      res == REVOCATION_RESULT_FAILED);
                /* Anything but "good" says why. */
                check(res == REVOCATION_RESULT_GOOD || error);
        }
        return 0;
}
