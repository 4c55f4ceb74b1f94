/*
 * Placed pools on this machine: for every policy, each loop's thread, asked
 * from inside its loop (sched_getaffinity, pthread_getname_np in the init
 * callback), runs on exactly the CPUs the plan gives it and carries its
 * name; the pool's placement is in the metrics while it lives and gone after.
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "test.h"
#include <evpl/evpl_topology.h>

#define MAX_LOOPS 256

struct seen {
    cpu_set_t cpus;
    char      name[16];
};

static struct seen seen[MAX_LOOPS];
static int         nseen;

/* Pool threads are created one after another, each init returning before
 * the next thread starts, so nseen needs no lock. */
static void *
record_init(struct evpl *evpl, void *private_data)
{
    (void) evpl;
    test_assert(nseen < MAX_LOOPS);
    test_assert(sched_getaffinity(0, sizeof(seen[nseen].cpus), &seen[nseen].cpus) == 0);
    test_assert(pthread_getname_np(pthread_self(), seen[nseen].name, sizeof(seen[nseen].name)) ==
                0);
    nseen++;
    return private_data;
}

static void
check_pool(const struct evpl_topology *topo, enum evpl_placement_policy policy, const int *list,
           int nlist, int nloops)
{
    static char             scrape[1 << 16];
    struct evpl_placement  *plan = evpl_placement_create(topo, policy, list, nlist, nloops);
    struct evpl_threadpool *pool;
    int                     n;

    test_assert(plan != NULL);
    n = evpl_placement_count(plan);
    test_assert(n > 0 && n <= MAX_LOOPS);

    nseen = 0;
    pool  = evpl_threadpool_create_placed(NULL, plan, record_init, NULL, NULL);
    test_assert(pool != NULL);
    test_assert_eq(nseen, n);

    test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) > 0);
    for (int i = 0; i < n; i++) {
        int  cpus[CPU_SETSIZE];
        int  ncpus = evpl_placement_loop_cpus(plan, i, cpus, CPU_SETSIZE);
        char label[64];

        test_assert_msg(CPU_COUNT(&seen[i].cpus) == ncpus,
                        "policy %s loop %d runs on %d CPUs, planned %d",
                        evpl_placement_policy_name(policy), i, CPU_COUNT(&seen[i].cpus), ncpus);
        for (int c = 0; c < ncpus; c++) {
            test_assert_msg(CPU_ISSET(cpus[c], &seen[i].cpus), "policy %s loop %d not on CPU %d",
                            evpl_placement_policy_name(policy), i, cpus[c]);
        }
        test_assert_msg(strcmp(seen[i].name, evpl_placement_loop_name(plan, i)) == 0,
                        "loop %d thread is named %s, planned %s", i, seen[i].name,
                        evpl_placement_loop_name(plan, i));
        snprintf(label, sizeof(label), "name=\"%s\"", seen[i].name);
        test_assert_msg(strstr(scrape, label) != NULL, "metrics lack %s", label);
    }
    test_assert(strstr(scrape, "evpl_loop_placement{") != NULL);

    evpl_threadpool_destroy(pool);
    test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) >= 0);
    test_assert(strstr(scrape, "evpl_loop_placement{") == NULL);
    evpl_placement_destroy(plan);
}

int
main(int argc, char **argv)
{
    struct evpl_topology *topo;
    int                   last;

    evpl_test_init(argc, argv);
    topo = evpl_topology_discover();
    fprintf(stderr, "topology source: %s\n", evpl_topology_source(topo));

    for (int p = EVPL_PLACE_CORE; p <= EVPL_PLACE_NUMA; p++) {
        check_pool(topo, (enum evpl_placement_policy) p, NULL, 0, 0);
    }
    /* Two loops per core: both pinned to it. */
    check_pool(topo, EVPL_PLACE_CORE, NULL, 0, 2 * evpl_topology_count(topo, EVPL_TOPOLOGY_CORE));

    /* An explicit list: the last CPU only. */
    last = evpl_topology_count(topo, EVPL_TOPOLOGY_PU) - 1;
    last = evpl_topology_domain_id(topo, EVPL_TOPOLOGY_PU, last);
    check_pool(topo, EVPL_PLACE_CPUS, &last, 1, 0);

    /* A thread config is consumed even when there is nothing to place. */
    evpl_test_log_expect("no placement");
    test_assert(evpl_threadpool_create_placed(evpl_thread_config_init(), NULL, NULL, NULL, NULL) ==
                NULL);

    evpl_topology_destroy(topo);
    return 0;
}
