/*
 * evpl_iovec_alloc: packing of small requests, alignment, spanning several
 * buffers, the max_iovecs limit (-1 leaves nothing allocated), and
 * local/shared packing buffers kept apart.
 */
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include "memory_test.h"

#define BS MEMORY_TEST_BUFFER_SIZE

static void
check_span(struct evpl_iovec *iov, int n, unsigned int length, unsigned int alignment)
{
    uint64_t total = 0;

    for (int i = 0; i < n; i++) {
        test_assert(iov[i].data != NULL);
        test_assert(iov[i].length > 0 && iov[i].length <= BS);
        if (alignment) {
            test_assert_eq((uintptr_t) iov[i].data % alignment, 0);
        }
        total += iov[i].length;
        memset(iov[i].data, 0x5a, iov[i].length);
        for (int j = 0; j < i; j++) {
            test_assert(iov[i].ref != iov[j].ref);
        }
    }
    test_assert_eq(total, length);
}

/*
 * With a 12 KiB buffer (only 4 KiB aligned), 8 KiB alignment pads every
 * other fresh buffer by 4 KiB: a whole-buffer request then needs two iovecs,
 * so max_iovecs == 1 fails after a buffer was already taken.  That path
 * must roll back completely.  Runs in a child with its own configuration.
 */
static int
unaligned_buffers(int argc, char **argv)
{
    enum { UBS = 12288 };
    struct evpl_iovec held[64];
    struct evpl      *evpl;
    int               nheld = 0, ok = 0, rolled_back = 0;

    evpl_init(memory_test_config(argc, argv, UBS, UBS * 16));
    evpl = evpl_create(NULL);

    for (int i = 0; i < 16; i++) {
        int n = evpl_iovec_alloc(evpl, UBS, 8192, 1, 0, &held[nheld]);

        if (n == 1) {
            test_assert_eq((uintptr_t) held[nheld].data % 8192, 0);
            test_assert_eq(held[nheld].length, UBS);
            nheld++;
            ok++;
            continue;
        }
        test_assert_eq(n, -1);
        rolled_back++;
        n = evpl_iovec_alloc(evpl, UBS, 8192, 2, 0, &held[nheld]);
        test_assert_eq(n, 2);
        check_span(&held[nheld], 2, UBS, 8192);
        nheld += 2;
    }
    test_assert(rolled_back > 0); /* at least one of the first two buffers pads */
    fprintf(stderr, "%d whole-buffer allocations, %d rolled back\n", ok, rolled_back);
    evpl_iovecs_release(evpl, held, nheld);
    evpl_destroy(evpl);
    test_assert_eq(memory_test_leaks(), 0);
    return 0;
}

int
main(int argc, char **argv)
{
    struct evpl_iovec a, b, c, d, s, full, big[16], tmp[16];
    struct evpl      *evpl;
    int               n;

    {
        pid_t pid = fork();
        int   status;

        test_assert(pid >= 0);
        if (pid == 0) {
            exit(unaligned_buffers(argc, argv));
        }
        test_assert(waitpid(pid, &status, 0) == pid);
        test_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                        "unaligned buffer child failed");
    }

    memory_test_init(argc, argv);
    evpl = evpl_create(NULL);

    test_assert_eq(evpl_iovec_alloc(evpl, 0, 0, 1, 0, &a), 0);

    /* small requests pack back to back into one buffer */
    test_assert_eq(evpl_iovec_alloc(evpl, 100, 0, 1, 0, &a), 1);
    test_assert_eq(a.length, 100);
    test_assert_eq(a.ref->flags, 0);
    test_assert_eq(evpl_iovec_alloc(evpl, 100, 0, 1, 0, &b), 1);
    test_assert(b.data == (char *) a.data + 100);
    test_assert(b.ref == a.ref);
    test_assert_eq(evpl_iovec_alloc(evpl, 10, 0, 0, 0, tmp), -1); /* max_iovecs 0 */

    /* alignment pads inside the same buffer */
    test_assert_eq(evpl_iovec_alloc(evpl, 10, 64, 1, 0, &c), 1);
    test_assert_eq((uintptr_t) c.data % 64, 0);
    test_assert(c.ref == a.ref);
    test_assert((char *) c.data >= (char *) b.data + 100);
    test_assert_eq(evpl_iovec_alloc(evpl, 1, 4096, 1, 0, &d), 1);
    test_assert_eq((uintptr_t) d.data % 4096, 0);

    /* shared requests use their own buffer (flags live per buffer) */
    test_assert_eq(evpl_iovec_alloc(evpl, 100, 0, 1, EVPL_IOVEC_FLAG_SHARED, &s), 1);
    test_assert_eq(s.ref->flags, EVPL_IOVEC_FLAG_SHARED);
    test_assert(s.ref != a.ref);
    memset(s.data, 1, s.length);

    /* max_iovecs == 1 succeeds exactly up to one buffer */
    test_assert_eq(evpl_iovec_alloc(evpl, BS, 0, 1, 0, &full), 1);
    test_assert_eq(full.length, BS);
    memset(full.data, 2, BS);
    test_assert_eq(evpl_iovec_alloc(evpl, BS + 1, 0, 1, 0, tmp), -1);

    /* the failure left the packing buffer alone */
    {
        struct evpl_iovec e;

        test_assert_eq(evpl_iovec_alloc(evpl, 1, 0, 1, 0, &e), 1);
        test_assert(e.ref == a.ref);
        test_assert(e.data == (char *) d.data + 1);
        evpl_iovec_release(evpl, &e);
    }

    test_assert_eq(evpl_iovec_alloc(evpl, BS + 1, 0, 2, 0, big), 2);
    check_span(big, 2, BS + 1, 0);
    evpl_iovecs_release(evpl, big, 2);

    /* spanning several buffers, with and without alignment */
    n = evpl_iovec_alloc(evpl, 5 * BS + 123, 0, 16, 0, big);
    test_assert_eq(n, 6);
    check_span(big, n, 5 * BS + 123, 0);
    evpl_iovecs_release(evpl, big, n);

    n = evpl_iovec_alloc(evpl, 5 * BS + 123, 4096, 16, EVPL_IOVEC_FLAG_SHARED, big);
    test_assert_eq(n, 6);
    check_span(big, n, 5 * BS + 123, 4096);
    for (int i = 0; i < n; i++) {
        test_assert_eq(big[i].ref->flags, EVPL_IOVEC_FLAG_SHARED);
    }
    evpl_iovecs_release(evpl, big, n);

    /* too many iovecs needed: -1 */
    test_assert_eq(evpl_iovec_alloc(evpl, 5 * BS + 123, 0, 5, 0, tmp), -1);
    test_assert_eq(evpl_iovec_alloc(evpl, 5 * BS, 0, 4, 0, tmp), -1);

    /* fresh buffers are aligned to their size (a power of two here), so
     * alignment up to buffer_size costs no padding */
    test_assert_eq(evpl_iovec_alloc(evpl, BS, BS, 1, 0, tmp), 1);
    test_assert_eq((uintptr_t) tmp[0].data % BS, 0);
    evpl_iovec_release(evpl, &tmp[0]);

    /* many small allocations roll over into new buffers */
    {
        static struct evpl_iovec many[4096];

        for (int i = 0; i < 4096; i++) {
            test_assert_eq(evpl_iovec_alloc(evpl, 1 + (i * 37) % 200, 8, 1, 0, &many[i]), 1);
            test_assert_eq((uintptr_t) many[i].data % 8, 0);
            memset(many[i].data, i & 0xff, many[i].length);
        }
        for (int i = 0; i < 4096; i++) {
            test_assert(memory_test_check(&many[i], i & 0xff));
        }
        evpl_iovecs_release(evpl, many, 4096);
    }

    evpl_iovec_release(evpl, &a);
    evpl_iovec_release(evpl, &b);
    evpl_iovec_release(evpl, &c);
    evpl_iovec_release(evpl, &d);
    evpl_iovec_release(evpl, &s);
    evpl_iovec_release(evpl, &full);

    evpl_destroy(evpl);
    test_assert_eq(memory_test_leaks(), 0);
    return 0;
}
