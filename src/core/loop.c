/*
 * The event loop: creation, teardown, and the anatomy of one pass
 * (contract 2.4).  Everything a pass does is delegated to the service that
 * owns it (timer.c, poll.c, event.c, deferral.c, the wait mechanism and the
 * bind layer); this file only fixes the order.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/deferral.h"
#include "core/loop.h"
#include "core/mech/mech.h"
#include "core/poll.h"
#include "core/shared.h"
#include "core/timer.h"
#include "memory/allocator.h"

_Static_assert(sizeof(struct evpl_deferral) == 24, "struct evpl_deferral layout");
_Static_assert(offsetof(struct evpl_deferral, armed) == 16, "evpl_deferral.armed");
_Static_assert(sizeof(struct evpl_loop_hooks) == 32, "struct evpl_loop_hooks layout");
_Static_assert(offsetof(struct evpl_loop_hooks, pre_wait) == 8, "evpl_loop_hooks.pre_wait");
_Static_assert(offsetof(struct evpl_loop_hooks, post_wait) == 16, "evpl_loop_hooks.post_wait");
_Static_assert(offsetof(struct evpl_loop_hooks, private_data) == 24,
               "evpl_loop_hooks.private_data");

void evpl_events_dispatch(struct evpl *evpl);

static const struct evpl_mech_ops *
loop_mech(enum evpl_core_mech mech)
{
    switch (mech) {
    case EVPL_CORE_MECH_SELECT:
        return &evpl_mech_select;
    case EVPL_CORE_MECH_DEFAULT:
    case EVPL_CORE_MECH_EPOLL:
    default:
        return &evpl_mech_epoll;
    }
}

/* The loop's own wakeup: drained here, it exists only to end a core wait. */
static void
loop_wake_callback(struct evpl *evpl, struct evpl_event *event)
{
    uint64_t value;

    while (read(event->fd, &value, sizeof(value)) == sizeof(value)) {
    }
    evpl_event_mark_unreadable(evpl, event);
}

void
evpl_wake(struct evpl *evpl)
{
    uint64_t one = 1;
    ssize_t  rc;

    do {
        rc = write(evpl->wake_event.fd, &one, sizeof(one));
    } while (rc < 0 && errno == EINTR);
    evpl_core_abort_if(rc < 0 && errno != EAGAIN, "loop wakeup failed: errno %d", errno);
}

static void
loop_apply_affinity(const struct evpl_thread_config *config)
{
    if (config->ncpus <= 0) {
        return;
    }

    cpu_set_t set;

    CPU_ZERO(&set);
    for (int cpu = 0; cpu < EVPL_MAX_AFFINITY_CPUS && cpu < CPU_SETSIZE; cpu++) {
        if (config->cpu_mask[cpu / 64] & (1ULL << (cpu % 64))) {
            CPU_SET(cpu, &set);
        }
    }
    int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);

    if (rc != 0) {
        evpl_core_error("cannot pin loop thread to its CPU set: errno %d", rc);
    }
}

struct evpl *
evpl_create(struct evpl_thread_config *config)
{
    const struct evpl_global_config *global = evpl_config();
    struct evpl                     *evpl   = calloc(1, sizeof(*evpl));

    evpl_core_abort_if(!evpl, "out of memory creating a loop");

    if (config) {
        evpl->config = *config;
        evpl_thread_config_release(config);
    } else {
        evpl->config = global->thread_default;
    }
    if (evpl->config.poll_iterations < 0) {
        evpl->config.poll_iterations = 0;
    }

    evpl->owner      = pthread_self();
    evpl->poll_iter  = -1;
    evpl->wait_found = -1;
    atomic_init(&evpl->running, 1);
    atomic_init(&evpl->stops_in_flight, 0);

    evpl->mech         = loop_mech(global->core_mech);
    evpl->mech_private = evpl->mech->create(evpl);
    evpl_core_abort_if(!evpl->mech_private, "cannot create %s state: errno %d", evpl->mech->name,
                       errno);

    evpl->wake_event.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    evpl_core_abort_if(evpl->wake_event.fd < 0, "eventfd failed: errno %d", errno);
    evpl->wake_event.read_callback = loop_wake_callback;

    int rc = evpl_event_add(evpl, &evpl->wake_event);

    evpl_core_abort_if(rc < 0, "cannot register loop wakeup: errno %d", -rc);
    evpl_event_read_interest(evpl, &evpl->wake_event);

    loop_apply_affinity(&evpl->config);
    if (evpl->config.thread_name[0]) {
        pthread_setname_np(pthread_self(), evpl->config.thread_name);
    }

    evpl->now_ns                 = evpl_loop_clock_ns();
    evpl->last_activity_time     = evpl->now_ns;
    evpl->lib_last_activity_time = evpl->now_ns;

    evpl_memory_loop_init(evpl);
    return evpl;
}

void
evpl_destroy(struct evpl *evpl)
{
    /* A thread whose evpl_stop() let evpl_run() return may still be inside
     * evpl_wake(); wait for it before the descriptor and memory go away. */
    while (atomic_load_explicit(&evpl->stops_in_flight, memory_order_acquire) > 0) {
        sched_yield();
    }

    evpl_binds_close_all(evpl);

    for (int id = 0; id < EVPL_NUM_FRAMEWORK; id++) {
        evpl_framework_cleanup_t cleanup = evpl->framework_cleanup[id];

        if (cleanup) {
            evpl->framework_cleanup[id] = NULL;
            cleanup(evpl, evpl->framework_private[id]);
        }
        evpl->framework_private[id] = NULL;
    }

    evpl_binds_cleanup(evpl);

    if (evpl->num_timers > 0) {
        evpl_core_debug("loop destroyed with %d armed timers", evpl->num_timers);
    }

    evpl_event_remove(evpl, &evpl->wake_event);
    close(evpl->wake_event.fd);

    evpl_memory_loop_cleanup(evpl);

    evpl_timers_cleanup(evpl);
    evpl_deferrals_cleanup(evpl);
    evpl_polls_cleanup(evpl);
    free(evpl->active);

    evpl->mech->destroy(evpl->mech_private);
    free(evpl);
}

void
evpl_set_loop_hooks(struct evpl *evpl, const struct evpl_loop_hooks *hooks)
{
    if (hooks) {
        evpl->hooks = *hooks;
    } else {
        memset(&evpl->hooks, 0, sizeof(evpl->hooks));
    }
}

static inline void
loop_hook(struct evpl *evpl, evpl_loop_callback_t hook)
{
    if (hook) {
        hook(evpl, evpl->hooks.private_data);
    }
}

/* Step 3: how long the core wait may block, in ns (-1: unbounded). */
static int64_t
loop_wait_timeout(struct evpl *evpl, uint64_t now)
{
    /* Unobserved activity only counts while a poll can observe it: a
     * poll-less loop sleeps on it (contract 11.2; poll.c). */
    if (evpl->in_poll_mode || evpl->lib_poll_mode || evpl->num_active > 0 ||
        evpl->pending_close > 0 ||
        (evpl->config.poll_mode && evpl->num_app_polls > 0 &&
         evpl->activity != evpl->activity_seen) ||
        evpl_deferrals_pending(evpl) || evpl_virtual_clock_enabled()) {
        return 0;
    }

    int64_t timeout = evpl->config.wait_ms < 0 ? -1 : (int64_t) evpl->config.wait_ms * 1000000;
    int64_t next    = evpl_timers_next_ns(evpl, now);

    if (next >= 0 && (timeout < 0 || next < timeout)) {
        timeout = next;
    }
    return timeout;
}

/* How long an idle spin pass watches poll probes before yielding the CPU:
 * well under the cost of a wakeup, long enough to cover most of a
 * loopback round trip's wait (docs/io_uring.md). */
#define EVPL_PROBE_SPIN_NS 3000u
/* Timers and non-poll events wait for the full pass that comes every
 * poll_iterations pure passes; spins that find nothing would stretch that
 * (1000 x 3 us).  At most this many of them run between two full passes:
 * an idle cycle then takes at most ~1.4 ms instead of ~0.5 ms -- less than
 * a cycle of busy passes under traffic takes anyway -- while a loopback
 * ping-pong, which spins out once or twice per round trip, keeps most of
 * its spins. */
#define EVPL_PROBE_SPINS_PER_CYCLE 300

/* A power of two: how often an idle pure pass asks the wait mechanism. */
#define EVPL_IDLE_WAIT_EVERY 16u

static void
loop_pure_poll_pass(struct evpl *evpl)
{
    uint64_t activity = evpl->lib_activity;

    evpl_polls_call(evpl);
    evpl_events_dispatch(evpl);
    evpl_deferrals_run(evpl);
    evpl->pure_passes++;
    loop_hook(evpl, evpl->hooks.iteration_end);
    evpl_pass_end_clock(evpl);

    /* A spin pass that found nothing offers the CPU to whoever else wants
     * it: on a machine with fewer cores than busy threads that is often the
     * very peer this loop waits for, which would otherwise sit in the run
     * queue until the scheduler preempts us.  With no one waiting it
     * returns at once.  When every poll can be probed in memory, the loop
     * first watches the probes for a moment: completions that arrive then
     * are picked up at once. */
    if (evpl->lib_activity == activity && evpl->num_active == 0) {
        int seen =
            evpl->probe_spins_left > 0 ? evpl_polls_probe_spin(evpl, EVPL_PROBE_SPIN_NS) : -1;

        if (seen == 0) {
            evpl->probe_spins_left--;
        }
        /* Pure passes skip the core wait, so readiness of anything but the
         * polls (a doorbell, such as a listener handing over an accepted
         * connection; an fd event) waits for the next full pass, up to
         * poll_iterations passes away: ~5 ms on a loop that spins on an
         * io_uring ring.  Socket loops ask the mechanism on every pure pass
         * already (traffic.c); other spinning loops ask every
         * EVPL_IDLE_WAIT_EVERY-th idle pure pass, where it costs nothing
         * but idle time.  What it latches is dispatched by the next pass. */
        if (seen != 1 && !evpl->traffic_poll &&
            (++evpl->idle_pure_passes & (EVPL_IDLE_WAIT_EVERY - 1)) == 0) {
            evpl->mech->wait(evpl->mech_private, evpl, 0);
            if (evpl->num_active > 0) {
                return;
            }
        }
        if (seen != 1) {
            sched_yield();
        }
    }
}

static void
loop_full_pass(struct evpl *evpl)
{
    uint64_t now = evpl_loop_clock_ns();

    evpl->now_ns = now;

    evpl_timers_fire(evpl, now);

    now = evpl_loop_clock_ns();
    evpl_poll_mode_update(evpl, now);

    int64_t timeout = loop_wait_timeout(evpl, now);

    loop_hook(evpl, evpl->hooks.pre_wait);
    evpl->wait_found = evpl->mech->wait(evpl->mech_private, evpl, timeout);
    loop_hook(evpl, evpl->hooks.post_wait);

    /* Appendix A.6: finalise closed binds on every pass, not only idle ones. */
    evpl_binds_finalize(evpl);

    if (evpl->in_poll_mode || evpl->lib_poll_mode) {
        evpl_polls_call(evpl);
    }

    evpl->wait_found = -1;
    evpl_events_dispatch(evpl);
    evpl_deferrals_run(evpl);

    evpl->pure_passes      = 0;
    evpl->probe_spins_left = EVPL_PROBE_SPINS_PER_CYCLE;
    loop_hook(evpl, evpl->hooks.iteration_end);
    evpl_pass_end_clock(evpl);
}

void
evpl_continue(struct evpl *evpl)
{
    /* Pure passes follow the application's poll mode exactly; while only
     * the library spins, they are taken only where the application would
     * see nothing a full pass does (poll.c). */
    if (evpl->pure_passes < evpl->config.poll_iterations &&
        (evpl->in_poll_mode || (evpl->lib_poll_mode && !evpl_poll_app_pending(evpl)))) {
        loop_pure_poll_pass(evpl);
    } else {
        loop_full_pass(evpl);
    }
}

void
evpl_run(struct evpl *evpl)
{
    while (atomic_load_explicit(&evpl->running, memory_order_acquire)) {
        evpl_continue(evpl);
    }
}

void
evpl_stop(struct evpl *evpl)
{
    /* Announce ourselves before clearing `running`: once the owner sees the
     * loop stopped it may destroy it, and evpl_destroy() waits for us. */
    atomic_fetch_add_explicit(&evpl->stops_in_flight, 1, memory_order_acq_rel);
    atomic_store_explicit(&evpl->running, 0, memory_order_release);
    evpl_wake(evpl);
    atomic_fetch_sub_explicit(&evpl->stops_in_flight, 1, memory_order_release);
}
