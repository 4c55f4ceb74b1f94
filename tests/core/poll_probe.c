/*
 * Poll probes (src/core/poll.h, internal): a loop whose polls all have a
 * probe watches them for a moment in an idle spin pass instead of yielding
 * at once.  Checked here: evpl_polls_probe_spin() returns as soon as a probe
 * reports work (after exactly that many probe calls), spins for at least its
 * bound when none does, and never spins (nor calls a probe) while some poll
 * has no probe; adding, removing and clearing probes keeps that count right;
 * an idle pure poll pass of a spinning loop consults the probes, a pass that
 * found work does not; at most 300 spins that find nothing run between two
 * full passes (timers and events wait for those).  Links the static library
 * for the internal API.
 */
#include "test.h"

#include "core/clock.h"
#include "core/poll.h"

#define US 1000ULL

static int probe_calls, probe_fire_at, poll_calls;

static int
probe(void *private_data)
{
    (void) private_data;
    probe_calls++;
    return probe_fire_at > 0 && probe_calls >= probe_fire_at;
}

static void
poll_cb(struct evpl *evpl, void *private_data)
{
    (void) private_data;
    poll_calls++;
    if (probe_fire_at > 0 && probe_calls >= probe_fire_at) {
        probe_fire_at = 0; /* the work the probe saw is taken */
        evpl_activity(evpl);
    }
}

static void
unprobed_cb(struct evpl *evpl, void *private_data)
{
    (void) evpl;
    (void) private_data;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_test_config(argc, argv);

    evpl_global_config_set_virtual_clock(config, 1);
    evpl_global_config_set_spin_ns(config, 100 * US);
    evpl_init(config);

    struct evpl_thread_config *tc = evpl_thread_config_init();

    evpl_thread_config_set_poll_iterations(tc, 3);

    struct evpl      *evpl  = evpl_create(tc);
    struct evpl_poll *poll  = evpl_add_poll(evpl, NULL, NULL, poll_cb, NULL);
    uint64_t          start = 0;

    /* No probe yet: no spinning, nothing called. */
    test_assert_eq(evpl_polls_probe_spin(evpl, 1000 * US), -1);
    test_assert_eq(probe_calls, 0);

    /* A probe that sees work on its 5th call ends the spin right there. */
    evpl_poll_set_probe(evpl, poll, probe);
    probe_fire_at = 5;
    test_assert_eq(evpl_polls_probe_spin(evpl, 1000000 * US), 1);
    test_assert_eq(probe_calls, 5);

    /* Nothing to see: spins for at least the bound, then gives up. */
    probe_fire_at = 0;
    probe_calls   = 0;
    start         = evpl_monotonic_ns();
    test_assert_eq(evpl_polls_probe_spin(evpl, 200 * US), 0);
    test_assert(evpl_monotonic_ns() - start >= 200 * US);
    test_assert(probe_calls > 0);

    /* A poll without a probe could have work nobody can see: no spin. */
    struct evpl_poll *plain = evpl_add_poll(evpl, NULL, NULL, unprobed_cb, NULL);

    probe_calls = 0;
    test_assert_eq(evpl_polls_probe_spin(evpl, 1000 * US), -1);
    test_assert_eq(probe_calls, 0);
    evpl_remove_poll(evpl, plain);
    probe_fire_at = 1;
    test_assert_eq(evpl_polls_probe_spin(evpl, 1000 * US), 1);
    test_assert_eq(probe_calls, 1);

    /* Clearing the probe counts the poll as unprobed again. */
    evpl_poll_set_probe(evpl, poll, NULL);
    probe_calls = 0;
    test_assert_eq(evpl_polls_probe_spin(evpl, 1000 * US), -1);
    test_assert_eq(probe_calls, 0);
    evpl_poll_set_probe(evpl, poll, probe);

    /* In the loop: the first full pass enters poll mode (spin window), the
     * following pure passes are idle and consult the probe before yielding. */
    probe_fire_at = 0;
    evpl_continue(evpl);
    probe_calls = 0;
    poll_calls  = 0;
    evpl_continue(evpl);
    test_assert_eq(poll_calls, 1);
    test_assert(probe_calls > 0);

    /* The probe fires during the idle pass's spin: the next pass's poll
     * callback takes the work (activity), and that busy pass does not spin. */
    probe_calls   = 0;
    probe_fire_at = 3;
    evpl_continue(evpl);
    test_assert_eq(probe_calls, 3);
    poll_calls = 0;
    evpl_continue(evpl);
    test_assert_eq(poll_calls, 1);
    test_assert_eq(probe_fire_at, 0);
    test_assert_eq(probe_calls, 3);

    evpl_remove_poll(evpl, poll);
    evpl_destroy(evpl);

    /* The budget: with 500 pure passes per full pass and a probe that never
     * sees work, only the first 300 idle passes after a full pass spin. */
    tc = evpl_thread_config_init();
    evpl_thread_config_set_poll_iterations(tc, 500);
    evpl          = evpl_create(tc);
    poll          = evpl_add_poll(evpl, NULL, NULL, poll_cb, NULL);
    probe_fire_at = 0;
    evpl_poll_set_probe(evpl, poll, probe);
    evpl_continue(evpl); /* full pass: enters poll mode */
    for (int cycle = 0; cycle < 2; cycle++) {
        int spun = 0;

        for (int i = 0; i < 500; i++) {
            probe_calls = 0;
            evpl_continue(evpl);
            spun += probe_calls > 0;
        }
        test_assert_eq(spun, 300);
        evpl_activity(evpl); /* stay in poll mode across the full pass */
        evpl_continue(evpl); /* the full pass renews the budget */
    }
    evpl_remove_poll(evpl, poll);
    evpl_destroy(evpl);
    return 0;
}
