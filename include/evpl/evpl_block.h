/*
 * Block I/O: asynchronous reads and writes on files and block devices,
 * completed through the same loops as network I/O.  A device is opened once
 * per process and shared; each loop that issues I/O opens its own queue on
 * it.
 *
 * Completions.  Every request's callback runs exactly once, on the queue's
 * loop, never inside the call that submitted it: normally on a later pass;
 * requests refused before reaching the kernel (bad arguments) and
 * zero-length range operations complete at the end of the current pass.
 * status is 0 on success or a positive errno:
 *   EINVAL  offset or length not a multiple of the logical block size on an
 *           O_DIRECT device, total length over evpl_block_max_request_size(),
 *           niov < 0 or > 1024;
 *   EIO     a short transfer: a read that reaches past the end of the file
 *           or device (also when the file was truncated under the queue), or
 *           a device error;
 *   others  as the kernel reports them (ENOSPC, EFBIG, EROFS, ...).
 * Requests on one queue may complete in any order.
 *
 * Backends (enum evpl_block_protocol_id): IO_URING and LIBAIO take a path
 * to a regular file or block device and open it O_RDWR | O_DIRECT; on a
 * file system without O_DIRECT (tmpfs) they fall back to buffered I/O and
 * log it once.  IO_URING_NVME and VFIO are recognised but not implemented
 * in this build: opening them returns NULL with a log line saying why.
 * See docs/block.md.
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_block.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl_block_device;
struct evpl_block_queue;

typedef void (*evpl_block_callback_t)(struct evpl *evpl, int status, void *private_data);

/*
 * Open uri with the given backend (a file or block device path, relative
 * paths allowed, for the file backends; a PCI address for VFIO).  Returns
 * NULL -- never aborts, and logs why -- when the id is out of range, the
 * backend is not built in or is disabled in the global config
 * (io_uring_enabled, libaio_enabled, vfio_enabled), the kernel lacks it
 * (io_uring blocked by seccomp, for instance), or the backend cannot open
 * the uri (missing, not a regular file or block device, not NVMe for
 * IO_URING_NVME).  The caller owns the device until
 * evpl_block_close_device().  Thread-safe; triggers implicit initialisation.
 */
struct evpl_block_device *evpl_block_open_device(enum evpl_block_protocol_id protocol,
                                                 const char                 *uri);

/*
 * Close a device.  Every queue on it must be closed first (aborts
 * otherwise).  Any thread.
 */
void evpl_block_close_device(struct evpl_block_device *blockdev);

/* Size in bytes (file size or device capacity), as it was at open.  Any
 * thread. */
uint64_t evpl_block_size(struct evpl_block_device *blockdev);

/* Largest single read or write the backend accepts (4 MiB for the file
 * backends); larger transfers fail with EINVAL and must be split.  Range
 * operations (discard, write-zeroes) have no such limit.  Any thread. */
uint64_t evpl_block_max_request_size(struct evpl_block_device *blockdev);

/*
 * Open a queue for loop evpl.  Owning thread only; a queue belongs to that
 * loop and is never shared.  Returns NULL (logged) when the backend cannot
 * set up its per-queue state (e.g. io_uring_setup or io_setup refused).
 */
struct evpl_block_queue *evpl_block_open_queue(struct evpl              *evpl,
                                               struct evpl_block_device *blockdev);

/*
 * Close a queue.  No request may be outstanding (aborts otherwise); calling
 * it from the callback of the queue's last request is allowed.  Owning
 * thread only.
 */
void evpl_block_close_queue(struct evpl *evpl, struct evpl_block_queue *queue);

/*
 * Read into / write from iov[0..niov-1], in order, at byte offset.  offset
 * and the total length must be multiples of the logical block size on
 * O_DIRECT devices.  The iovecs are borrowed: the caller keeps its
 * references and must keep the memory valid (and, for writes, unchanged)
 * until the callback; the iov array itself may be reused as soon as the
 * call returns.  Memory from evpl_iovec_alloc(evpl, len, 4096, 1, 0, &iov)
 * is the fast path (zero-copy, io_uring fixed buffers); iovecs whose
 * address or length is not 4096-aligned are copied through an aligned bounce
 * buffer.  sync != 0 requests a durable write (RWF_DSYNC: on stable media
 * when the callback reports success).  Submissions are batched and issued at
 * the end of the pass.  Owning thread of the queue's loop only.
 */
void evpl_block_read(struct evpl *evpl, struct evpl_block_queue *queue, struct evpl_iovec *iov,
                     int niov, uint64_t offset, evpl_block_callback_t callback, void *private_data);
void evpl_block_write(struct evpl *evpl, struct evpl_block_queue *queue,
                      const struct evpl_iovec *iov, int niov, uint64_t offset, int sync,
                      evpl_block_callback_t callback, void *private_data);

/* Make every write completed before this call durable (fsync on the file
 * or device). */
void evpl_block_flush(struct evpl *evpl, struct evpl_block_queue *queue,
                      evpl_block_callback_t callback, void *private_data);

/*
 * Advisory: [offset, offset + length) is no longer needed; its contents
 * become unspecified.  Punches a hole in files, BLKDISCARD on block
 * devices (issued synchronously on the loop thread); a file system or
 * device without discard completes with 0.
 */
void evpl_block_discard(struct evpl *evpl, struct evpl_block_queue *queue, uint64_t offset,
                        uint64_t length, evpl_block_callback_t callback, void *private_data);

/*
 * Afterwards [offset, offset + length) reads as zeros.  Native where
 * possible (FALLOC_FL_ZERO_RANGE on files, zero-out on block devices);
 * otherwise emulated with writes from an internal zeroed buffer, 1 MiB at a
 * time, one after another.
 */
void evpl_block_write_zeroes(struct evpl *evpl, struct evpl_block_queue *queue, uint64_t offset,
                             uint64_t length, evpl_block_callback_t callback, void *private_data);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
