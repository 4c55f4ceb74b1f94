/*
 * Topology discovery and the query API (evpl/evpl_topology.h).
 *
 * With hwloc (EVPL_HAVE_HWLOC) the machine is read from hwloc; without it
 * the machine is flat: every CPU the process may use is its own core, all in
 * one package, one NUMA node and one cache domain.  Either way the result is
 * a list of hardware threads with a domain key per level, from which the
 * domain tables are built (topology_rebuild).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#ifdef EVPL_HAVE_HWLOC
#include <hwloc.h>
#endif

#include "evpl/evpl.h"
#include "core/log.h"
#include "topology/topology_internal.h"

static const char *const topology_level_names[EVPL_TOPOLOGY_NLEVELS] = {
    "machine", "package", "numa", "cache", "core", "pu",
};

/* Keys of cache domains that stand in for a missing cache: never a logical
 * index hwloc hands out. */
#define TOPOLOGY_NO_CACHE_KEY_BASE (1 << 28)

static struct evpl_topology *
topology_alloc(const char *source)
{
    struct evpl_topology *topo = calloc(1, sizeof(*topo));

    evpl_topo_abort_if(topo == NULL, "out of memory allocating a topology");
    snprintf(topo->source, sizeof(topo->source), "%s", source);
    return topo;
}

static void
topology_add_pu(struct evpl_topology *topo, const struct evpl_topo_pu *pu)
{
    if ((topo->npus & (topo->npus - 1)) == 0) {
        int cap = topo->npus ? topo->npus * 2 : 8;

        topo->pus     = realloc(topo->pus, cap * sizeof(*topo->pus));
        topo->allowed = realloc(topo->allowed, cap);
        evpl_topo_abort_if(!topo->pus || !topo->allowed, "out of memory growing a topology");
    }
    topo->pus[topo->npus]     = *pu;
    topo->allowed[topo->npus] = 1;
    topo->npus++;
}

static void
topology_add_node(struct evpl_topology *topo, int node)
{
    for (int i = 0; i < topo->nnodes; i++) {
        if (topo->nodes[i] == node) {
            return;
        }
    }
    topo->nodes = realloc(topo->nodes, (topo->nnodes + 1) * sizeof(*topo->nodes));
    evpl_topo_abort_if(!topo->nodes, "out of memory growing a topology");
    topo->nodes[topo->nnodes++] = node;
}

static void
topology_clear_domains(struct evpl_topology *topo)
{
    for (int level = 0; level < EVPL_TOPOLOGY_NLEVELS; level++) {
        for (int d = 0; d < topo->ndomains[level]; d++) {
            free(topo->domains[level][d].cpus);
        }
        free(topo->domains[level]);
        topo->domains[level]  = NULL;
        topo->ndomains[level] = 0;
    }
}

static int
int_compare(const void *a, const void *b)
{
    int x = *(const int *) a, y = *(const int *) b;

    return (x > y) - (x < y);
}

static void
domain_add_cpu(struct evpl_topo_domain *domain, int cpu)
{
    domain->cpus = realloc(domain->cpus, (domain->ncpus + 1) * sizeof(int));
    evpl_topo_abort_if(!domain->cpus, "out of memory growing a topology");
    domain->cpus[domain->ncpus++] = cpu;
}

/*
 * Build the domain tables from the allowed hardware threads.  Domains appear
 * in the order their first thread appears (hwloc's order: siblings are
 * adjacent); NUMA nodes are all listed, in discovery order, CPU-less or not.
 */
static void
topology_rebuild(struct evpl_topology *topo)
{
    topology_clear_domains(topo);

    for (int level = 0; level < EVPL_TOPOLOGY_NLEVELS; level++) {
        struct evpl_topo_domain *domains;
        int                      n = 0;

        domains = calloc(topo->npus + topo->nnodes + 1, sizeof(*domains));
        evpl_topo_abort_if(!domains, "out of memory building a topology");

        if (level == EVPL_TOPOLOGY_NUMA) {
            for (int i = 0; i < topo->nnodes; i++) {
                domains[n].id   = topo->nodes[i];
                domains[n].node = topo->nodes[i];
                n++;
            }
        }

        for (int p = 0; p < topo->npus; p++) {
            const struct evpl_topo_pu *pu = &topo->pus[p];
            int                        key, d;

            if (!topo->allowed[p]) {
                continue;
            }
            key = level == EVPL_TOPOLOGY_NUMA ? pu->node : pu->key[level];
            for (d = 0; d < n; d++) {
                if (domains[d].id == key) {
                    break;
                }
            }
            if (d == n) {
                domains[n].id   = key;
                domains[n].node = pu->node;
                n++;
            }
            domain_add_cpu(&domains[d], pu->cpu);
        }

        for (int d = 0; d < n; d++) {
            if (domains[d].ncpus > 1) {
                qsort(domains[d].cpus, domains[d].ncpus, sizeof(int), int_compare);
            }
        }
        topo->domains[level]  = domains;
        topo->ndomains[level] = n;
    }
}

/* The flat machine: the CPUs of this thread's affinity mask, or every
 * configured CPU when whole_machine is set. */
static void
topology_load_flat(struct evpl_topology *topo, int whole_machine)
{
    cpu_set_t set;

    topo->cache_depth = 0;
    topology_add_node(topo, 0);

    CPU_ZERO(&set);
    if (whole_machine) {
        long n = sysconf(_SC_NPROCESSORS_CONF);

        for (long cpu = 0; cpu < n && cpu < CPU_SETSIZE; cpu++) {
            CPU_SET((int) cpu, &set);
        }
    } else if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        CPU_ZERO(&set);
    }
    if (CPU_COUNT(&set) == 0) {
        CPU_SET(0, &set);
    }
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        struct evpl_topo_pu pu;

        if (!CPU_ISSET(cpu, &set)) {
            continue;
        }
        memset(&pu, 0, sizeof(pu));
        pu.cpu                        = cpu;
        pu.node                       = 0;
        pu.key[EVPL_TOPOLOGY_CORE]    = cpu;
        pu.key[EVPL_TOPOLOGY_PU]      = cpu;
        pu.key[EVPL_TOPOLOGY_CACHE]   = 0;
        pu.key[EVPL_TOPOLOGY_PACKAGE] = 0;
        topology_add_pu(topo, &pu);
    }
}

#ifdef EVPL_HAVE_HWLOC

static int
hwloc_is_shared_cache_type(hwloc_obj_type_t type)
{
    /* Data or unified caches; instruction caches never hold buffers. */
    return hwloc_obj_type_is_dcache(type);
}

/* The deepest cache level present (3 for L3), 0 if none. */
static int
hwloc_last_cache_depth(hwloc_topology_t h)
{
    int depth = 0;

    for (int d = 0; d < hwloc_topology_get_depth(h); d++) {
        hwloc_obj_t obj = hwloc_get_obj_by_depth(h, d, 0);

        if (obj && hwloc_is_shared_cache_type(obj->type) && (int) obj->attr->cache.depth > depth) {
            depth = obj->attr->cache.depth;
        }
    }
    return depth;
}

/*
 * The NUMA node a hardware thread's memory should come from: of the nodes
 * whose CPU set holds it, the one with the fewest CPUs (the most local: a
 * memory-only node attached to a whole package or machine loses to the
 * package's own node).
 */
static int
hwloc_pu_node(hwloc_topology_t h, hwloc_obj_t pu)
{
    hwloc_obj_t node = NULL, best = NULL;
    int         best_weight = 0;

    while ((node = hwloc_get_next_obj_by_type(h, HWLOC_OBJ_NUMANODE, node)) != NULL) {
        int weight;

        if (!node->cpuset || !hwloc_bitmap_isset(node->cpuset, pu->os_index)) {
            continue;
        }
        weight = hwloc_bitmap_weight(node->cpuset);
        if (!best || weight < best_weight) {
            best        = node;
            best_weight = weight;
        }
    }
    return best ? (int) best->os_index : -1;
}

static int
topology_load_hwloc(struct evpl_topology *topo, hwloc_topology_t h, int this_system)
{
    hwloc_obj_t obj = NULL;
    cpu_set_t   affinity;
    int         have_affinity = 0;

    topo->cache_depth = hwloc_last_cache_depth(h);

    while ((obj = hwloc_get_next_obj_by_type(h, HWLOC_OBJ_NUMANODE, obj)) != NULL) {
        topology_add_node(topo, (int) obj->os_index);
    }

    /* hwloc already leaves out what the cgroup forbids; taskset narrows the
     * affinity mask only, so apply that too on the real machine. */
    if (this_system) {
        CPU_ZERO(&affinity);
        have_affinity = sched_getaffinity(0, sizeof(affinity), &affinity) == 0;
    }

    obj = NULL;
    while ((obj = hwloc_get_next_obj_by_type(h, HWLOC_OBJ_PU, obj)) != NULL) {
        struct evpl_topo_pu pu;
        hwloc_obj_t         anc;

        if (have_affinity &&
            (obj->os_index >= CPU_SETSIZE || !CPU_ISSET((int) obj->os_index, &affinity))) {
            continue;
        }

        memset(&pu, 0, sizeof(pu));
        pu.cpu                   = (int) obj->os_index;
        pu.node                  = hwloc_pu_node(h, obj);
        pu.key[EVPL_TOPOLOGY_PU] = pu.cpu;

        anc                           = hwloc_get_ancestor_obj_by_type(h, HWLOC_OBJ_PACKAGE, obj);
        pu.key[EVPL_TOPOLOGY_PACKAGE] = anc ? (int) anc->logical_index : 0;

        anc = hwloc_get_ancestor_obj_by_type(h, HWLOC_OBJ_CORE, obj);
        /* A PU without a core object is its own core. */
        pu.key[EVPL_TOPOLOGY_CORE] =
            anc ? (int) anc->logical_index : TOPOLOGY_NO_CACHE_KEY_BASE + (int) obj->logical_index;

        pu.key[EVPL_TOPOLOGY_CACHE] = TOPOLOGY_NO_CACHE_KEY_BASE + pu.key[EVPL_TOPOLOGY_PACKAGE];
        for (anc = obj->parent; anc; anc = anc->parent) {
            if (hwloc_is_shared_cache_type(anc->type) &&
                (int) anc->attr->cache.depth == topo->cache_depth) {
                pu.key[EVPL_TOPOLOGY_CACHE] = (int) anc->logical_index;
                break;
            }
        }

        if (pu.node < 0 && topo->nnodes > 0) {
            pu.node = topo->nodes[0];
        }
        topology_add_pu(topo, &pu);
    }
    return topo->npus > 0 ? 0 : -ENOENT;
}

/* Load an hwloc topology configured by setup (synthetic, XML or none). */
static struct evpl_topology *
topology_from_hwloc(const char *source, int (*setup)(hwloc_topology_t, const char *),
                    const char *arg, int use_affinity)
{
    struct evpl_topology *topo;
    hwloc_topology_t      h;
    int                   this_system;

    if (hwloc_topology_init(&h) != 0) {
        return NULL;
    }
    hwloc_topology_set_io_types_filter(h, HWLOC_TYPE_FILTER_KEEP_NONE);
    if ((setup && setup(h, arg) != 0) || hwloc_topology_load(h) != 0) {
        hwloc_topology_destroy(h);
        return NULL;
    }
    this_system = use_affinity && !setup && hwloc_topology_is_thissystem(h);

    topo = topology_alloc(source);
    if (topology_load_hwloc(topo, h, this_system) != 0) {
        hwloc_topology_destroy(h);
        evpl_topology_destroy(topo);
        return NULL;
    }
    hwloc_topology_destroy(h);
    topology_rebuild(topo);
    return topo;
}

static int
setup_synthetic(hwloc_topology_t h, const char *description)
{
    return hwloc_topology_set_synthetic(h, description);
}

static int
setup_xml(hwloc_topology_t h, const char *path)
{
    return hwloc_topology_set_xml(h, path);
}

#endif /* EVPL_HAVE_HWLOC */

int
evpl_topology_have_hwloc(void)
{
#ifdef EVPL_HAVE_HWLOC
    return 1;
#else
    return 0;
#endif
}

struct evpl_topology *
evpl_topology_discover(void)
{
    struct evpl_topology *topo;

#ifdef EVPL_HAVE_HWLOC
    topo = topology_from_hwloc("hwloc", NULL, NULL, 1);
    if (topo) {
        return topo;
    }
    topo = topology_alloc("flat (hwloc could not read this machine)");
#else
    topo = topology_alloc("flat (built without hwloc)");
#endif
    topology_load_flat(topo, 0);
    topology_rebuild(topo);
    return topo;
}

static struct evpl_topology *topology_machine;
static pthread_once_t        topology_machine_once = PTHREAD_ONCE_INIT;

static void
topology_machine_discover(void)
{
    struct evpl_topology *topo = NULL;

#ifdef EVPL_HAVE_HWLOC
    topo = topology_from_hwloc("hwloc", NULL, NULL, 0);
#endif
    if (!topo) {
        topo = topology_alloc("flat");
        topology_load_flat(topo, 1);
        topology_rebuild(topo);
    }
    topology_machine = topo;
}

const struct evpl_topology *
evpl_topology_machine(void)
{
    pthread_once(&topology_machine_once, topology_machine_discover);
    return topology_machine;
}

struct evpl_topology *
evpl_topology_from_synthetic(const char *description)
{
#ifdef EVPL_HAVE_HWLOC
    char source[160];

    if (!description) {
        return NULL;
    }
    snprintf(source, sizeof(source), "synthetic: %s", description);
    return topology_from_hwloc(source, setup_synthetic, description, 0);
#else
    (void) description;
    return NULL;
#endif
}

struct evpl_topology *
evpl_topology_from_xml(const char *path)
{
#ifdef EVPL_HAVE_HWLOC
    char source[160];

    if (!path) {
        return NULL;
    }
    snprintf(source, sizeof(source), "xml: %s", path);
    return topology_from_hwloc(source, setup_xml, path, 0);
#else
    (void) path;
    return NULL;
#endif
}

int
evpl_topology_restrict(struct evpl_topology *topology, const int *cpus, int ncpus)
{
    char *keep;
    int   kept = 0;

    if (!topology || ncpus <= 0 || !cpus) {
        return -EINVAL;
    }
    keep = calloc(topology->npus, 1);
    evpl_topo_abort_if(!keep, "out of memory restricting a topology");

    for (int p = 0; p < topology->npus; p++) {
        if (!topology->allowed[p]) {
            continue;
        }
        for (int i = 0; i < ncpus; i++) {
            if (cpus[i] == topology->pus[p].cpu) {
                keep[p] = 1;
                kept++;
                break;
            }
        }
    }
    if (kept == 0) {
        free(keep);
        return -EINVAL;
    }
    free(topology->allowed);
    topology->allowed = keep;
    topology_rebuild(topology);
    return 0;
}

void
evpl_topology_destroy(struct evpl_topology *topology)
{
    if (!topology) {
        return;
    }
    topology_clear_domains(topology);
    free(topology->pus);
    free(topology->allowed);
    free(topology->nodes);
    free(topology);
}

const char *
evpl_topology_source(const struct evpl_topology *topology)
{
    return topology->source;
}

const char *
evpl_topology_level_name(enum evpl_topology_level level)
{
    if ((int) level < 0 || level >= EVPL_TOPOLOGY_NLEVELS) {
        return NULL;
    }
    return topology_level_names[level];
}

int
evpl_topology_cache_depth(const struct evpl_topology *topology)
{
    return topology->cache_depth;
}

static const struct evpl_topo_domain *
topology_domain(const struct evpl_topology *topology, enum evpl_topology_level level, int index)
{
    if (!topology || (int) level < 0 || level >= EVPL_TOPOLOGY_NLEVELS || index < 0 ||
        index >= topology->ndomains[level]) {
        return NULL;
    }
    return &topology->domains[level][index];
}

int
evpl_topology_count(const struct evpl_topology *topology, enum evpl_topology_level level)
{
    if (!topology || (int) level < 0 || level >= EVPL_TOPOLOGY_NLEVELS) {
        return -EINVAL;
    }
    return topology->ndomains[level];
}

int
evpl_topology_domain_cpus(const struct evpl_topology *topology, enum evpl_topology_level level,
                          int index, int *cpus, int max)
{
    const struct evpl_topo_domain *domain = topology_domain(topology, level, index);

    if (!domain) {
        return -EINVAL;
    }
    for (int i = 0; i < domain->ncpus && i < max; i++) {
        cpus[i] = domain->cpus[i];
    }
    return domain->ncpus;
}

int
evpl_topology_domain_id(const struct evpl_topology *topology, enum evpl_topology_level level,
                        int index)
{
    const struct evpl_topo_domain *domain = topology_domain(topology, level, index);

    return domain ? domain->id : -EINVAL;
}

int
evpl_topology_domain_node(const struct evpl_topology *topology, enum evpl_topology_level level,
                          int index)
{
    const struct evpl_topo_domain *domain = topology_domain(topology, level, index);

    return domain ? domain->node : -1;
}

int
evpl_topology_cpu_domain(const struct evpl_topology *topology, enum evpl_topology_level level,
                         int cpu)
{
    if (!topology || (int) level < 0 || level >= EVPL_TOPOLOGY_NLEVELS) {
        return -1;
    }
    for (int d = 0; d < topology->ndomains[level]; d++) {
        const struct evpl_topo_domain *domain = &topology->domains[level][d];

        for (int i = 0; i < domain->ncpus; i++) {
            if (domain->cpus[i] == cpu) {
                return d;
            }
        }
    }
    return -1;
}
