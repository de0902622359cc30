/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <time.h>

#include "alloc-util.h"
#include "macro.h"
#include "pin-cache.h"
#include "string-table.h"

typedef struct PinEntry {
        char *token_uri;
        Secret *pin;
        PinCacheKind kind;
        uint64_t stored;  /* clock time when kept */
        uint64_t expires; /* clock time when it must be gone */
} PinEntry;

struct PinCache {
        PinCacheConfig config;
        PinCacheClock clock;
        void *clock_userdata;
        sd_event_source *timer;
        PinEntry *entries;
        size_t n_entries;
};

static const char *const pin_cache_kind_table[_PIN_CACHE_KIND_MAX] = {
        [PIN_CACHE_PERSONAL] = "personal",
        [PIN_CACHE_ORGANIZATION] = "organization",
        [PIN_CACHE_DEVICE] = "device",
};

DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(pin_cache_kind, PinCacheKind);

static uint64_t boottime_now(void *userdata) {
        struct timespec ts;
        if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static uint64_t now(const PinCache *c) {
        return c->clock(c->clock_userdata);
}

uint64_t pin_cache_lifetime(const PinCache *c, PinCacheKind kind) {
        uint64_t l;

        switch (kind) {
        case PIN_CACHE_PERSONAL:
                l = c->config.personal_usec;
                break;
        case PIN_CACHE_ORGANIZATION:
        case PIN_CACHE_DEVICE:
                l = c->config.organization_usec;
                break;
        default:
                return 0;
        }
        return MIN(l, c->config.policy_max_usec);
}

static void entry_done(PinEntry *e) {
        e->token_uri = mfree(e->token_uri);
        e->pin = secret_free(e->pin);
}

static void remove_at(PinCache *c, size_t i) {
        entry_done(&c->entries[i]);
        c->entries[i] = c->entries[c->n_entries - 1];
        c->entries[c->n_entries - 1] = (PinEntry){};
        c->n_entries--;
}

static PinEntry *find(PinCache *c, const char *token_uri, size_t *ret_index) {
        for (size_t i = 0; i < c->n_entries; i++)
                if (streq(c->entries[i].token_uri, token_uri)) {
                        if (ret_index)
                                *ret_index = i;
                        return &c->entries[i];
                }
        return NULL;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* Arms the timer for the next expiry, or turns it off. */
static void rearm(PinCache *c) {
        uint64_t next = UINT64_MAX;

        if (!c->timer)
                return;
        for (size_t i = 0; i < c->n_entries; i++)
                next = MIN(next, c->entries[i].expires);
        if (next == UINT64_MAX) {
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(c->timer, next);
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        PinCache *c = userdata;
        (void) pin_cache_expire(c);
        return 0;
}

unsigned pin_cache_expire(PinCache *c) {
        uint64_t t;
        unsigned n = 0;

        if (!c)
                return 0;
        t = now(c);
        for (size_t i = 0; i < c->n_entries;)
                if (t >= c->entries[i].expires) {
                        remove_at(c, i);
                        n++;
                } else
                        i++;
        rearm(c);
        return n;
}

int pin_cache_new(const PinCacheConfig *config, PinCache **ret) {
        PinCache *c;

        if (!ret)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        if (config)
                c->config = *config;
        c->clock = boottime_now;
        *ret = c;
        return 0;
}

PinCache *pin_cache_free(PinCache *c) {
        if (!c)
                return NULL;
        (void) pin_cache_forget_all(c);
        sd_event_source_disable_unref(c->timer);
        free(c->entries);
        free(c);
        return NULL;
}

void pin_cache_set_config(PinCache *c, const PinCacheConfig *config) {
        c->config = config ? *config : (PinCacheConfig){};
        for (size_t i = 0; i < c->n_entries;) {
                PinEntry *e = &c->entries[i];
                uint64_t l = pin_cache_lifetime(c, e->kind);
                if (l == 0) {
                        remove_at(c, i);
                        continue;
                }
                e->expires = MIN(e->expires, e->stored + l);
                i++;
        }
        (void) pin_cache_expire(c);
}

void pin_cache_set_clock(PinCache *c, PinCacheClock clock, void *userdata) {
        c->clock = clock ?: boottime_now;
        c->clock_userdata = userdata;
}

int pin_cache_attach_event(PinCache *c, sd_event *event) {
        int r;

        if (!c || !event || c->timer)
                return -EINVAL;
        r = sd_event_add_time(event, &c->timer, CLOCK_BOOTTIME, UINT64_MAX, 0, on_timer, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->timer, "pin-cache-expiry");
        rearm(c);
        return 0;
}

int pin_cache_put(PinCache *c, const char *token_uri, PinCacheKind kind, const Secret *pin) {
        _cleanup_free_ char *uri = NULL;
        Secret *copy;
        PinEntry *e;
        uint64_t l, t;

        if (!c || isempty(token_uri) || !pin || kind < 0 || kind >= _PIN_CACHE_KIND_MAX)
                return -EINVAL;

        l = pin_cache_lifetime(c, kind);
        if (l == 0) {
                /* Never leave an older PIN behind for a token whose new use must not be cached. */
                (void) pin_cache_forget(c, token_uri);
                return 0;
        }

        copy = secret_new(secret_get(pin), secret_size(pin));
        if (!copy)
                return -ENOMEM;
        t = now(c);

        e = find(c, token_uri, NULL);
        if (e) {
                secret_free(e->pin);
                e->pin = copy;
        } else {
                /* The URI first: an entry counted without one would be met by find(). */
                uri = strdup(token_uri);
                e = uri ? ARRAY_APPEND(c->entries, c->n_entries) : NULL;
                if (!e) {
                        secret_free(copy);
                        return -ENOMEM;
                }
                *e = (PinEntry){ .token_uri = TAKE_PTR(uri), .pin = copy };
        }
        e->kind = kind;
        e->stored = t;
        e->expires = t + l;
        rearm(c);
        return 1;
}

int pin_cache_get(PinCache *c, const char *token_uri, PinCacheKind kind, Secret **ret) {
        PinEntry *e;
        Secret *copy;
        uint64_t l, t;
        size_t i;

        if (!c || !token_uri || !ret)
                return -EINVAL;

        e = find(c, token_uri, &i);
        if (!e)
                return -ENOENT;
        t = now(c);
        if (t >= e->expires) {
                remove_at(c, i);
                rearm(c);
                return -ENOENT;
        }
        /* A PIN kept while signing as one kind is used for another only if that kind may be cached too,
         * and only as long as that kind's lifetime allows. */
        l = pin_cache_lifetime(c, kind);
        if (l == 0 || t >= e->stored + l)
                return -ENOENT;

        copy = secret_new(secret_get(e->pin), secret_size(e->pin));
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

int pin_cache_forget(PinCache *c, const char *token_uri) {
        size_t i;

        if (!c || !token_uri)
                return 0;
        if (!find(c, token_uri, &i))
                return 0;
        remove_at(c, i);
        rearm(c);
        return 1;
}

unsigned pin_cache_forget_all(PinCache *c) {
        unsigned n;

        if (!c)
                return 0;
        n = (unsigned) c->n_entries;
        while (c->n_entries > 0)
                remove_at(c, c->n_entries - 1);
        rearm(c);
        return n;
}

unsigned pin_cache_size(const PinCache *c) {
        return c ? (unsigned) c->n_entries : 0;
}
