/*
 * evpl_iovec_alloc_global: a whole buffer flagged SHARED|GLOBAL whose
 * lifetime the owner manages.  Library reference operations and clones do
 * not count; the owner's single evpl_iovec_release() frees it (data becomes
 * NULL) and the buffer is handed out again.  Works without a loop too.
 */
#include <pthread.h>
#include "memory_test.h"

#define BS MEMORY_TEST_BUFFER_SIZE

static void *
global_without_loop(void *arg)
{
    struct evpl_iovec iov, clone;

    (void) arg;
    for (int i = 0; i < 100; i++) {
        evpl_iovec_alloc_global(NULL, &iov);
        test_assert_eq(iov.length, BS);
        test_assert_eq(iov.ref->flags, EVPL_IOVEC_FLAG_SHARED | EVPL_IOVEC_FLAG_GLOBAL);
        memset(iov.data, i, BS);
        evpl_iovec_clone(&clone, &iov);
        evpl_iovec_release_internal(NULL, &clone);
        evpl_iovec_release(NULL, &iov);
        test_assert(iov.data == NULL);
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl_iovec global, clone, seg, taken;
    struct evpl      *evpl;
    pthread_t         thread;
    void             *data;
    unsigned int      before;

    memory_test_init(argc, argv);
    evpl = evpl_create(NULL);

    evpl_iovec_alloc_global(evpl, &global);
    test_assert(global.data != NULL);
    test_assert_eq(global.length, BS);
    test_assert_eq(global.ref->flags, EVPL_IOVEC_FLAG_SHARED | EVPL_IOVEC_FLAG_GLOBAL);
    memset(global.data, 0xab, BS);
    data   = global.data;
    before = atomic_load(&global.ref->refcnt_atomic);

    /* clones and library-level reference operations are uncounted */
    evpl_iovec_clone(&clone, &global);
    evpl_iovec_clone_segment(&seg, &global, 4096, 4096);
    evpl_iovec_take_ref(&taken, global.ref);
    evpl_iovec_ref_incr(global.ref);
    test_assert_eq(atomic_load(&global.ref->refcnt_atomic), before);
    evpl_iovec_release_internal(evpl, &clone);
    evpl_iovecs_release_internal(evpl, &seg, 1);
    evpl_iovec_ref_release(evpl, global.ref);
    evpl_iovec_ref_release(evpl, global.ref);
    test_assert_eq(atomic_load(&global.ref->refcnt_atomic), before);
    test_assert(memory_test_check(&global, 0xab));

    /* it does not disturb packing of ordinary allocations */
    {
        struct evpl_iovec a;

        test_assert_eq(evpl_iovec_alloc(evpl, 10, 0, 1, EVPL_IOVEC_FLAG_SHARED, &a), 1);
        test_assert(a.ref != global.ref);
        evpl_iovec_release(evpl, &a);
    }

    /* the owner's release frees it */
    evpl_iovec_release(evpl, &global);
    test_assert(global.data == NULL);

    evpl_iovec_alloc_global(evpl, &global);
    test_assert(global.data == data);
    test_assert_eq(global.ref->flags, EVPL_IOVEC_FLAG_SHARED | EVPL_IOVEC_FLAG_GLOBAL);
    evpl_iovecs_release(evpl, &global, 1);
    test_assert(global.data == NULL);

    /* and the same buffer later serves an ordinary local allocation */
    {
        struct evpl_iovec a;

        test_assert_eq(evpl_iovec_alloc(evpl, BS, 0, 1, 0, &a), 1);
        test_assert(a.data == data);
        test_assert_eq(a.ref->flags, 0);
        evpl_iovec_release(evpl, &a);
    }

    test_assert(pthread_create(&thread, NULL, global_without_loop, NULL) == 0);
    pthread_join(thread, NULL);

    evpl_destroy(evpl);
    test_assert_eq(memory_test_leaks(), 0);
    return 0;
}
