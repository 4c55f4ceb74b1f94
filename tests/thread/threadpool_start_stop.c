/*
 * A 16-thread pool starts and stops cleanly: init and shutdown run exactly
 * once per worker, each on its own worker thread, inits all complete before
 * evpl_threadpool_create() returns, and each shutdown receives the value its
 * own init returned.  Repeated to shake out start/stop races.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include "test.h"

#define NTHREADS 16
#define ROUNDS   10

struct slot {
    pthread_t    thread;
    struct evpl *evpl;
    int          shutdown_called;
};

static struct slot slots[NTHREADS];
static atomic_int  next_slot;
static atomic_int  init_called;
static atomic_int  shutdown_called;
static int         pool_arg;

static void *
test_init(struct evpl *evpl, void *private_data)
{
    int slot = atomic_fetch_add(&next_slot, 1);

    test_assert(private_data == &pool_arg);
    test_assert(slot < NTHREADS);
    slots[slot].thread = pthread_self();
    slots[slot].evpl   = evpl;
    atomic_fetch_add(&init_called, 1);
    return &slots[slot];
}

static void
test_shutdown(struct evpl *evpl, void *private_data)
{
    struct slot *slot = private_data;

    test_assert(slot >= slots && slot < slots + NTHREADS);
    test_assert(pthread_equal(slot->thread, pthread_self()));
    test_assert(slot->evpl == evpl);
    slot->shutdown_called++;
    atomic_fetch_add(&shutdown_called, 1);
}

int
main(int argc, char **argv)
{
    struct evpl_threadpool *pool;

    evpl_test_init(argc, argv);

    for (int round = 0; round < ROUNDS; round++) {
        memset(slots, 0, sizeof(slots));
        atomic_store(&next_slot, 0);
        atomic_store(&init_called, 0);
        atomic_store(&shutdown_called, 0);

        pool = evpl_threadpool_create(NULL, NTHREADS, test_init, test_shutdown, &pool_arg);
        test_assert(pool != NULL);
        test_assert_eq(atomic_load(&init_called), NTHREADS);
        test_assert_eq(atomic_load(&shutdown_called), 0);

        for (int i = 0; i < NTHREADS; i++) {
            for (int j = i + 1; j < NTHREADS; j++) {
                test_assert(!pthread_equal(slots[i].thread, slots[j].thread));
                test_assert(slots[i].evpl != slots[j].evpl);
            }
        }

        evpl_threadpool_destroy(pool);

        test_assert_eq(atomic_load(&init_called), NTHREADS);
        test_assert_eq(atomic_load(&shutdown_called), NTHREADS);
        for (int i = 0; i < NTHREADS; i++) {
            test_assert_eq(slots[i].shutdown_called, 1);
        }
    }

    return 0;
}
