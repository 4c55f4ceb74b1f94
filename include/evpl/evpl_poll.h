/*
 * Poll sources and the hybrid spin-then-sleep mode.
 *
 * A loop with poll_mode configured and at least one registered poll spins
 * (calling every poll callback on every pass, never sleeping) from creation
 * or from the last evpl_activity() until spin_ns has passed without activity;
 * then it calls the exit callbacks and sleeps in the core wait again.  The
 * next evpl_activity() or pin brings it back (enter callbacks first).  While
 * spinning, timers and mode changes are examined on every (poll_iterations +
 * 1)th pass only.  Removing the last poll leaves poll mode (no callbacks).
 * A poll's callback runs only between its enter callback and its matching
 * exit callback: a poll added while the loop is in poll mode gets its enter
 * callback on the next pass, just before its first poll callback (never
 * inside evpl_add_poll), and an exit callback only if it was entered.
 * Activity reported while no poll is registered is remembered: the first
 * full pass after a poll is added observes it and enters poll mode.  The
 * loop still sleeps meanwhile: unobserved activity keeps the core wait at
 * timeout 0 only while a poll can observe it.
 * All functions are owning-thread only.
 *
 * Library polls (behaviour of this implementation).  Transports register
 * polls of their own, so a loop with connections takes part in the hybrid
 * mode without the application registering anything: io_uring rings and
 * block queues poll their completion queues, and a loop that owns a kernel
 * socket connection or datagram socket (TCP, UDP, UNIX, TLS, TCP_RDMA) polls
 * its wait mechanism without blocking.  These polls run under their own copy
 * of the state machine and are invisible to the application's polls, which
 * see enter, poll and exit exactly as described above from their own view:
 * their registrations, evpl_activity(), pins and spin_ns (while only the
 * library spins, a pass is a pure poll pass only when a full pass would show
 * the application nothing: no timer due, no entry into poll mode due).
 * New readiness on such a socket counts as activity for the library's
 * polls only, so under load the loop spins and notices a message about
 * 10 us after it arrives instead of after a ~100 us wakeup, and spin_ns
 * after the traffic stops it sleeps again.  An idle connection therefore
 * costs nothing; poll_mode 0 turns spinning off for a loop.  Two rules keep
 * spinning from hurting on machines with fewer cores than busy threads:
 *   - a pure poll pass that found nothing calls sched_yield(), so a peer
 *     thread waiting for this core runs at once (it returns immediately when
 *     nobody waits);
 *   - when two poll passes are more than 250 us apart the thread was
 *     preempted; for the next 50 ms activity found by the library itself
 *     does not extend the spin window (evpl_activity() from the application
 *     always does).
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_poll.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl_poll; /* registration handle */

typedef void (*evpl_poll_enter_callback_t)(struct evpl *evpl, void *private_data);
typedef void (*evpl_poll_exit_callback_t)(struct evpl *evpl, void *private_data);
typedef void (*evpl_poll_callback_t)(struct evpl *evpl, void *private_data);

/*
 * Register a poll source (callback required; enter/exit optional).  Does not
 * by itself enter poll mode.  Never returns NULL; no capacity limit.
 */
struct evpl_poll *evpl_add_poll(struct evpl *evpl, evpl_poll_enter_callback_t enter_callback,
                                evpl_poll_exit_callback_t exit_callback,
                                evpl_poll_callback_t callback, void *private_data);

/* Unregister a poll (its exit callback is not called); the handle dies. */
void evpl_remove_poll(struct evpl *evpl, struct evpl_poll *poll);

/* Report that polling found work: restarts the spin window. */
void evpl_activity(struct evpl *evpl);

/* Keep the loop in poll mode while the pin count is non-zero. */
void evpl_poll_pin(struct evpl *evpl);
void evpl_poll_unpin(struct evpl *evpl);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
