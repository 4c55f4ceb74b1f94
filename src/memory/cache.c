/*
 * Per-loop buffer cache.  Buffers freed on a loop's own thread go to its
 * private free list without a lock and are handed out again LIFO (still
 * warm in the CPU cache); the pool is visited only to refill or spill in
 * batches.  Every buffer a loop hands out is counted in the loop's domain so
 * that evpl_destroy() can report references the application still holds.
 */
#include <stdlib.h>

#include "core/log.h"
#include "core/loop.h"
#include "memory/memory_internal.h"

/* Cache at most this much memory per loop (bounded by the two limits below). */
#define EVPL_CACHE_BYTES      (64ull << 20)
#define EVPL_CACHE_MIN        4
#define EVPL_CACHE_MAX        256
#define EVPL_CACHE_MAX_REFILL 8

static void
evpl_domain_put(struct evpl_memory_domain *domain)
{
    if (atomic_fetch_sub_explicit(&domain->refs, 1, memory_order_acq_rel) == 1) {
        free(domain);
    }
}

static inline struct evpl_memory_loop *
evpl_memory_loop_of(struct evpl *evpl)
{
    return evpl ? evpl->memory : NULL;
}

/* Give all but the newest `keep` cached buffers back to the pool. */
static void
evpl_cache_spill(struct evpl_memory_loop *ml, unsigned int keep)
{
    struct evpl_buffer *last_kept = NULL, *head, *tail;
    unsigned int        count;

    if (ml->free_count <= keep) {
        return;
    }
    if (keep == 0) {
        head = ml->free_head;
    } else {
        last_kept = ml->free_head;
        for (unsigned int i = 1; i < keep; i++) {
            last_kept = last_kept->next;
        }
        head = last_kept->next;
    }
    count = ml->free_count - keep;
    tail  = head;
    while (tail->next) {
        tail = tail->next;
    }
    if (last_kept) {
        last_kept->next = NULL;
    } else {
        ml->free_head = NULL;
    }
    ml->free_count = keep;
    evpl_pool_put(ml->allocator, head, tail, (int) count);
}

void
evpl_buffer_release(struct evpl *evpl, struct evpl_iovec_ref *ref)
{
    struct evpl_buffer        *buffer = evpl_buffer_from_ref(ref);
    struct evpl_memory_domain *domain = buffer->domain;
    struct evpl_memory_loop   *ml     = evpl_memory_loop_of(evpl);

    buffer->domain    = NULL;
    buffer->ref.flags = 0;

    if (ml && pthread_equal(ml->owner, pthread_self()) && buffer->home != ml->home) {
        /* Released on a loop of another node: home, never into this cache. */
        evpl_pool_return_foreign(ref->slab->allocator, buffer);
    } else if (ml && pthread_equal(ml->owner, pthread_self())) {
        buffer->next  = ml->free_head;
        ml->free_head = buffer;
        if (++ml->free_count > ml->free_cap) {
            evpl_cache_spill(ml, ml->free_cap / 2);
        }
    } else {
        /* NULL loop, or a shared buffer dropped on some other thread */
        buffer->next = NULL;
        evpl_pool_put(ref->slab->allocator, buffer, buffer, 1);
    }

    if (domain) {
        evpl_domain_put(domain);
    }
}

struct evpl_buffer *
evpl_buffer_take(struct evpl *evpl, unsigned int flags)
{
    struct evpl_memory_loop *ml = evpl_memory_loop_of(evpl);
    struct evpl_buffer      *buffer;

    /* a loop's cache is its owning thread's alone; others use the pool */
    if (ml && pthread_equal(ml->owner, pthread_self())) {
        if (ml->free_head == NULL) {
            ml->free_count = (unsigned int) evpl_pool_get(ml->allocator, ml->home, &ml->free_head,
                                                          (int) ml->refill);
        }
        buffer        = ml->free_head;
        ml->free_head = buffer->next;
        ml->free_count--;
        buffer->domain = ml->domain;
        atomic_fetch_add_explicit(&ml->domain->refs, 1, memory_order_relaxed);
    } else {
        struct evpl_allocator *allocator = evpl_allocator_current();

        evpl_pool_get(allocator, evpl_allocator_home(allocator), &buffer, 1);
        buffer->domain = NULL;
    }

    buffer->next      = NULL;
    buffer->used      = 0;
    buffer->ref.flags = flags;
    atomic_store_explicit(&buffer->ref.refcnt_atomic, 1, memory_order_relaxed);
    return buffer;
}

struct evpl_iovec_ref *
evpl_buffer_get(struct evpl *evpl, void **data, unsigned int *size)
{
    struct evpl_buffer *buffer = evpl_buffer_take(evpl, 0);

    *data = buffer->data;
    *size = buffer->ref.slab->allocator->buffer_size;
    return &buffer->ref;
}

struct evpl_iovec_ref *
evpl_buffer_get_shared(struct evpl *evpl, void **data, unsigned int *size)
{
    struct evpl_buffer *buffer = evpl_buffer_take(evpl, EVPL_IOVEC_FLAG_SHARED);

    *data = buffer->data;
    *size = buffer->ref.slab->allocator->buffer_size;
    return &buffer->ref;
}

void
evpl_memory_loop_init(struct evpl *evpl)
{
    struct evpl_memory_loop *ml = calloc(1, sizeof(*ml));
    uint64_t                 cap;

    evpl_abort_if(ml == NULL, "memory", "out of memory for a loop buffer cache");
    ml->domain = calloc(1, sizeof(*ml->domain));
    evpl_abort_if(ml->domain == NULL, "memory", "out of memory for a loop buffer cache");
    atomic_init(&ml->domain->refs, 1);

    ml->allocator   = evpl_allocator_current();
    ml->owner       = pthread_self();
    ml->home        = evpl_allocator_home(ml->allocator);
    ml->buffer_size = ml->allocator->buffer_size;

    cap = EVPL_CACHE_BYTES / ml->buffer_size;
    if (cap < EVPL_CACHE_MIN) {
        cap = EVPL_CACHE_MIN;
    } else if (cap > EVPL_CACHE_MAX) {
        cap = EVPL_CACHE_MAX;
    }
    ml->free_cap = (unsigned int) cap;
    ml->refill =
        ml->free_cap / 2 < EVPL_CACHE_MAX_REFILL ? ml->free_cap / 2 : EVPL_CACHE_MAX_REFILL;
    evpl->memory = ml;
}

void
evpl_memory_loop_cleanup(struct evpl *evpl)
{
    struct evpl_memory_loop *ml = evpl->memory;
    unsigned long            outstanding;

    if (ml == NULL) {
        return;
    }

    /* Drop the loop's own references on its packing buffers first, so that
     * what remains counted is held by the application alone. */
    for (int kind = 0; kind < 2; kind++) {
        struct evpl_buffer *current = ml->current[kind];

        ml->current[kind] = NULL;
        if (current) {
            evpl_iovec_ref_release(evpl, &current->ref);
        }
    }
    evpl_cache_spill(ml, 0);

    outstanding = atomic_load_explicit(&ml->domain->refs, memory_order_acquire) - 1;
    if (outstanding) {
        evpl_log_error("memory",
                       "loop %p destroyed while the application still holds references to "
                       "%lu buffer%s",
                       (void *) evpl, outstanding, outstanding == 1 ? "" : "s");
    }
    evpl_domain_put(ml->domain);

    evpl->memory = NULL;
    free(ml);
}
