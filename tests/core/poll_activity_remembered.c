/*
 * Activity reported while no poll is registered is remembered and observed
 * when a poll is added: the first full pass after evpl_add_poll enters poll
 * mode, however long ago the activity was (contract 11.2: the activity
 * counter is only observed by a full pass with poll_mode on and a poll
 * registered; Appendix A.4).  Meanwhile the poll-less loop must still sleep
 * in the core wait rather than busy-loop on activity nobody can observe.
 *
 * Real clock, without timing assertions: spin_ns is 1 ms; the loop sleeps
 * until a 20 ms timer fires, and a sleeping loop gets there in a handful of
 * passes while a busy-looping one needs thousands.
 */
#include "test.h"

static int enters, polls, timer_fired;

static void
enter_cb(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
    test_assert_eq(polls, 0); /* enter comes before the first poll call */
    enters++;
}

static void
poll_cb(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
    test_assert_eq(enters, 1);
    polls++;
}

static void
timer_cb(struct evpl *evpl, struct evpl_timer *timer)
{
    (void) evpl;
    (void) timer;
    timer_fired = 1;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_test_config(argc, argv);

    evpl_global_config_set_spin_ns(config, 1000000); /* 1 ms */
    evpl_init(config);

    struct evpl_thread_config *tc = evpl_thread_config_init();

    /* The pass that fires the timer then sleeps at most this long. */
    evpl_thread_config_set_wait_ms(tc, 50);

    struct evpl      *evpl = evpl_create(tc);
    struct evpl_timer timer;

    evpl_activity(evpl);
    evpl_add_oneshot_timer(evpl, &timer, timer_cb, 20000);

    int passes = 0;

    while (!timer_fired) {
        evpl_continue(evpl);
        passes++;
        test_assert_msg(passes < 1000, "a poll-less loop busy-loops on unobserved activity");
    }

    /* 20 ms later, far past spin_ns: the activity is still unobserved. */
    struct evpl_poll *poll = evpl_add_poll(evpl, enter_cb, NULL, poll_cb, NULL);

    evpl_continue(evpl);
    test_assert_eq(enters, 1);
    test_assert_eq(polls, 1);

    evpl_remove_poll(evpl, poll);
    evpl_destroy(evpl);
    return 0;
}
