/*
 * NUMA-local buffers.
 *
 *   real: on this machine, one loop per CPU (placed pool); a whole buffer
 *         allocated by each loop lies on that loop's node, as the kernel
 *         reports it (get_mempolicy MPOL_F_NODE|MPOL_F_ADDR).
 *   home: the same code on a machine of two one-CPU nodes (hwloc's
 *         HWLOC_SYNTHETIC, so the node pools are real even here): a buffer
 *         of node 0's loop released by node 1's loop goes back to node 0's
 *         pool (evpl_allocator_node_free_buffers{node="0"} grows by one and
 *         evpl_allocator_foreign_returns_total{node="0"} counts it), not
 *         into the releasing loop's cache; node 1's loop draws from node 1.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"
#include <evpl/evpl_topology.h>

#define BUFFER_SIZE (64u * 1024)
/* The kernel's get_mempolicy flags (no libnuma needed). */
#define MPOL_F_NODE_FLAG (1 << 0)
#define MPOL_F_ADDR_FLAG (1 << 1)

static struct evpl_placement *plan;
static int                    nloops_seen;
static int                    home_mode;
static struct evpl_iovec      handed; /* node 0's buffer, released by node 1 */

static unsigned long long
metric(const char *name, int node)
{
    static char        scrape[1 << 16];
    char               key[128];
    const char        *p;
    unsigned long long value;

    test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) > 0);
    snprintf(key, sizeof(key), "\n%s{node=\"%d\"} ", name, node);
    p = strstr(scrape, key);
    test_assert_msg(p != NULL, "no %s for node %d in the metrics", name, node);
    test_assert(sscanf(p + strlen(key), "%llu", &value) == 1);
    return value;
}

/* The node the kernel put the page at addr on; -1 if it cannot say. */
static int
page_node(void *addr)
{
    int node = -1;

    if (syscall(SYS_get_mempolicy, &node, NULL, 0ul, addr, MPOL_F_NODE_FLAG | MPOL_F_ADDR_FLAG) !=
        0) {
        return -1;
    }
    return node;
}

static void *
real_init(struct evpl *evpl, void *private_data)
{
    struct evpl_iovec iov;
    int               i = nloops_seen++, node;

    test_assert_eq(evpl_iovec_alloc(evpl, BUFFER_SIZE, 0, 1, 0, &iov), 1);
    memset(iov.data, 0xa5, iov.length); /* fault every page in */
    node = page_node(iov.data);
    if (node < 0) {
        test_skip("get_mempolicy cannot report page nodes here");
    }
    test_assert_msg(node == evpl_placement_loop_node(plan, i),
                    "loop %s: buffer on node %d, loop on node %d",
                    evpl_placement_loop_name(plan, i), node, evpl_placement_loop_node(plan, i));
    evpl_iovec_release(evpl, &iov);
    return private_data;
}

static void *
home_init(struct evpl *evpl, void *private_data)
{
    int i = nloops_seen++;

    if (i == 0) {
        /* A whole buffer, so no packing buffer of this loop shares it. */
        test_assert_eq(evpl_iovec_alloc(evpl, BUFFER_SIZE, 0, 1, EVPL_IOVEC_FLAG_SHARED, &handed),
                       1);
        memset(handed.data, 1, handed.length);
    } else {
        unsigned long long free0    = metric("evpl_allocator_node_free_buffers", 0);
        unsigned long long free1    = metric("evpl_allocator_node_free_buffers", 1);
        unsigned long long foreign0 = metric("evpl_allocator_foreign_returns_total", 0);
        struct evpl_iovec  own;

        evpl_iovec_release(evpl, &handed);
        test_assert_eq(metric("evpl_allocator_node_free_buffers", 0), free0 + 1);
        test_assert_eq(metric("evpl_allocator_foreign_returns_total", 0), foreign0 + 1);
        test_assert_eq(metric("evpl_allocator_node_free_buffers", 1), free1);
        test_assert_eq(metric("evpl_allocator_foreign_returns_total", 1), 0);

        /* This loop's first buffer comes from node 1: node 0 is untouched. */
        test_assert_eq(evpl_iovec_alloc(evpl, BUFFER_SIZE, 0, 1, 0, &own), 1);
        test_assert_eq(metric("evpl_allocator_node_free_buffers", 0), free0 + 1);
        test_assert(metric("evpl_allocator_node_free_buffers", 1) > 0);
        evpl_iovec_release(evpl, &own);
        test_assert_eq(metric("evpl_allocator_foreign_returns_total", 1), 0);
    }
    return private_data;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config;
    struct evpl_topology      *topo;
    struct evpl_threadpool    *pool;

    home_mode = argc > 2 && strcmp(argv[2], "home") == 0;
    if (home_mode) {
        cpu_set_t mask;

        if (!evpl_topology_have_hwloc()) {
            test_skip("built without hwloc: no synthetic two-node machine");
        }
        test_assert(sched_getaffinity(0, sizeof(mask), &mask) == 0);
        if (!CPU_ISSET(0, &mask) || !CPU_ISSET(1, &mask)) {
            test_skip("needs CPUs 0 and 1");
        }
        /* Read by hwloc when the library first looks at the machine. */
        setenv("HWLOC_SYNTHETIC", "numa:2 core:1 pu:1", 1);
    }

    config = evpl_test_config(argc, argv);
    evpl_global_config_set_buffer_size(config, BUFFER_SIZE);
    evpl_global_config_set_slab_size(config, 16 * BUFFER_SIZE);
    evpl_init(config);

    topo = evpl_topology_discover();
    if (home_mode) {
        int cpus[] = {0, 1};

        test_assert_eq(evpl_topology_count(topo, EVPL_TOPOLOGY_NUMA), 2);
        plan = evpl_placement_create(topo, EVPL_PLACE_CPUS, cpus, 2, 0);
        test_assert_eq(evpl_placement_loop_node(plan, 1), 1);
    } else {
        plan = evpl_placement_create(topo, EVPL_PLACE_PU, NULL, 0, 0);
    }
    test_assert(plan != NULL);

    pool = evpl_threadpool_create_placed(NULL, plan, home_mode ? home_init : real_init, NULL, NULL);
    test_assert_eq(nloops_seen, evpl_placement_count(plan));
    evpl_threadpool_destroy(pool);

    evpl_placement_destroy(plan);
    evpl_topology_destroy(topo);
    return 0;
}
