/*
 * Internal interface of the buffer allocator (src/memory/).  The process has
 * one allocator (evpl_shared->allocator); each loop has a small private cache
 * of buffers (evpl->memory) so the common path takes no lock.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "evpl/evpl.h"

struct evpl_allocator;
struct evpl_global_config;

/* Counters exported by evpl_metrics_scrape() (names in the contract). */
struct evpl_allocator_stats {
    uint64_t slabs_inline_total;     /* slabs created on the consumer path */
    uint64_t slabs_prealloc_total;   /* slabs created by background producers */
    uint64_t consumer_waits_total;   /* times a consumer waited for a producer */
    uint64_t consumer_wait_ns_total; /* time spent waiting */
    uint64_t free_buffers;           /* buffers in the global free pool */
    uint64_t outstanding_slabs;      /* slabs handed out by evpl_slab_alloc() */
    uint64_t target_buffers;         /* preallocation target */
    uint64_t total_slabs;            /* slabs mapped */
};

/* Per NUMA node part of the free pool (evpl_allocator_node_stats). */
struct evpl_allocator_node_stats {
    int      node;                  /* kernel node number, -1 on a flat machine */
    uint64_t free_buffers;          /* buffers in that node's free list */
    uint64_t foreign_returns_total; /* released on another node's loop, sent home */
};

/* Fill up to max entries, one per node; returns the number of nodes. */
int evpl_allocator_node_stats(struct evpl_allocator            *allocator,
                              struct evpl_allocator_node_stats *stats, int max);

/* Called from evpl_init() / the exit handler. */
struct evpl_allocator *evpl_allocator_create(const struct evpl_global_config *config);
void                   evpl_allocator_destroy(struct evpl_allocator *allocator);
void evpl_allocator_get_stats(struct evpl_allocator *allocator, struct evpl_allocator_stats *stats);

/*
 * Memory registration hook for backends that need registered memory
 * (io_uring fixed buffers, RDMA).  register_slab is called for every slab
 * that exists now and for every slab created later; its return value is
 * stored per slab and per hook and can be read back with
 * evpl_slab_registration().  At most EVPL_MAX_REGISTRATION_HOOKS hooks.
 * Returns the hook index (>= 0) or -1.
 */
#define EVPL_MAX_REGISTRATION_HOOKS 8
typedef void *(*evpl_slab_register_fn)(void *base, uint64_t size, void *private_data);
typedef void (*evpl_slab_unregister_fn)(void *registration, void *private_data);
int   evpl_allocator_add_registration_hook(struct evpl_allocator  *allocator,
                                           evpl_slab_register_fn   register_slab,
                                           evpl_slab_unregister_fn unregister_slab,
                                           void                   *private_data);
void *evpl_slab_registration(const struct evpl_slab *slab, int hook_index);

/* Per-loop state, created by evpl_create() and destroyed by evpl_destroy(),
 * which reports references still outstanding on the loop's buffers. */
void evpl_memory_loop_init(struct evpl *evpl);
void evpl_memory_loop_cleanup(struct evpl *evpl);

/*
 * A whole fresh local buffer (refcount 1, flags 0) for receive paths that
 * read straight into pooled memory; the caller carves iovecs out of it with
 * evpl_iovec_ref_incr() per view and drops its own reference when done.
 */
struct evpl_iovec_ref *evpl_buffer_get(struct evpl *evpl, void **data, unsigned int *size);
/* Same, SHARED (atomic count), for payloads crossing threads. */
struct evpl_iovec_ref *evpl_buffer_get_shared(struct evpl *evpl, void **data, unsigned int *size);

/* buffer_size / max_num_iovec of the initialised config (hot-path copies). */
unsigned int evpl_buffer_size(void);
unsigned int evpl_max_num_iovec(void);
