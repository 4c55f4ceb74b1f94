/*
 * Flush, discard and write-zeroes semantics, read back; sync writes;
 * multi-iovec and misaligned (bounced) transfers; zero-length range
 * operations; closing a queue from its last callback.
 * argv[2]: backend; argv[3]: "cwd" (the working directory, O_DIRECT on
 * ext4/xfs) or "shm" (/dev/shm: tmpfs, buffered fallback, emulated
 * write-zeroes).
 */
#include <sys/statfs.h>

#include "block_test.h"

#define MIB       (1024ull * 1024)
#define FILE_SIZE (64 * MIB)

static struct evpl             *evpl;
static struct evpl_block_queue *q;
static struct evpl_iovec        buf; /* 2 MiB, aligned; ranges read back are at most that */

/* Read [off, off+len) into buf (in max-request pieces). */
static void
read_range(uint64_t off, uint64_t len)
{
    for (uint64_t done = 0; done < len;) {
        uint64_t          n = len - done > MIB ? MIB : len - done;
        struct evpl_iovec v = buf;

        v.data   = (char *) buf.data + done;
        v.length = (unsigned int) n;
        test_assert_eq(blk_read_sync(evpl, q, &v, 1, off + done), 0);
        done += n;
    }
}

static void
write_pattern(uint64_t off, uint64_t len, uint64_t seed)
{
    for (uint64_t done = 0; done < len;) {
        uint64_t          n = len - done > MIB ? MIB : len - done;
        struct evpl_iovec v = buf;

        v.data   = (char *) buf.data;
        v.length = (unsigned int) n;
        blk_pattern_fill(v.data, n, off + done, seed);
        test_assert_eq(blk_write_sync(evpl, q, &v, 1, off + done, 0), 0);
        done += n;
    }
}

static void
expect_pattern(uint64_t off, uint64_t len, uint64_t seed)
{
    read_range(off, len);
    int64_t bad = blk_pattern_check(buf.data, len, off, seed);

    test_assert_msg(bad < 0, "range %llu+%llu (seed %llu) differs at byte %lld",
                    (unsigned long long) off, (unsigned long long) len, (unsigned long long) seed,
                    (long long) bad * 8);
}

static int closed_in_cb;

static void
close_cb(struct evpl *e, int status, void *private_data)
{
    test_assert_eq(status, 0);
    evpl_block_close_queue(e, private_data);
    closed_in_cb = 1;
}

int
main(int argc, char **argv)
{
    enum evpl_block_protocol_id proto = blk_protocol(argc, argv);
    const char                 *where = argc > 3 ? argv[3] : "cwd";
    struct evpl_block_device   *dev;
    const char                 *path;
    struct blk_done             d1 = {0, -1}, d2 = {0, -1};

    evpl_test_init(argc, argv);
    if (strcmp(where, "shm") == 0) {
        struct statfs sf;

        if (statfs("/dev/shm", &sf) != 0 || sf.f_type != 0x01021994 /* TMPFS_MAGIC */) {
            test_skip("/dev/shm is not a tmpfs");
        }
        path = blk_sparse_file(blk_scratch_dir("/dev/shm"), "sem", FILE_SIZE);
    } else {
        path = blk_sparse_file(blk_scratch_dir(NULL), "sem", FILE_SIZE);
    }

    dev = evpl_block_open_device(proto, path);
    test_assert(dev != NULL);
    evpl = evpl_create(NULL);
    q    = evpl_block_open_queue(evpl, dev);
    test_assert(q != NULL);
    test_assert_eq(evpl_iovec_alloc(evpl, 2 * MIB, 4096, 1, 0, &buf), 1);

    /* sync write + flush, then read back */
    {
        struct evpl_iovec v = buf;

        v.length = 64 * 1024;
        blk_pattern_fill(v.data, v.length, 0, 7);
        test_assert_eq(blk_write_sync(evpl, q, &v, 1, 0, 1), 0);
        test_assert_eq(blk_flush_sync(evpl, q), 0);
        expect_pattern(0, 64 * 1024, 7);
    }

    /* write-zeroes in the middle of a pattern: zeros inside, pattern around */
    write_pattern(1 * MIB, 1 * MIB, 11);
    test_assert_eq(blk_zeroes_sync(evpl, q, 1 * MIB + 64 * 1024, 128 * 1024), 0);
    expect_pattern(1 * MIB, 64 * 1024, 11);
    expect_pattern(1 * MIB + 64 * 1024, 128 * 1024, 0);
    expect_pattern(1 * MIB + 192 * 1024, 1 * MIB - 192 * 1024, 11);

    /* write-zeroes over more than one max request (emulation chunks) */
    write_pattern(8 * MIB, 2 * MIB, 12);
    write_pattern(20 * MIB, 64 * 1024, 13);
    test_assert_eq(blk_zeroes_sync(evpl, q, 8 * MIB, 12 * MIB), 0);
    expect_pattern(8 * MIB, 2 * MIB, 0);
    expect_pattern(20 * MIB, 64 * 1024, 13);

    /* discard: success; contents unspecified, neighbours intact */
    write_pattern(30 * MIB, 1 * MIB, 14);
    test_assert_eq(blk_discard_sync(evpl, q, 30 * MIB + 256 * 1024, 256 * 1024), 0);
    expect_pattern(30 * MIB, 256 * 1024, 14);
    expect_pattern(30 * MIB + 512 * 1024, 512 * 1024, 14);

    /* zero-length range operations complete with 0, never inside the call */
    evpl_block_discard(evpl, q, 4096, 0, blk_done_cb, &d1);
    evpl_block_write_zeroes(evpl, q, 4096, 0, blk_done_cb, &d2);
    test_assert(d1.done == 0 && d2.done == 0);
    blk_wait(evpl, &d1.done, 1);
    blk_wait(evpl, &d2.done, 1);
    test_assert(d1.status == 0 && d2.status == 0);

    /* gather write from 5 iovecs (one misaligned), scatter read into 3 */
    {
        struct evpl_iovec w[5], r[3];
        char             *base = buf.data;
        static char       expect[40960];

        blk_pattern_fill(expect, sizeof(expect), 40 * MIB, 15);
        for (int i = 0; i < 5; i++) {
            w[i] = buf;
        }
        /* pieces: 4096 | 4000 | 4192 | 20480 | 8192 = 40960 */
        unsigned int len[5] = {4096, 4000, 4192, 20480, 8192};
        uint64_t     pos    = 0;
        char        *src    = base + 100; /* misaligned */

        for (int i = 0; i < 5; i++) {
            w[i].data   = src + pos;
            w[i].length = len[i];
            memcpy(w[i].data, expect + pos, len[i]);
            pos += len[i];
        }
        test_assert_eq(blk_write_sync(evpl, q, w, 5, 40 * MIB, 0), 0);

        char *dst = base + 1 * MIB + 3;
        for (int i = 0; i < 3; i++) {
            r[i] = buf;
        }
        r[0].data   = dst;
        r[0].length = 10000;
        r[1].data   = dst + 10000;
        r[1].length = 10960;
        r[2].data   = dst + 20960;
        r[2].length = 20000;
        memset(dst, 0, sizeof(expect));
        test_assert_eq(blk_read_sync(evpl, q, r, 3, 40 * MIB), 0);
        test_assert(memcmp(dst, expect, sizeof(expect)) == 0);
    }

    /* closing the queue from its last callback is allowed */
    evpl_block_flush(evpl, q, close_cb, q);
    while (!closed_in_cb) {
        evpl_continue(evpl);
    }
    evpl_iovec_release(evpl, &buf);
    evpl_destroy(evpl);
    evpl_block_close_device(dev);
    return 0;
}
