/*
 * Private to src/memory/: slabs, buffer headers, the global pool and the
 * per-loop cache.  The rest of the library uses memory/allocator.h.
 *
 * Life of a buffer:
 *   slab carved -> global pool (mutex) -> loop cache (owning thread, no lock)
 *   -> handed out (count > 0) -> count reaches 0, ref.release():
 *        on the owning thread of a live loop of its home node -> that cache
 *        a loop of another node, evpl == NULL or any other thread
 *                                               -> its home node's pool
 *
 * NUMA (docs/topology.md): the global pool keeps one free list per NUMA node
 * of the machine (`home`, the node's index in the machine topology).  A slab
 * is bound to the node of the thread that maps it (or asks for it), every
 * buffer remembers its slab's home, a loop refills only from its own node's
 * list, and a buffer never enters the cache of a loop on another node.  On a
 * machine with one node there is one list and nothing changes.
 *   A loop cache over its cap spills half of itself to the global pool.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "memory/allocator.h"

struct evpl_memory_domain;

#define EVPL_MEMORY_MAX_NODES 64

/* One NUMA node's part of the global pool (under pool_lock). */
struct evpl_node_pool {
    struct evpl_buffer *head;
    uint64_t            count;
    int                 node;            /* kernel node number, -1: do not bind */
    int                 has_cpus;        /* producers only fill nodes loops run on */
    uint64_t            foreign_returns; /* released on another node's loop */
};

/*
 * One buffer.  Headers live in a calloc'd array per slab, not inside slab
 * memory, so registered memory is payload only.  ref must stay first:
 * the release callback converts the header pointer back with a cast.
 */
struct evpl_buffer {
    struct evpl_iovec_ref ref;
    void                 *data;
    struct evpl_buffer   *next; /* free-list link (pool or loop cache) */
    /* loop that handed the buffer out, for the leak report at
     * evpl_destroy(); NULL while free or when taken without a loop */
    struct evpl_memory_domain *domain;
    unsigned int               used; /* bytes packed so far (current buffer only) */
    int                        home; /* node pool it belongs to (its slab's) */
};

struct evpl_slab {
    void                  *base;
    uint64_t               size;     /* usable bytes (the configured slab size) */
    uint64_t               map_size; /* bytes mapped (rounded to the huge page size) */
    struct evpl_allocator *allocator;
    struct evpl_buffer    *buffers; /* NULL for whole slabs from evpl_slab_alloc() */
    unsigned int           nbuffers;
    int                    huge;
    int                    home; /* node pool index; memory bound to that node */
    struct evpl_slab      *next;
    void                  *registration[EVPL_MAX_REGISTRATION_HOOKS];
};

struct evpl_registration_hook {
    evpl_slab_register_fn   register_slab;
    evpl_slab_unregister_fn unregister_slab;
    void                   *private_data;
};

struct evpl_allocator {
    uint64_t     slab_size;
    unsigned int buffer_size;
    unsigned int buffers_per_slab;
    uint64_t     slab_align; /* base alignment of normal-page slabs */
    uint64_t     huge_page_size;
    atomic_int   huge_pages; /* cleared after the first failed hugetlb mapping */

    /* slab list and registration hooks; held while hooks run so that each
     * hook sees every slab exactly once */
    pthread_mutex_t               slab_lock;
    struct evpl_slab             *slabs;
    struct evpl_registration_hook hooks[EVPL_MAX_REGISTRATION_HOOKS];
    int                           num_hooks;

    /* global free pool: one list per NUMA node, free_count their total */
    pthread_mutex_t       pool_lock;
    pthread_cond_t        pool_avail;    /* buffers were added */
    pthread_cond_t        producer_wake; /* free count fell below target */
    struct evpl_node_pool nodes[EVPL_MEMORY_MAX_NODES];
    int                   num_nodes;   /* >= 1; fixed after create */
    int                   wanted_home; /* a consumer waits for this node (-1: none) */
    uint64_t              free_count;
    uint64_t              carved_buffers; /* buffers in all carved slabs */
    int                   growing;        /* a consumer is mapping a slab */
    int                   shutdown;

    /* preallocation */
    pthread_t   *producers;
    unsigned int num_producers;
    unsigned int producing; /* slabs being mapped by producers */

    struct evpl_allocator_stats stats; /* under pool_lock */
};

/* Leak accounting of one loop: 1 (the loop) + buffers it handed out that
 * are not back yet.  Outlives the loop while buffers are outstanding. */
struct evpl_memory_domain {
    atomic_ulong refs;
};

/* Per-loop state (evpl->memory); touched only by the owning thread. */
#define EVPL_CURRENT_LOCAL  0
#define EVPL_CURRENT_SHARED 1

struct evpl_memory_loop {
    struct evpl_allocator     *allocator;
    pthread_t                  owner;
    struct evpl_memory_domain *domain;
    int                        home; /* node pool of the loop's CPU at creation */
    struct evpl_buffer        *free_head;
    unsigned int               free_count;
    unsigned int               free_cap; /* spill above this */
    unsigned int               refill;   /* buffers fetched per global pool visit */
    unsigned int               buffer_size;
    /* buffers small allocations are packed into, one per flag kind since
     * flags live per buffer; the loop holds one reference on each */
    struct evpl_buffer *current[2];
};

/* slab.c */
struct evpl_slab *evpl_slab_create(struct evpl_allocator *allocator, int carve, int home);
void              evpl_slab_destroy(struct evpl_allocator *allocator, struct evpl_slab *slab);

/*
 * pool.c.  evpl_pool_get() pops 1..max buffers (mapping a slab or waiting for
 * a producer when the pool is empty) as a NULL-terminated chain at *head and
 * returns how many; evpl_pool_put() pushes the chain head..tail of count.
 */
struct evpl_allocator *evpl_allocator_current(void);
int  evpl_pool_get(struct evpl_allocator *allocator, int home, struct evpl_buffer **head, int max);
void evpl_pool_put(struct evpl_allocator *allocator, struct evpl_buffer *head,
                   struct evpl_buffer *tail, int count);
/* A buffer released on a loop of another node: back to its home list. */
void evpl_pool_return_foreign(struct evpl_allocator *allocator, struct evpl_buffer *buffer);
/* The node pool of the CPU the calling thread runs on (0 with one node). */
int evpl_allocator_home(struct evpl_allocator *allocator);

/* cache.c */
void                evpl_buffer_release(struct evpl *evpl, struct evpl_iovec_ref *ref);
struct evpl_buffer *evpl_buffer_take(struct evpl *evpl, unsigned int flags);

static inline struct evpl_buffer *
evpl_buffer_from_ref(struct evpl_iovec_ref *ref)
{
    return (struct evpl_buffer *) ref;
}
