/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* PinCache: PINs kept for a short while per token (keyed by PKCS#11 token URI), so a person signing several
 * documents types the PIN once. Off unless configured; organisation certificates need their own setting.
 *
 * Every PIN lives in a Secret, wiped when it expires or is forgotten. The agent forgets a token's PIN when
 * the token is removed or its PIN is refused, and forgets all of them when the session locks and before
 * sleep (session-watch.h). */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "secret.h"

typedef struct PinCache PinCache;

/* The kind of the certificate the PIN unlocks for (policy's classification, DESIGN.md). */
typedef enum PinCacheKind {
        PIN_CACHE_PERSONAL,
        PIN_CACHE_ORGANIZATION,
        PIN_CACHE_DEVICE,
        _PIN_CACHE_KIND_MAX,
        _PIN_CACHE_KIND_INVALID = -EINVAL,
} PinCacheKind;

PinCacheKind pin_cache_kind_from_string(const char *s); /* "personal", "organization", "device" */

typedef struct PinCacheConfig {
        uint64_t personal_usec;     /* lifetime for personal certificates; 0: off (the default) */
        uint64_t organization_usec; /* for organisation and device certificates; 0: off (the default) */
        uint64_t policy_max_usec; /* the policy's maximum: longer lifetimes are cut to it; 0: never cache */
} PinCacheConfig;

/* Microseconds on a clock that keeps running in suspend; the default is CLOCK_BOOTTIME. */
typedef uint64_t (*PinCacheClock)(void *userdata);

int pin_cache_new(const PinCacheConfig *config, PinCache **ret);
PinCache *pin_cache_free(PinCache *c);
static inline void pin_cache_freep(PinCache **c) {
        pin_cache_free(*c);
}

/* A new configuration (policy reload): entries are cut to the new lifetimes at once, or forgotten. */
void pin_cache_set_config(PinCache *c, const PinCacheConfig *config);

/* For tests: a fake clock. Only before attaching an event loop. */
void pin_cache_set_clock(PinCache *c, PinCacheClock clock, void *userdata);

/* Wipes each entry when it expires, by a CLOCK_BOOTTIME timer on event (without it, entries are dropped
 * when next looked at or by pin_cache_expire()). */
int pin_cache_attach_event(PinCache *c, sd_event *event);

/* The lifetime in effect for a kind, after the policy maximum; 0 when off. */
uint64_t pin_cache_lifetime(const PinCache *c, PinCacheKind kind);

/* Keeps a copy of pin for token_uri. Returns 1 when kept, 0 when caching is off for kind (nothing kept,
 * and an older entry for the token is forgotten), or a negative errno. */
int pin_cache_put(PinCache *c, const char *token_uri, PinCacheKind kind, const Secret *pin);

/* A copy of the PIN kept for token_uri, usable for kind. -ENOENT when there is none, it expired, or caching
 * is off for kind. ret is the caller's to free. */
int pin_cache_get(PinCache *c, const char *token_uri, PinCacheKind kind, Secret **ret);

/* Returns 1 when a PIN was forgotten, 0 when there was none. */
int pin_cache_forget(PinCache *c, const char *token_uri);
/* Returns how many were forgotten. */
unsigned pin_cache_forget_all(PinCache *c);

/* Drops the expired entries now; returns how many. */
unsigned pin_cache_expire(PinCache *c);
unsigned pin_cache_size(const PinCache *c);
