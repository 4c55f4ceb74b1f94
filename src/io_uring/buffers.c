/*
 * The provided-buffer ring: where multishot receives land.
 *
 * Its buffers ("chunks") are slices of the library's pooled buffers
 * (evpl_buffer_get), so received bytes reach the application as ordinary
 * iovecs with no copy.  Each chunk carries its own struct evpl_iovec_ref
 * whose release hook offers the chunk back to the kernel: the count holds
 * one reference for the kernel while the chunk is in the ring (or, in
 * incremental mode, while the kernel is still filling it) plus one per
 * iovec the receive ring or the application holds.  When it drops to zero
 * the chunk goes straight back into the ring -- replenishing is a store to
 * shared memory, no system call.
 *
 * Only a small window of chunks is offered to the kernel at a time; the
 * others wait on a stack (last released, first offered).  The ring is a FIFO:
 * offering every free chunk would make each receive land in the chunk that
 * was released longest ago, so the kernel's copy and the application's reads
 * would walk the whole pool (megabytes) through the cache.  With the window
 * the chunks in use are the few released last, still in the CPU's cache
 * (measured: ping-pong +4% over loopback, docs/io_uring.md).  The window doubles whenever the
 * kernel runs out (ENOBUFS), so a burst across many connections costs one
 * re-armed receive, not a dropped connection.
 *
 * On kernels with incremental consumption (IOU_PBUF_RING_INC, 6.12) the
 * kernel packs consecutive receives into one chunk, so small messages do not
 * each pin a whole chunk; elsewhere every receive takes a chunk of its own.
 *
 * Chunks are local references (flags 0): like every receive buffer they
 * belong to the loop's thread (API 7.6).  When the ring is torn down while
 * the application still holds chunks, this state lingers until the last of
 * them is released and then returns the underlying buffers to the pool.
 */
#include "io_uring/uring.h"

#ifdef EVPL_HAVE_LIBURING

#include <stdlib.h>

#include "memory/allocator.h"

#define EVPL_URING_CHUNK_SIZE    (256u * 1024)
#define EVPL_URING_MAX_BYTES     (64u << 20) /* cap on provided memory per loop */
#define EVPL_URING_MAX_ENTRIES   1024u
#define EVPL_URING_INITIAL_BYTES (4u << 20)
#define EVPL_URING_WINDOW        2u /* chunks offered to the kernel at first */

struct evpl_uring_chunk {
    struct evpl_iovec_ref    ref; /* first: the release hook casts back */
    struct evpl_uring_bufs  *bufs;
    char                    *data;
    unsigned int             used;      /* bytes the kernel filled (incremental mode) */
    struct evpl_uring_chunk *next_free; /* the stack of chunks not offered */
    uint16_t                 bid;
    uint8_t                  in_ring; /* offered, not yet picked by a receive */
    uint8_t                  kernel;  /* the kernel's hold is part of the count */
};

struct evpl_uring_bufs {
    struct evpl_uring        *ur; /* NULL once the ring is gone */
    struct io_uring_buf_ring *br;
    unsigned int              entries;
    unsigned int              mask;
    unsigned int              chunk_size;
    unsigned int              per_parent; /* chunks carved from one pooled buffer */
    unsigned int              nchunks;
    int                       inc;
    struct evpl_uring_chunk  *chunks;  /* [entries], index = buffer id */
    struct evpl_iovec_ref   **parents; /* pooled buffers the chunks are cut from */
    unsigned int              nparents;
    unsigned int              held;    /* after teardown: chunks the application holds */
    struct evpl_uring_chunk  *stack;   /* free chunks, most recently released first */
    unsigned int              offered; /* chunks in the ring no receive has picked yet */
    unsigned int              window;  /* how many to keep offered */
    int                       widened; /* window doubled since the last chunk was picked */
};

/* Offer chunks from the top of the stack until the window is full. */
static void
bufs_fill_window(struct evpl_uring_bufs *bufs)
{
    int n = 0;

    while (bufs->offered < bufs->window && bufs->stack) {
        struct evpl_uring_chunk *c = bufs->stack;

        bufs->stack   = c->next_free;
        c->used       = 0;
        c->in_ring    = 1;
        c->kernel     = 1;
        c->ref.refcnt = 1;
        io_uring_buf_ring_add(bufs->br, c->data, bufs->chunk_size, c->bid, bufs->mask, n++);
        bufs->offered++;
    }
    if (n) {
        io_uring_buf_ring_advance(bufs->br, n);
    }
}

static inline void
chunk_push(struct evpl_uring_bufs *bufs, struct evpl_uring_chunk *c)
{
    c->next_free = bufs->stack;
    bufs->stack  = c;
}

static void
bufs_free(struct evpl *evpl, struct evpl_uring_bufs *bufs)
{
    for (unsigned int i = 0; i < bufs->nparents; i++) {
        evpl_iovec_ref_release(evpl, bufs->parents[i]);
    }
    free(bufs->parents);
    free(bufs->chunks);
    free(bufs);
}

/* The count of a chunk reached zero. */
static void
chunk_release(struct evpl *evpl, struct evpl_iovec_ref *ref)
{
    struct evpl_uring_chunk *c    = (struct evpl_uring_chunk *) ref;
    struct evpl_uring_bufs  *bufs = c->bufs;

    if (__builtin_expect(bufs->ur == NULL, 0)) {
        if (--bufs->held == 0) {
            bufs_free(evpl, bufs);
        }
        return;
    }
    chunk_push(bufs, c);
    bufs_fill_window(bufs);
}

/* Carve one more pooled buffer into chunks, onto the stack. */
static int
bufs_add_parent(struct evpl *evpl, struct evpl_uring_bufs *bufs)
{
    struct evpl_iovec_ref *parent;
    void                  *data;
    unsigned int           size;

    if (bufs->nchunks + bufs->per_parent > bufs->entries) {
        return 0;
    }
    parent                          = evpl_buffer_get(evpl, &data, &size);
    bufs->parents[bufs->nparents++] = parent;
    for (unsigned int i = 0; i < bufs->per_parent; i++) {
        struct evpl_uring_chunk *c = &bufs->chunks[bufs->nchunks];

        c->ref.flags   = 0;
        c->ref.slab    = parent->slab; /* registration lookups see the real slab */
        c->ref.release = chunk_release;
        c->bufs        = bufs;
        c->data        = (char *) data + (size_t) i * bufs->chunk_size;
        c->bid         = (uint16_t) bufs->nchunks;
        chunk_push(bufs, c);
        bufs->nchunks++;
    }
    return (int) bufs->per_parent;
}

int
evpl_uring_bufs_grow(struct evpl *evpl, struct evpl_uring_bufs *bufs)
{
    /* Several receives of one completion batch may report ENOBUFS: the
     * window doubles once per exhaustion, not once per receive. */
    if (!bufs->widened) {
        bufs->widened = 1;
        if (bufs->window < bufs->nchunks) {
            bufs->window *= 2;
            evpl_uring_debug("receive buffer window widened to %u chunks of %u", bufs->window,
                             bufs->nchunks);
        }
    }
    /* Memory is added only when every chunk is out. */
    if (bufs->offered < bufs->window && bufs->stack == NULL) {
        bufs_add_parent(evpl, bufs);
    }
    bufs_fill_window(bufs);
    return (int) bufs->offered;
}

struct evpl_uring_bufs *
evpl_uring_bufs_create(struct evpl_uring *ur, int *err)
{
    struct evpl_uring_bufs *bufs        = calloc(1, sizeof(*bufs));
    unsigned int            buffer_size = evpl_buffer_size();

    if (bufs == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    bufs->ur         = ur;
    bufs->chunk_size = buffer_size < EVPL_URING_CHUNK_SIZE ? buffer_size : EVPL_URING_CHUNK_SIZE;
    /* entries: a power of two, at most the memory cap's worth of chunks */
    bufs->entries = EVPL_URING_MAX_ENTRIES;
    while (bufs->entries > 16 &&
           (uint64_t) bufs->entries * bufs->chunk_size > EVPL_URING_MAX_BYTES) {
        bufs->entries /= 2;
    }
    bufs->mask       = io_uring_buf_ring_mask(bufs->entries);
    bufs->per_parent = buffer_size / bufs->chunk_size;
    if (bufs->per_parent > bufs->entries / 4) {
        bufs->per_parent = bufs->entries / 4;
    }
    bufs->chunks  = calloc(bufs->entries, sizeof(*bufs->chunks));
    bufs->parents = calloc(bufs->entries, sizeof(*bufs->parents));
    if (bufs->chunks == NULL || bufs->parents == NULL) {
        *err = -ENOMEM;
        goto fail;
    }

    bufs->br = evpl_uring_setup_buf_ring(&ur->ring, bufs->entries, EVPL_URING_BGID,
                                         IOU_PBUF_RING_INC, err);
    if (bufs->br) {
        bufs->inc = 1;
    } else if (*err == -EINVAL) {
        bufs->br = evpl_uring_setup_buf_ring(&ur->ring, bufs->entries, EVPL_URING_BGID, 0, err);
    }
    if (bufs->br == NULL) {
        goto fail;
    }
    while ((uint64_t) bufs->nchunks * bufs->chunk_size < EVPL_URING_INITIAL_BYTES &&
           bufs_add_parent(ur->evpl, bufs)) {
    }
    bufs->window = EVPL_URING_WINDOW;
    bufs_fill_window(bufs);
    return bufs;

fail:
    free(bufs->chunks);
    free(bufs->parents);
    free(bufs);
    return NULL;
}

void *
evpl_uring_bufs_recv(struct evpl_uring_bufs *bufs, unsigned int bid, unsigned int len,
                     struct evpl_iovec_ref **ref)
{
    struct evpl_uring_chunk *c    = &bufs->chunks[bid];
    char                    *data = c->data + c->used;

    if (c->in_ring) {
        /* The kernel started on a fresh chunk: offer the next one. */
        c->in_ring = 0;
        bufs->offered--;
        bufs->widened = 0;
        bufs_fill_window(bufs);
    }
    if (bufs->inc) {
        c->used += len;
    }
    *ref = &c->ref;
    return data;
}

void
evpl_uring_bufs_recv_done(struct evpl *evpl, struct evpl_uring_bufs *bufs, unsigned int bid,
                          int buf_more)
{
    struct evpl_uring_chunk *c = &bufs->chunks[bid];

    if (bufs->inc && buf_more) {
        return; /* the kernel goes on filling this chunk */
    }
    c->kernel = 0;
    evpl_iovec_ref_release(evpl, &c->ref);
}

void
evpl_uring_bufs_destroy(struct evpl *evpl, struct evpl_uring_bufs *bufs)
{
    /* The ring has exited: its registration went with it. */
    bufs->ur = NULL;
    evpl_uring_free_buf_ring(NULL, bufs->br, bufs->entries, EVPL_URING_BGID, 0);
    bufs->br = NULL;

    bufs->held = 0;
    for (unsigned int i = 0; i < bufs->nchunks; i++) {
        struct evpl_uring_chunk *c = &bufs->chunks[i];

        if (c->kernel) {
            c->kernel = 0;
            c->ref.refcnt--;
        }
        if (c->ref.refcnt > 0) {
            bufs->held++;
        }
    }
    if (bufs->held == 0) {
        bufs_free(evpl, bufs);
    } else {
        evpl_uring_debug("%u receive buffers still held by the application", bufs->held);
    }
}

#endif /* EVPL_HAVE_LIBURING */
