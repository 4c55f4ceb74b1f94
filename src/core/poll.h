/* Loop-internal poll entry points (src/core/poll.c). */
#pragma once

#include <stdint.h>

struct evpl;

void evpl_polls_call(struct evpl *evpl);
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
