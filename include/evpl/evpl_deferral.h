/*
 * Deferrals: caller-allocated, reusable "run this callback once, soon" tokens
 * for the loop's own thread.  Armed deferrals run at the end of the pass in
 * progress (or of the next pass when armed outside a callback).
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_deferral.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

typedef void (*deferral_callback_t)(struct evpl *evpl, void *private_data);

struct evpl_deferral {
    deferral_callback_t callback;
    void               *private_data;
    uint64_t            armed; /* non-zero while queued; library-managed */
};

/* Set callback and argument and clear armed.  Never on an armed deferral. */
void evpl_deferral_init(struct evpl_deferral *deferral, deferral_callback_t callback,
                        void *private_data);

/*
 * Arm the deferral (no-op when already armed).  It is disarmed just before its
 * callback runs, so the callback may re-arm it (it then runs again in the
 * same drain).  While any deferral is armed the loop does not sleep.
 * Deferrals run in the order they were armed.  There is no capacity limit.
 */
void evpl_defer(struct evpl *evpl, struct evpl_deferral *deferral);

/* Disarm an armed deferral; no-op if it is not armed. */
void evpl_remove_deferral(struct evpl *evpl, struct evpl_deferral *deferral);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
