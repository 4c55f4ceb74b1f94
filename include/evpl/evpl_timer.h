/*
 * Timers: caller-allocated, registered with one loop, intervals in
 * microseconds on the loop clock (the virtual clock when enabled).  Due timers
 * fire at the start of a full pass in deadline order; their deadlines bound
 * the core wait.  There is no capacity limit.
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_timer.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl_timer;
typedef void (*evpl_timer_callback_t)(struct evpl *evpl, struct evpl_timer *timer);

/* Fixed layout (32 bytes); all fields are written by the add functions. */
struct evpl_timer {
    evpl_timer_callback_t callback;
    uint64_t              interval; /* microseconds: period, or one-shot delay */
    uint64_t              deadline; /* library-managed, opaque unit */
    int                   oneshot;
};

/*
 * Arm a periodic timer: first run interval_us (> 0) from now, then each time
 * interval_us after the previous callback returned (a late loop fires once).
 * The callback may remove the timer, but must not free it.  Owning thread
 * only; arming an armed timer is a caller error.
 */
void evpl_add_timer(struct evpl *evpl, struct evpl_timer *timer, evpl_timer_callback_t callback,
                    uint64_t interval_us);

/*
 * Arm a timer that fires once, never earlier than delay_us from now.  It is
 * disarmed before its callback runs, so the callback may free or re-arm it.
 */
void evpl_add_oneshot_timer(struct evpl *evpl, struct evpl_timer *timer,
                            evpl_timer_callback_t callback, uint64_t delay_us);

/*
 * Disarm a timer.  No-op when it is not armed.  Legal from the timer's own
 * callback (a periodic timer then stops).
 */
void evpl_remove_timer(struct evpl *evpl, struct evpl_timer *timer);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
