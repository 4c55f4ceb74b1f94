/*
 * Slabs: large anonymous mappings the allocator carves into buffers, and the
 * registration hooks that let backends (io_uring fixed buffers, RDMA) see
 * every slab.  Slabs are mapped with MAP_NORESERVE so that the default 1 GiB
 * costs only what is touched; hugetlb slabs are reserved up front instead,
 * because a hugetlb mapping without a reservation SIGBUSes on first touch
 * when the pool runs dry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "memory/memory_internal.h"

static int
evpl_log2_u64(uint64_t v)
{
    return 63 - __builtin_clzll(v);
}

static void *
evpl_slab_map_huge(struct evpl_allocator *allocator, uint64_t size, uint64_t *map_size)
{
#ifdef MAP_HUGETLB
    uint64_t hps   = allocator->huge_page_size;
    uint64_t len   = (size + hps - 1) / hps * hps;
    int      flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
    void    *base;

#ifdef MAP_HUGE_SHIFT
    flags |= evpl_log2_u64(hps) << MAP_HUGE_SHIFT;
#endif
    base = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (base != MAP_FAILED) {
        *map_size = len;
        return base;
    }

    /* Log once and stop asking: every later slab would fail the same way. */
    if (atomic_exchange(&allocator->huge_pages, 0)) {
        evpl_log_info("memory",
                      "huge pages of %llu bytes unavailable for a %llu byte slab (%s); "
                      "falling back to normal pages",
                      (unsigned long long) hps, (unsigned long long) size, strerror(errno));
    }
#else
    (void) size;
    (void) map_size;
    if (atomic_exchange(&allocator->huge_pages, 0)) {
        evpl_log_info("memory", "huge pages not supported here; using normal pages");
    }
#endif
    return NULL;
}

/*
 * Map size bytes aligned to align (a power of two), so that every buffer
 * starts at a multiple of the largest power of two dividing buffer_size (up
 * to 2 MiB): alignment requests up to that never pad a fresh buffer, and
 * 2 MiB buffers can be backed by transparent huge pages.
 */
static void *
evpl_slab_map_aligned(uint64_t size, uint64_t align)
{
    int      flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    uint64_t page  = (uint64_t) sysconf(_SC_PAGESIZE);
    char    *raw, *base;

    if (align <= page) {
        raw = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
        return raw == MAP_FAILED ? NULL : raw;
    }

    raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (raw == MAP_FAILED) {
        return NULL;
    }
    base = (char *) (((uintptr_t) raw + align - 1) & ~((uintptr_t) align - 1));
    if (base > raw) {
        munmap(raw, (size_t) (base - raw));
    }
    if (raw + size + align > base + size) {
        munmap(base + size, (size_t) (raw + size + align - (base + size)));
    }
    return base;
}

/*
 * Prefer the home node for the slab's pages (MPOL_PREFERRED: if the node is
 * full, memory still comes from elsewhere rather than failing).  Called
 * before anything touches the mapping, so the policy decides every page.
 * Failure (a kernel without NUMA, a node that does not exist) leaves the
 * default first-touch policy: the pages land where the owning loop runs.
 */
static void
evpl_slab_bind(struct evpl_allocator *allocator, void *base, uint64_t size, int home)
{
    unsigned long mask[2] = {0, 0};
    int           node;

    if (allocator->num_nodes <= 1 || home < 0 || home >= allocator->num_nodes) {
        return;
    }
    node = allocator->nodes[home].node;
    if (node < 0 || node >= 128) {
        return;
    }
    mask[node / 64] = 1ul << (node % 64);
    /* MPOL_PREFERRED is 1 in the kernel ABI; no libnuma needed. */
    if (syscall(SYS_mbind, base, size, 1, mask, 128ul, 0u) != 0) {
        evpl_log_debug("memory", "mbind to node %d failed: %s", node, strerror(errno));
    }
}

struct evpl_slab *
evpl_slab_create(struct evpl_allocator *allocator, int carve, int home)
{
    struct evpl_slab *slab;
    uint64_t          map_size = allocator->slab_size;
    void             *base     = NULL;
    int               huge     = 0;

    if (atomic_load_explicit(&allocator->huge_pages, memory_order_relaxed)) {
        base = evpl_slab_map_huge(allocator, allocator->slab_size, &map_size);
        huge = base != NULL;
    }
    if (base == NULL) {
        map_size = allocator->slab_size;
        base     = evpl_slab_map_aligned(map_size, allocator->slab_align);
        evpl_abort_if(base == NULL, "memory", "cannot map a slab of %llu bytes: %s",
                      (unsigned long long) map_size, strerror(errno));
    }

    evpl_slab_bind(allocator, base, map_size, home);

    slab = calloc(1, sizeof(*slab));
    evpl_abort_if(slab == NULL, "memory", "out of memory for a slab descriptor");
    slab->home      = home;
    slab->base      = base;
    slab->size      = allocator->slab_size;
    slab->map_size  = map_size;
    slab->allocator = allocator;
    slab->huge      = huge;

    if (carve) {
        slab->nbuffers = allocator->buffers_per_slab;
        slab->buffers  = calloc(slab->nbuffers, sizeof(*slab->buffers));
        evpl_abort_if(slab->buffers == NULL, "memory", "out of memory for %u buffer headers",
                      slab->nbuffers);
        for (unsigned int i = 0; i < slab->nbuffers; i++) {
            struct evpl_buffer *buffer = &slab->buffers[i];

            buffer->ref.slab    = slab;
            buffer->ref.release = evpl_buffer_release;
            buffer->home        = home;
            buffer->data        = (char *) base + (uint64_t) i * allocator->buffer_size;
            buffer->next        = i + 1 < slab->nbuffers ? &slab->buffers[i + 1] : NULL;
        }
    }

    pthread_mutex_lock(&allocator->slab_lock);
    for (int i = 0; i < allocator->num_hooks; i++) {
        struct evpl_registration_hook *hook = &allocator->hooks[i];

        slab->registration[i] = hook->register_slab(base, slab->size, hook->private_data);
    }
    slab->next       = allocator->slabs;
    allocator->slabs = slab;
    pthread_mutex_unlock(&allocator->slab_lock);

    evpl_log_debug("memory", "mapped %s slab %p of %llu bytes (%u buffers)",
                   huge ? "hugetlb" : "normal", base, (unsigned long long) slab->size,
                   slab->nbuffers);
    return slab;
}

/* Called at teardown, with the slab already unlinked and unused. */
void
evpl_slab_destroy(struct evpl_allocator *allocator, struct evpl_slab *slab)
{
    for (int i = 0; i < allocator->num_hooks; i++) {
        struct evpl_registration_hook *hook = &allocator->hooks[i];

        if (hook->unregister_slab) {
            hook->unregister_slab(slab->registration[i], hook->private_data);
        }
    }
    munmap(slab->base, slab->map_size);
    free(slab->buffers);
    free(slab);
}

int
evpl_allocator_add_registration_hook(struct evpl_allocator  *allocator,
                                     evpl_slab_register_fn   register_slab,
                                     evpl_slab_unregister_fn unregister_slab, void *private_data)
{
    int index;

    if (allocator == NULL || register_slab == NULL) {
        return -1;
    }

    pthread_mutex_lock(&allocator->slab_lock);
    index = allocator->num_hooks;
    if (index >= EVPL_MAX_REGISTRATION_HOOKS) {
        pthread_mutex_unlock(&allocator->slab_lock);
        evpl_log_error("memory", "too many slab registration hooks (max %d)",
                       EVPL_MAX_REGISTRATION_HOOKS);
        return -1;
    }
    allocator->hooks[index] = (struct evpl_registration_hook){
        .register_slab   = register_slab,
        .unregister_slab = unregister_slab,
        .private_data    = private_data,
    };
    for (struct evpl_slab *slab = allocator->slabs; slab; slab = slab->next) {
        slab->registration[index] = register_slab(slab->base, slab->size, private_data);
    }
    allocator->num_hooks = index + 1;
    pthread_mutex_unlock(&allocator->slab_lock);
    return index;
}

void *
evpl_slab_registration(const struct evpl_slab *slab, int hook_index)
{
    if (slab == NULL || hook_index < 0 || hook_index >= EVPL_MAX_REGISTRATION_HOOKS) {
        return NULL;
    }
    return slab->registration[hook_index];
}

uint64_t
evpl_get_slab_size(void)
{
    return evpl_allocator_current()->slab_size;
}

void *
evpl_slab_alloc(void **slab_private)
{
    struct evpl_allocator *allocator = evpl_allocator_current();
    struct evpl_slab      *slab = evpl_slab_create(allocator, 0, evpl_allocator_home(allocator));

    pthread_mutex_lock(&allocator->pool_lock);
    allocator->stats.outstanding_slabs++;
    allocator->stats.total_slabs++;
    pthread_mutex_unlock(&allocator->pool_lock);

    if (slab_private) {
        *slab_private = slab;
    }
    return slab->base;
}
