/*
 * Contract 19.2: on a 1 GiB sparse file in the working directory, a 4 KiB
 * write, a read and a flush submitted back to back with the same iovec all
 * complete with status 0, on a later pass.  Then the data reads back, the
 * size and request limit are reported, and the metrics carry the device.
 * argv[2]: io_uring | libaio.
 */
#include "block_test.h"

#define GIB (1024ull * 1024 * 1024)

int
main(int argc, char **argv)
{
    enum evpl_block_protocol_id proto = blk_protocol(argc, argv);
    struct evpl_block_device   *dev;
    struct evpl_block_queue    *q;
    struct evpl                *evpl;
    struct evpl_iovec           iov, check;
    struct blk_done             w = {0, -1}, r = {0, -1}, f = {0, -1};
    static char                 scrape[1 << 16];
    const char                 *path;
    char                        needle[PATH_MAX + 512];

    evpl_test_init(argc, argv);
    path = blk_sparse_file(blk_scratch_dir(NULL), "sparse", GIB);

    dev = evpl_block_open_device(proto, path);
    test_assert(dev != NULL);
    test_assert_eq(evpl_block_size(dev), GIB);
    test_assert_eq(evpl_block_max_request_size(dev), 4u << 20);

    evpl = evpl_create(NULL);
    q    = evpl_block_open_queue(evpl, dev);
    test_assert(q != NULL);

    test_assert_eq(evpl_iovec_alloc(evpl, 4096, 4096, 1, 0, &iov), 1);
    memset(iov.data, 0xA5, 4096);

    evpl_block_write(evpl, q, &iov, 1, 8192, 0, blk_done_cb, &w);
    evpl_block_read(evpl, q, &iov, 1, 8192, blk_done_cb, &r);
    evpl_block_flush(evpl, q, blk_done_cb, &f);
    test_assert(w.done == 0 && r.done == 0 && f.done == 0);

    blk_wait(evpl, &w.done, 1);
    blk_wait(evpl, &r.done, 1);
    blk_wait(evpl, &f.done, 1);
    test_assert_eq(w.status, 0);
    test_assert_eq(r.status, 0);
    test_assert_eq(f.status, 0);

    /* Those three raced on one buffer, so its contents are unspecified;
     * a plain write then reads back through a different buffer. */
    memset(iov.data, 0xA5, 4096);
    test_assert_eq(blk_write_sync(evpl, q, &iov, 1, 8192, 0), 0);
    test_assert_eq(evpl_iovec_alloc(evpl, 4096, 4096, 1, 0, &check), 1);
    memset(check.data, 0, 4096);
    test_assert_eq(blk_read_sync(evpl, q, &check, 1, 8192), 0);
    for (int i = 0; i < 4096; i++) {
        test_assert_eq(((unsigned char *) check.data)[i], 0xA5);
    }
    /* Untouched sparse space reads as zeros. */
    test_assert_eq(blk_read_sync(evpl, q, &check, 1, GIB - 4096), 0);
    test_assert_eq(blk_pattern_check(check.data, 4096, 0, 0), -1);

    /* Metrics: the device's series exist and count what we did. */
    test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) > 0);
    snprintf(needle, sizeof(needle),
             "evpl_block_latency_nanoseconds_count{device=\"%s\",type=\"%s\",op=\"write\"} 2", path,
             proto == EVPL_BLOCK_PROTOCOL_IO_URING ? "io_uring" : "libaio");
    test_assert_msg(strstr(scrape, needle) != NULL, "scrape lacks '%s'", needle);
    snprintf(needle, sizeof(needle),
             "evpl_block_request_bytes_bucket{device=\"%s\",type=\"%s\",op=\"read\",le=\"4096\"} 3",
             path, proto == EVPL_BLOCK_PROTOCOL_IO_URING ? "io_uring" : "libaio");
    test_assert_msg(strstr(scrape, needle) != NULL, "scrape lacks '%s'", needle);
    snprintf(needle, sizeof(needle), "evpl_block_queue_depth{device=\"%s\",type=\"%s\"} 0", path,
             proto == EVPL_BLOCK_PROTOCOL_IO_URING ? "io_uring" : "libaio");
    test_assert_msg(strstr(scrape, needle) != NULL, "scrape lacks '%s'", needle);

    evpl_iovec_release(evpl, &iov);
    evpl_iovec_release(evpl, &check);
    evpl_block_close_queue(evpl, q);
    evpl_destroy(evpl);
    evpl_block_close_device(dev);

    /* A closed device leaves no series behind. */
    test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) > 0);
    test_assert(strstr(scrape, path) == NULL);
    return 0;
}
