/*
 * Internal allocator interface (memory/allocator.h), linked statically:
 * registration hooks see every slab exactly once -- those mapped before
 * the hook was added and those mapped later, carved or whole -- and the
 * per-slab registration can be read back from a buffer's ref; unregister
 * runs for each at exit.  Also evpl_buffer_get(_shared), buffer_size and
 * the allocator statistics.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include "test.h"
#include "core/shared.h"
#include "memory/allocator.h"

#define BS   (64u * 1024)
#define SLAB (1u * 1024 * 1024)

struct hook_state {
    int   registered, unregistered;
    void *bases[64];
};

static struct hook_state hooks[2];

static void *
hook_register(void *base, uint64_t size, void *private_data)
{
    struct hook_state *h = private_data;

    if (size != SLAB || h->registered >= 64) {
        fprintf(stderr, "bad registration size %llu\n", (unsigned long long) size);
        _exit(1);
    }
    for (int i = 0; i < h->registered; i++) {
        if (h->bases[i] == base) {
            fprintf(stderr, "slab %p registered twice\n", base);
            _exit(1);
        }
    }
    h->bases[h->registered++] = base;
    return (char *) base + 1; /* recognisable token */
}

static void
hook_unregister(void *registration, void *private_data)
{
    struct hook_state *h     = private_data;
    int                found = 0;

    for (int i = 0; i < h->registered; i++) {
        found |= (char *) h->bases[i] + 1 == registration;
    }
    if (!found) {
        fprintf(stderr, "unregister of unknown registration %p\n", registration);
        _exit(1);
    }
    h->unregistered++;
}

static int count_calls;

static void *
count_register(void *base, uint64_t size, void *private_data)
{
    (void) base;
    (void) size;
    (void) private_data;
    count_calls++;
    return NULL;
}

/* Registered before evpl_init(), so it runs after the library's exit handler. */
static void
check_unregistered(void)
{
    for (int i = 0; i < 2; i++) {
        if (hooks[i].unregistered != hooks[i].registered) {
            fprintf(stderr, "hook %d: %d registered, %d unregistered\n", i, hooks[i].registered,
                    hooks[i].unregistered);
            _exit(1);
        }
    }
    fprintf(stderr, "all %d slabs unregistered at exit\n", hooks[0].registered);
}

int
main(int argc, char **argv)
{
    struct evpl_global_config  *config = evpl_global_config_init();
    struct evpl_allocator      *allocator;
    struct evpl_allocator_stats stats;
    struct evpl_iovec           iov, full[20];
    struct evpl_iovec_ref      *ref;
    struct evpl                *evpl;
    void                       *data, *whole, *whole_private;
    unsigned int                size;
    int                         idx0, idx1;

    if (argc > 1 && strcmp(argv[1], "select") == 0) {
        evpl_global_config_set_core_mech(config, EVPL_CORE_MECH_SELECT);
    }
    evpl_global_config_set_buffer_size(config, BS);
    evpl_global_config_set_slab_size(config, SLAB);
    evpl_global_config_set_max_datagram_size(config, BS);
    evpl_global_config_set_max_num_iovec(config, 77);
    atexit(check_unregistered);
    evpl_init(config);

    allocator = __atomic_load_n(&evpl_shared, __ATOMIC_ACQUIRE)->allocator;
    test_assert(allocator != NULL);
    test_assert_eq(evpl_buffer_size(), BS);
    test_assert_eq(evpl_max_num_iovec(), 77);

    evpl = evpl_create(NULL);

    /* a hook added once slabs exist is called for them right away */
    test_assert_eq(evpl_iovec_alloc(evpl, 100, 0, 1, 0, &iov), 1);
    evpl_allocator_get_stats(allocator, &stats);
    test_assert(stats.total_slabs >= 1);
    idx0 =
        evpl_allocator_add_registration_hook(allocator, hook_register, hook_unregister, &hooks[0]);
    test_assert(idx0 >= 0);
    test_assert_eq(hooks[0].registered, stats.total_slabs);
    test_assert(evpl_slab_registration(iov.ref->slab, idx0) != NULL);

    idx1 =
        evpl_allocator_add_registration_hook(allocator, hook_register, hook_unregister, &hooks[1]);
    test_assert(idx1 >= 0 && idx1 != idx0);

    /* ... and for every slab mapped later */
    for (int i = 0; i < 20; i++) {
        test_assert_eq(evpl_iovec_alloc(evpl, BS, 0, 1, 0, &full[i]), 1);
        for (int h = 0; h < 2; h++) {
            char *token = evpl_slab_registration(full[i].ref->slab, h == 0 ? idx0 : idx1);
            char *data  = full[i].data;

            test_assert(token != NULL);
            test_assert(data >= token - 1 && data + BS <= token - 1 + SLAB);
        }
    }
    evpl_allocator_get_stats(allocator, &stats);
    test_assert(stats.total_slabs >= 2);
    test_assert_eq(hooks[0].registered, stats.total_slabs);
    test_assert_eq(hooks[1].registered, stats.total_slabs);
    test_assert_eq(stats.slabs_inline_total, stats.total_slabs);
    test_assert_eq(stats.outstanding_slabs, 0);

    whole = evpl_slab_alloc(&whole_private);
    test_assert_eq(hooks[0].registered, stats.total_slabs + 1);
    test_assert(hooks[0].bases[hooks[0].registered - 1] == whole);
    test_assert(evpl_slab_registration(whole_private, idx0) == (char *) whole + 1);
    evpl_allocator_get_stats(allocator, &stats);
    test_assert_eq(stats.outstanding_slabs, 1);
    test_assert_eq(evpl_slab_registration(NULL, 0), NULL);
    test_assert_eq(evpl_slab_registration(whole_private, -1), NULL);

    evpl_iovecs_release(evpl, full, 20);

    /* receive-path buffers: whole, count 1, carved with ref_incr */
    ref = evpl_buffer_get(evpl, &data, &size);
    test_assert_eq(size, BS);
    test_assert_eq(ref->refcnt, 1);
    test_assert_eq(ref->flags, 0);
    {
        struct evpl_iovec a = {.data = data, .length = 10},
                          b = {.data = (char *) data + 10, .length = 10};

        evpl_iovec_take_ref(&a, ref);
        evpl_iovec_take_ref(&b, ref);
        evpl_iovec_ref_release(evpl, ref);
        evpl_iovec_release(evpl, &a);
        evpl_iovec_release(evpl, &b);
    }
    /* freed: the next one is the same buffer */
    {
        void *again;

        ref = evpl_buffer_get_shared(evpl, &again, &size);
        test_assert(again == data);
        test_assert_eq(ref->flags, EVPL_IOVEC_FLAG_SHARED);
        test_assert_eq(atomic_load(&ref->refcnt_atomic), 1);
        evpl_iovec_ref_release(NULL, ref);
    }

    /* the hook table is bounded */
    for (int i = 2; i < EVPL_MAX_REGISTRATION_HOOKS; i++) {
        test_assert(evpl_allocator_add_registration_hook(allocator, count_register, NULL, NULL) ==
                    i);
    }
    test_assert_eq(evpl_allocator_add_registration_hook(allocator, count_register, NULL, NULL), -1);

    evpl_iovec_release(evpl, &iov);
    evpl_destroy(evpl);
    return 0;
}
