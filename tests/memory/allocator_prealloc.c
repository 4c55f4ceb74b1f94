/*
 * Preallocation (linked statically for the allocator statistics): with
 * preallocate_slabs set, background producers fill the global pool to its
 * target without the consumer mapping slabs itself, and refill it after a
 * loop drains it.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "core/shared.h"
#include "memory/allocator.h"

#define BS    (64u * 1024)
#define SLAB  (1u * 1024 * 1024)
#define NHELD 100

static int
wait_for_target(struct evpl_allocator *allocator, struct evpl_allocator_stats *stats)
{
    for (int i = 0; i < 1000; i++) {
        evpl_allocator_get_stats(allocator, stats);
        if (stats->free_buffers >= stats->target_buffers) {
            return 1;
        }
        usleep(10000);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config  *config = evpl_global_config_init();
    struct evpl_allocator      *allocator;
    struct evpl_allocator_stats stats;
    static struct evpl_iovec    held[NHELD];
    struct evpl                *evpl;

    if (argc > 1 && strcmp(argv[1], "select") == 0) {
        evpl_global_config_set_core_mech(config, EVPL_CORE_MECH_SELECT);
    }
    evpl_global_config_set_buffer_size(config, BS);
    evpl_global_config_set_slab_size(config, SLAB);
    evpl_global_config_set_max_datagram_size(config, BS);
    evpl_global_config_set_preallocate_slabs(config, 2);
    evpl_global_config_set_preallocate_threads(config, 2);
    evpl_init(config);

    allocator = __atomic_load_n(&evpl_shared, __ATOMIC_ACQUIRE)->allocator;
    test_assert(wait_for_target(allocator, &stats));
    test_assert_eq(stats.target_buffers, 2 * SLAB / BS);
    test_assert(stats.slabs_prealloc_total >= 2);
    test_assert_eq(stats.slabs_inline_total, 0);

    /* drain well past the target while holding everything */
    evpl = evpl_create(NULL);
    for (int i = 0; i < NHELD; i++) {
        test_assert_eq(
            evpl_iovec_alloc(evpl, BS, 0, 1, i % 2 ? EVPL_IOVEC_FLAG_SHARED : 0, &held[i]), 1);
        memset(held[i].data, i, BS);
    }
    test_assert(wait_for_target(allocator, &stats));
    test_assert_eq(stats.slabs_inline_total, 0);
    test_assert(stats.slabs_prealloc_total >= (NHELD + 2 * SLAB / BS) / (SLAB / BS));
    test_assert_eq(stats.total_slabs, stats.slabs_prealloc_total);
    fprintf(stderr, "slabs %llu, consumer waits %llu (%llu ns)\n",
            (unsigned long long) stats.total_slabs, (unsigned long long) stats.consumer_waits_total,
            (unsigned long long) stats.consumer_wait_ns_total);

    evpl_iovecs_release(evpl, held, NHELD);
    evpl_destroy(evpl);
    return 0;
}
