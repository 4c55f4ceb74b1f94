/*
 * Huge pages requested: when the kernel has enough free hugetlb pages the
 * slabs use them; when it has none (the usual test machine) the allocator
 * says so once and falls back to normal pages.  Either way allocation works.
 */
#include <stdio.h>
#include "memory_test.h"

#define BS   (2u * 1024 * 1024)
#define SLAB (4u * 1024 * 1024)

static long
meminfo(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char  line[256];
    long  value = -1;

    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            sscanf(line + strlen(key), " %ld", &value);
        }
    }
    fclose(f);
    return value;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config = memory_test_config(argc, argv, BS, SLAB);
    struct evpl_iovec          iov[8];
    struct evpl               *evpl;
    long                       free_pages = meminfo("HugePages_Free:");
    long                       page_kb    = meminfo("Hugepagesize:");

    evpl_global_config_set_huge_pages(config, 1);
    evpl_global_config_set_huge_page_size(config, 2u * 1024 * 1024);
    evpl_init(config);
    evpl = evpl_create(NULL);

    /* six whole buffers: three slabs */
    for (int i = 0; i < 6; i++) {
        test_assert_eq(evpl_iovec_alloc(evpl, BS, 0, 1, 0, &iov[i]), 1);
        memory_test_fill(&iov[i], (unsigned char) i);
    }
    for (int i = 0; i < 6; i++) {
        test_assert(memory_test_check(&iov[i], (unsigned char) i));
    }
    if (free_pages >= 6 && page_kb == 2048) {
        /* The slabs really are hugetlb memory: three 4 MiB slabs hold six
         * 2 MiB pages while the buffers are in use. */
        long now_free = meminfo("HugePages_Free:");

        test_assert_msg(now_free <= free_pages - 6,
                        "HugePages_Free %ld -> %ld: the slabs are not on huge pages", free_pages,
                        now_free);
    }
    evpl_iovecs_release(evpl, iov, 6);

    fprintf(stderr, "HugePages_Free %ld (page %ld kB), fallback reports %d\n", free_pages, page_kb,
            memory_test_huge_reports);
    if (free_pages == 0 && page_kb == 2048) {
        test_assert_eq(memory_test_huge_reports, 1);
    } else if (free_pages >= 6 && page_kb == 2048) {
        test_assert_eq(memory_test_huge_reports, 0);
    }

    evpl_destroy(evpl);
    test_assert_eq(memory_test_leaks(), 0);
    return 0;
}
