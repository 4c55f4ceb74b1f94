/*
 * Placement on the XML export of a 2-socket server, written here: two
 * packages of 4 cores x 2 threads, each package one NUMA node and one L3,
 * a private L2 per core, CPUs numbered as Linux numbers Intel servers (the
 * first threads of every core first, socket by socket, then their
 * hyperthread siblings: core 0 is CPUs 0 and 8), and a third NUMA node
 * without CPUs (CXL-attached memory).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include <evpl/evpl_topology.h>

#define NPKG   2
#define NCORE  4 /* per package */
#define NCPU   (NPKG * NCORE * 2)
#define ALLCPU ((1u << NCPU) - 1)

static int gp = 1;

static void
object(FILE *f, const char *type, int os, unsigned cpus, unsigned nodes, const char *extra,
       int close)
{
    fprintf(f,
            "<object type=\"%s\" os_index=\"%d\" cpuset=\"0x%08x\" complete_cpuset=\"0x%08x\" "
            "nodeset=\"0x%08x\" complete_nodeset=\"0x%08x\" gp_index=\"%d\" %s%s>\n",
            type, os, cpus, cpus, nodes, nodes, gp++, extra, close ? "/" : "");
}

static void
write_server(const char *path)
{
    FILE *f = fopen(path, "w");

    test_assert(f != NULL);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n<topology version=\"2.0\">\n");
    fprintf(f,
            "<object type=\"Machine\" os_index=\"0\" cpuset=\"0x%08x\" complete_cpuset=\"0x%08x\" "
            "allowed_cpuset=\"0x%08x\" nodeset=\"0x7\" complete_nodeset=\"0x7\" "
            "allowed_nodeset=\"0x7\" gp_index=\"%d\">\n",
            ALLCPU, ALLCPU, ALLCPU, gp++);
    for (int p = 0; p < NPKG; p++) {
        unsigned pkg_cpus = 0;

        for (int c = 0; c < NCORE; c++) {
            pkg_cpus |= 1u << (p * NCORE + c);
            pkg_cpus |= 1u << (NPKG * NCORE + p * NCORE + c);
        }
        object(f, "Package", p, pkg_cpus, 1u << p, "", 0);
        object(f, "NUMANode", p, pkg_cpus, 1u << p, "local_memory=\"68719476736\"", 1);
        object(f, "L3Cache", -1, pkg_cpus, 1u << p,
               "cache_size=\"31457280\" depth=\"3\" cache_linesize=\"64\" "
               "cache_associativity=\"0\" cache_type=\"0\"",
               0);
        for (int c = 0; c < NCORE; c++) {
            int      t0 = p * NCORE + c, t1 = NPKG * NCORE + p * NCORE + c;
            unsigned core_cpus = (1u << t0) | (1u << t1);

            object(f, "L2Cache", -1, core_cpus, 1u << p,
                   "cache_size=\"2097152\" depth=\"2\" cache_linesize=\"64\" "
                   "cache_associativity=\"0\" cache_type=\"0\"",
                   0);
            object(f, "Core", c, core_cpus, 1u << p, "", 0);
            object(f, "PU", t0, 1u << t0, 1u << p, "", 1);
            object(f, "PU", t1, 1u << t1, 1u << p, "", 1);
            fprintf(f, "</object></object>\n");
        }
        fprintf(f, "</object></object>\n");
    }
    /* The CPU-less node: local to the whole machine, as hwloc reports CXL. */
    object(f, "NUMANode", 2, ALLCPU, 4, "local_memory=\"137438953472\"", 1);
    fprintf(f, "</object>\n</topology>\n");
    fclose(f);
}

static void
check_loop(const struct evpl_placement *plan, int i, const char *name, int node, const int *expect,
           int n)
{
    int cpus[NCPU];

    test_assert_msg(strcmp(evpl_placement_loop_name(plan, i), name) == 0,
                    "loop %d is named %s, expected %s", i, evpl_placement_loop_name(plan, i), name);
    test_assert_eq(evpl_placement_loop_node(plan, i), node);
    test_assert_eq(evpl_placement_loop_cpus(plan, i, cpus, NCPU), n);
    for (int c = 0; c < n; c++) {
        test_assert_msg(cpus[c] == expect[c], "loop %d cpu %d is %d, expected %d", i, c, cpus[c],
                        expect[c]);
    }
}

int
main(void)
{
    char                   path[] = "/tmp/evpl-topology-xml-XXXXXX";
    struct evpl_topology  *topo;
    struct evpl_placement *plan;
    int                    fd;

    if (!evpl_topology_have_hwloc()) {
        test_skip("built without hwloc: no XML topologies");
    }
    fd = mkstemp(path);
    test_assert(fd >= 0);
    close(fd);
    write_server(path);

    topo = evpl_topology_from_xml(path);
    unlink(path);
    test_assert_msg(topo != NULL, "hwloc rejected the server XML");
    test_assert(evpl_topology_from_xml("/nonexistent/evpl.xml") == NULL);

    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_PACKAGE), 2);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_NUMA), 3);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_CACHE), 2);
    test_assert_eq(evpl_topology_cache_depth(topo), 3);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_CORE), 8);
    test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_PU), 16);

    /* The CXL node is listed, with no CPUs; the CPUs' node is their socket's. */
    test_assert_eq(evpl_topology_domain_id(topo, EVPL_TOPOLOGY_NUMA, 2), 2);
    test_assert_eq(evpl_topology_domain_cpus(topo, EVPL_TOPOLOGY_NUMA, 2, NULL, 0), 0);
    test_assert_eq(evpl_topology_domain_node(topo, EVPL_TOPOLOGY_PU,
                                             evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_PU, 12)),
                   1);
    /* Hyperthread siblings share a core. */
    test_assert_eq(evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_CORE, 0),
                   evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_CORE, 8));
    test_assert(evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_CORE, 0) !=
                evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_CORE, 1));

    /* Per core: CPUs {0,8}, {1,9}, ... socket 1's cores {4,12} ... */
    plan = evpl_placement_create(topo, EVPL_PLACE_CORE, NULL, 0, 0);
    test_assert_eq(evpl_placement_count(plan), 8);
    for (int i = 0; i < 8; i++) {
        int  expect[2] = {i, i + 8};
        char name[16];

        snprintf(name, sizeof(name), "evpl-core%d", i);
        check_loop(plan, i, name, i / 4, expect, 2);
    }
    evpl_placement_destroy(plan);

    /* Per shared cache (L3, not the private L2s): one per socket. */
    {
        int s0[] = {0, 1, 2, 3, 8, 9, 10, 11}, s1[] = {4, 5, 6, 7, 12, 13, 14, 15};

        plan = evpl_placement_create(topo, EVPL_PLACE_CACHE, NULL, 0, 0);
        test_assert_eq(evpl_placement_count(plan), 2);
        check_loop(plan, 0, "evpl-l3-0", 0, s0, 8);
        check_loop(plan, 1, "evpl-l3-1", 1, s1, 8);
        evpl_placement_destroy(plan);

        /* Per NUMA node: the CPU-less node gets no loop. */
        plan = evpl_placement_create(topo, EVPL_PLACE_NUMA, NULL, 0, 0);
        test_assert_eq(evpl_placement_count(plan), 2);
        check_loop(plan, 0, "evpl-node0", 0, s0, 8);
        check_loop(plan, 1, "evpl-node1", 1, s1, 8);
        evpl_placement_destroy(plan);
    }

    /* Socket 1 outside the cpuset: node 1 stays, without CPUs. */
    {
        int allowed[] = {0, 1, 2, 3, 8, 9, 10, 11};

        test_assert_eq(evpl_topology_restrict(topo, allowed, 8), 0);
        test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_NUMA), 3);
        test_assert_eq(evpl_topology_domain_cpus(topo, EVPL_TOPOLOGY_NUMA, 1, NULL, 0), 0);
        plan = evpl_placement_create(topo, EVPL_PLACE_NUMA, NULL, 0, 0);
        test_assert_eq(evpl_placement_count(plan), 1);
        check_loop(plan, 0, "evpl-node0", 0, allowed, 8);
        evpl_placement_destroy(plan);
    }

    evpl_topology_destroy(topo);
    return 0;
}
