/*
 * The virtual clock: starts at 0, moves only by evpl_virtual_clock_advance()
 * (atomically, from any thread), and both functions abort before
 * initialisation or when the virtual clock is not enabled.
 */
#include <pthread.h>
#include <string.h>

#include "test.h"
#include "init_child.h"

static void *
advancer(void *arg)
{
    (void) arg;
    for (int i = 0; i < 10000; i++) {
        evpl_virtual_clock_advance(1);
        (void) evpl_virtual_clock_now();
    }
    return NULL;
}

static void
enabled(void *arg)
{
    struct evpl_global_config *c = evpl_test_config(0, NULL);
    pthread_t                  threads[4];
    struct evpl               *evpl;

    (void) arg;
    evpl_global_config_set_virtual_clock(c, 1);
    evpl_init(c);

    test_assert_eq(evpl_virtual_clock_now(), 0);
    evpl_virtual_clock_advance(0);
    test_assert_eq(evpl_virtual_clock_now(), 0);
    evpl_virtual_clock_advance(1500);
    test_assert_eq(evpl_virtual_clock_now(), 1500);

    /* Loops run on it; a pass neither blocks nor moves the clock. */
    evpl = evpl_create(NULL);
    for (int i = 0; i < 10; i++) {
        evpl_continue(evpl);
    }
    test_assert_eq(evpl_virtual_clock_now(), 1500);
    evpl_destroy(evpl);

    for (int i = 0; i < 4; i++) {
        test_assert(pthread_create(&threads[i], NULL, advancer, NULL) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
    }
    test_assert_eq(evpl_virtual_clock_now(), 1500 + 40000);

    evpl_virtual_clock_advance(1ull << 40);
    test_assert_eq(evpl_virtual_clock_now(), 1500 + 40000 + (1ull << 40));
}

static void
now_before_init(void *arg)
{
    (void) arg;
    (void) evpl_virtual_clock_now();
    exit(3);
}

static void
advance_before_init(void *arg)
{
    (void) arg;
    evpl_virtual_clock_advance(1);
    exit(3);
}

static void
now_not_enabled(void *arg)
{
    (void) arg;
    evpl_init(NULL);
    (void) evpl_virtual_clock_now();
    exit(3);
}

static void
advance_not_enabled(void *arg)
{
    (void) arg;
    (void) evpl_protocol_available(EVPL_STREAM_SOCKET_TCP); /* implicit init */
    evpl_virtual_clock_advance(1);
    exit(3);
}

int
main(int argc, char **argv)
{
    struct child_result res;

    (void) argc;
    (void) argv;

    run_in_child(enabled, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "virtual clock enabled");

    run_in_child(now_before_init, NULL, &res);
    child_expect(child_aborted_with(&res, "evpl_virtual_clock_now called before the library"), &res,
                 "evpl_virtual_clock_now before init must abort");

    run_in_child(advance_before_init, NULL, &res);
    child_expect(child_aborted_with(&res, "evpl_virtual_clock_advance called before the library"),
                 &res, "evpl_virtual_clock_advance before init must abort");

    run_in_child(now_not_enabled, NULL, &res);
    child_expect(
        child_aborted_with(&res, "evpl_virtual_clock_now called but the virtual clock is not"),
        &res, "evpl_virtual_clock_now when disabled must abort");

    run_in_child(advance_not_enabled, NULL, &res);
    child_expect(
        child_aborted_with(&res, "evpl_virtual_clock_advance called but the virtual clock is not"),
        &res, "evpl_virtual_clock_advance when disabled must abort");
    return 0;
}
