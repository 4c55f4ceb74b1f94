/*
 * Placement plans and the pools built from them (evpl/evpl_topology.h).
 *
 * A plan is a list of loops, each with the CPUs it is pinned to, its NUMA
 * node and its thread name; it copies what it needs, so the topology can go
 * away.  A placed pool gives each thread its own config carrying that CPU set
 * and name: evpl_create() pins the thread before creating the loop, so every
 * allocation the loop makes on first touch lands on its node.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evpl/evpl.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "thread/threadpool.h"
#include "topology/topology_internal.h"

struct evpl_placement_loop {
    char name[16];
    int  node;
    int  ncpus;
    int *cpus;
};

struct evpl_placement {
    enum evpl_placement_policy  policy;
    int                         nloops;
    struct evpl_placement_loop *loops;
};

static const char *const placement_policy_names[] = {
    [EVPL_PLACE_CORE] = "core", [EVPL_PLACE_PU] = "pu",     [EVPL_PLACE_CACHE] = "cache",
    [EVPL_PLACE_NUMA] = "numa", [EVPL_PLACE_CPUS] = "cpus",
};
#define PLACEMENT_NPOLICIES                                                                        \
    ((int) (sizeof(placement_policy_names) / sizeof(placement_policy_names[0])))

const char *
evpl_placement_policy_name(enum evpl_placement_policy policy)
{
    if ((int) policy < 0 || (int) policy >= PLACEMENT_NPOLICIES) {
        return NULL;
    }
    return placement_policy_names[policy];
}

int
evpl_placement_policy_parse(const char *name, enum evpl_placement_policy *policy)
{
    for (int i = 0; name && i < PLACEMENT_NPOLICIES; i++) {
        if (strcmp(name, placement_policy_names[i]) == 0) {
            *policy = (enum evpl_placement_policy) i;
            return 0;
        }
    }
    return -EINVAL;
}

/* A place a loop can go: a domain's CPUs and how its thread is named. */
struct placement_site {
    char       name[16];
    int        node;
    int        ncpus;
    const int *cpus;
};

/* Thread names hold 15 characters; longer ones are cut. */
static void __attribute__((format(printf, 2, 3))) name_printf(char dst[16], const char *fmt, ...)
{
    char    buf[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    memcpy(dst, buf, 15);
    dst[15] = '\0';
}

static void
site_name(struct placement_site *site, const struct evpl_topology *topo,
          enum evpl_placement_policy policy, int d)
{
    int id = evpl_topology_domain_id(topo, EVPL_TOPOLOGY_CACHE, d);

    switch (policy) {
    case EVPL_PLACE_CORE:
        name_printf(site->name, "evpl-core%d",
                    evpl_topology_domain_id(topo, EVPL_TOPOLOGY_CORE, d) & 0xfffffff);
        break;
    case EVPL_PLACE_CACHE:
        /* Cache domains standing in for a missing cache carry no hwloc
         * index worth showing: number them instead. */
        if (topo->cache_depth > 0 && id < (1 << 28)) {
            name_printf(site->name, "evpl-l%d-%d", topo->cache_depth, id);
        } else {
            name_printf(site->name, "evpl-llc%d", d);
        }
        break;
    case EVPL_PLACE_NUMA:
        name_printf(site->name, "evpl-node%d",
                    evpl_topology_domain_id(topo, EVPL_TOPOLOGY_NUMA, d));
        break;
    default:
        break;
    }
}

struct evpl_placement *
evpl_placement_create(const struct evpl_topology *topology, enum evpl_placement_policy policy,
                      const int *cpus, int ncpus, int nloops)
{
    static const enum evpl_topology_level level_of[] = {
        [EVPL_PLACE_CORE] = EVPL_TOPOLOGY_CORE,   [EVPL_PLACE_PU] = EVPL_TOPOLOGY_PU,
        [EVPL_PLACE_CACHE] = EVPL_TOPOLOGY_CACHE, [EVPL_PLACE_NUMA] = EVPL_TOPOLOGY_NUMA,
        [EVPL_PLACE_CPUS] = EVPL_TOPOLOGY_PU,
    };
    struct evpl_placement *placement;
    struct placement_site *sites;
    int                    nsites = 0;

    if (!topology || (int) policy < 0 || (int) policy >= PLACEMENT_NPOLICIES || nloops < 0) {
        return NULL;
    }

    enum evpl_topology_level level = level_of[policy];
    int                      ndom  = topology->ndomains[level];

    sites = calloc(ndom + (ncpus > 0 ? ncpus : 0) + 1, sizeof(*sites));
    evpl_topo_abort_if(!sites, "out of memory planning a pool");

    if (policy == EVPL_PLACE_CPUS) {
        for (int i = 0; cpus && i < ncpus; i++) {
            int d   = evpl_topology_cpu_domain(topology, EVPL_TOPOLOGY_PU, cpus[i]);
            int dup = 0;

            if (d < 0) {
                evpl_topo_info("placement: CPU %d is not available, left out", cpus[i]);
                continue;
            }
            for (int s = 0; s < nsites; s++) {
                dup |= sites[s].cpus == topology->domains[level][d].cpus;
            }
            if (dup) {
                continue;
            }
            sites[nsites].cpus  = topology->domains[level][d].cpus;
            sites[nsites].ncpus = 1;
            sites[nsites].node  = topology->domains[level][d].node;
            name_printf(sites[nsites].name, "evpl-cpu%d", cpus[i]);
            nsites++;
        }
    } else {
        for (int d = 0; d < ndom; d++) {
            const struct evpl_topo_domain *domain = &topology->domains[level][d];

            /* A NUMA node without CPUs (memory only, or all its CPUs outside
             * our cpuset) has nowhere to run a loop. */
            if (domain->ncpus == 0) {
                continue;
            }
            sites[nsites].cpus  = domain->cpus;
            sites[nsites].ncpus = domain->ncpus;
            sites[nsites].node  = domain->node;
            if (policy == EVPL_PLACE_PU) {
                name_printf(sites[nsites].name, "evpl-cpu%d", domain->cpus[0]);
            } else {
                site_name(&sites[nsites], topology, policy, d);
            }
            nsites++;
        }
    }

    if (nsites == 0) {
        free(sites);
        return NULL;
    }
    if (nloops == 0) {
        nloops = nsites;
    }

    placement = calloc(1, sizeof(*placement));
    evpl_topo_abort_if(!placement, "out of memory planning a pool");
    placement->loops = calloc(nloops, sizeof(*placement->loops));
    evpl_topo_abort_if(!placement->loops, "out of memory planning a pool");
    placement->policy = policy;
    placement->nloops = nloops;

    for (int i = 0; i < nloops; i++) {
        const struct placement_site *site  = &sites[i % nsites];
        struct evpl_placement_loop  *loop  = &placement->loops[i];
        int                          round = i / nsites;

        loop->node  = site->node;
        loop->ncpus = site->ncpus;
        loop->cpus  = malloc(site->ncpus * sizeof(int));
        evpl_topo_abort_if(!loop->cpus, "out of memory planning a pool");
        memcpy(loop->cpus, site->cpus, site->ncpus * sizeof(int));
        if (round == 0) {
            memcpy(loop->name, site->name, sizeof(loop->name));
        } else {
            /* Second and later loops on a site: "evpl-core3.1" (truncated to
             * the 15 characters a thread name holds). */
            name_printf(loop->name, "%s.%d", site->name, round);
        }
    }
    free(sites);
    return placement;
}

void
evpl_placement_destroy(struct evpl_placement *placement)
{
    if (!placement) {
        return;
    }
    for (int i = 0; i < placement->nloops; i++) {
        free(placement->loops[i].cpus);
    }
    free(placement->loops);
    free(placement);
}

int
evpl_placement_count(const struct evpl_placement *placement)
{
    return placement ? placement->nloops : 0;
}

static const struct evpl_placement_loop *
placement_loop(const struct evpl_placement *placement, int i)
{
    if (!placement || i < 0 || i >= placement->nloops) {
        return NULL;
    }
    return &placement->loops[i];
}

int
evpl_placement_loop_cpus(const struct evpl_placement *placement, int i, int *cpus, int max)
{
    const struct evpl_placement_loop *loop = placement_loop(placement, i);

    if (!loop) {
        return -EINVAL;
    }
    for (int c = 0; c < loop->ncpus && c < max; c++) {
        cpus[c] = loop->cpus[c];
    }
    return loop->ncpus;
}

const char *
evpl_placement_loop_name(const struct evpl_placement *placement, int i)
{
    const struct evpl_placement_loop *loop = placement_loop(placement, i);

    return loop ? loop->name : NULL;
}

int
evpl_placement_loop_node(const struct evpl_placement *placement, int i)
{
    const struct evpl_placement_loop *loop = placement_loop(placement, i);

    return loop ? loop->node : -1;
}

/* --- placed pools ------------------------------------------------------ */

#define PLACEMENT_METRIC "evpl_loop_placement"

/* What the metrics writer reports for one pool; immutable while registered. */
struct placed_pool_metrics {
    int nloops;
    char (*labels)[256];
};

static atomic_int placed_pool_serial;

static void
placed_pool_write_metrics(struct evpl_metrics_writer *w, void *private_data)
{
    const struct placed_pool_metrics *m = private_data;

    for (int i = 0; i < m->nloops; i++) {
        evpl_metrics_sample(w, PLACEMENT_METRIC, m->labels[i], 1);
    }
}

static void
placed_pool_destroyed(void *arg)
{
    struct placed_pool_metrics *m = arg;

    evpl_metrics_unregister(placed_pool_write_metrics, m);
    free(m->labels);
    free(m);
}

/* "0-3,8" style, bounded; the list is ascending. */
static void
format_cpu_list(char *buf, size_t size, const int *cpus, int ncpus)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < ncpus && len < size; i++) {
        int j = i;

        while (j + 1 < ncpus && cpus[j + 1] == cpus[j] + 1) {
            j++;
        }
        if (j > i) {
            len += snprintf(buf + len, size - len, "%s%d-%d", i ? "," : "", cpus[i], cpus[j]);
        } else {
            len += snprintf(buf + len, size - len, "%s%d", i ? "," : "", cpus[i]);
        }
        i = j;
    }
}

struct evpl_threadpool *
evpl_threadpool_create_placed(struct evpl_thread_config      *config,
                              const struct evpl_placement    *placement,
                              evpl_thread_init_callback_t     init_function,
                              evpl_thread_shutdown_callback_t shutdown_function, void *private_data)
{
    struct evpl_thread_config **configs;
    struct placed_pool_metrics *metrics;
    struct evpl_threadpool     *pool;
    int                         serial;

    if (!placement || placement->nloops <= 0) {
        evpl_topo_error("evpl_threadpool_create_placed: no placement");
        if (config) {
            evpl_thread_config_release(config);
        }
        return NULL;
    }

    configs = calloc(placement->nloops, sizeof(*configs));
    metrics = calloc(1, sizeof(*metrics));
    evpl_topo_abort_if(!configs || !metrics, "out of memory creating a placed pool");
    metrics->nloops = placement->nloops;
    metrics->labels = calloc(placement->nloops, sizeof(*metrics->labels));
    evpl_topo_abort_if(!metrics->labels, "out of memory creating a placed pool");

    serial = atomic_fetch_add(&placed_pool_serial, 1);

    for (int i = 0; i < placement->nloops; i++) {
        const struct evpl_placement_loop *loop = &placement->loops[i];
        char                              cpulist[160];

        configs[i] = config ? evpl_thread_config_dup(config) : evpl_thread_config_init();
        evpl_topo_abort_if(
            evpl_thread_config_set_cpu_affinity(configs[i], loop->cpus, loop->ncpus) != 0,
            "placement CPU out of the supported range");
        snprintf(configs[i]->thread_name, sizeof(configs[i]->thread_name), "%s", loop->name);

        format_cpu_list(cpulist, sizeof(cpulist), loop->cpus, loop->ncpus);
        snprintf(metrics->labels[i], sizeof(metrics->labels[i]),
                 "pool=\"%d\",loop=\"%d\",name=\"%s\",policy=\"%s\",node=\"%d\",cpus=\"%s\"",
                 serial, i, loop->name, placement_policy_names[placement->policy], loop->node,
                 cpulist);
    }
    if (config) {
        evpl_thread_config_release(config);
    }

    pool = evpl_threadpool_create_each(configs, placement->nloops, init_function, shutdown_function,
                                       private_data, placed_pool_destroyed, metrics);
    free(configs);

    evpl_metrics_family_declare(PLACEMENT_METRIC, EVPL_METRICS_GAUGE,
                                "Loops of placed thread pools: 1 per loop, labelled with its "
                                "name, policy, NUMA node and CPUs");
    if (evpl_metrics_register_samples(PLACEMENT_METRIC, placed_pool_write_metrics, metrics) != 0) {
        evpl_topo_error("placed pool %d: cannot register its metrics", serial);
    }
    return pool;
}
