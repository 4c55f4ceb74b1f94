/*
 * The two rings every bind carries:
 *
 *   struct evpl_iovec_ring  -- a FIFO of iovecs, each holding one reference:
 *       queued outbound payload (send ring) or buffered inbound bytes of a
 *       stream (receive ring).
 *   struct evpl_dgram_ring  -- a FIFO of message records, one per send call
 *       on a message bind: how many iovecs and bytes of the send ring belong
 *       to the message, and the destination for addressed datagrams.
 *
 * Both are power-of-two arrays indexed by free-running unsigned counters
 * (head - tail = occupancy).  Storage is allocated on first push (at the
 * configured initial size) and doubled when full, so idle binds own no ring
 * memory and the hot path never allocates once a ring has warmed up.  Owning
 * loop thread only.
 */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evpl/evpl.h"

struct evpl_iovec_ring {
    struct evpl_iovec *iov;
    unsigned int       mask;   /* capacity - 1; capacity 0 until first push */
    unsigned int       head;   /* next slot to fill */
    unsigned int       tail;   /* oldest entry */
    uint64_t           length; /* total bytes in the ring */
};

struct evpl_dgram {
    unsigned int         niov;   /* iovecs of the send ring still belonging to it */
    unsigned int         length; /* bytes of the message not yet handed to the transport */
    struct evpl_address *addr;   /* destination (holds a reference) or NULL */
};

struct evpl_dgram_ring {
    struct evpl_dgram *d;
    unsigned int       mask;
    unsigned int       head;
    unsigned int       tail;
};

/* Grow (or create) the storage; aborts on allocation failure. */
void evpl_iovec_ring_grow(struct evpl_iovec_ring *ring, unsigned int initial);
void evpl_dgram_ring_grow(struct evpl_dgram_ring *ring, unsigned int initial);

/* Release every reference / address held and free the storage. */
void evpl_iovec_ring_clear(struct evpl *evpl, struct evpl_iovec_ring *ring);
void evpl_iovec_ring_free(struct evpl_iovec_ring *ring);
void evpl_dgram_ring_clear(struct evpl_dgram_ring *ring);
void evpl_dgram_ring_free(struct evpl_dgram_ring *ring);

static inline unsigned int
evpl_iovec_ring_count(const struct evpl_iovec_ring *ring)
{
    return ring->head - ring->tail;
}

static inline int
evpl_iovec_ring_empty(const struct evpl_iovec_ring *ring)
{
    return ring->head == ring->tail;
}

/* The i-th entry from the front (i < count). */
static inline struct evpl_iovec *
evpl_iovec_ring_at(struct evpl_iovec_ring *ring, unsigned int i)
{
    return &ring->iov[(ring->tail + i) & ring->mask];
}

static inline struct evpl_iovec *
evpl_iovec_ring_front(struct evpl_iovec_ring *ring)
{
    return &ring->iov[ring->tail & ring->mask];
}

/* The newest entry (ring not empty). */
static inline struct evpl_iovec *
evpl_iovec_ring_back(struct evpl_iovec_ring *ring)
{
    return &ring->iov[(ring->head - 1) & ring->mask];
}

/* A new slot at the back (the caller fills it, adding its length to
 * ring->length); grows the ring when full. */
static inline struct evpl_iovec *
evpl_iovec_ring_push(struct evpl_iovec_ring *ring, unsigned int initial)
{
    if (__builtin_expect(ring->head - ring->tail == ring->mask + 1 || ring->iov == NULL, 0)) {
        evpl_iovec_ring_grow(ring, initial);
    }
    return &ring->iov[ring->head++ & ring->mask];
}

static inline void
evpl_iovec_ring_pop(struct evpl_iovec_ring *ring)
{
    ring->tail++;
}

static inline unsigned int
evpl_dgram_ring_count(const struct evpl_dgram_ring *ring)
{
    return ring->head - ring->tail;
}

static inline struct evpl_dgram *
evpl_dgram_ring_front(struct evpl_dgram_ring *ring)
{
    return &ring->d[ring->tail & ring->mask];
}

static inline struct evpl_dgram *
evpl_dgram_ring_at(struct evpl_dgram_ring *ring, unsigned int i)
{
    return &ring->d[(ring->tail + i) & ring->mask];
}

static inline struct evpl_dgram *
evpl_dgram_ring_push(struct evpl_dgram_ring *ring, unsigned int initial)
{
    if (__builtin_expect(ring->head - ring->tail == ring->mask + 1 || ring->d == NULL, 0)) {
        evpl_dgram_ring_grow(ring, initial);
    }
    return &ring->d[ring->head++ & ring->mask];
}

static inline void
evpl_dgram_ring_pop(struct evpl_dgram_ring *ring)
{
    ring->tail++;
}
