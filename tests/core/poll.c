/*
 * Hybrid spin-then-sleep transitions on the virtual clock (contract 11.2):
 * enter on the first full pass after a poll is added (spin window starts at
 * creation), poll callback on every pass while spinning, exit after spin_ns
 * without activity, re-enter on evpl_activity, pinning holds poll mode,
 * removing the last poll leaves poll mode without callbacks (A.4), and
 * poll_mode 0 never spins.
 */
#include "test.h"

#define US 1000ULL

static int enters, exits, polls;

static void
enter_cb(struct evpl *evpl, void *p)
{
    (void) evpl;
    test_assert(p == &enters);
    enters++;
}

static void
exit_cb(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
    exits++;
}

static void
poll_cb(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
    polls++;
}

static void
passes(struct evpl *evpl, int n)
{
    for (int i = 0; i < n; i++) {
        evpl_continue(evpl);
    }
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_test_config(argc, argv);

    evpl_global_config_set_virtual_clock(config, 1);
    evpl_global_config_set_spin_ns(config, 100 * US);
    evpl_init(config);

    struct evpl_thread_config *tc = evpl_thread_config_init();

    evpl_thread_config_set_poll_iterations(tc, 3); /* a full pass every 4th pass */

    struct evpl      *evpl = evpl_create(tc);
    struct evpl_poll *poll = evpl_add_poll(evpl, enter_cb, exit_cb, poll_cb, &enters);

    test_assert(poll != NULL);
    test_assert_eq(enters, 0); /* adding does not enter by itself */

    evpl_continue(evpl); /* full pass: within the spin window -> enter */
    test_assert_eq(enters, 1);
    test_assert(polls >= 1);

    /* While spinning the poll callback runs on every pass. */
    int before = polls;

    passes(evpl, 10);
    test_assert_eq(polls, before + 10);
    test_assert_eq(exits, 0);

    /* Activity within the window keeps it spinning. */
    evpl_virtual_clock_advance(60 * US);
    evpl_activity(evpl);
    passes(evpl, 8);
    evpl_virtual_clock_advance(60 * US);
    passes(evpl, 8);
    test_assert_eq(exits, 0);

    /* No activity for more than spin_ns: exit on the next full pass. */
    evpl_virtual_clock_advance(60 * US);
    passes(evpl, 4);
    test_assert_eq(exits, 1);
    before = polls;
    passes(evpl, 10);
    test_assert_eq(polls, before); /* sleeping: no poll calls */

    /* Activity brings it back with an enter callback. */
    evpl_activity(evpl);
    evpl_continue(evpl);
    test_assert_eq(enters, 2);

    /* Pinned: no exit however long, unpin lets it go. */
    evpl_poll_pin(evpl);
    evpl_virtual_clock_advance(1000 * US);
    passes(evpl, 12);
    test_assert_eq(exits, 1);
    evpl_poll_unpin(evpl);
    passes(evpl, 4);
    test_assert_eq(exits, 2);

    /* Pin while sleeping enters on the next full pass. */
    evpl_poll_pin(evpl);
    evpl_continue(evpl);
    test_assert_eq(enters, 3);
    evpl_poll_unpin(evpl);

    /* Removing the last poll leaves poll mode silently (A.4). */
    evpl_activity(evpl);
    passes(evpl, 4);
    int e = exits;

    evpl_remove_poll(evpl, poll);
    test_assert_eq(exits, e);
    before = polls;
    passes(evpl, 5);
    test_assert_eq(polls, before);

    /* Re-adding after a long idle period does not enter without activity. */
    evpl_virtual_clock_advance(1000 * US);
    poll   = evpl_add_poll(evpl, enter_cb, exit_cb, poll_cb, &enters);
    int en = enters;

    before = polls;
    passes(evpl, 4);
    test_assert_eq(enters, en);
    test_assert_eq(exits, e); /* it had left poll mode silently: no exit now */
    test_assert_eq(polls, before);
    evpl_activity(evpl);
    passes(evpl, 1);
    test_assert_eq(enters, en + 1);
    evpl_remove_poll(evpl, poll);
    evpl_destroy(evpl);

    /* poll_mode 0 never spins. */
    tc = evpl_thread_config_init();
    evpl_thread_config_set_poll_mode(tc, 0);
    evpl   = evpl_create(tc);
    enters = exits = polls = 0;
    poll                   = evpl_add_poll(evpl, enter_cb, exit_cb, poll_cb, &enters);
    evpl_activity(evpl);
    passes(evpl, 5);
    test_assert_eq(enters, 0);
    test_assert_eq(polls, 0);
    evpl_remove_poll(evpl, poll);
    evpl_destroy(evpl);
    return 0;
}
