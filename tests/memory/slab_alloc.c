/*
 * evpl_get_slab_size / evpl_slab_alloc: the configured size (1 GiB by
 * default, with implicit initialisation), whole writable slabs that do not
 * overlap, from any thread, counted in the allocator metrics.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include "memory_test.h"

#define SLAB     (4u * 1024 * 1024)
#define NTHREADS 4

static void *
slab_thread(void *arg)
{
    void **slot = arg;
    void  *priv = NULL;

    slot[0] = evpl_slab_alloc(&priv);
    slot[1] = priv;
    return NULL;
}

static long long
metric(const char *text, const char *name)
{
    const char *p   = text;
    size_t      len = strlen(name);

    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[len] == ' ') {
            return atoll(p + len + 1);
        }
        p += len;
    }
    return -1;
}

int
main(int argc, char **argv)
{
    void     *slabs[NTHREADS + 1][2];
    pthread_t threads[NTHREADS];
    pid_t     pid;
    int       status;

    /* implicit initialisation with the default size, in a child */
    pid = fork();
    test_assert(pid >= 0);
    if (pid == 0) {
        _exit(evpl_get_slab_size() == 1073741824ull ? 0 : 1);
    }
    test_assert(waitpid(pid, &status, 0) == pid);
    test_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "default slab size");

    evpl_init(memory_test_config(argc, argv, 64 * 1024, SLAB));
    test_assert_eq(evpl_get_slab_size(), SLAB);

    slabs[0][0] = evpl_slab_alloc(&slabs[0][1]);
    for (int i = 0; i < NTHREADS; i++) {
        test_assert(pthread_create(&threads[i], NULL, slab_thread, slabs[i + 1]) == 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(threads[i], NULL);
    }

    for (int i = 0; i <= NTHREADS; i++) {
        unsigned char *base = slabs[i][0];

        test_assert(base != NULL);
        test_assert(slabs[i][1] != NULL);
        test_assert_eq((uintptr_t) base % 4096, 0);
        base[0]        = 1;
        base[SLAB / 2] = 2;
        base[SLAB - 1] = 3;
        for (int j = 0; j < i; j++) {
            unsigned char *other = slabs[j][0];

            test_assert(base + SLAB <= other || other + SLAB <= base);
            test_assert(slabs[i][1] != slabs[j][1]);
        }
    }

    {
        static char text[16384];

        test_assert(evpl_metrics_scrape(text, sizeof(text)) > 0);
        test_assert_eq(metric(text, "evpl_allocator_outstanding_slabs"), NTHREADS + 1);
        test_assert(metric(text, "evpl_allocator_total_slabs") >= NTHREADS + 1);
    }
    return 0;
}
