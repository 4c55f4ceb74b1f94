/*
 * Doorbells: let any thread make a callback run on a loop's thread, waking
 * the loop if it sleeps.  Backed by one eventfd each.
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_doorbell.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl_doorbell;

#ifndef EVPL_INTERNAL
/* Caller-allocated (stack, static, embedded, malloc); exactly 64 bytes. */
struct evpl_doorbell {
    uint64_t opaque[8];
};
#endif

typedef void (*evpl_doorbell_callback_t)(struct evpl *evpl, struct evpl_doorbell *doorbell);

/*
 * Create the eventfd, register it with the loop and store the callback.
 * Owning thread only; adding an added doorbell is a caller error.  Aborts if
 * no descriptor can be created.
 */
void evpl_add_doorbell(struct evpl *evpl, struct evpl_doorbell *doorbell,
                       evpl_doorbell_callback_t callback);

/*
 * Thread-safe.  Make the callback run on the owning loop on a later pass.
 * Rings coalesce: several rings before the callback runs give at least one
 * callback; a ring after the callback started gives another.  A ring is not
 * poll-mode activity.
 */
void evpl_ring_doorbell(struct evpl_doorbell *doorbell);

/*
 * Unregister the doorbell and close its descriptor.  Owning thread only; legal
 * from any callback, including the doorbell's own.  Afterwards the library
 * holds no reference to the storage and the callback never runs again.
 */
void evpl_remove_doorbell(struct evpl *evpl, struct evpl_doorbell *doorbell);

/* The eventfd the loop watches (for foreign loops; do not read or close). */
int evpl_doorbell_fd(struct evpl_doorbell *doorbell);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
