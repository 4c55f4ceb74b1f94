/*
 * The allocator and its global free pool.  Loops fetch and return buffers in
 * batches through their caches (cache.c), so the pool mutex is taken once
 * per batch, never per iovec.  When preallocation is configured, background
 * producers keep the pool at its target so that slab mapping (and slab
 * registration, which can be slow for RDMA) stays off the I/O path.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/shared.h"
#include "memory/memory_internal.h"
#include "topology/topology_internal.h"

#define EVPL_DEFAULT_BUFFER_SIZE (2u * 1024 * 1024)
#define EVPL_MAX_BUFFER_SIZE     (1u << 31)

/* Hot-path copies of the initialised config (0 until the allocator exists). */
static atomic_uint evpl_memory_buffer_size;
static atomic_uint evpl_memory_max_num_iovec;

/* Caller holds pool_lock.  Adds a freshly carved slab's buffers. */
static void
evpl_pool_add_slab(struct evpl_allocator *allocator, struct evpl_slab *slab)
{
    struct evpl_node_pool *np = &allocator->nodes[slab->home];

    slab->buffers[slab->nbuffers - 1].next = np->head;
    np->head                               = &slab->buffers[0];
    np->count += slab->nbuffers;
    allocator->free_count += slab->nbuffers;
    allocator->carved_buffers += slab->nbuffers;
    allocator->stats.total_slabs++;
    pthread_cond_broadcast(&allocator->pool_avail);
}

static void *
evpl_pool_producer(void *arg)
{
    struct evpl_allocator *allocator = arg;
    uint64_t               target    = allocator->stats.target_buffers;

    pthread_mutex_lock(&allocator->pool_lock);
    while (!allocator->shutdown) {
        int home = allocator->wanted_home;

        /* A consumer waiting on an empty node list comes first, whatever the
         * total: the other nodes' buffers are no use to it. */
        if (home < 0 &&
            allocator->free_count + (uint64_t) allocator->producing * allocator->buffers_per_slab >=
                target) {
            pthread_cond_wait(&allocator->producer_wake, &allocator->pool_lock);
            continue;
        }
        if (home < 0) {
            /* Top up the node with loops that has the fewest free buffers. */
            home = 0;
            for (int i = 1; i < allocator->num_nodes; i++) {
                if (allocator->nodes[i].has_cpus &&
                    (!allocator->nodes[home].has_cpus ||
                     allocator->nodes[i].count < allocator->nodes[home].count)) {
                    home = i;
                }
            }
        }
        allocator->wanted_home = -1;
        allocator->producing++;
        pthread_mutex_unlock(&allocator->pool_lock);

        struct evpl_slab *slab = evpl_slab_create(allocator, 1, home);

        pthread_mutex_lock(&allocator->pool_lock);
        allocator->producing--;
        allocator->stats.slabs_prealloc_total++;
        evpl_pool_add_slab(allocator, slab);
    }
    pthread_mutex_unlock(&allocator->pool_lock);
    return NULL;
}

int
evpl_pool_get(struct evpl_allocator *allocator, int home, struct evpl_buffer **head, int max)
{
    struct evpl_node_pool *np = &allocator->nodes[home];
    struct evpl_buffer    *first, *last;
    int                    n = 0;

    pthread_mutex_lock(&allocator->pool_lock);
    while (np->count == 0) {
        if (allocator->num_producers > 0 && !allocator->shutdown) {
            uint64_t start = evpl_monotonic_ns();

            if (allocator->num_nodes > 1) {
                allocator->wanted_home = home;
            }
            allocator->stats.consumer_waits_total++;
            pthread_cond_signal(&allocator->producer_wake);
            pthread_cond_wait(&allocator->pool_avail, &allocator->pool_lock);
            allocator->stats.consumer_wait_ns_total += evpl_monotonic_ns() - start;
        } else if (allocator->growing) {
            /* another consumer is mapping a slab; share it */
            pthread_cond_wait(&allocator->pool_avail, &allocator->pool_lock);
        } else {
            allocator->growing = 1;
            pthread_mutex_unlock(&allocator->pool_lock);

            struct evpl_slab *slab = evpl_slab_create(allocator, 1, home);

            pthread_mutex_lock(&allocator->pool_lock);
            allocator->growing = 0;
            allocator->stats.slabs_inline_total++;
            evpl_pool_add_slab(allocator, slab);
        }
    }

    first = last = np->head;
    n            = 1;
    while (n < max && last->next) {
        last = last->next;
        n++;
    }
    np->head = last->next;
    np->count -= n;
    allocator->free_count -= n;
    last->next = NULL;

    if (allocator->num_producers > 0 &&
        allocator->free_count + (uint64_t) allocator->producing * allocator->buffers_per_slab <
            allocator->stats.target_buffers) {
        pthread_cond_signal(&allocator->producer_wake);
    }
    pthread_mutex_unlock(&allocator->pool_lock);

    *head = first;
    return n;
}

void
evpl_pool_put(struct evpl_allocator *allocator, struct evpl_buffer *head, struct evpl_buffer *tail,
              int count)
{
    (void) tail;
    pthread_mutex_lock(&allocator->pool_lock);
    /* Each buffer to its own node's list (a chain may mix nodes when it
     * comes from threads that are not loops). */
    while (head) {
        struct evpl_buffer    *next = head->next;
        struct evpl_node_pool *np   = &allocator->nodes[head->home];

        head->next = np->head;
        np->head   = head;
        np->count++;
        head = next;
    }
    allocator->free_count += count;
    pthread_mutex_unlock(&allocator->pool_lock);
}

void
evpl_pool_return_foreign(struct evpl_allocator *allocator, struct evpl_buffer *buffer)
{
    struct evpl_node_pool *np = &allocator->nodes[buffer->home];

    pthread_mutex_lock(&allocator->pool_lock);
    buffer->next = np->head;
    np->head     = buffer;
    np->count++;
    np->foreign_returns++;
    allocator->free_count++;
    pthread_mutex_unlock(&allocator->pool_lock);
}

int
evpl_allocator_home(struct evpl_allocator *allocator)
{
    int cpu, home;

    if (allocator->num_nodes <= 1) {
        return 0;
    }
    cpu = sched_getcpu();
    home =
        cpu < 0 ? -1 : evpl_topology_cpu_domain(evpl_topology_machine(), EVPL_TOPOLOGY_NUMA, cpu);
    return home >= 0 && home < allocator->num_nodes ? home : 0;
}

/*
 * One free list per NUMA node of the machine (at most EVPL_MEMORY_MAX_NODES;
 * beyond that, or on a flat machine, one unbound list).
 */
static void
evpl_allocator_init_nodes(struct evpl_allocator *allocator)
{
    const struct evpl_topology *topo   = evpl_topology_machine();
    int                         nnodes = evpl_topology_count(topo, EVPL_TOPOLOGY_NUMA);

    allocator->wanted_home = -1;
    if (nnodes <= 1 || nnodes > EVPL_MEMORY_MAX_NODES) {
        allocator->num_nodes = 1;
        allocator->nodes[0].node =
            nnodes == 1 ? evpl_topology_domain_id(topo, EVPL_TOPOLOGY_NUMA, 0) : -1;
        allocator->nodes[0].has_cpus = 1;
        return;
    }
    allocator->num_nodes = nnodes;
    for (int i = 0; i < nnodes; i++) {
        allocator->nodes[i].node = evpl_topology_domain_id(topo, EVPL_TOPOLOGY_NUMA, i);
        allocator->nodes[i].has_cpus =
            evpl_topology_domain_cpus(topo, EVPL_TOPOLOGY_NUMA, i, NULL, 0) > 0;
    }
}

int
evpl_allocator_node_stats(struct evpl_allocator *allocator, struct evpl_allocator_node_stats *stats,
                          int max)
{
    pthread_mutex_lock(&allocator->pool_lock);
    for (int i = 0; i < allocator->num_nodes && i < max; i++) {
        stats[i].node                  = allocator->nodes[i].node;
        stats[i].free_buffers          = allocator->nodes[i].count;
        stats[i].foreign_returns_total = allocator->nodes[i].foreign_returns;
    }
    pthread_mutex_unlock(&allocator->pool_lock);
    return allocator->num_nodes;
}

struct evpl_allocator *
evpl_allocator_create(const struct evpl_global_config *config)
{
    struct evpl_allocator *allocator   = calloc(1, sizeof(*allocator));
    uint64_t               buffer_size = config->buffer_size;
    uint64_t               slab_size   = config->slab_size;

    evpl_abort_if(allocator == NULL, "memory", "out of memory for the allocator");

    if (buffer_size == 0 || buffer_size > EVPL_MAX_BUFFER_SIZE) {
        evpl_log_error("memory", "buffer_size %llu is out of range (1..%u); using %u",
                       (unsigned long long) buffer_size, EVPL_MAX_BUFFER_SIZE,
                       EVPL_DEFAULT_BUFFER_SIZE);
        buffer_size = EVPL_DEFAULT_BUFFER_SIZE;
    }
    if (slab_size < buffer_size) {
        evpl_log_error("memory", "slab_size %llu is smaller than buffer_size %llu; using %llu",
                       (unsigned long long) slab_size, (unsigned long long) buffer_size,
                       (unsigned long long) buffer_size);
        slab_size = buffer_size;
    } else if (slab_size % buffer_size) {
        uint64_t rounded = slab_size / buffer_size * buffer_size;

        evpl_log_info("memory", "slab_size %llu is not a multiple of buffer_size %llu; using %llu",
                      (unsigned long long) slab_size, (unsigned long long) buffer_size,
                      (unsigned long long) rounded);
        slab_size = rounded;
    }

    allocator->slab_size        = slab_size;
    allocator->buffer_size      = (unsigned int) buffer_size;
    allocator->buffers_per_slab = (unsigned int) (slab_size / buffer_size);
    allocator->slab_align       = buffer_size & -buffer_size; /* lowest set bit */
    if (allocator->slab_align > (2u << 20)) {
        allocator->slab_align = 2u << 20;
    }
    allocator->huge_page_size = config->huge_page_size ? config->huge_page_size : 2u << 20;
    atomic_init(&allocator->huge_pages, config->huge_pages ? 1 : 0);

    evpl_allocator_init_nodes(allocator);

    pthread_mutex_init(&allocator->slab_lock, NULL);
    pthread_mutex_init(&allocator->pool_lock, NULL);
    pthread_cond_init(&allocator->pool_avail, NULL);
    pthread_cond_init(&allocator->producer_wake, NULL);

    atomic_store_explicit(&evpl_memory_buffer_size, allocator->buffer_size, memory_order_relaxed);
    atomic_store_explicit(&evpl_memory_max_num_iovec, config->max_num_iovec, memory_order_relaxed);

    if (config->preallocate_slabs > 0) {
        unsigned int threads = config->preallocate_threads ? config->preallocate_threads : 1;

        allocator->stats.target_buffers =
            (uint64_t) config->preallocate_slabs * allocator->buffers_per_slab;
        allocator->producers = calloc(threads, sizeof(*allocator->producers));
        evpl_abort_if(allocator->producers == NULL, "memory", "out of memory");
        for (unsigned int i = 0; i < threads; i++) {
            int rc = pthread_create(&allocator->producers[i], NULL, evpl_pool_producer, allocator);

            evpl_abort_if(rc != 0, "memory", "cannot start a preallocation thread: %s",
                          strerror(rc));
            pthread_setname_np(allocator->producers[i], "evpl_prealloc");
            allocator->num_producers++;
        }
    }
    return allocator;
}

/*
 * Process exit.  Producers always stop.  Memory is unmapped only when every
 * carved buffer is back in the pool: another thread may still be running
 * (exit does not stop threads) and touching its buffers, and a live loop's
 * cache or leaked references also keep buffers out.  In that case everything
 * is left mapped for the kernel to reclaim.
 */
void
evpl_allocator_destroy(struct evpl_allocator *allocator)
{
    uint64_t outstanding;

    if (allocator == NULL) {
        return;
    }

    pthread_mutex_lock(&allocator->pool_lock);
    allocator->shutdown = 1;
    pthread_cond_broadcast(&allocator->producer_wake);
    pthread_cond_broadcast(&allocator->pool_avail);
    pthread_mutex_unlock(&allocator->pool_lock);

    for (unsigned int i = 0; i < allocator->num_producers; i++) {
        pthread_join(allocator->producers[i], NULL);
    }
    free(allocator->producers);
    allocator->producers     = NULL;
    allocator->num_producers = 0;

    pthread_mutex_lock(&allocator->pool_lock);
    outstanding = allocator->carved_buffers - allocator->free_count;
    pthread_mutex_unlock(&allocator->pool_lock);

    if (outstanding) {
        evpl_log_debug("memory",
                       "%llu buffers still in use at exit (live loops or held references); "
                       "leaving slabs mapped",
                       (unsigned long long) outstanding);
        return;
    }

    pthread_mutex_lock(&allocator->slab_lock);
    while (allocator->slabs) {
        struct evpl_slab *slab = allocator->slabs;

        allocator->slabs = slab->next;
        evpl_slab_destroy(allocator, slab);
    }
    pthread_mutex_unlock(&allocator->slab_lock);

    pthread_cond_destroy(&allocator->producer_wake);
    pthread_cond_destroy(&allocator->pool_avail);
    pthread_mutex_destroy(&allocator->pool_lock);
    pthread_mutex_destroy(&allocator->slab_lock);
    free(allocator);
}

void
evpl_allocator_get_stats(struct evpl_allocator *allocator, struct evpl_allocator_stats *stats)
{
    pthread_mutex_lock(&allocator->pool_lock);
    *stats              = allocator->stats;
    stats->free_buffers = allocator->free_count;
    pthread_mutex_unlock(&allocator->pool_lock);
}

struct evpl_allocator *
evpl_allocator_current(void)
{
    struct evpl_shared *shared;

    (void) evpl_config(); /* implicit initialisation */
    shared = __atomic_load_n(&evpl_shared, __ATOMIC_ACQUIRE);
    evpl_abort_if(shared == NULL || shared->allocator == NULL, "memory",
                  "the allocator is used before evpl_init() created it");
    return shared->allocator;
}

unsigned int
evpl_buffer_size(void)
{
    unsigned int size = atomic_load_explicit(&evpl_memory_buffer_size, memory_order_relaxed);

    if (__builtin_expect(size == 0, 0)) {
        size = evpl_allocator_current()->buffer_size;
    }
    return size;
}

unsigned int
evpl_max_num_iovec(void)
{
    unsigned int max = atomic_load_explicit(&evpl_memory_max_num_iovec, memory_order_relaxed);

    if (__builtin_expect(max == 0, 0)) {
        (void) evpl_allocator_current();
        max = atomic_load_explicit(&evpl_memory_max_num_iovec, memory_order_relaxed);
    }
    return max;
}
