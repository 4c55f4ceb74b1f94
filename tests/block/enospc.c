/*
 * A full file system: writes into a 1 MiB tmpfs (mounted in a private mount
 * namespace) fail with ENOSPC in the callback once the space is gone.
 * Skips (77) where mounting is not permitted.  argv[2]: backend.
 */
#include <sched.h>
#include <sys/mount.h>

#include "block_test.h"

#define KIB 1024u

int
main(int argc, char **argv)
{
    enum evpl_block_protocol_id proto = blk_protocol(argc, argv);
    struct evpl_block_device   *dev;
    struct evpl_block_queue    *q;
    struct evpl                *evpl;
    struct evpl_iovec           iov;
    const char                 *dir, *path;
    int                         status = 0, writes = 0;

    dir = blk_scratch_dir("/tmp");
    evpl_test_unshare(CLONE_NEWNS);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("evpl-enospc", dir, "tmpfs", 0, "size=1m") != 0) {
        test_fail("cannot mount a small tmpfs in a private mount namespace: %s", strerror(errno));
    }

    evpl_test_init(argc, argv);
    path = blk_sparse_file(dir, "full", 64 * KIB * KIB);
    dev  = evpl_block_open_device(proto, path);
    test_assert(dev != NULL);
    evpl = evpl_create(NULL);
    q    = evpl_block_open_queue(evpl, dev);
    test_assert(q != NULL);
    test_assert_eq(evpl_iovec_alloc(evpl, 64 * KIB, 4096, 1, 0, &iov), 1);
    memset(iov.data, 1, 64 * KIB);

    /* 1 MiB of space: page-sized writes run out exactly at a page, so the
     * failing write transfers nothing (ENOSPC, not a short write). */
    iov.length = 4 * KIB;
    while (status == 0 && writes < 512) {
        status = blk_write_sync(evpl, q, &iov, 1, (uint64_t) writes * 4 * KIB, 0);
        writes++;
    }
    fprintf(stderr, "write %d failed with %d (%s)\n", writes, status, strerror(status));
    test_assert_eq(status, ENOSPC);
    test_assert_eq(blk_flush_sync(evpl, q), 0);

    evpl_iovec_release(evpl, &iov);
    evpl_block_close_queue(evpl, q);
    evpl_destroy(evpl);
    evpl_block_close_device(dev);
    /* The tmpfs (and its files) vanish with the mount namespace; the
     * directory underneath is removed at exit. */
    umount2(dir, MNT_DETACH);
    return 0;
}
