/*
 * Block device front end.  No block backend is built yet (io_uring and
 * libaio arrive with their own folders), so every open reports the backend
 * unavailable; the remaining entry points take objects that cannot exist
 * and therefore treat a call as a caller error.
 */
#include "core/log.h"
#include "core/shared.h"
#include "evpl/evpl.h"

static const char *const block_protocol_names[EVPL_NUM_BLOCK_PROTOCOL] = {
    [EVPL_BLOCK_PROTOCOL_IO_URING]      = "IO_URING",
    [EVPL_BLOCK_PROTOCOL_VFIO]          = "VFIO",
    [EVPL_BLOCK_PROTOCOL_LIBAIO]        = "LIBAIO",
    [EVPL_BLOCK_PROTOCOL_IO_URING_NVME] = "IO_URING_NVME",
};

struct evpl_block_device *
evpl_block_open_device(enum evpl_block_protocol_id protocol, const char *uri)
{
    evpl_ensure_init();

    if ((unsigned int) protocol >= EVPL_NUM_BLOCK_PROTOCOL) {
        evpl_log_error("block", "unknown block protocol id %d", (int) protocol);
        return NULL;
    }
    evpl_log_error("block", "block protocol %s is not available in this build (uri '%s')",
                   block_protocol_names[protocol], uri ? uri : "(null)");
    return NULL;
}

#define BLOCK_NO_DEVICE() evpl_abort("block", __FILE__, __LINE__, "no block device can exist")

void
evpl_block_close_device(struct evpl_block_device *blockdev)
{
    (void) blockdev;
    BLOCK_NO_DEVICE();
}

uint64_t
evpl_block_size(struct evpl_block_device *blockdev)
{
    (void) blockdev;
    BLOCK_NO_DEVICE();
}

uint64_t
evpl_block_max_request_size(struct evpl_block_device *blockdev)
{
    (void) blockdev;
    BLOCK_NO_DEVICE();
}

struct evpl_block_queue *
evpl_block_open_queue(struct evpl *evpl, struct evpl_block_device *blockdev)
{
    (void) evpl;
    (void) blockdev;
    BLOCK_NO_DEVICE();
}

void
evpl_block_close_queue(struct evpl *evpl, struct evpl_block_queue *queue)
{
    (void) evpl;
    (void) queue;
    BLOCK_NO_DEVICE();
}

void
evpl_block_read(struct evpl *evpl, struct evpl_block_queue *queue, struct evpl_iovec *iov,
                int niov, uint64_t offset, evpl_block_callback_t callback, void *private_data)
{
    (void) evpl, (void) queue, (void) iov, (void) niov, (void) offset, (void) callback,
        (void) private_data;
    BLOCK_NO_DEVICE();
}

void
evpl_block_write(struct evpl *evpl, struct evpl_block_queue *queue, const struct evpl_iovec *iov,
                 int niov, uint64_t offset, int sync, evpl_block_callback_t callback,
                 void *private_data)
{
    (void) evpl, (void) queue, (void) iov, (void) niov, (void) offset, (void) sync,
        (void) callback, (void) private_data;
    BLOCK_NO_DEVICE();
}

void
evpl_block_flush(struct evpl *evpl, struct evpl_block_queue *queue,
                 evpl_block_callback_t callback, void *private_data)
{
    (void) evpl, (void) queue, (void) callback, (void) private_data;
    BLOCK_NO_DEVICE();
}

void
evpl_block_discard(struct evpl *evpl, struct evpl_block_queue *queue, uint64_t offset,
                   uint64_t length, evpl_block_callback_t callback, void *private_data)
{
    (void) evpl, (void) queue, (void) offset, (void) length, (void) callback,
        (void) private_data;
    BLOCK_NO_DEVICE();
}

void
evpl_block_write_zeroes(struct evpl *evpl, struct evpl_block_queue *queue, uint64_t offset,
                        uint64_t length, evpl_block_callback_t callback, void *private_data)
{
    (void) evpl, (void) queue, (void) offset, (void) length, (void) callback,
        (void) private_data;
    BLOCK_NO_DEVICE();
}
