/*
 * The real layout of struct evpl (one event loop) and the hooks the loop
 * offers to the modules built on it.  Only src/ includes this.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "evpl/evpl.h"
#include "core/config.h"
#include "core/event.h"
#include "core/log.h"

struct evpl_mech_ops;
struct evpl_timer_slot;

struct evpl {
    /* loop clock, refreshed at the start of every full pass */
    uint64_t now_ns;

    struct evpl_thread_config config;

    const struct evpl_mech_ops *mech;
    void                       *mech_private;

    /* ready events, dispatched every pass; NULL slots are removed events */
    struct evpl_event **active;
    int                 num_active;
    int                 max_active;

    /* timer min-heap */
    struct evpl_timer_slot *timers;
    int                     num_timers;
    int                     max_timers;
    struct evpl_timer     **firing; /* timers due this pass, NULL once removed */
    int                     num_firing;
    int                     max_firing;
    int                     firing_pos;
    struct evpl_timer      *firing_timer;   /* periodic timer whose callback runs */
    int                     firing_removed; /* ...and it was removed meanwhile */

    /* armed deferrals in arming order; NULL slots were removed */
    struct evpl_deferral **deferrals;
    int                    num_deferrals;
    int                    max_deferrals;

    /* hybrid polling (evpl_poll.h): one list, two sides (poll.c) */
    struct evpl_poll **polls;
    int                num_polls;
    int                max_polls;
    int                poll_iter; /* index of the poll being called, -1 outside */
    int                pure_passes;
    int                polls_unprobed; /* polls without a probe (poll.c) */
    int      probe_spins_left;         /* fruitless probe spins allowed until the next full pass */
    unsigned idle_pure_passes;         /* pure passes that found nothing (loop.c) */
    /* the application's side: contract 11.2 over its own polls */
    int      num_app_polls;
    int      in_poll_mode;
    int      pin_count;
    uint64_t activity;
    uint64_t activity_seen;
    uint64_t last_activity_time;
    /* the library's side: its own polls (core/poll.h) */
    int      num_lib_polls;
    int      lib_poll_mode;
    int      lib_pin_count;
    uint64_t lib_activity;
    uint64_t lib_activity_seen;
    uint64_t lib_last_activity_time;
    /* traffic spinning (traffic.c) */
    struct evpl_poll *traffic_poll;   /* registered while traffic events exist */
    int               traffic_events; /* registered EVPL_EVENT_TRAFFIC events */
    int               wait_found;     /* events the full pass's wait reported, -1 in pure passes */
    uint64_t          last_poll_ns;   /* previous poll pass, 0 outside poll mode */
    uint64_t          pass_end_ns;    /* end of the previous pass while spinning, else 0 */
    uint64_t          quiet_until_ns; /* internal activity ignored until then (preempted) */

    struct evpl_loop_hooks hooks;

    atomic_int        running;
    atomic_int        stops_in_flight; /* evpl_stop() calls still touching the loop */
    struct evpl_event wake_event;      /* eventfd: evpl_stop() and cross-thread wakeups */
    pthread_t         owner;

    /* module state */
    void *memory;                                /* src/memory per-loop cache */
    void *binds;                                 /* src/bind per-loop state */
    void *framework_private[EVPL_NUM_FRAMEWORK]; /* backend per-loop state */
    void (*framework_cleanup[EVPL_NUM_FRAMEWORK])(struct evpl *evpl, void *state);
    int pending_close; /* binds awaiting finalisation */
};

/* Current loop time in ns (virtual clock when enabled). */
uint64_t evpl_loop_clock_ns(void);

/*
 * Per-loop backend state.  A backend that creates state lazily for a loop
 * stores it with evpl_framework_set(); evpl_destroy() calls `cleanup` once
 * every bind of the loop has been closed (and before the loop's memory goes
 * away), so state can live as long as the loop instead of being rebuilt for
 * every connection.  Passing a NULL state clears the slot without cleanup.
 */
typedef void (*evpl_framework_cleanup_t)(struct evpl *evpl, void *state);

static inline void *
evpl_framework_get(struct evpl *evpl, enum evpl_framework_id id)
{
    return evpl->framework_private[id];
}

static inline void
evpl_framework_set(struct evpl *evpl, enum evpl_framework_id id, void *state,
                   evpl_framework_cleanup_t cleanup)
{
    evpl->framework_private[id] = state;
    evpl->framework_cleanup[id] = state ? cleanup : NULL;
}

/* Wake the loop from any thread (it runs a pass soon). */
void evpl_wake(struct evpl *evpl);

/*
 * Bind-layer entry points called by the loop (src/bind/).
 *   evpl_binds_finalize: pass step 6, deliver DISCONNECTED for closed binds.
 *   evpl_binds_close_all: close every bind and pump the loop until all have
 *       delivered DISCONNECTED (evpl_destroy, thread shutdown).
 *   evpl_binds_cleanup: free the per-loop bind/backend state.
 */
void evpl_binds_finalize(struct evpl *evpl);
void evpl_binds_close_all(struct evpl *evpl);
void evpl_binds_cleanup(struct evpl *evpl);
