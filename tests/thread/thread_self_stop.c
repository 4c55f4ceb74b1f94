/*
 * A worker whose loop the application stops itself (evpl_stop() from one of
 * its own callbacks) keeps living until evpl_thread_destroy(), which must
 * then neither hang nor touch a removed doorbell; shutdown still runs once.
 */
#include <stdatomic.h>
#include <time.h>
#include "test.h"

struct worker {
    struct evpl_timer timer;
    atomic_int        stopped;
};

static atomic_int shutdown_called;

static void
stop_timer(struct evpl *evpl, struct evpl_timer *timer)
{
    struct worker *worker = (struct worker *) timer;

    evpl_stop(evpl);
    atomic_store(&worker->stopped, 1);
}

static void *
test_init(struct evpl *evpl, void *private_data)
{
    struct worker *worker = private_data;

    evpl_add_oneshot_timer(evpl, &worker->timer, stop_timer, 1000);
    return worker;
}

static void
test_shutdown(struct evpl *evpl, void *private_data)
{
    struct worker *worker = private_data;

    /* Fired already, so this is a no-op, but it is what applications do. */
    evpl_remove_timer(evpl, &worker->timer);
    atomic_fetch_add(&shutdown_called, 1);
}

int
main(int argc, char **argv)
{
    struct worker       worker = {0};
    struct evpl_thread *thread;
    struct timespec     ts = {0, 1000000};

    evpl_test_init(argc, argv);

    thread = evpl_thread_create(NULL, test_init, test_shutdown, &worker);

    /* Wait (bounded by the ctest timeout) for the loop to stop on its own. */
    while (!atomic_load(&worker.stopped)) {
        nanosleep(&ts, NULL);
    }
    /* Let the worker leave evpl_run and park waiting for destroy. */
    ts.tv_nsec = 20 * 1000000;
    nanosleep(&ts, NULL);

    test_assert_eq(atomic_load(&shutdown_called), 0);

    evpl_thread_destroy(thread);

    test_assert_eq(atomic_load(&shutdown_called), 1);

    return 0;
}
