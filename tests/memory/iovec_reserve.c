/*
 * evpl_iovec_reserve / evpl_iovec_commit: reserved space is not consumed
 * until commit, which marks the buffer used up to the end of what the caller
 * kept (rounded to the alignment); the tail serves later allocations.  The
 * reserved iovecs hold references the caller releases.
 */
#include <stdint.h>
#include "memory_test.h"

#define BS MEMORY_TEST_BUFFER_SIZE

static uintptr_t
round_up(uintptr_t v, uintptr_t a)
{
    return (v + a - 1) & ~(a - 1);
}

int
main(int argc, char **argv)
{
    struct evpl_iovec a, r[8], next;
    struct evpl      *evpl;
    int               n;

    memory_test_init(argc, argv);
    evpl = evpl_create(NULL);

    test_assert_eq(evpl_iovec_reserve(evpl, 0, 0, 1, r), 0);

    /* reserve inside the current buffer, keep 300 bytes */
    test_assert_eq(evpl_iovec_alloc(evpl, 10, 0, 1, 0, &a), 1);
    n = evpl_iovec_reserve(evpl, 1000, 0, 4, r);
    test_assert_eq(n, 1);
    test_assert(r[0].data == (char *) a.data + 10);
    test_assert_eq(r[0].length, 1000);
    test_assert_eq(r[0].ref->flags, 0);
    memset(r[0].data, 3, 300);
    evpl_iovec_set_length(&r[0], 300);
    evpl_iovec_commit(evpl, 64, r, 1);

    test_assert_eq(evpl_iovec_alloc(evpl, 1, 0, 1, 0, &next), 1);
    test_assert((uintptr_t) next.data == round_up((uintptr_t) a.data + 310, 64));
    evpl_iovec_release(evpl, &next);
    evpl_iovec_release(evpl, &r[0]);

    /* a reservation nobody commits does not move the fill mark */
    {
        struct evpl_iovec b, c;

        test_assert_eq(evpl_iovec_alloc(evpl, 1, 0, 1, 0, &b), 1);
        test_assert_eq(evpl_iovec_reserve(evpl, 100, 0, 1, r), 1);
        test_assert(r[0].data == (char *) b.data + 1);
        evpl_iovec_set_length(&r[0], 0);
        evpl_iovec_commit(evpl, 0, r, 1);
        evpl_iovec_release(evpl, &r[0]);
        test_assert_eq(evpl_iovec_alloc(evpl, 1, 0, 1, 0, &c), 1);
        test_assert(c.data == (char *) b.data + 1);
        evpl_iovec_release(evpl, &b);
        evpl_iovec_release(evpl, &c);
    }

    /* a reservation that does not fit starts a fresh buffer */
    n = evpl_iovec_reserve(evpl, BS - 100, 0, 1, r);
    test_assert_eq(n, 1);
    test_assert(r[0].ref != a.ref);
    memset(r[0].data, 4, 500);
    evpl_iovec_set_length(&r[0], 500);
    evpl_iovec_commit(evpl, 0, r, 1);
    test_assert_eq(evpl_iovec_alloc(evpl, 8, 0, 1, 0, &next), 1);
    test_assert(next.ref == r[0].ref);
    test_assert(next.data == (char *) r[0].data + 500);
    evpl_iovec_release(evpl, &next);
    evpl_iovec_release(evpl, &r[0]);

    /* spanning reservation; commit only part of the last iovec */
    n = evpl_iovec_reserve(evpl, 3 * BS, 4096, 8, r);
    test_assert(n >= 3 && n <= 4);
    for (int i = 0; i < n; i++) {
        test_assert_eq((uintptr_t) r[i].data % 4096, 0);
        memset(r[i].data, 5, r[i].length);
    }
    evpl_iovec_set_length(&r[n - 1], 1);
    evpl_iovec_commit(evpl, 4096, r, n);
    test_assert_eq(evpl_iovec_alloc(evpl, 8, 0, 1, 0, &next), 1);
    if (next.ref == r[n - 1].ref) {
        test_assert(next.data == (char *) r[n - 1].data + 4096);
    }
    evpl_iovec_release(evpl, &next);
    evpl_iovecs_release(evpl, r, n);

    /* too many iovecs needed */
    test_assert_eq(evpl_iovec_reserve(evpl, 3 * BS, 0, 2, r), -1);

    evpl_iovec_release(evpl, &a);
    evpl_destroy(evpl);
    test_assert_eq(memory_test_leaks(), 0);
    return 0;
}
