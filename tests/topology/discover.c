/*
 * Discovery of this machine: the topology holds exactly the CPUs of the
 * process's affinity mask, every level partitions them, and a narrower
 * affinity mask (as taskset sets) narrows the topology.  Says whether hwloc
 * or the flat fallback was used.
 */
#include <sched.h>
#include <string.h>

#include "test.h"
#include <evpl/evpl_topology.h>

static void
check_partition(const struct evpl_topology *topo, const cpu_set_t *mask)
{
    int ncpus = CPU_COUNT(mask);

    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_PU), ncpus);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_MACHINE), 1);
    for (int level = EVPL_TOPOLOGY_MACHINE; level < EVPL_TOPOLOGY_NLEVELS; level++) {
        int total = 0;

        for (int d = 0; d < evpl_topology_count(topo, level); d++) {
            int cpus[CPU_SETSIZE];
            int n = evpl_topology_domain_cpus(topo, level, d, cpus, CPU_SETSIZE);

            for (int i = 0; i < n; i++) {
                test_assert_msg(CPU_ISSET(cpus[i], mask), "CPU %d of %s %d is not ours", cpus[i],
                                evpl_topology_level_name(level), d);
                test_assert_eq(evpl_topology_cpu_domain(topo, level, cpus[i]), d);
            }
            total += n;
        }
        test_assert_msg(total == ncpus, "%s domains hold %d CPUs, expected %d",
                        evpl_topology_level_name(level), total, ncpus);
    }
}

int
main(void)
{
    struct evpl_topology *topo;
    cpu_set_t             mask, one;
    int                   last = -1;

    test_assert(sched_getaffinity(0, sizeof(mask), &mask) == 0);

    topo = evpl_topology_discover();
    test_assert(topo != NULL);
    fprintf(stderr, "topology source: %s\n", evpl_topology_source(topo));
    if (evpl_topology_have_hwloc()) {
        test_assert(strcmp(evpl_topology_source(topo), "hwloc") == 0);
    } else {
        test_assert(strcmp(evpl_topology_source(topo), "flat (built without hwloc)") == 0);
        test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_CORE), CPU_COUNT(&mask));
    }
    check_partition(topo, &mask);
    evpl_topology_destroy(topo);

    /* taskset to the last CPU we have. */
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &mask)) {
            last = cpu;
        }
    }
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    test_assert(sched_setaffinity(0, sizeof(one), &one) == 0);
    topo = evpl_topology_discover();
    check_partition(topo, &one);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_CORE), 1);
    evpl_topology_destroy(topo);
    return 0;
}
