/*
 * Opening devices: every way to be refused returns NULL and never aborts.
 * IO_URING_NVME on a regular file (contract 19.2), VFIO on a path, ids out
 * of range, a missing file, a directory, a character device, NULL and ""
 * URIs.  Relative paths are accepted.
 */
#include "block_test.h"

int
main(int argc, char **argv)
{
    struct evpl_block_device *dev;
    const char               *dir, *path;
    char                      rel[PATH_MAX + 64];
    /* The subject is refusals, each of which logs why; leak reports still fail. */
    evpl_test_log_expect_errors();

    evpl_test_init(argc, argv);
    dir  = blk_scratch_dir(NULL);
    path = blk_sparse_file(dir, "plain", 1 << 20);

    test_assert(evpl_block_open_device(EVPL_BLOCK_PROTOCOL_IO_URING_NVME, path) == NULL);
    test_assert(evpl_block_open_device(EVPL_BLOCK_PROTOCOL_IO_URING_NVME, "/dev/null") == NULL);
    test_assert(evpl_block_open_device(EVPL_BLOCK_PROTOCOL_VFIO, path) == NULL);
    test_assert(evpl_block_open_device(EVPL_BLOCK_PROTOCOL_VFIO, "0000:ff:1f.7") == NULL);
    test_assert(evpl_block_open_device((enum evpl_block_protocol_id) - 1, path) == NULL);
    test_assert(evpl_block_open_device(EVPL_NUM_BLOCK_PROTOCOL, path) == NULL);
    test_assert(evpl_block_open_device((enum evpl_block_protocol_id) 1000, path) == NULL);

    for (int p = 0; p < 2; p++) {
        enum evpl_block_protocol_id proto =
            p ? EVPL_BLOCK_PROTOCOL_LIBAIO : EVPL_BLOCK_PROTOCOL_IO_URING;

        test_assert(evpl_block_open_device(proto, NULL) == NULL);
        test_assert(evpl_block_open_device(proto, "") == NULL);
        test_assert(evpl_block_open_device(proto, "/nonexistent/evpl/file") == NULL);
        test_assert(evpl_block_open_device(proto, dir) == NULL);
        test_assert(evpl_block_open_device(proto, "/dev/null") == NULL);

        /* relative path, as the contract allows */
        snprintf(rel, sizeof(rel), "%s/plain", dir);
        test_assert(rel[0] != '/');
        dev = evpl_block_open_device(proto, rel);
        test_assert(dev != NULL);
        test_assert_eq(evpl_block_size(dev), 1 << 20);
        evpl_block_close_device(dev);
    }
    return 0;
}
