/*
 * Loop lifecycle and pass anatomy:
 *  - hooks run pre_wait -> post_wait -> iteration_end on full passes, and only
 *    iteration_end on pure poll passes; clearing hooks stops them;
 *  - wait_ms bounds an idle core wait; a pending deferral forces it to zero;
 *  - evpl_stop from another thread ends a sleeping evpl_run promptly, and a
 *    stopped loop stays stopped;
 *  - a timer calling evpl_stop on its 10th firing ends evpl_run;
 *  - loops can be created and destroyed repeatedly.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static char seq[64];
static int  seq_len;

static void
hook_pre(struct evpl *evpl, void *p)
{
    (void) evpl;
    test_assert(p == seq);
    seq[seq_len++] = 'p';
}

static void
hook_post(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
    seq[seq_len++] = 'q';
}

static void
hook_end(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
    seq[seq_len++] = 'e';
}

static void
poll_noop(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
}

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *
stopper(void *arg)
{
    usleep(50000);
    evpl_stop(arg);
    return NULL;
}

static int tick_count;

static void
tick_cb(struct evpl *evpl, struct evpl_timer *t)
{
    (void) t;
    if (++tick_count == 10) {
        evpl_stop(evpl);
    }
}

static void
noop_deferral(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
}

int
main(int argc, char **argv)
{
    evpl_test_init(argc, argv);

    /* Hooks on full passes. */
    struct evpl_thread_config *tc = evpl_thread_config_init();

    evpl_thread_config_set_wait_ms(tc, 20);
    struct evpl           *evpl  = evpl_create(tc);
    struct evpl_loop_hooks hooks = {hook_end, hook_pre, hook_post, seq};

    evpl_set_loop_hooks(evpl, &hooks);
    evpl_continue(evpl);
    evpl_continue(evpl);
    seq[seq_len] = '\0';
    test_assert_msg(strcmp(seq, "pqepqe") == 0, "hooks '%s'", seq);

    /* wait_ms bounds an idle wait: five idle passes sleep about 100 ms in
     * all (a kernel may end one wait early -- EINTR, a spurious wakeup --
     * so the bound is on the sum, which a busy loop would miss by far). */
    uint64_t t0 = now_ns();

    for (int i = 0; i < 5; i++) {
        evpl_continue(evpl);
    }
    uint64_t dt = now_ns() - t0;

    test_assert_msg(dt >= 60000000ULL && dt < 5000000000ULL, "5 idle passes took %llu ns",
                    (unsigned long long) dt);

    /* An armed deferral means no sleeping: on a loop whose idle wait is
     * 20 s, such a pass returns at once.  The bound (10 s, half the wait)
     * only has to tell "no sleep" from "slept the whole wait", so no load
     * or valgrind slowdown comes near it. */
    struct evpl_deferral       d;
    struct evpl_thread_config *slow = evpl_thread_config_init();

    evpl_thread_config_set_wait_ms(slow, 20000);
    struct evpl *slow_loop = evpl_create(slow);

    evpl_deferral_init(&d, noop_deferral, NULL);
    evpl_defer(slow_loop, &d);
    t0 = now_ns();
    evpl_continue(slow_loop);
    dt = now_ns() - t0;
    test_assert_msg(dt < 10000000000ULL, "pass with a deferral slept %llu ns",
                    (unsigned long long) dt);
    test_assert_eq(d.armed, 0);
    evpl_destroy(slow_loop);

    /* Pure poll passes run iteration_end only. */
    seq_len                = 0;
    struct evpl_poll *poll = evpl_add_poll(evpl, NULL, NULL, poll_noop, NULL);

    evpl_poll_pin(evpl);
    evpl_continue(evpl); /* full pass, enters poll mode */
    evpl_continue(evpl); /* pure pass */
    seq[seq_len] = '\0';
    test_assert_msg(strcmp(seq, "pqee") == 0, "hooks '%s'", seq);
    evpl_poll_unpin(evpl);
    evpl_remove_poll(evpl, poll);

    evpl_set_loop_hooks(evpl, NULL);
    seq_len = 0;
    evpl_continue(evpl);
    test_assert_eq(seq_len, 0);

    /* Stop from another thread wakes a sleeping run (wait_ms 20 is a bound,
     * but use an unbounded loop below to be sure the wakeup works). */
    evpl_destroy(evpl);
    evpl = evpl_create(NULL); /* wait_ms -1: sleeps until woken */

    pthread_t thr;

    t0 = now_ns();
    test_assert(pthread_create(&thr, NULL, stopper, evpl) == 0);
    evpl_run(evpl);
    dt = now_ns() - t0;
    pthread_join(thr, NULL);
    /* A lost wakeup sleeps for ever (wait_ms -1): any bound far above
     * scheduling noise catches it. */
    test_assert_msg(dt < 20000000000ULL, "run took %llu ns", (unsigned long long) dt);

    /* Stopped stays stopped (else it would sleep for ever). */
    t0 = now_ns();
    evpl_run(evpl);
    test_assert(now_ns() - t0 < 20000000000ULL);
    evpl_destroy(evpl);

    /* 1 ms periodic timer stopping the loop on its 10th firing. */
    evpl = evpl_create(NULL);
    struct evpl_timer timer;

    evpl_add_timer(evpl, &timer, tick_cb, 1000);
    evpl_run(evpl);
    test_assert_eq(tick_count, 10);
    evpl_remove_timer(evpl, &timer);
    evpl_destroy(evpl);

    /* Repeated create/destroy. */
    for (int i = 0; i < 100; i++) {
        evpl = evpl_create(NULL);
        test_assert(evpl != NULL);
        evpl_destroy(evpl);
    }
    return 0;
}
