/*
 * Traffic spinning: the hybrid mode of contract 11.2 for kernel-readiness
 * transports.
 *
 * A loop spins only while it has a registered poll.  Ring-based transports
 * (io_uring, block queues) bring their own; socket transports have nothing
 * to poll but the wait mechanism itself.  So while a loop owns at least one
 * traffic event (evpl_event_add_traffic: connection and datagram sockets),
 * it carries this poll, which asks the wait mechanism without blocking on
 * the passes that skip the core wait (pure poll passes).  Readiness latched
 * on a traffic event is activity (event.c), so under load the loop keeps
 * spinning -- a message is seen ~10 us after it arrives instead of after a
 * ~100 us wakeup -- and spin_ns after the traffic stops it sleeps again.
 *
 * Spinning only pays while the loop has a core to itself.  When a spinning
 * pass starts long after the previous pass ended (the time the loop spent
 * on its own work does not count), the thread was preempted
 * (more runnable threads than cores, as on a small machine running client
 * and server): spinning then only steals time from the peer it waits for.
 * For a while after that, activity the library finds itself does not
 * extend the spin (evpl_activity_internal), and the loop sleeps in the
 * kernel instead.  Activity the application reports (evpl_activity) always
 * counts.
 */
#include "core/loop.h"
#include "core/mech/mech.h"
#include "core/poll.h"

/* A gap this long between two passes means the thread was preempted... */
#define EVPL_PREEMPTED_NS 250000ull
/* ...and for this long afterwards found traffic does not extend the spin. */
#define EVPL_QUIET_NS 50000000ull

void
evpl_activity_internal(struct evpl *evpl)
{
    if (evpl->quiet_until_ns) {
        uint64_t now = evpl->last_poll_ns > evpl->now_ns ? evpl->last_poll_ns : evpl->now_ns;

        if (now < evpl->quiet_until_ns) {
            return;
        }
        evpl->quiet_until_ns = 0;
    }
    evpl->lib_activity++;
}

/* Called from evpl_polls_call() on every pass while the loop spins. */
void
evpl_poll_pass_clock(struct evpl *evpl)
{
    uint64_t now = evpl_loop_clock_ns();

    if (evpl->pass_end_ns && now > evpl->pass_end_ns &&
        now - evpl->pass_end_ns > EVPL_PREEMPTED_NS) {
        evpl->quiet_until_ns = now + EVPL_QUIET_NS;
    }
    evpl->last_poll_ns = now;
}

/* The end of every pass; only spinning passes need it. */
void
evpl_pass_end_clock(struct evpl *evpl)
{
    evpl->pass_end_ns = (evpl->in_poll_mode || evpl->lib_poll_mode) ? evpl_loop_clock_ns() : 0;
}

static void
traffic_poll_cb(struct evpl *evpl, void *private_data)
{
    (void) private_data;
    /* A full pass has just waited (with timeout 0 while spinning); a pure
     * pass asks the mechanism here.  What it latches is dispatched by the
     * pass, and latching a traffic event reports the activity. */
    if (evpl->wait_found < 0) {
        evpl->mech->wait(evpl->mech_private, evpl, 0);
    }
}

void
evpl_traffic_ref(struct evpl *evpl)
{
    if (evpl->traffic_events++ == 0) {
        evpl->traffic_poll = evpl_add_internal_poll(evpl, NULL, NULL, traffic_poll_cb, NULL);
    }
}

void
evpl_traffic_unref(struct evpl *evpl)
{
    if (--evpl->traffic_events == 0) {
        evpl_remove_poll(evpl, evpl->traffic_poll);
        evpl->traffic_poll = NULL;
    }
}
