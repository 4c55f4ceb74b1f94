/*
 * A backend disabled in the global config is unavailable: with
 * io_uring_enabled = 0, IO_URING and IO_URING_NVME opens return NULL (libaio
 * still works); with libaio_enabled = 0, LIBAIO returns NULL (io_uring still
 * works).  argv[2]: the backend to disable.
 */
#include "block_test.h"

int
main(int argc, char **argv)
{
    enum evpl_block_protocol_id off    = blk_protocol(argc, argv);
    enum evpl_block_protocol_id on     = off == EVPL_BLOCK_PROTOCOL_IO_URING
                                             ? EVPL_BLOCK_PROTOCOL_LIBAIO
                                             : EVPL_BLOCK_PROTOCOL_IO_URING;
    struct evpl_global_config  *config = evpl_test_config(argc, argv);
    struct evpl_block_device   *dev;
    const char                 *path;
    /* Opening a disabled backend is refused with an error log. */
    evpl_test_log_expect("is disabled by the global config");

    if (off == EVPL_BLOCK_PROTOCOL_IO_URING) {
        evpl_global_config_set_io_uring_enabled(config, 0);
    } else {
        evpl_global_config_set_libaio_enabled(config, 0);
    }
    evpl_init(config);
    path = blk_sparse_file(blk_scratch_dir(NULL), "disabled", 1 << 20);

    test_assert(evpl_block_open_device(off, path) == NULL);
    if (off == EVPL_BLOCK_PROTOCOL_IO_URING) {
        test_assert(evpl_block_open_device(EVPL_BLOCK_PROTOCOL_IO_URING_NVME, path) == NULL);
    }
    dev = evpl_block_open_device(on, path);
    test_assert(dev != NULL);
    evpl_block_close_device(dev);
    return 0;
}
