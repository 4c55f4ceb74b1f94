/*
 * Poll sources and the hybrid spin-then-sleep state machine (contract 11.2).
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/loop.h"
#include "core/poll.h"
#include "core/timer.h"

/* Tell the CPU we are spinning (frees resources for an SMT sibling). */
static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct evpl_poll {
    evpl_poll_enter_callback_t enter_callback;
    evpl_poll_exit_callback_t  exit_callback;
    evpl_poll_callback_t       callback;
    evpl_poll_probe_t          probe;
    void                      *private_data;
    int                        index;
    int                        internal; /* registered by the library (poll.h) */
    int                        entered;  /* enter callback ran, exit has not */
};

static struct evpl_poll *
poll_add(struct evpl *evpl, evpl_poll_enter_callback_t enter_callback,
         evpl_poll_exit_callback_t exit_callback, evpl_poll_callback_t callback, void *private_data,
         int internal)
{
    evpl_core_abort_if(!callback, "evpl_add_poll: callback is required");

    struct evpl_poll *poll = malloc(sizeof(*poll));

    evpl_core_abort_if(!poll, "out of memory adding a poll");

    if (evpl->num_polls == evpl->max_polls) {
        int   max = evpl->max_polls ? evpl->max_polls * 2 : 16;
        void *p   = realloc(evpl->polls, max * sizeof(*evpl->polls));

        evpl_core_abort_if(!p, "out of memory growing the poll list");
        evpl->polls     = p;
        evpl->max_polls = max;
    }

    poll->enter_callback = enter_callback;
    poll->exit_callback  = exit_callback;
    poll->callback       = callback;
    poll->probe          = NULL;
    poll->private_data   = private_data;
    poll->index          = evpl->num_polls;
    poll->internal       = internal;
    /* Not entered yet, even when its side of the loop already spins: the
     * first pass that calls it runs its enter callback first (never inside
     * this call: contract 2.4, no callback before the registering call
     * returned). */
    poll->entered = 0;
    evpl->polls_unprobed++;
    if (internal) {
        evpl->num_lib_polls++;
    } else {
        evpl->num_app_polls++;
    }

    evpl->polls[evpl->num_polls++] = poll;
    return poll;
}

struct evpl_poll *
evpl_add_poll(struct evpl *evpl, evpl_poll_enter_callback_t enter_callback,
              evpl_poll_exit_callback_t exit_callback, evpl_poll_callback_t callback,
              void *private_data)
{
    return poll_add(evpl, enter_callback, exit_callback, callback, private_data, 0);
}

struct evpl_poll *
evpl_add_internal_poll(struct evpl *evpl, evpl_poll_enter_callback_t enter_callback,
                       evpl_poll_exit_callback_t exit_callback, evpl_poll_callback_t callback,
                       void *private_data)
{
    return poll_add(evpl, enter_callback, exit_callback, callback, private_data, 1);
}

int
evpl_poll_entered(const struct evpl_poll *poll)
{
    return poll->entered;
}

void
evpl_remove_poll(struct evpl *evpl, struct evpl_poll *poll)
{
    int i = poll->index;

    evpl_core_abort_if(i < 0 || i >= evpl->num_polls || evpl->polls[i] != poll,
                       "evpl_remove_poll: unknown poll %p", (void *) poll);

    if (poll->probe == NULL) {
        evpl->polls_unprobed--;
    }
    memmove(&evpl->polls[i], &evpl->polls[i + 1], (evpl->num_polls - i - 1) * sizeof(poll));
    evpl->num_polls--;
    for (int j = i; j < evpl->num_polls; j++) {
        evpl->polls[j]->index = j;
    }
    /* Keep an iteration in progress on the next poll. */
    if (evpl->poll_iter >= i) {
        evpl->poll_iter--;
    }

    /* Appendix A.4: with nothing left to poll a side leaves poll mode
     * (without callbacks: there is no one left to call). */
    if (poll->internal) {
        if (--evpl->num_lib_polls == 0) {
            evpl->lib_poll_mode = 0;
        }
    } else if (--evpl->num_app_polls == 0) {
        evpl->in_poll_mode = 0;
    }
    free(poll);
}

void
evpl_poll_set_probe(struct evpl *evpl, struct evpl_poll *poll, evpl_poll_probe_t probe)
{
    evpl->polls_unprobed += (probe == NULL) - (poll->probe == NULL);
    poll->probe = probe;
}

int
evpl_polls_probe_spin(struct evpl *evpl, uint64_t spin_ns)
{
    uint64_t start;

    if (evpl->polls_unprobed > 0 || evpl->num_polls == 0) {
        return -1;
    }
    start = evpl_monotonic_ns();
    do {
        /* A clock read costs more than a probe: check a few times per read. */
        for (int round = 0; round < 16; round++) {
            for (int i = 0; i < evpl->num_polls; i++) {
                struct evpl_poll *poll = evpl->polls[i];

                if (poll->probe(poll->private_data)) {
                    return 1;
                }
            }
            cpu_relax();
        }
    } while (evpl_monotonic_ns() - start < spin_ns);
    return 0;
}

void
evpl_activity(struct evpl *evpl)
{
    /* The application's spin window (contract 11.2), and the library's:
     * activity the application finds keeps its transports spinning too. */
    evpl->activity++;
    evpl->lib_activity++;
}

void
evpl_activity_backend(struct evpl *evpl)
{
    evpl->lib_activity++;
}

void
evpl_poll_pin(struct evpl *evpl)
{
    evpl->pin_count++;
}

void
evpl_poll_unpin(struct evpl *evpl)
{
    evpl_core_abort_if(evpl->pin_count <= 0, "evpl_poll_unpin without a matching pin");
    evpl->pin_count--;
}

void
evpl_poll_pin_internal(struct evpl *evpl)
{
    evpl->lib_pin_count++;
}

void
evpl_poll_unpin_internal(struct evpl *evpl)
{
    evpl_core_abort_if(evpl->lib_pin_count <= 0, "internal poll unpin without a matching pin");
    evpl->lib_pin_count--;
}

/* Is the side of the loop this poll belongs to in poll mode? */
static inline int
poll_side_on(const struct evpl *evpl, const struct evpl_poll *poll)
{
    return poll->internal ? evpl->lib_poll_mode : evpl->in_poll_mode;
}

void
evpl_polls_call(struct evpl *evpl)
{
    evpl_poll_pass_clock(evpl);
    for (evpl->poll_iter = 0; evpl->poll_iter < evpl->num_polls; evpl->poll_iter++) {
        struct evpl_poll *poll = evpl->polls[evpl->poll_iter];

        if (!poll_side_on(evpl, poll)) {
            continue;
        }
        if (!poll->entered) {
            /* Added while its side was already in poll mode. */
            poll->entered = 1;
            if (poll->enter_callback) {
                poll->enter_callback(evpl, poll->private_data);
                /* The enter callback may have removed it. */
                if (evpl->poll_iter < 0 || evpl->polls[evpl->poll_iter] != poll) {
                    continue;
                }
            }
        }
        poll->callback(evpl, poll->private_data);
    }
    evpl->poll_iter = -1;
}

static void
polls_enter(struct evpl *evpl, int internal)
{
    evpl->last_poll_ns = 0;
    for (evpl->poll_iter = 0; evpl->poll_iter < evpl->num_polls; evpl->poll_iter++) {
        struct evpl_poll *poll = evpl->polls[evpl->poll_iter];

        if (poll->internal != internal || poll->entered) {
            continue;
        }
        poll->entered = 1;
        if (poll->enter_callback) {
            poll->enter_callback(evpl, poll->private_data);
        }
    }
    evpl->poll_iter = -1;
}

/* Only polls that were entered are exited: a poll added while its side
 * spun, and not called since, has seen neither. */
static void
polls_exit(struct evpl *evpl, int internal)
{
    evpl->last_poll_ns = 0;
    for (evpl->poll_iter = 0; evpl->poll_iter < evpl->num_polls; evpl->poll_iter++) {
        struct evpl_poll *poll = evpl->polls[evpl->poll_iter];

        if (poll->internal != internal || !poll->entered) {
            continue;
        }
        poll->entered = 0;
        if (poll->exit_callback) {
            poll->exit_callback(evpl, poll->private_data);
        }
    }
    evpl->poll_iter = -1;
}

/*
 * Full-pass step 2 of contract 11.2, run twice: once for the application's
 * polls, exactly as the contract states it, and once for the library's own
 * polls (socket traffic, io_uring rings, block queues), whose spinning must
 * stay invisible to the application.
 *
 * The application side observes its activity counter only while poll_mode
 * is on and one of its polls is registered: activity reported before that
 * is remembered, and the full pass after a poll is added observes it and
 * enters poll mode.  A poll-less loop still never busy-loops on it: nothing
 * forces the core wait to 0 for activity nobody can observe
 * (loop_wait_timeout).
 *
 * The library side takes its activity in on every full pass, polls or not:
 * it is only ever observed by the library, and the next poll it registers
 * starts its own window.
 */
void
evpl_poll_mode_update(struct evpl *evpl, uint64_t now)
{
    int      can_poll = evpl->config.poll_mode && evpl->num_app_polls > 0;
    uint64_t elapsed  = 0;

    if (can_poll) {
        if (evpl->activity != evpl->activity_seen) {
            evpl->activity_seen      = evpl->activity;
            evpl->last_activity_time = now;
        } else if (now > evpl->last_activity_time) {
            elapsed = now - evpl->last_activity_time;
        }
    }
    if (evpl->pin_count == 0 && elapsed > evpl->config.spin_ns) {
        if (evpl->in_poll_mode) {
            polls_exit(evpl, 0);
            evpl->in_poll_mode = 0;
        }
    } else if (can_poll && !evpl->in_poll_mode) {
        polls_enter(evpl, 0);
        evpl->in_poll_mode = 1;
        evpl->pure_passes  = 0;
    }

    /* The library side: application pins hold it too (the application may
     * pin while it waits for a completion the library's polls deliver). */
    can_poll = evpl->config.poll_mode && evpl->num_lib_polls > 0;
    elapsed  = 0;
    if (evpl->lib_activity != evpl->lib_activity_seen) {
        evpl->lib_activity_seen      = evpl->lib_activity;
        evpl->lib_last_activity_time = now;
    } else if (can_poll && now > evpl->lib_last_activity_time) {
        elapsed = now - evpl->lib_last_activity_time;
    }
    if (evpl->pin_count + evpl->lib_pin_count == 0 && elapsed > evpl->config.spin_ns) {
        if (evpl->lib_poll_mode) {
            polls_exit(evpl, 1);
            evpl->lib_poll_mode = 0;
        }
    } else if (can_poll && !evpl->lib_poll_mode) {
        polls_enter(evpl, 1);
        evpl->lib_poll_mode = 1;
        evpl->pure_passes   = 0;
    }
}

/*
 * While only the library spins, a pass may be a pure poll pass only if the
 * application could not tell it from the full pass it expects (for it, a
 * loop out of poll mode runs nothing but full passes): no timer is due and
 * its own poll-mode bookkeeping would not enter poll mode.
 */
int
evpl_poll_app_pending(struct evpl *evpl)
{
    if (evpl->num_timers == 0 && evpl->num_app_polls == 0) {
        return 0;
    }

    uint64_t now = evpl_loop_clock_ns();

    if (evpl_timers_next_ns(evpl, now) == 0) {
        return 1;
    }
    if (!evpl->config.poll_mode || evpl->num_app_polls == 0) {
        return 0;
    }
    return evpl->pin_count > 0 || evpl->activity != evpl->activity_seen ||
           now <= evpl->last_activity_time ||
           now - evpl->last_activity_time <= evpl->config.spin_ns;
}

void
evpl_polls_cleanup(struct evpl *evpl)
{
    for (int i = 0; i < evpl->num_polls; i++) {
        free(evpl->polls[i]);
    }
    free(evpl->polls);
    evpl->polls     = NULL;
    evpl->num_polls = evpl->max_polls = 0;
}
