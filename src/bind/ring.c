/*
 * Ring storage management (the inline fast paths are in ring.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "bind/address.h"
#include "bind/ring.h"

/* Re-home the live entries [tail, head) of a power-of-two ring into a new
 * array twice as large (or `initial` entries for the first allocation). */
static void *
ring_grow(void *old, unsigned int *mask, unsigned int *head, unsigned int *tail, size_t elem,
          unsigned int initial)
{
    unsigned int count = *head - *tail;
    unsigned int cap   = old ? (*mask + 1) * 2 : (initial ? initial : 64);
    char        *fresh;

    /* round up to a power of two: the index math needs it */
    while (cap & (cap - 1)) {
        cap += cap & -cap;
    }
    fresh = malloc((size_t) cap * elem);
    evpl_abort_if(fresh == NULL, "bind", "out of memory growing a ring to %u entries", cap);

    for (unsigned int i = 0; i < count; i++) {
        memcpy(fresh + (size_t) i * elem, (char *) old + (size_t) ((*tail + i) & *mask) * elem,
               elem);
    }
    free(old);
    *mask = cap - 1;
    *tail = 0;
    *head = count;
    return fresh;
}

void
evpl_iovec_ring_grow(struct evpl_iovec_ring *ring, unsigned int initial)
{
    ring->iov =
        ring_grow(ring->iov, &ring->mask, &ring->head, &ring->tail, sizeof(*ring->iov), initial);
}

void
evpl_dgram_ring_grow(struct evpl_dgram_ring *ring, unsigned int initial)
{
    ring->d = ring_grow(ring->d, &ring->mask, &ring->head, &ring->tail, sizeof(*ring->d), initial);
}

void
evpl_iovec_ring_clear(struct evpl *evpl, struct evpl_iovec_ring *ring)
{
    while (!evpl_iovec_ring_empty(ring)) {
        evpl_iovec_release_internal(evpl, evpl_iovec_ring_front(ring));
        evpl_iovec_ring_pop(ring);
    }
    ring->length = 0;
}

void
evpl_iovec_ring_free(struct evpl_iovec_ring *ring)
{
    free(ring->iov);
    memset(ring, 0, sizeof(*ring));
}

void
evpl_dgram_ring_clear(struct evpl_dgram_ring *ring)
{
    while (evpl_dgram_ring_count(ring)) {
        evpl_address_release(evpl_dgram_ring_front(ring)->addr);
        evpl_dgram_ring_pop(ring);
    }
}

void
evpl_dgram_ring_free(struct evpl_dgram_ring *ring)
{
    free(ring->d);
    memset(ring, 0, sizeof(*ring));
}
