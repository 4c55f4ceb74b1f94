/*
 * Software memory registration of the emulated RDMA transports: keys for
 * allocator slabs, handed out through the allocator's registration hook.
 *
 * Keys index a two-level table of atomic pointers (chunks allocated on
 * demand and never moved), so resolving a key on the I/O path is two loads.
 * The hook is installed on first use, after evpl_init() has published the
 * allocator; slabs that existed before are reported to it at that moment.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/shared.h"
#include "memory/allocator.h"
#include "tcp_rdma/registration.h"

#define REGION_CHUNK_SHIFT 8
#define REGION_CHUNK       (1u << REGION_CHUNK_SHIFT)
#define REGION_CHUNKS      4096 /* up to 1M slabs */

struct emu_region {
    uint32_t  key; /* 1-based */
    uintptr_t base;
    uint64_t  size;
};

struct emu_region_chunk {
    _Atomic(struct emu_region *) slot[REGION_CHUNK];
};

static _Atomic(struct emu_region_chunk *) region_chunks[REGION_CHUNKS];
static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER; /* next_key, chunk creation */
static uint32_t        next_key    = 1;
static pthread_once_t  hook_once   = PTHREAD_ONCE_INIT;
static int             hook_index  = -1;

/* Allocator hook (slab_lock held): give the new slab a key. */
static void *
region_register(void *base, uint64_t size, void *private_data)
{
    struct emu_region       *region;
    struct emu_region_chunk *chunk;
    uint32_t                 key;

    (void) private_data;
    region = calloc(1, sizeof(*region));
    evpl_abort_if(region == NULL, "rdma", "out of memory registering a slab");

    pthread_mutex_lock(&region_lock);
    key = next_key++;
    evpl_abort_if((key >> REGION_CHUNK_SHIFT) >= REGION_CHUNKS, "rdma",
                  "more than %u slabs registered for emulated RDMA", REGION_CHUNKS * REGION_CHUNK);
    chunk = atomic_load_explicit(&region_chunks[key >> REGION_CHUNK_SHIFT], memory_order_relaxed);
    if (chunk == NULL) {
        chunk = calloc(1, sizeof(*chunk));
        evpl_abort_if(chunk == NULL, "rdma", "out of memory registering a slab");
        atomic_store_explicit(&region_chunks[key >> REGION_CHUNK_SHIFT], chunk,
                              memory_order_release);
    }
    pthread_mutex_unlock(&region_lock);

    region->key  = key;
    region->base = (uintptr_t) base;
    region->size = size;
    atomic_store_explicit(&chunk->slot[key & (REGION_CHUNK - 1)], region, memory_order_release);
    return region;
}

/* Allocator teardown (exit handler): forget the slab. */
static void
region_unregister(void *registration, void *private_data)
{
    struct emu_region       *region = registration;
    struct emu_region_chunk *chunk;

    (void) private_data;
    if (region == NULL) {
        return;
    }
    chunk = atomic_load_explicit(&region_chunks[region->key >> REGION_CHUNK_SHIFT],
                                 memory_order_acquire);
    atomic_store_explicit(&chunk->slot[region->key & (REGION_CHUNK - 1)], NULL,
                          memory_order_release);
    free(region);
}

static void
hook_install(void)
{
    hook_index = evpl_allocator_add_registration_hook(evpl_shared->allocator, region_register,
                                                      region_unregister, NULL);
    if (hook_index < 0) {
        evpl_log_error("rdma", "cannot register memory for emulated RDMA: no hook slot left");
    }
}

static inline int
hook_get(void)
{
    evpl_config(); /* the allocator exists once the library is initialised */
    pthread_once(&hook_once, hook_install);
    return hook_index;
}

int
evpl_emu_rdma_address(const struct evpl_iovec *iovec, uint32_t *r_key, uint64_t *r_address)
{
    const struct emu_region *region;
    int                      index = hook_get();

    if (index < 0 || iovec == NULL || iovec->ref == NULL || iovec->ref->slab == NULL) {
        return -1;
    }
    region = evpl_slab_registration(iovec->ref->slab, index);
    if (region == NULL) {
        return -1;
    }
    *r_key     = region->key;
    *r_address = (uint64_t) (uintptr_t) iovec->data;
    return 0;
}

void *
evpl_emu_rdma_resolve(uint32_t key, uint64_t address, uint64_t length)
{
    struct emu_region_chunk *chunk;
    struct emu_region       *region;

    if (hook_get() < 0 || key == 0 || (key >> REGION_CHUNK_SHIFT) >= REGION_CHUNKS) {
        return NULL;
    }
    chunk = atomic_load_explicit(&region_chunks[key >> REGION_CHUNK_SHIFT], memory_order_acquire);
    if (chunk == NULL) {
        return NULL;
    }
    region = atomic_load_explicit(&chunk->slot[key & (REGION_CHUNK - 1)], memory_order_acquire);
    if (region == NULL || address < region->base || length > region->size ||
        address - region->base > region->size - length) {
        return NULL;
    }
    return (void *) (uintptr_t) address;
}
