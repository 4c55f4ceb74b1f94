/*
 * Block I/O front end: the public evpl_block_* functions.  Backends are
 * looked up by protocol id in one table; nothing else here knows which
 * backend runs.  See block/block_internal.h for the division of labour.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block/block_internal.h"
#include "core/log.h"
#include "core/shared.h"
#include "memory/allocator.h"

static const char *const block_protocol_names[EVPL_NUM_BLOCK_PROTOCOL] = {
    [EVPL_BLOCK_PROTOCOL_IO_URING]      = "IO_URING",
    [EVPL_BLOCK_PROTOCOL_VFIO]          = "VFIO",
    [EVPL_BLOCK_PROTOCOL_LIBAIO]        = "LIBAIO",
    [EVPL_BLOCK_PROTOCOL_IO_URING_NVME] = "IO_URING_NVME",
};

/* One line per backend; a NULL slot is a backend this build lacks. */
static const struct evpl_block_backend *const block_backends[EVPL_NUM_BLOCK_PROTOCOL] = {
#ifdef EVPL_HAVE_LIBURING
    [EVPL_BLOCK_PROTOCOL_IO_URING]      = &evpl_block_backend_io_uring,
    [EVPL_BLOCK_PROTOCOL_IO_URING_NVME] = &evpl_block_backend_io_uring_nvme,
#endif
#ifdef EVPL_HAVE_LIBAIO
    [EVPL_BLOCK_PROTOCOL_LIBAIO] = &evpl_block_backend_libaio,
#endif
    [EVPL_BLOCK_PROTOCOL_VFIO] = &evpl_block_backend_vfio,
};

#define block_abort_if(cond, ...) evpl_abort_if(cond, "block", __VA_ARGS__)

/* Requests are carved from chunks of this many; chunks live until close. */
#define REQUEST_CHUNK 64

/* Emulated write-zeroes writes from this shared zeroed buffer. */
#define ZERO_BUFFER_SIZE (1u << 20)

static pthread_once_t zero_once = PTHREAD_ONCE_INIT;
static void          *zero_buffer;

static void
zero_buffer_alloc(void)
{
    zero_buffer = aligned_alloc(EVPL_BLOCK_ALIGN, ZERO_BUFFER_SIZE);
    if (zero_buffer) {
        memset(zero_buffer, 0, ZERO_BUFFER_SIZE);
    }
}

static inline uint64_t
block_now_ns(struct evpl *evpl)
{
    struct timespec ts;

    evpl_get_hf_monotonic_time(evpl, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* --- devices --- */

struct evpl_block_device *
evpl_block_open_device(enum evpl_block_protocol_id protocol, const char *uri)
{
    const struct evpl_block_backend *backend;
    struct evpl_block_device        *dev;
    int                              rc;

    evpl_ensure_init();

    if ((unsigned int) protocol >= EVPL_NUM_BLOCK_PROTOCOL) {
        evpl_log_error("block", "unknown block protocol id %d", (int) protocol);
        return NULL;
    }
    backend = block_backends[protocol];
    if (backend == NULL) {
        evpl_log_error("block", "block protocol %s is not available in this build (uri '%s')",
                       block_protocol_names[protocol], uri ? uri : "(null)");
        return NULL;
    }
    if (!backend->enabled(evpl_config())) {
        evpl_log_error("block", "block protocol %s is disabled by the global config (uri '%s')",
                       block_protocol_names[protocol], uri ? uri : "(null)");
        return NULL;
    }
    if (uri == NULL || uri[0] == '\0') {
        evpl_log_error("block", "block protocol %s: no uri given", block_protocol_names[protocol]);
        return NULL;
    }

    dev = calloc(1, sizeof(*dev));
    if (dev == NULL || (dev->uri = strdup(uri)) == NULL) {
        evpl_log_error("block", "out of memory opening %s", uri);
        free(dev);
        return NULL;
    }
    dev->backend  = backend;
    dev->protocol = protocol;
    dev->fd       = -1;
    pthread_mutex_init(&dev->stats_lock, NULL);

    rc = backend->open_device(dev, uri);
    if (rc < 0) {
        pthread_mutex_destroy(&dev->stats_lock);
        free(dev->uri);
        free(dev);
        return NULL;
    }

    evpl_block_metrics_open_device(dev);
    evpl_log_debug("block", "opened %s with %s: %llu bytes, %s", uri, backend->name,
                   (unsigned long long) dev->size,
                   (dev->flags & EVPL_BLOCK_DEV_DIRECT) ? "O_DIRECT" : "buffered");
    return dev;
}

void
evpl_block_close_device(struct evpl_block_device *blockdev)
{
    int queues;

    block_abort_if(blockdev == NULL, "evpl_block_close_device(NULL)");
    queues = __atomic_load_n(&blockdev->num_queues, __ATOMIC_ACQUIRE);
    block_abort_if(queues != 0, "evpl_block_close_device(%s) with %d queue(s) still open",
                   blockdev->uri, queues);

    evpl_block_metrics_close_device(blockdev);
    blockdev->backend->close_device(blockdev);
    pthread_mutex_destroy(&blockdev->stats_lock);
    free(blockdev->uri);
    free(blockdev);
}

uint64_t
evpl_block_size(struct evpl_block_device *blockdev)
{
    block_abort_if(blockdev == NULL, "evpl_block_size(NULL)");
    return blockdev->size;
}

uint64_t
evpl_block_max_request_size(struct evpl_block_device *blockdev)
{
    block_abort_if(blockdev == NULL, "evpl_block_max_request_size(NULL)");
    return blockdev->max_request_size;
}

/* --- request pool --- */

static struct evpl_block_request *
request_get(struct evpl_block_queue *queue)
{
    struct evpl_block_request *req = queue->free_requests;

    if (__builtin_expect(req == NULL, 0)) {
        void **chunks =
            realloc(queue->pool_chunks, (queue->num_pool_chunks + 1) * sizeof(*queue->pool_chunks));
        char *chunk;

        block_abort_if(chunks == NULL, "out of memory growing a block request pool");
        queue->pool_chunks = chunks;
        chunk              = aligned_alloc(16, queue->request_size * REQUEST_CHUNK);
        block_abort_if(chunk == NULL, "out of memory growing a block request pool");
        queue->pool_chunks[queue->num_pool_chunks++] = chunk;
        for (int i = REQUEST_CHUNK - 1; i >= 0; i--) {
            req                  = (struct evpl_block_request *) (chunk + i * queue->request_size);
            req->next            = queue->free_requests;
            queue->free_requests = req;
        }
        req = queue->free_requests;
    }
    queue->free_requests = req->next;

    req->next        = NULL;
    req->queue       = queue;
    req->flags       = 0;
    req->result      = 0;
    req->seg         = req->seg_inline;
    req->nseg        = 0;
    req->kseg        = req->seg_inline;
    req->nkseg       = 0;
    req->kslab       = NULL;
    req->bounce.data = NULL;
    req->bounce_heap = NULL;
    req->parent      = NULL;
    req->progress    = 0;
    req->length      = 0;
    req->offset      = 0;
    queue->outstanding++;
    return req;
}

static void
request_put(struct evpl_block_queue *queue, struct evpl_block_request *req)
{
    if (req->seg != req->seg_inline) {
        free(req->seg);
    }
    req->next            = queue->free_requests;
    queue->free_requests = req;
    queue->outstanding--;
}

/* --- completion --- */

static int
stats_op(enum evpl_block_op op)
{
    switch (op) {
    case EVPL_BLOCK_OP_READ:
        return 0;
    case EVPL_BLOCK_OP_WRITE:
        return 1;
    case EVPL_BLOCK_OP_FLUSH:
        return 2;
    default:
        return 3; /* discard and write-zeroes */
    }
}

static void queue_destroy(struct evpl *evpl, struct evpl_block_queue *queue);
static void zeroes_emulate_next(struct evpl *evpl, struct evpl_block_request *parent);

/* Record, recycle and run the user callback of a user-visible request. */
static void
request_finish(struct evpl *evpl, struct evpl_block_request *req, int status)
{
    struct evpl_block_queue *queue        = req->queue;
    evpl_block_callback_t    callback     = req->callback;
    void                    *private_data = req->private_data;

    if (!(req->flags & EVPL_BLOCK_REQ_INTERNAL)) {
        evpl_block_metrics_record(&queue->stats, stats_op(req->op), req->length,
                                  block_now_ns(evpl) - req->start_ns);
        evpl_block_metrics_inflight(&queue->stats, -1);
    }
    request_put(queue, req);
    callback(evpl, status, private_data);
}

/* Map a raw result to the public status and deliver it. */
static void
request_complete(struct evpl *evpl, struct evpl_block_request *req, int res)
{
    int status = 0;

    switch (req->op) {
    case EVPL_BLOCK_OP_READ:
    case EVPL_BLOCK_OP_WRITE:
        if (res < 0) {
            status = -res;
        } else if ((uint64_t) res != req->length) {
            status = EIO; /* short transfer: past the end, or the file shrank */
        }
        if (req->flags & EVPL_BLOCK_REQ_BOUNCED) {
            const char *src = req->bounce_seg.iov_base;

            if (status == 0 && req->op == EVPL_BLOCK_OP_READ) {
                for (int i = 0; i < req->nseg; i++) {
                    memcpy(req->seg[i].iov_base, src, req->seg[i].iov_len);
                    src += req->seg[i].iov_len;
                }
            }
            if (req->bounce.data) {
                evpl_iovec_release(evpl, &req->bounce);
            }
            free(req->bounce_heap);
        }
        break;
    case EVPL_BLOCK_OP_DISCARD:
        /* Advisory: a device or file system without it has done its job. */
        status = (res < 0 && res != -EOPNOTSUPP) ? -res : 0;
        break;
    case EVPL_BLOCK_OP_WRITE_ZEROES:
        if (res == -EOPNOTSUPP) {
            /* No native zeroing here: remember, and write zeros instead. */
            __atomic_store_n(&req->queue->device->zeroes_native_failed, 1, __ATOMIC_RELAXED);
            req->progress = 0; /* the request becomes the parent of a chain */
            zeroes_emulate_next(evpl, req);
            return;
        }
        status = res < 0 ? -res : 0;
        break;
    case EVPL_BLOCK_OP_FLUSH:
        status = res < 0 ? -res : 0;
        break;
    }
    request_finish(evpl, req, status);
}

static inline void
dispatch_begin(struct evpl_block_queue *queue)
{
    queue->dispatching++;
}

/* Returns 0 when the queue was closed by a callback (it is gone now). */
static inline int
dispatch_end(struct evpl *evpl, struct evpl_block_queue *queue)
{
    if (--queue->dispatching == 0 && queue->close_pending) {
        queue_destroy(evpl, queue);
        return 0;
    }
    return 1;
}

int
evpl_block_complete_batch(struct evpl *evpl, struct evpl_block_queue *queue,
                          struct evpl_block_request **reqs, const int *res, int n)
{
    dispatch_begin(queue);
    for (int i = 0; i < n; i++) {
        request_complete(evpl, reqs[i], res[i]);
    }
    return dispatch_end(evpl, queue);
}

void
evpl_block_complete_later(struct evpl *evpl, struct evpl_block_request *req, int res)
{
    struct evpl_block_queue *queue = req->queue;

    req->result = res;
    req->next   = NULL;
    if (queue->later_tail) {
        queue->later_tail->next = req;
    } else {
        queue->later_head = req;
    }
    queue->later_tail = req;
    evpl_defer(evpl, &queue->later_deferral);
}

static void
later_deferral_run(struct evpl *evpl, void *private_data)
{
    struct evpl_block_queue   *queue = private_data;
    struct evpl_block_request *req   = queue->later_head;

    /* Completions queued by these callbacks re-arm the deferral. */
    queue->later_head = queue->later_tail = NULL;

    dispatch_begin(queue);
    while (req) {
        struct evpl_block_request *next = req->next;

        request_complete(evpl, req, req->result);
        req = next;
    }
    dispatch_end(evpl, queue);
}

/* --- emulated write-zeroes --- */

static void
zeroes_chunk_done(struct evpl *evpl, int status, void *private_data)
{
    struct evpl_block_request *parent = private_data;

    if (status != 0) {
        request_finish(evpl, parent, status);
        return;
    }
    zeroes_emulate_next(evpl, parent);
}

/*
 * Write the next chunk of parent's range from the zero buffer; chunks go
 * one after another (contract 14), each at most ZERO_BUFFER_SIZE bytes.
 */
static void
zeroes_emulate_next(struct evpl *evpl, struct evpl_block_request *parent)
{
    struct evpl_block_queue   *queue = parent->queue;
    struct evpl_block_request *chunk;
    uint64_t                   done = parent->progress;
    uint64_t                   left = parent->length - done;
    uint64_t                   len  = left < ZERO_BUFFER_SIZE ? left : ZERO_BUFFER_SIZE;

    if (left == 0) {
        request_finish(evpl, parent, 0);
        return;
    }
    pthread_once(&zero_once, zero_buffer_alloc);
    if (zero_buffer == NULL) {
        request_finish(evpl, parent, ENOMEM);
        return;
    }
    parent->progress = done + len;

    chunk                  = request_get(queue);
    chunk->op              = EVPL_BLOCK_OP_WRITE;
    chunk->flags           = EVPL_BLOCK_REQ_INTERNAL;
    chunk->offset          = parent->offset + done;
    chunk->length          = len;
    chunk->callback        = zeroes_chunk_done;
    chunk->private_data    = parent;
    chunk->parent          = parent;
    chunk->seg[0].iov_base = zero_buffer;
    chunk->seg[0].iov_len  = len;
    chunk->nseg            = 1;
    chunk->kseg            = chunk->seg;
    chunk->nkseg           = 1;
    queue->device->backend->submit(evpl, queue, chunk);
}

/* --- queues --- */

struct evpl_block_queue *
evpl_block_open_queue(struct evpl *evpl, struct evpl_block_device *blockdev)
{
    struct evpl_block_queue *queue;
    int                      rc;

    block_abort_if(evpl == NULL || blockdev == NULL, "evpl_block_open_queue(%p, %p)", (void *) evpl,
                   (void *) blockdev);

    queue = calloc(1, sizeof(*queue));
    if (queue == NULL) {
        evpl_log_error("block", "out of memory opening a queue on %s", blockdev->uri);
        return NULL;
    }
    queue->evpl   = evpl;
    queue->device = blockdev;
    queue->request_size =
        (sizeof(struct evpl_block_request) + blockdev->backend->request_private_size + 15) &
        ~(size_t) 15;
    evpl_deferral_init(&queue->later_deferral, later_deferral_run, queue);

    rc = blockdev->backend->open_queue(evpl, queue);
    if (rc < 0) {
        evpl_log_error("block", "cannot open a %s queue on %s: %s", blockdev->backend->name,
                       blockdev->uri, strerror(-rc));
        free(queue);
        return NULL;
    }

    __atomic_add_fetch(&blockdev->num_queues, 1, __ATOMIC_RELEASE);
    evpl_block_metrics_add_queue(queue);
    return queue;
}

static void
queue_destroy(struct evpl *evpl, struct evpl_block_queue *queue)
{
    struct evpl_block_device *dev = queue->device;

    evpl_remove_deferral(evpl, &queue->later_deferral);
    dev->backend->close_queue(evpl, queue);
    evpl_block_metrics_remove_queue(queue);
    for (int i = 0; i < queue->num_pool_chunks; i++) {
        free(queue->pool_chunks[i]);
    }
    free(queue->pool_chunks);
    free(queue);
    __atomic_sub_fetch(&dev->num_queues, 1, __ATOMIC_RELEASE);
}

void
evpl_block_close_queue(struct evpl *evpl, struct evpl_block_queue *queue)
{
    block_abort_if(queue == NULL, "evpl_block_close_queue(NULL)");
    block_abort_if(evpl != queue->evpl, "evpl_block_close_queue: queue belongs to another loop");
    block_abort_if(queue->outstanding != 0,
                   "evpl_block_close_queue(%s) with %d request(s) outstanding; close a queue "
                   "only after every callback has run",
                   queue->device->uri, queue->outstanding);

    if (queue->dispatching) {
        /* Called from one of this queue's callbacks: finish when it returns. */
        queue->close_pending = 1;
        return;
    }
    queue_destroy(evpl, queue);
}

/* --- submission --- */

static inline void
request_start(struct evpl *evpl, struct evpl_block_queue *queue, struct evpl_block_request *req,
              evpl_block_callback_t callback, void *private_data)
{
    req->callback     = callback;
    req->private_data = private_data;
    req->start_ns     = block_now_ns(evpl);
    evpl_block_metrics_inflight(&queue->stats, 1);
}

static inline void
check_call(struct evpl *evpl, struct evpl_block_queue *queue, evpl_block_callback_t callback,
           const char *fn)
{
    block_abort_if(queue == NULL || callback == NULL, "%s: queue and callback are required", fn);
    block_abort_if(evpl != queue->evpl, "%s: queue belongs to another loop", fn);
}

/*
 * Copy the caller's iovecs into req->seg and decide what the kernel sees.
 * Returns 0 or a positive errno for the callback.
 */
static int
request_set_data(struct evpl *evpl, struct evpl_block_request *req, const struct evpl_iovec *iov,
                 int niov)
{
    struct evpl_block_device *dev      = req->queue->device;
    uintptr_t                 misalign = 0;
    uint64_t                  total    = 0;

    if (niov < 0 || niov > EVPL_BLOCK_MAX_SEGS || (niov > 0 && iov == NULL)) {
        return EINVAL;
    }
    if (niov > EVPL_BLOCK_INLINE_SEGS) {
        req->seg = malloc(sizeof(*req->seg) * (size_t) niov);
        if (req->seg == NULL) {
            req->seg = req->seg_inline;
            return ENOMEM;
        }
    }
    for (int i = 0; i < niov; i++) {
        req->seg[i].iov_base = iov[i].data;
        req->seg[i].iov_len  = iov[i].length;
        misalign |= (uintptr_t) iov[i].data | iov[i].length;
        total += iov[i].length;
    }
    req->nseg   = niov;
    req->length = total;
    if (total > dev->max_request_size) {
        return EINVAL; /* callers split at evpl_block_max_request_size() */
    }
    if ((req->offset | total) & (dev->block_size - 1)) {
        /* Checked here rather than left to the kernel: some file systems
         * quietly serve misaligned O_DIRECT reads through the page cache. */
        return EINVAL;
    }

    req->kseg  = req->seg;
    req->nkseg = niov;
    if (niov == 1 && iov[0].ref) {
        req->kslab = iov[0].ref->slab;
    }

    if ((dev->flags & EVPL_BLOCK_DEV_DIRECT) && (misalign & (EVPL_BLOCK_ALIGN - 1)) && total) {
        /* O_DIRECT wants aligned memory: go through an aligned copy. */
        void *data = NULL;

        if (total <= evpl_buffer_size() &&
            evpl_iovec_alloc(evpl, (unsigned int) total, EVPL_BLOCK_ALIGN, 1, 0, &req->bounce) ==
                1) {
            data       = req->bounce.data;
            req->kslab = req->bounce.ref->slab;
        } else {
            req->bounce.data = NULL;
            req->kslab       = NULL;
            if (posix_memalign(&req->bounce_heap, EVPL_BLOCK_ALIGN, total) != 0) {
                req->bounce_heap = NULL;
                return ENOMEM;
            }
            data = req->bounce_heap;
        }
        req->flags |= EVPL_BLOCK_REQ_BOUNCED;
        req->bounce_seg.iov_base = data;
        req->bounce_seg.iov_len  = total;
        req->kseg                = &req->bounce_seg;
        req->nkseg               = 1;
        if (req->op == EVPL_BLOCK_OP_WRITE) {
            char *dst = data;

            for (int i = 0; i < niov; i++) {
                memcpy(dst, req->seg[i].iov_base, req->seg[i].iov_len);
                dst += req->seg[i].iov_len;
            }
        }
    }
    return 0;
}

static void
request_submit_rw(struct evpl *evpl, struct evpl_block_queue *queue, enum evpl_block_op op,
                  const struct evpl_iovec *iov, int niov, uint64_t offset, unsigned int flags,
                  evpl_block_callback_t callback, void *private_data)
{
    struct evpl_block_request *req = request_get(queue);
    int                        err;

    req->op     = op;
    req->flags  = flags;
    req->offset = offset;
    request_start(evpl, queue, req, callback, private_data);

    err = request_set_data(evpl, req, iov, niov);
    if (err) {
        evpl_block_complete_later(evpl, req, -err);
    } else if (req->length == 0) {
        evpl_block_complete_later(evpl, req, 0);
    } else {
        queue->device->backend->submit(evpl, queue, req);
    }
}

void
evpl_block_read(struct evpl *evpl, struct evpl_block_queue *queue, struct evpl_iovec *iov, int niov,
                uint64_t offset, evpl_block_callback_t callback, void *private_data)
{
    check_call(evpl, queue, callback, "evpl_block_read");
    request_submit_rw(evpl, queue, EVPL_BLOCK_OP_READ, iov, niov, offset, 0, callback,
                      private_data);
}

void
evpl_block_write(struct evpl *evpl, struct evpl_block_queue *queue, const struct evpl_iovec *iov,
                 int niov, uint64_t offset, int sync, evpl_block_callback_t callback,
                 void *private_data)
{
    check_call(evpl, queue, callback, "evpl_block_write");
    request_submit_rw(evpl, queue, EVPL_BLOCK_OP_WRITE, iov, niov, offset,
                      sync ? EVPL_BLOCK_REQ_SYNC : 0, callback, private_data);
}

static void
request_submit_range(struct evpl *evpl, struct evpl_block_queue *queue, enum evpl_block_op op,
                     uint64_t offset, uint64_t length, evpl_block_callback_t callback,
                     void *private_data)
{
    struct evpl_block_request *req = request_get(queue);

    req->op     = op;
    req->offset = offset;
    req->length = length;
    request_start(evpl, queue, req, callback, private_data);

    if (op != EVPL_BLOCK_OP_FLUSH && length == 0) {
        evpl_block_complete_later(evpl, req, 0);
    } else if (op == EVPL_BLOCK_OP_WRITE_ZEROES &&
               __atomic_load_n(&queue->device->zeroes_native_failed, __ATOMIC_RELAXED)) {
        req->progress = 0;
        zeroes_emulate_next(evpl, req);
    } else {
        queue->device->backend->submit(evpl, queue, req);
    }
}

void
evpl_block_flush(struct evpl *evpl, struct evpl_block_queue *queue, evpl_block_callback_t callback,
                 void *private_data)
{
    check_call(evpl, queue, callback, "evpl_block_flush");
    request_submit_range(evpl, queue, EVPL_BLOCK_OP_FLUSH, 0, 0, callback, private_data);
}

void
evpl_block_discard(struct evpl *evpl, struct evpl_block_queue *queue, uint64_t offset,
                   uint64_t length, evpl_block_callback_t callback, void *private_data)
{
    check_call(evpl, queue, callback, "evpl_block_discard");
    request_submit_range(evpl, queue, EVPL_BLOCK_OP_DISCARD, offset, length, callback,
                         private_data);
}

void
evpl_block_write_zeroes(struct evpl *evpl, struct evpl_block_queue *queue, uint64_t offset,
                        uint64_t length, evpl_block_callback_t callback, void *private_data)
{
    check_call(evpl, queue, callback, "evpl_block_write_zeroes");
    request_submit_range(evpl, queue, EVPL_BLOCK_OP_WRITE_ZEROES, offset, length, callback,
                         private_data);
}
