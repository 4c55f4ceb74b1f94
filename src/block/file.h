/*
 * Opening regular files and block devices for the file backends (io_uring,
 * libaio): O_DIRECT with a buffered fallback, size and logical block size,
 * and the synchronous range operations those backends share.
 */
#pragma once

#include <stdint.h>

struct evpl_block_device;

/*
 * Open uri read-write with O_DIRECT (buffered, with one log line, when the
 * file system refuses O_DIRECT, e.g. tmpfs) and fill dev->fd, size,
 * block_size, flags and max_request_size.  Only regular files and block
 * devices are accepted.  Returns 0 or a negative errno (logged).
 */
int evpl_block_file_open(struct evpl_block_device *dev, const char *uri);

/* Close dev->fd. */
void evpl_block_file_close(struct evpl_block_device *dev);

/*
 * Synchronous range operations (loop thread), for backends without an
 * asynchronous equivalent: discard (punch hole on files, BLKDISCARD on
 * devices) and write-zeroes (FALLOC_FL_ZERO_RANGE on files, BLKZEROOUT on
 * devices).  Return 0 or a negative errno; -EOPNOTSUPP when the file system
 * or device has no such operation.
 */
int evpl_block_file_discard(struct evpl_block_device *dev, uint64_t offset, uint64_t length);
int evpl_block_file_write_zeroes(struct evpl_block_device *dev, uint64_t offset, uint64_t length);
