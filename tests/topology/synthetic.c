/*
 * Placement on hwloc's synthetic 2 packages x 2 nodes x 2 L3 x 4 cores x 2
 * threads (64 CPUs numbered in order): the CPUs and names each policy picks,
 * a restricted cpuset, NUMA nodes left without CPUs, explicit CPU lists and
 * loop counts above and below the number of domains.
 */
#include <errno.h>
#include <string.h>

#include "test.h"
#include <evpl/evpl_topology.h>

#define DESC "pack:2 numa:2 l3:2 core:4 pu:2"

static void
check_loop(const struct evpl_placement *plan, int i, const char *name, int node, int first,
           int ncpus)
{
    int cpus[64];
    int n = evpl_placement_loop_cpus(plan, i, cpus, 64);

    test_assert_msg(strcmp(evpl_placement_loop_name(plan, i), name) == 0,
                    "loop %d is named %s, expected %s", i, evpl_placement_loop_name(plan, i), name);
    test_assert_eq(evpl_placement_loop_node(plan, i), node);
    test_assert_eq(n, ncpus);
    for (int c = 0; c < n; c++) {
        test_assert_msg(cpus[c] == first + c, "loop %d cpu %d is %d, expected %d", i, c, cpus[c],
                        first + c);
    }
}

int
main(void)
{
    struct evpl_topology  *topo;
    struct evpl_placement *plan;
    char                   name[16];

    if (!evpl_topology_have_hwloc()) {
        test_skip("built without hwloc: no synthetic topologies");
    }
    topo = evpl_topology_from_synthetic(DESC);
    test_assert(topo != NULL);
    test_assert(evpl_topology_from_synthetic("pack:0 nonsense") == NULL);

    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_MACHINE), 1);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_PACKAGE), 2);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_NUMA), 4);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_CACHE), 8);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_CORE), 32);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_PU), 64);
    test_assert_eq(evpl_topology_cache_depth(topo), 3);
    test_assert_eq(evpl_topology_count(topo, (enum evpl_topology_level) 9), -EINVAL);

    /* Which CPUs share a cache, a node, a package. */
    test_assert_eq(evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_CACHE, 9), 1);
    test_assert_eq(evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_NUMA, 17), 1);
    test_assert_eq(evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_PACKAGE, 33), 1);
    test_assert_eq(evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_CORE, 63), 31);
    test_assert_eq(evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_PU, 64), -1);
    test_assert_eq(evpl_topology_domain_cpus(topo, EVPL_TOPOLOGY_NUMA, 2, NULL, 0), 16);
    test_assert_eq(evpl_topology_domain_node(topo, EVPL_TOPOLOGY_CACHE, 5), 2);
    test_assert_eq(evpl_topology_domain_cpus(topo, EVPL_TOPOLOGY_CORE, 32, NULL, 0), -EINVAL);

    /* Per core (the default policy): 32 loops, each on its two threads. */
    plan = evpl_placement_create(topo, EVPL_PLACE_CORE, NULL, 0, 0);
    test_assert(plan != NULL);
    test_assert_eq(evpl_placement_count(plan), 32);
    for (int i = 0; i < 32; i++) {
        snprintf(name, sizeof(name), "evpl-core%d", i);
        check_loop(plan, i, name, i / 8, 2 * i, 2);
    }
    test_assert(evpl_placement_loop_name(plan, 32) == NULL);
    evpl_placement_destroy(plan);

    /* Per hardware thread. */
    plan = evpl_placement_create(topo, EVPL_PLACE_PU, NULL, 0, 0);
    test_assert_eq(evpl_placement_count(plan), 64);
    check_loop(plan, 0, "evpl-cpu0", 0, 0, 1);
    check_loop(plan, 63, "evpl-cpu63", 3, 63, 1);
    evpl_placement_destroy(plan);

    /* Per shared cache: 8 loops over 8 CPUs each. */
    plan = evpl_placement_create(topo, EVPL_PLACE_CACHE, NULL, 0, 0);
    test_assert_eq(evpl_placement_count(plan), 8);
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "evpl-l3-%d", i);
        check_loop(plan, i, name, i / 2, 8 * i, 8);
    }
    evpl_placement_destroy(plan);

    /* Per NUMA node: 4 loops over 16 CPUs each. */
    plan = evpl_placement_create(topo, EVPL_PLACE_NUMA, NULL, 0, 0);
    test_assert_eq(evpl_placement_count(plan), 4);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "evpl-node%d", i);
        check_loop(plan, i, name, i, 16 * i, 16);
    }
    evpl_placement_destroy(plan);

    /* More loops than nodes: round again, the second round named ".1". */
    plan = evpl_placement_create(topo, EVPL_PLACE_NUMA, NULL, 0, 6);
    test_assert_eq(evpl_placement_count(plan), 6);
    check_loop(plan, 4, "evpl-node0.1", 0, 0, 16);
    check_loop(plan, 5, "evpl-node1.1", 1, 16, 16);
    evpl_placement_destroy(plan);

    /* Fewer loops than cores: the first ones. */
    plan = evpl_placement_create(topo, EVPL_PLACE_CORE, NULL, 0, 3);
    test_assert_eq(evpl_placement_count(plan), 3);
    check_loop(plan, 2, "evpl-core2", 0, 4, 2);
    evpl_placement_destroy(plan);

    /* Explicit CPU list: unknown CPUs and duplicates are left out. */
    {
        int list[] = {5, 40, 999, 5, -1};

        plan = evpl_placement_create(topo, EVPL_PLACE_CPUS, list, 5, 0);
        test_assert_eq(evpl_placement_count(plan), 2);
        check_loop(plan, 0, "evpl-cpu5", 0, 5, 1);
        check_loop(plan, 1, "evpl-cpu40", 2, 40, 1);
        evpl_placement_destroy(plan);

        test_assert(evpl_placement_create(topo, EVPL_PLACE_CPUS, list + 2, 1, 0) == NULL);
        test_assert(evpl_placement_create(topo, (enum evpl_placement_policy) 17, NULL, 0, 0) ==
                    NULL);
    }

    /*
     * A restricted cpuset (as a cgroup or taskset would leave): CPUs 2-5 of
     * node 0 and 16-17 of node 1.  Cores 1, 2 and 8 remain, two caches, and
     * all four nodes, two of them now without CPUs: the NUMA policy skips
     * those.
     */
    {
        int allowed[] = {2, 3, 4, 5, 16, 17};
        int none[]    = {100, 200};

        test_assert_eq(evpl_topology_restrict(topo, none, 2), -EINVAL);
        test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_PU), 64);

        test_assert_eq(evpl_topology_restrict(topo, allowed, 6), 0);
        test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_PU), 6);
        test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_CORE), 3);
        test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_CACHE), 2);
        test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_PACKAGE), 1);
        test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_NUMA), 4);
        test_assert_eq(evpl_topology_domain_cpus(topo, EVPL_TOPOLOGY_NUMA, 2, NULL, 0), 0);
        test_assert_eq(evpl_topology_domain_cpus(topo, EVPL_TOPOLOGY_NUMA, 3, NULL, 0), 0);
        test_assert_eq(evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_PU, 6), -1);

        plan = evpl_placement_create(topo, EVPL_PLACE_CORE, NULL, 0, 0);
        test_assert_eq(evpl_placement_count(plan), 3);
        check_loop(plan, 0, "evpl-core1", 0, 2, 2);
        check_loop(plan, 1, "evpl-core2", 0, 4, 2);
        check_loop(plan, 2, "evpl-core8", 1, 16, 2);
        evpl_placement_destroy(plan);

        plan = evpl_placement_create(topo, EVPL_PLACE_NUMA, NULL, 0, 0);
        test_assert_eq(evpl_placement_count(plan), 2);
        check_loop(plan, 0, "evpl-node0", 0, 2, 4);
        check_loop(plan, 1, "evpl-node1", 1, 16, 2);
        evpl_placement_destroy(plan);

        /* Half a core: the core policy pins to what is left of it. */
        int half[] = {4, 16};

        test_assert_eq(evpl_topology_restrict(topo, half, 2), 0);
        plan = evpl_placement_create(topo, EVPL_PLACE_CORE, NULL, 0, 0);
        test_assert_eq(evpl_placement_count(plan), 2);
        check_loop(plan, 0, "evpl-core2", 0, 4, 1);
        check_loop(plan, 1, "evpl-core8", 1, 16, 1);
        evpl_placement_destroy(plan);
    }

    evpl_topology_destroy(topo);
    return 0;
}
