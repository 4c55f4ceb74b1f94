/*
 * The flattened form of a discovered topology, shared by discovery
 * (topology.c) and placement (placement.c).
 *
 * Discovery records every hardware thread once (struct evpl_topo_pu) with a
 * key per level naming the domain it belongs to there; restriction filters
 * that list and rebuilds the domain tables from it, so a restricted topology
 * is exactly what discovery would have produced on the smaller machine.
 */
#pragma once

#include "evpl/evpl_topology.h"
#include "core/log.h"

#define evpl_topo_error(...)       evpl_log_error("topology", __VA_ARGS__)
#define evpl_topo_info(...)        evpl_log_info("topology", __VA_ARGS__)
#define evpl_topo_abort_if(c, ...) evpl_abort_if(c, "topology", __VA_ARGS__)

struct evpl_topo_pu {
    int cpu;                        /* OS CPU number */
    int node;                       /* kernel NUMA node, -1 if unknown */
    int key[EVPL_TOPOLOGY_NLEVELS]; /* domain identity per level */
};

struct evpl_topo_domain {
    int  id;    /* evpl_topology_domain_id */
    int  node;  /* evpl_topology_domain_node */
    int  ncpus; /* CPUs in cpus[], ascending */
    int *cpus;
};

struct evpl_topology {
    char source[160];
    int  cache_depth;

    /* Everything discovery found (restriction only narrows `allowed`). */
    int                  npus;
    struct evpl_topo_pu *pus;
    char                *allowed; /* per pus[] entry */
    int                  nnodes;  /* every NUMA node, CPU-less ones included */
    int                 *nodes;   /* kernel numbers, discovery order */

    /* Rebuilt from the allowed PUs. */
    int                      ndomains[EVPL_TOPOLOGY_NLEVELS];
    struct evpl_topo_domain *domains[EVPL_TOPOLOGY_NLEVELS];
};

/*
 * The whole machine as the process's cgroup allows it, not narrowed by the
 * calling thread's affinity: for mapping CPUs to caches and nodes (listener
 * steering).  Discovered once, on first use; lives until exit.
 */
const struct evpl_topology *evpl_topology_machine(void);
