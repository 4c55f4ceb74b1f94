/*
 * A real block device: a loop device over a 64 MiB file (attached with
 * LOOP_CONFIGURE, auto-cleared when the last descriptor closes).  Size from
 * BLKGETSIZE64, writes and reads verified, flush, BLKDISCARD and zeroing
 * read back.  Skips (77) where loop devices cannot be attached (no root,
 * no /dev/loop-control, a container).  argv[2]: backend.
 */
#include <linux/loop.h>
#include <sys/ioctl.h>

#include "block_test.h"

#define MIB (1024ull * 1024)

static int
attach_loop(const char *backing, char *name, size_t name_size)
{
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    int bfd = open(backing, O_RDWR | O_CLOEXEC);

    if (ctl < 0 || bfd < 0) {
        test_skip("cannot open /dev/loop-control or the backing file: %s", strerror(errno));
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        struct loop_config cfg;
        int                n = ioctl(ctl, LOOP_CTL_GET_FREE), lfd;

        if (n < 0) {
            test_skip("LOOP_CTL_GET_FREE: %s", strerror(errno));
        }
        snprintf(name, name_size, "/dev/loop%d", n);
        lfd = open(name, O_RDWR | O_CLOEXEC);
        if (lfd < 0) {
            test_skip("open %s: %s", name, strerror(errno));
        }
        memset(&cfg, 0, sizeof(cfg));
        cfg.fd            = (unsigned int) bfd;
        cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
            close(bfd);
            close(ctl);
            return lfd;
        }
        close(lfd);
        if (errno != EBUSY) {
            test_skip("LOOP_CONFIGURE on %s: %s", name, strerror(errno));
        }
        /* another process took this one first: ask again */
    }
    test_skip("no free loop device");
}

int
main(int argc, char **argv)
{
    enum evpl_block_protocol_id proto = blk_protocol(argc, argv);
    struct evpl_block_device   *dev;
    struct evpl_block_queue    *q;
    struct evpl                *evpl;
    struct evpl_iovec           iov[16];
    struct blk_done             d = {0, -1};
    const char                 *backing;
    char                        name[64];
    int                         lfd;

    backing = blk_sparse_file(blk_scratch_dir(NULL), "backing", 64 * MIB);
    lfd     = attach_loop(backing, name, sizeof(name));
    evpl_test_init(argc, argv);

    dev = evpl_block_open_device(proto, name);
    test_assert(dev != NULL);
    test_assert_eq(evpl_block_size(dev), 64 * MIB);
    evpl = evpl_create(NULL);
    q    = evpl_block_open_queue(evpl, dev);
    test_assert(q != NULL);

    /* 16 writes of 64 KiB in flight, then read them all back */
    for (int i = 0; i < 16; i++) {
        test_assert_eq(evpl_iovec_alloc(evpl, 64 * 1024, 4096, 1, 0, &iov[i]), 1);
        blk_pattern_fill(iov[i].data, 64 * 1024, (uint64_t) i * MIB, 21);
        evpl_block_write(evpl, q, &iov[i], 1, (uint64_t) i * MIB, i % 2, blk_done_cb, &d);
    }
    blk_wait(evpl, &d.done, 16);
    test_assert_eq(d.status, 0);
    test_assert_eq(blk_flush_sync(evpl, q), 0);
    d.done = 0;
    for (int i = 0; i < 16; i++) {
        memset(iov[i].data, 0, 64 * 1024);
        evpl_block_read(evpl, q, &iov[i], 1, (uint64_t) i * MIB, blk_done_cb, &d);
    }
    blk_wait(evpl, &d.done, 16);
    test_assert_eq(d.status, 0);
    for (int i = 0; i < 16; i++) {
        test_assert(blk_pattern_check(iov[i].data, 64 * 1024, (uint64_t) i * MIB, 21) < 0);
    }

    /* write-zeroes, then discard; the zeroed range reads back as zeros */
    test_assert_eq(blk_zeroes_sync(evpl, q, 1 * MIB, 64 * 1024), 0);
    test_assert_eq(blk_read_sync(evpl, q, &iov[0], 1, 1 * MIB), 0);
    test_assert(blk_pattern_check(iov[0].data, 64 * 1024, 0, 0) < 0);
    test_assert_eq(blk_read_sync(evpl, q, &iov[0], 1, 2 * MIB), 0);
    test_assert(blk_pattern_check(iov[0].data, 64 * 1024, 2 * MIB, 21) < 0);
    test_assert_eq(blk_discard_sync(evpl, q, 4 * MIB, 1 * MIB), 0);

    /* past the end of the device */
    test_assert_eq(blk_read_sync(evpl, q, &iov[0], 1, 64 * MIB), EIO);

    evpl_iovecs_release(evpl, iov, 16);
    evpl_block_close_queue(evpl, q);
    evpl_destroy(evpl);
    evpl_block_close_device(dev);
    close(lfd); /* auto-clear detaches the loop device */
    return 0;
}
