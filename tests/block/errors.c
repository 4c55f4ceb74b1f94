/*
 * Errors reach the callback as positive errno values, never as a crash:
 * misaligned offsets and lengths under O_DIRECT (EINVAL), requests over the
 * maximum size or with a bad iovec count (EINVAL), reads past the end and
 * reads of a file truncated under the queue (short transfer: EIO), and a
 * write over RLIMIT_FSIZE (EFBIG).  argv[2]: backend.
 */
#include <signal.h>
#include <sys/resource.h>

#include "block_test.h"

#define MIB (1024ull * 1024)

int
main(int argc, char **argv)
{
    enum evpl_block_protocol_id proto = blk_protocol(argc, argv);
    struct evpl_block_device   *dev;
    struct evpl_block_queue    *q;
    struct evpl                *evpl;
    struct evpl_iovec           iov, big[3];
    const char                 *path;
    struct rlimit               rl;
    int                         fd, direct;

    evpl_test_init(argc, argv);
    path = blk_sparse_file(blk_scratch_dir(NULL), "errors", 4 * MIB);

    dev = evpl_block_open_device(proto, path);
    test_assert(dev != NULL);
    evpl = evpl_create(NULL);
    q    = evpl_block_open_queue(evpl, dev);
    test_assert(q != NULL);
    test_assert_eq(evpl_iovec_alloc(evpl, 8192, 4096, 1, 0, &iov), 1);
    memset(iov.data, 0x5A, 8192);

    /* Is the working directory's file system doing O_DIRECT?  A misaligned
     * offset is only an error there. */
    fd     = open(path, O_RDONLY | O_DIRECT);
    direct = fd >= 0;
    if (fd >= 0) {
        close(fd);
    }
    if (direct) {
        struct evpl_iovec v = iov;

        v.length = 4096;
        test_assert_eq(blk_write_sync(evpl, q, &v, 1, 100, 0), EINVAL);
        test_assert_eq(blk_read_sync(evpl, q, &v, 1, 100), EINVAL);
        v.length = 100; /* aligned memory, misaligned length: bounced, still refused */
        test_assert_eq(blk_write_sync(evpl, q, &v, 1, 0, 0), EINVAL);
    } else {
        fprintf(stderr, "no O_DIRECT here: misaligned requests are legal, not checked\n");
    }

    /* Over the maximum request size, and bad iovec counts. */
    test_assert_eq(evpl_iovec_alloc(evpl, 6 * MIB, 4096, 3, 0, big), 3);
    test_assert_eq(blk_write_sync(evpl, q, big, 3, 0, 0), EINVAL);
    test_assert_eq(blk_read_sync(evpl, q, big, 3, 0), EINVAL);
    test_assert_eq(blk_read_sync(evpl, q, &iov, -1, 0), EINVAL);
    evpl_iovecs_release(evpl, big, 3);

    /* Reads past the end: nothing, or only part, is there. */
    test_assert_eq(blk_read_sync(evpl, q, &iov, 1, 4 * MIB), EIO);
    test_assert_eq(blk_read_sync(evpl, q, &iov, 1, 4 * MIB - 4096), EIO);
    test_assert_eq(blk_read_sync(evpl, q, &iov, 1, 64 * MIB), EIO);

    /* The file shrinks under the queue. */
    test_assert_eq(blk_write_sync(evpl, q, &iov, 1, 3 * MIB, 0), 0);
    test_assert_eq(truncate(path, 1 * MIB), 0);
    test_assert_eq(blk_read_sync(evpl, q, &iov, 1, 3 * MIB), EIO);
    test_assert_eq(blk_read_sync(evpl, q, &iov, 1, 0), 0);

    /* The file may not grow past RLIMIT_FSIZE. */
    signal(SIGXFSZ, SIG_IGN);
    test_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = 2 * MIB;
    test_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    test_assert_eq(blk_write_sync(evpl, q, &iov, 1, 8 * MIB, 0), EFBIG);
    test_assert_eq(blk_write_sync(evpl, q, &iov, 1, 0, 0), 0);

    /* The queue still works after all of that. */
    test_assert_eq(blk_flush_sync(evpl, q), 0);

    evpl_iovec_release(evpl, &iov);
    evpl_block_close_queue(evpl, q);
    evpl_destroy(evpl);
    evpl_block_close_device(dev);
    return 0;
}
