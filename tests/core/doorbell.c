/*
 * Doorbells: 4 threads ring 250,000 times each (1,000,000 rings); every ring
 * is preceded by an increment of an atomic counter, and the callback drains
 * the counter, so the total drained must be exactly 1,000,000 and no wakeup
 * may be lost (the loop sleeps without a timeout).  Then removal during
 * dispatch: a doorbell callback removes another doorbell that is due in the
 * same pass, and one removes itself; neither runs again and a third keeps
 * working.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define THREADS 4
#define RINGS   250000

static struct evpl_doorbell bell;
static atomic_ulong         produced;
static unsigned long        consumed;
static int                  callbacks;

static void
bell_cb(struct evpl *evpl, struct evpl_doorbell *db)
{
    (void) evpl;
    test_assert(db == &bell);
    consumed += atomic_exchange(&produced, 0);
    callbacks++;
}

static void *
ringer(void *arg)
{
    (void) arg;
    for (int i = 0; i < RINGS; i++) {
        atomic_fetch_add(&produced, 1);
        evpl_ring_doorbell(&bell);
    }
    return NULL;
}

static struct evpl_doorbell db_a, db_b, db_c;
static int                  a_calls, b_calls, c_calls;

static void
a_cb(struct evpl *evpl, struct evpl_doorbell *db)
{
    (void) db;
    a_calls++;
    /* Remove b, which may be due in this very pass, and remove myself. */
    evpl_remove_doorbell(evpl, &db_b);
    evpl_remove_doorbell(evpl, &db_a);
}

static void
b_cb(struct evpl *evpl, struct evpl_doorbell *db)
{
    (void) db;
    b_calls++;
    evpl_remove_doorbell(evpl, &db_a);
    evpl_remove_doorbell(evpl, &db_b);
}

static void
c_cb(struct evpl *evpl, struct evpl_doorbell *db)
{
    (void) evpl;
    (void) db;
    c_calls++;
}

int
main(int argc, char **argv)
{
    evpl_test_init(argc, argv);

    struct evpl *evpl = evpl_create(NULL);
    pthread_t    threads[THREADS];

    evpl_add_doorbell(evpl, &bell, bell_cb);
    test_assert(evpl_doorbell_fd(&bell) >= 0);

    for (int i = 0; i < THREADS; i++) {
        test_assert(pthread_create(&threads[i], NULL, ringer, NULL) == 0);
    }
    /* Blocking passes (wait_ms -1): a lost wakeup would hang here and the
     * ctest timeout would fail the test. */
    while (consumed < (unsigned long) THREADS * RINGS) {
        evpl_continue(evpl);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    test_assert_eq(consumed, (unsigned long) THREADS * RINGS);
    test_assert(callbacks >= 1);
    evpl_remove_doorbell(evpl, &bell);

    /* Removal during dispatch. */
    evpl_add_doorbell(evpl, &db_a, a_cb);
    evpl_add_doorbell(evpl, &db_b, b_cb);
    evpl_add_doorbell(evpl, &db_c, c_cb);
    evpl_ring_doorbell(&db_a);
    evpl_ring_doorbell(&db_b);
    evpl_ring_doorbell(&db_c);
    while (c_calls == 0) {
        evpl_continue(evpl);
    }
    /* Exactly one of a/b ran; it removed both. */
    test_assert_eq(a_calls + b_calls, 1);
    evpl_ring_doorbell(&db_c);
    while (c_calls == 1) {
        evpl_continue(evpl);
    }
    test_assert_eq(a_calls + b_calls, 1);
    test_assert_eq(c_calls, 2);

    /* A ring from the owning thread before the pass, coalesced. */
    evpl_ring_doorbell(&db_c);
    evpl_ring_doorbell(&db_c);
    evpl_continue(evpl);
    test_assert_eq(c_calls, 3);

    evpl_remove_doorbell(evpl, &db_c);
    evpl_destroy(evpl);

    /* After its callback a doorbell is quiet: the loop sleeps again. */
    struct evpl_thread_config *tc = evpl_thread_config_init();

    evpl_thread_config_set_wait_ms(tc, 30);
    evpl = evpl_create(tc);
    evpl_add_doorbell(evpl, &db_c, c_cb);
    evpl_ring_doorbell(&db_c);
    evpl_continue(evpl);
    test_assert_eq(c_calls, 4);

    struct timespec t0, t1;

    /* Three idle passes sleep ~90 ms in all; a still-active doorbell would
     * make each return at once.  (The bound is on the sum, so one early
     * kernel wakeup cannot fail the test.) */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 3; i++) {
        evpl_continue(evpl);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long slept = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);

    test_assert_msg(slept >= 40000000LL, "3 idle passes after a doorbell slept only %lld ns",
                    slept);
    test_assert_eq(c_calls, 4);
    evpl_remove_doorbell(evpl, &db_c);
    evpl_destroy(evpl);
    return 0;
}
