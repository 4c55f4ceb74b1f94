/*
 * Process-wide state: the one initialised global config and the services
 * created at evpl_init().  Written once under the init lock, read-only after.
 */
#pragma once

#include "core/config.h"

struct evpl_allocator;

struct evpl_shared {
    struct evpl_global_config *config;
    struct evpl_allocator     *allocator;
};

/* NULL until the library is initialised; published with release order. */
extern struct evpl_shared *evpl_shared;

/* Initialise with defaults if nobody did yet (thread-safe, idempotent). */
void evpl_ensure_init(void);

/* The initialised global config (implicitly initialising). */
static inline const struct evpl_global_config *
evpl_config(void)
{
    struct evpl_shared *shared = __atomic_load_n(&evpl_shared, __ATOMIC_ACQUIRE);

    if (__builtin_expect(shared == NULL, 0)) {
        evpl_ensure_init();
        shared = __atomic_load_n(&evpl_shared, __ATOMIC_ACQUIRE);
    }
    return shared->config;
}
