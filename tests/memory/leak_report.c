/*
 * evpl_destroy() reports buffers the application still references, with a
 * count; the loop's own packing buffers and cache do not count.  Releasing
 * the leaked references afterwards with a NULL loop is accepted.
 */
#include "memory_test.h"

#define BS MEMORY_TEST_BUFFER_SIZE

int
main(int argc, char **argv)
{
    struct evpl_iovec small, full, shared, global, freed;
    struct evpl      *evpl;
    /* The subject: evpl_destroy()'s leak report. */
    evpl_test_log_expect("still holds references");

    memory_test_init(argc, argv);

    /* a loop that cleans up reports nothing */
    evpl = evpl_create(NULL);
    test_assert_eq(evpl_iovec_alloc(evpl, 10, 0, 1, 0, &freed), 1);
    evpl_iovec_release(evpl, &freed);
    test_assert_eq(evpl_iovec_alloc(evpl, 10, 0, 1, EVPL_IOVEC_FLAG_SHARED, &freed), 1);
    evpl_iovec_release(evpl, &freed);
    evpl_destroy(evpl);
    test_assert_eq(memory_test_leaks(), 0);

    /* one that keeps four buffers referenced reports exactly that */
    evpl = evpl_create(NULL);
    test_assert_eq(evpl_iovec_alloc(evpl, 10, 0, 1, 0, &small), 1);
    test_assert_eq(evpl_iovec_alloc(evpl, BS, 0, 1, 0, &full), 1);
    test_assert_eq(evpl_iovec_alloc(evpl, 10, 0, 1, EVPL_IOVEC_FLAG_SHARED, &shared), 1);
    evpl_iovec_alloc_global(evpl, &global);
    evpl_destroy(evpl);
    test_assert_eq(memory_test_leaks(), 1);
    test_assert_msg(strstr(memory_test_last_leak, " 4 buffers") != NULL, "report was '%s'",
                    memory_test_last_leak);

    /* late releases during shutdown go straight to the global pool */
    evpl_iovec_release(NULL, &small);
    evpl_iovec_release(NULL, &full);
    evpl_iovec_release(NULL, &shared);
    evpl_iovec_release(NULL, &global);
    test_assert(global.data == NULL);

    /* and the memory is usable again */
    evpl = evpl_create(NULL);
    test_assert_eq(evpl_iovec_alloc(evpl, BS, 0, 1, 0, &full), 1);
    memset(full.data, 1, BS);
    evpl_iovec_release(evpl, &full);
    evpl_destroy(evpl);
    test_assert_eq(memory_test_leaks(), 1);
    return 0;
}
