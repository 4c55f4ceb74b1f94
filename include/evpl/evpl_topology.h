/*
 * Extension: topology-aware loops (docs/topology.md).
 *
 * Discovery of the machine's packages, NUMA nodes, shared caches, cores and
 * hardware threads (hwloc when the library was built with it; otherwise the
 * machine is treated as flat: one package, one node, one cache, one core per
 * CPU), restricted to the CPUs the process may use.  On top of it, placement
 * plans (which CPUs each loop of a pool runs on, and its name) and thread
 * pools created from a plan, each loop pinned and named after its place.
 *
 * Not included by evpl/evpl.h: include evpl/evpl_topology.h explicitly.
 * CPU numbers are the operating system's (what taskset and
 * sched_getaffinity use); NUMA node numbers are the kernel's.
 *
 * A topology and a placement are immutable once built (except by
 * evpl_topology_restrict) and may be read from any thread; neither is used
 * by a pool after evpl_threadpool_create_placed() returns.
 */
#pragma once

#include <evpl/evpl.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct evpl_topology;
struct evpl_placement;

/* The levels of the hierarchy, outermost first. */
enum evpl_topology_level {
    EVPL_TOPOLOGY_MACHINE = 0,
    EVPL_TOPOLOGY_PACKAGE = 1, /* processor sockets */
    EVPL_TOPOLOGY_NUMA    = 2, /* memory nodes, CPU-less ones included */
    EVPL_TOPOLOGY_CACHE   = 3, /* the last-level cache (L3, or L2 if none) */
    EVPL_TOPOLOGY_CORE    = 4,
    EVPL_TOPOLOGY_PU      = 5, /* hardware threads: one per CPU number */
};
#define EVPL_TOPOLOGY_NLEVELS 6

/*
 * Discover the machine this process runs on, restricted to the CPUs it may
 * use (the cgroup cpuset and the process's affinity mask, as set by taskset).
 * Never fails short of running out of memory: without hwloc, or when hwloc
 * fails, the result is the flat machine (evpl_topology_source says which).
 */
struct evpl_topology *evpl_topology_discover(void);

/*
 * Build a topology from an hwloc synthetic description (e.g.
 * "pack:2 numa:2 l3:2 core:4 pu:2") or from an hwloc XML export, without
 * restricting it to this process's CPUs.  For tests and planning; returns
 * NULL when the library was built without hwloc or the input is rejected.
 */
struct evpl_topology *evpl_topology_from_synthetic(const char *description);
struct evpl_topology *evpl_topology_from_xml(const char *path);

/*
 * Keep only the listed CPUs (an intersection: restricting twice narrows
 * further).  Domains left without CPUs disappear, except NUMA nodes, which
 * stay with no CPUs (their memory is still there).  Returns 0, or -EINVAL
 * when no listed CPU is in the topology (nothing is changed).
 */
int evpl_topology_restrict(struct evpl_topology *topology, const int *cpus, int ncpus);

void evpl_topology_destroy(struct evpl_topology *topology);

/* Non-zero when the library was built with hwloc. */
int evpl_topology_have_hwloc(void);

/* Where the topology came from, for people ("hwloc", "flat (built without
 * hwloc)", "synthetic: ...", "xml: ..."). */
const char *evpl_topology_source(const struct evpl_topology *topology);

/* "machine", "package", "numa", "cache", "core" or "pu". */
const char *evpl_topology_level_name(enum evpl_topology_level level);

/* The cache level EVPL_TOPOLOGY_CACHE stands for (3 for L3), 0 when the
 * machine reports no caches (then each package is its cache domain). */
int evpl_topology_cache_depth(const struct evpl_topology *topology);

/* Number of domains at a level (CPUs for EVPL_TOPOLOGY_PU). */
int evpl_topology_count(const struct evpl_topology *topology, enum evpl_topology_level level);

/*
 * The CPUs of domain index (0 <= index < count) at a level, in ascending
 * order: up to max of them are stored in cpus (which may be NULL when max is
 * 0).  Returns how many the domain has (0 for a CPU-less NUMA node), or
 * -EINVAL for a bad level or index.
 */
int evpl_topology_domain_cpus(const struct evpl_topology *topology, enum evpl_topology_level level,
                              int index, int *cpus, int max);

/*
 * The hardware's number for domain index: the CPU number for PUs, the kernel
 * node number for NUMA nodes, hwloc's logical index otherwise.  -EINVAL for
 * a bad level or index.
 */
int evpl_topology_domain_id(const struct evpl_topology *topology, enum evpl_topology_level level,
                            int index);

/* The NUMA node (kernel number) closest to the domain's CPUs; -1 when it
 * has none and is not itself a node. */
int evpl_topology_domain_node(const struct evpl_topology *topology, enum evpl_topology_level level,
                              int index);

/* The index of the domain at level holding cpu, or -1 when the CPU is not
 * in the (restricted) topology. */
int evpl_topology_cpu_domain(const struct evpl_topology *topology, enum evpl_topology_level level,
                             int cpu);

/* How a pool's loops are laid out. */
enum evpl_placement_policy {
    EVPL_PLACE_CORE  = 0, /* one loop per core, pinned to its hardware threads (default) */
    EVPL_PLACE_PU    = 1, /* one loop per hardware thread, pinned to it */
    EVPL_PLACE_CACHE = 2, /* one loop per last-level cache, on that cache's CPUs */
    EVPL_PLACE_NUMA  = 3, /* one loop per NUMA node with CPUs, on the node's CPUs */
    EVPL_PLACE_CPUS  = 4, /* one loop per listed CPU, pinned to it */
};

/*
 * Plan a pool.  cpus/ncpus is the CPU list of EVPL_PLACE_CPUS (ignored
 * otherwise); listed CPUs not in the topology are left out.  nloops 0 makes
 * one loop per domain (per listed CPU); a positive nloops takes the first
 * nloops domains, going round them again when it is larger (two loops then
 * share a domain).  Returns NULL for a bad policy or when nothing is left to
 * place on (no listed CPU exists).  The topology may be destroyed afterwards.
 */
struct evpl_placement *evpl_placement_create(const struct evpl_topology *topology,
                                             enum evpl_placement_policy policy, const int *cpus,
                                             int ncpus, int nloops);

void evpl_placement_destroy(struct evpl_placement *placement);

/* "core", "pu", "cache", "numa", "cpus"; NULL for an unknown policy. */
const char *evpl_placement_policy_name(enum evpl_placement_policy policy);

/* Parse a policy name as above into *policy; 0, or -EINVAL. */
int evpl_placement_policy_parse(const char *name, enum evpl_placement_policy *policy);

/* Number of loops planned. */
int evpl_placement_count(const struct evpl_placement *placement);

/* The CPUs loop i is pinned to, as evpl_topology_domain_cpus. */
int evpl_placement_loop_cpus(const struct evpl_placement *placement, int i, int *cpus, int max);

/* The name loop i's thread gets (at most 15 characters, e.g. "evpl-core3"),
 * NULL for a bad index. */
const char *evpl_placement_loop_name(const struct evpl_placement *placement, int i);

/* The NUMA node of loop i's CPUs, -1 if unknown or a bad index. */
int evpl_placement_loop_node(const struct evpl_placement *placement, int i);

/*
 * Create one thread per planned loop, in plan order, as
 * evpl_threadpool_create() does (same callbacks and private_data, returns
 * after every init has completed; destroy with evpl_threadpool_destroy()).
 * Each loop's thread is pinned to its CPUs before its loop is created (so
 * the loop's first-touch memory is on its node), and named after its place.
 * config is consumed as by evpl_threadpool_create() (NULL for defaults); a
 * CPU affinity in it is overridden.  The pool's placement is exported by
 * evpl_metrics_scrape() (family evpl_loop_placement) while the pool lives.
 * Returns NULL (config still consumed) when placement is NULL or empty.
 */
struct evpl_threadpool *evpl_threadpool_create_placed(
    struct evpl_thread_config *config, const struct evpl_placement *placement,
    evpl_thread_init_callback_t init_function, evpl_thread_shutdown_callback_t shutdown_function,
    void *private_data);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
