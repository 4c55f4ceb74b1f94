/*
 * Poll sources and the hybrid spin-then-sleep state machine (contract 11.2).
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/loop.h"
#include "core/poll.h"

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
};

struct evpl_poll *
evpl_add_poll(struct evpl *evpl, evpl_poll_enter_callback_t enter_callback,
              evpl_poll_exit_callback_t exit_callback, evpl_poll_callback_t callback,
              void *private_data)
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
    evpl->polls_unprobed++;

    evpl->polls[evpl->num_polls++] = poll;
    return poll;
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
    free(poll);

    /* Appendix A.4: with nothing left to poll the loop must be able to sleep. */
    if (evpl->num_polls == 0) {
        evpl->in_poll_mode = 0;
    }
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
    evpl->activity++;
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
evpl_polls_call(struct evpl *evpl)
{
    evpl_poll_pass_clock(evpl);
    for (evpl->poll_iter = 0; evpl->poll_iter < evpl->num_polls; evpl->poll_iter++) {
        struct evpl_poll *poll = evpl->polls[evpl->poll_iter];

        poll->callback(evpl, poll->private_data);
    }
    evpl->poll_iter = -1;
}

static void
polls_enter(struct evpl *evpl)
{
    evpl->last_poll_ns = 0;
    for (evpl->poll_iter = 0; evpl->poll_iter < evpl->num_polls; evpl->poll_iter++) {
        struct evpl_poll *poll = evpl->polls[evpl->poll_iter];

        if (poll->enter_callback) {
            poll->enter_callback(evpl, poll->private_data);
        }
    }
    evpl->poll_iter = -1;
}

static void
polls_exit(struct evpl *evpl)
{
    evpl->last_poll_ns = 0;
    for (evpl->poll_iter = 0; evpl->poll_iter < evpl->num_polls; evpl->poll_iter++) {
        struct evpl_poll *poll = evpl->polls[evpl->poll_iter];

        if (poll->exit_callback) {
            poll->exit_callback(evpl, poll->private_data);
        }
    }
    evpl->poll_iter = -1;
}

/* Full-pass step 2 of contract 11.2. */
void
evpl_poll_mode_update(struct evpl *evpl, uint64_t now)
{
    int      can_poll = evpl->config.poll_mode && evpl->num_polls > 0;
    uint64_t elapsed  = 0;

    /* Activity is taken in even when there is nothing to poll: left unseen,
     * it would keep the core wait at timeout 0 (loop_wait_timeout) and the
     * loop would busy-loop -- e.g. after its last connection closed and took
     * the traffic poll with it, or after evpl_activity() on a poll-less loop. */
    if (evpl->activity != evpl->activity_seen) {
        evpl->activity_seen      = evpl->activity;
        evpl->last_activity_time = now;
    } else if (can_poll && now > evpl->last_activity_time) {
        elapsed = now - evpl->last_activity_time;
    }

    if (evpl->pin_count == 0 && elapsed > evpl->config.spin_ns) {
        if (evpl->in_poll_mode) {
            polls_exit(evpl);
            evpl->in_poll_mode = 0;
        }
    } else if (can_poll && !evpl->in_poll_mode) {
        polls_enter(evpl);
        evpl->in_poll_mode = 1;
        evpl->pure_passes  = 0;
    }
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
