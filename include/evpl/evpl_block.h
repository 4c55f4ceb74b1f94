/*
 * Block I/O: asynchronous reads and writes on files and block devices,
 * completed through the same loops as network I/O.  A device is opened once
 * per process; each loop that issues I/O opens its own queue on it.
 *
 * Completion callbacks run on the queue's loop with status 0 on success or a
 * positive errno (EIO for a short transfer or a device error).
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
 * Open uri with the given backend (a file or block device path for the file
 * backends, a PCI address for VFIO).  Returns NULL -- never aborts -- when the
 * id is out of range, the backend is unavailable in this build or
 * configuration, or the backend cannot open the uri.  Thread-safe; triggers
 * implicit initialisation.
 */
struct evpl_block_device *evpl_block_open_device(enum evpl_block_protocol_id protocol,
                                                 const char *uri);

/* Close a device once all its queues are closed. */
void evpl_block_close_device(struct evpl_block_device *blockdev);

/* Size in bytes (file size or device capacity). */
uint64_t evpl_block_size(struct evpl_block_device *blockdev);

/* Largest single request the backend accepts; split larger transfers. */
uint64_t evpl_block_max_request_size(struct evpl_block_device *blockdev);

/* Open a queue for loop evpl (owning thread only; never shared). */
struct evpl_block_queue *evpl_block_open_queue(struct evpl *evpl,
                                               struct evpl_block_device *blockdev);

/* Close a queue once no request on it is outstanding. */
void evpl_block_close_queue(struct evpl *evpl, struct evpl_block_queue *queue);

/*
 * Read into / write from iov[0..niov-1] at byte offset (multiples of the
 * logical block size).  The iovecs are borrowed: keep them valid (and, for
 * writes, unchanged) until the callback.  sync != 0 requests a durable (FUA)
 * write.  Submissions are batched and issued at the end of the pass.
 */
void evpl_block_read(struct evpl *evpl, struct evpl_block_queue *queue, struct evpl_iovec *iov,
                     int niov, uint64_t offset, evpl_block_callback_t callback,
                     void *private_data);
void evpl_block_write(struct evpl *evpl, struct evpl_block_queue *queue,
                      const struct evpl_iovec *iov, int niov, uint64_t offset, int sync,
                      evpl_block_callback_t callback, void *private_data);

/* Make all previously completed writes durable (fsync / NVMe flush). */
void evpl_block_flush(struct evpl *evpl, struct evpl_block_queue *queue,
                      evpl_block_callback_t callback, void *private_data);

/* Advisory: the range is no longer needed (contents become unspecified). */
void evpl_block_discard(struct evpl *evpl, struct evpl_block_queue *queue, uint64_t offset,
                        uint64_t length, evpl_block_callback_t callback, void *private_data);

/* Afterwards the range reads as zeros. */
void evpl_block_write_zeroes(struct evpl *evpl, struct evpl_block_queue *queue, uint64_t offset,
                             uint64_t length, evpl_block_callback_t callback,
                             void *private_data);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
