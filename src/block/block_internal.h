/*
 * Private to src/block/: the device, queue and request objects shared by the
 * front end (block.c) and the backends (io_uring.c, libaio.c, nvme.c,
 * vfio.c), and the narrow interface a backend implements.
 *
 * Division of labour:
 *   front end  validates arguments, turns evpl_iovecs into struct iovec
 *              segments, bounces misaligned O_DIRECT buffers, owns the
 *              per-queue request pool, records metrics, maps raw results to
 *              the public status (0 / positive errno, short transfer -> EIO),
 *              emulates write-zeroes, and runs every user callback.
 *   backend    opens the URI, gets requests to the kernel (batched, at the
 *              end of the pass) and reports each raw result exactly once
 *              through evpl_block_complete_batch() or evpl_block_complete_later().
 *
 * Threads: a device is shared by every loop and immutable after open apart
 * from its metrics list (stats_lock); a queue and its requests belong to one
 * loop and are touched only on that loop's thread.
 */
#pragma once

#include <pthread.h>
#include <stdint.h>
#include <sys/uio.h>

#include "evpl/evpl.h"
#include "block/metrics.h"

#define EVPL_BLOCK_MAX_REQUEST (4u << 20) /* max request size of the file backends */
#define EVPL_BLOCK_ALIGN       4096u      /* O_DIRECT alignment the bounce logic enforces */
#define EVPL_BLOCK_INLINE_SEGS 4          /* segments kept inside a request */
#define EVPL_BLOCK_MAX_SEGS    1024       /* IOV_MAX */

enum evpl_block_op {
    EVPL_BLOCK_OP_READ = 0,
    EVPL_BLOCK_OP_WRITE,
    EVPL_BLOCK_OP_FLUSH,
    EVPL_BLOCK_OP_DISCARD,
    EVPL_BLOCK_OP_WRITE_ZEROES,
};

#define EVPL_BLOCK_REQ_SYNC     0x01u /* write with FUA semantics (RWF_DSYNC) */
#define EVPL_BLOCK_REQ_BOUNCED  0x02u /* kseg is an aligned copy of seg[] */
#define EVPL_BLOCK_REQ_INTERNAL 0x04u /* a chunk of an emulated write-zeroes */

struct evpl_block_queue;
struct evpl_slab;

/*
 * One request.  Allocated from the queue's pool (no malloc in steady
 * state); the backend-private area that follows it is
 * backend->request_private_size bytes (libaio keeps its iocb there).
 */
struct evpl_block_request {
    struct evpl_block_request *next; /* pool free list / backend lists */
    struct evpl_block_queue   *queue;
    evpl_block_callback_t      callback;
    void                      *private_data;
    uint64_t                   offset;
    uint64_t                   length; /* bytes of the transfer or range */
    uint64_t                   start_ns;
    enum evpl_block_op         op;
    unsigned int               flags;
    int                        result; /* raw result for deferred completions */

    /* the caller's memory as plain segments (reads copy back into these) */
    struct iovec *seg;
    int           nseg;
    struct iovec  seg_inline[EVPL_BLOCK_INLINE_SEGS];

    /*
     * What the kernel sees: seg[] itself, or one aligned bounce segment.
     * kslab is the slab that holds a single kernel segment (NULL when
     * unknown or when there are several), for fixed-buffer lookups.
     */
    struct iovec           *kseg;
    int                     nkseg;
    const struct evpl_slab *kslab;
    struct iovec            bounce_seg;
    struct evpl_iovec       bounce;      /* pooled bounce buffer, data NULL if unused */
    void                   *bounce_heap; /* heap bounce for requests over one buffer */

    /* emulated write-zeroes: the user's request drives a chain of chunks */
    struct evpl_block_request *parent;
    uint64_t                   progress; /* bytes of the range zeroed so far */

    _Alignas(16) unsigned char backend_private[];
};

struct evpl_block_backend {
    const char *name; /* "type" label of the metrics, log messages */

    /* Non-zero when the global config allows this backend. */
    int (*enabled)(const struct evpl_global_config *config);

    /*
     * Open uri for dev: fill dev->fd, size, block_size, flags and
     * max_request_size, optionally dev->backend_private.  Returns 0 or a
     * negative errno (after logging why).  Any thread.
     */
    int (*open_device)(struct evpl_block_device *dev, const char *uri);
    void (*close_device)(struct evpl_block_device *dev);

    /* Per-loop queue state in queue->backend_private.  0 or -errno. */
    int (*open_queue)(struct evpl *evpl, struct evpl_block_queue *queue);
    void (*close_queue)(struct evpl *evpl, struct evpl_block_queue *queue);

    /*
     * Start req (segments, bounce and flags prepared).  The backend reports
     * the outcome exactly once, never from inside this call's caller's
     * stack frame: evpl_block_complete_batch() from its reaping path, or
     * evpl_block_complete_later() for results it knows at once.
     */
    void (*submit)(struct evpl *evpl, struct evpl_block_queue *queue,
                   struct evpl_block_request *req);

    unsigned int request_private_size;
};

#define EVPL_BLOCK_DEV_DIRECT   0x01u /* opened with O_DIRECT */
#define EVPL_BLOCK_DEV_BLOCKDEV 0x02u /* a block device, not a regular file */

struct evpl_block_device {
    const struct evpl_block_backend *backend;
    enum evpl_block_protocol_id      protocol;
    char                            *uri;
    int                              fd;
    unsigned int                     flags;
    uint64_t                         size;
    uint64_t                         block_size; /* logical block size */
    uint64_t                         max_request_size;
    void                            *backend_private;

    int zeroes_native_failed; /* native write-zeroes refused: emulate (relaxed atomic) */

    /* queues still open (closing the device with one open is a caller error) */
    int num_queues; /* atomic */

    /* metrics: every open queue's counters, plus those of closed queues */
    pthread_mutex_t          stats_lock;
    struct evpl_block_queue *stats_queues;
    struct evpl_block_stats  stats_retired;
    char                     labels[384]; /* device="...",type="..." */
};

struct evpl_block_queue {
    struct evpl              *evpl;
    struct evpl_block_device *device;
    void                     *backend_private;

    /* request pool */
    struct evpl_block_request *free_requests;
    void                     **pool_chunks;
    int                        num_pool_chunks;
    size_t                     request_size;
    int                        outstanding; /* requests handed out, not yet completed */

    /* completions known at submission time, delivered by a deferral */
    struct evpl_block_request *later_head;
    struct evpl_block_request *later_tail;
    struct evpl_deferral       later_deferral;

    /* callbacks are running: a close from inside one is finished afterwards */
    int dispatching;
    int close_pending;

    struct evpl_block_stats  stats; /* written by the owning thread only */
    struct evpl_block_queue *stats_next;
};

/*
 * Deliver raw results for n requests of queue: res[i] is the byte count
 * for reads and writes (short -> EIO) or 0, or a negative errno.  Runs the
 * user callbacks.  Returns 0 if a callback closed the queue (the caller must
 * not touch the queue or its backend state again), 1 otherwise.
 */
int evpl_block_complete_batch(struct evpl *evpl, struct evpl_block_queue *queue,
                              struct evpl_block_request **reqs, const int *res, int n);

/* Complete req with raw result res at the end of the current pass. */
void evpl_block_complete_later(struct evpl *evpl, struct evpl_block_request *req, int res);

/* The backends, defined in their own files (NULL-free table in block.c). */
extern const struct evpl_block_backend evpl_block_backend_io_uring;
extern const struct evpl_block_backend evpl_block_backend_io_uring_nvme;
extern const struct evpl_block_backend evpl_block_backend_libaio;
extern const struct evpl_block_backend evpl_block_backend_vfio;
