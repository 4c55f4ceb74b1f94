/* Loop-internal poll entry points (src/core/poll.c). */
#pragma once

#include <stdint.h>

#include "evpl/evpl.h"

struct evpl;

void evpl_polls_call(struct evpl *evpl);

/*
 * The library's own polls (socket traffic, io_uring rings, block queues).
 * They spin under their own copy of the 11.2 state machine -- the library
 * side: evpl_activity_internal/evpl_activity_backend and internal pins
 * drive it, and application activity and pins count for it too -- and are
 * invisible to the application's side, whose polls see enter/poll/exit
 * exactly as contract 11.2 describes from the application's own polls,
 * evpl_activity() calls and pins.  Remove them with evpl_remove_poll().
 */
struct evpl_poll *evpl_add_internal_poll(struct evpl               *evpl,
                                         evpl_poll_enter_callback_t enter_callback,
                                         evpl_poll_exit_callback_t  exit_callback,
                                         evpl_poll_callback_t callback, void *private_data);
/* Has the poll's enter callback run (and its exit callback not since)? */
int evpl_poll_entered(const struct evpl_poll *poll);
/* Activity a library backend found, counted however the loop was scheduled. */
void evpl_activity_backend(struct evpl *evpl);
void evpl_poll_pin_internal(struct evpl *evpl);
void evpl_poll_unpin_internal(struct evpl *evpl);
/* 1 when a pass must be a full pass for the application's view (poll.c). */
int evpl_poll_app_pending(struct evpl *evpl);

/*
 * A poll whose pending work shows in memory (a ring's completion queue) may
 * give the loop a probe: a check without side effects and without system
 * calls that says whether the poll callback would find work.  When every
 * poll of a loop has one, an idle spin pass watches the probes for a few
 * microseconds before it yields the CPU (evpl_polls_probe_spin): work that
 * arrives meanwhile is seen within tens of nanoseconds instead of after a
 * sched_yield() and the rest of a pass.
 */
typedef int (*evpl_poll_probe_t)(void *private_data);
void evpl_poll_set_probe(struct evpl *evpl, struct evpl_poll *poll, evpl_poll_probe_t probe);
/* Returns 1 as soon as a probe reports work, 0 after spin_ns without, or -1
 * at once when some poll has no probe (or there is none). */
int  evpl_polls_probe_spin(struct evpl *evpl, uint64_t spin_ns);
void evpl_poll_mode_update(struct evpl *evpl, uint64_t now);
void evpl_polls_cleanup(struct evpl *evpl);

/*
 * Activity found by the library itself (traffic on a transport, completions
 * on a ring).  Unlike evpl_activity() it is ignored for a while after the
 * loop was seen to be preempted while spinning: spinning only pays while the
 * loop has a core to itself (see traffic.c).
 */
void evpl_activity_internal(struct evpl *evpl);

/* traffic.c: the loop's own poll, present while traffic events exist. */
void evpl_traffic_ref(struct evpl *evpl);
void evpl_traffic_unref(struct evpl *evpl);
/* Spin-pass bookkeeping for the preemption guard (traffic.c): the start of
 * a poll pass, and the end of every pass. */
void evpl_poll_pass_clock(struct evpl *evpl);
void evpl_pass_end_clock(struct evpl *evpl);
