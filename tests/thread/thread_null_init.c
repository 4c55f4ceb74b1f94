/*
 * With no init callback, shutdown receives the original private_data; with
 * no callbacks at all, a thread still starts and stops cleanly.
 */
#include <pthread.h>
#include "test.h"

static int       arg;
static void     *shutdown_private;
static int       shutdown_called;
static pthread_t shutdown_thread;

static void
test_shutdown(struct evpl *evpl, void *private_data)
{
    test_assert(evpl != NULL);
    shutdown_called++;
    shutdown_private = private_data;
    shutdown_thread  = pthread_self();
}

int
main(int argc, char **argv)
{
    struct evpl_thread *thread;

    evpl_test_init(argc, argv);

    thread = evpl_thread_create(NULL, NULL, test_shutdown, &arg);
    test_assert(thread != NULL);
    evpl_thread_destroy(thread);

    test_assert_eq(shutdown_called, 1);
    test_assert(shutdown_private == &arg);
    test_assert(!pthread_equal(shutdown_thread, pthread_self()));

    thread = evpl_thread_create(NULL, NULL, NULL, NULL);
    test_assert(thread != NULL);
    evpl_thread_destroy(thread);

    return 0;
}
