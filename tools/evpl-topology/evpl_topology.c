/*
 * evpl-topology: what topology discovery found and where each placement
 * policy would put a pool's loops.
 *
 *   evpl-topology [--synthetic DESC | --xml FILE] [--restrict CPULIST]
 *                 [--policy core|pu|cache|numa|cpus|all] [--cpus CPULIST]
 *                 [--loops N] [--time-pools REPEAT]
 *
 * --time-pools measures the placement overhead: the median time to create
 * and destroy a pool of the planned size, plain (evpl_threadpool_create,
 * unpinned) and placed (evpl_threadpool_create_placed), REPEAT times each.
 *
 * CPU lists are comma-separated numbers and ranges ("0-3,8").
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <evpl/evpl_topology.h>

#define MAX_LIST 4096

/* Parse "0-3,8" into cpus; returns the count or -1. */
static int
parse_cpu_list(const char *text, int *cpus, int max)
{
    int         n = 0;
    const char *p = text;

    while (*p) {
        char *end;
        long  first = strtol(p, &end, 10), last;

        if (end == p || first < 0) {
            return -1;
        }
        last = first;
        p    = end;
        if (*p == '-') {
            last = strtol(p + 1, &end, 10);
            if (end == p + 1 || last < first) {
                return -1;
            }
            p = end;
        }
        for (long c = first; c <= last; c++) {
            if (n == max) {
                return -1;
            }
            cpus[n++] = (int) c;
        }
        if (*p == ',') {
            p++;
        } else if (*p) {
            return -1;
        }
    }
    return n;
}

static void
print_cpus(const int *cpus, int n)
{
    for (int i = 0; i < n; i++) {
        int j = i;

        while (j + 1 < n && cpus[j + 1] == cpus[j] + 1) {
            j++;
        }
        if (j > i) {
            printf("%s%d-%d", i ? "," : "", cpus[i], cpus[j]);
        } else {
            printf("%s%d", i ? "," : "", cpus[i]);
        }
        i = j;
    }
}

static void
print_topology(const struct evpl_topology *topo)
{
    static int cpus[MAX_LIST];

    printf("source: %s\n", evpl_topology_source(topo));
    printf("last-level cache: %s%d\n", evpl_topology_cache_depth(topo) ? "L" : "none, level ",
           evpl_topology_cache_depth(topo));
    for (int level = EVPL_TOPOLOGY_PACKAGE; level < EVPL_TOPOLOGY_NLEVELS; level++) {
        int count = evpl_topology_count(topo, level);

        printf("%-8s %d\n", evpl_topology_level_name(level), count);
        if (level == EVPL_TOPOLOGY_PU) {
            continue;
        }
        for (int d = 0; d < count; d++) {
            int n = evpl_topology_domain_cpus(topo, level, d, cpus, MAX_LIST);

            printf("  %s %d: node %d, %d cpus: ", evpl_topology_level_name(level),
                   evpl_topology_domain_id(topo, level, d),
                   evpl_topology_domain_node(topo, level, d), n);
            print_cpus(cpus, n < MAX_LIST ? n : MAX_LIST);
            printf("\n");
        }
    }
}

static void
print_plan(const struct evpl_topology *topo, enum evpl_placement_policy policy, const int *list,
           int nlist, int nloops)
{
    static int             cpus[MAX_LIST];
    struct evpl_placement *plan = evpl_placement_create(topo, policy, list, nlist, nloops);

    printf("policy %s:", evpl_placement_policy_name(policy));
    if (!plan) {
        printf(" nothing to place on\n");
        return;
    }
    printf(" %d loops\n", evpl_placement_count(plan));
    for (int i = 0; i < evpl_placement_count(plan); i++) {
        int n = evpl_placement_loop_cpus(plan, i, cpus, MAX_LIST);

        printf("  loop %d %-15s node %d cpus ", i, evpl_placement_loop_name(plan, i),
               evpl_placement_loop_node(plan, i));
        print_cpus(cpus, n < MAX_LIST ? n : MAX_LIST);
        printf("\n");
    }
    evpl_placement_destroy(plan);
}

static int
compare_u64(const void *a, const void *b)
{
    unsigned long long x = *(const unsigned long long *) a, y = *(const unsigned long long *) b;

    return (x > y) - (x < y);
}

static unsigned long long
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Median create+destroy time of plain and placed pools of the plan's size. */
static void
time_pools(const struct evpl_topology *topo, enum evpl_placement_policy policy, const int *list,
           int nlist, int nloops, int repeat)
{
    struct evpl_placement *plan = evpl_placement_create(topo, policy, list, nlist, nloops);
    unsigned long long    *plain, *placed;
    int                    n;

    if (!plan) {
        printf("policy %s: nothing to place on\n", evpl_placement_policy_name(policy));
        return;
    }
    n      = evpl_placement_count(plan);
    plain  = calloc(repeat, sizeof(*plain));
    placed = calloc(repeat, sizeof(*placed));
    if (!plain || !placed) {
        fprintf(stderr, "evpl-topology: out of memory\n");
        exit(1);
    }
    for (int r = 0; r < repeat; r++) {
        unsigned long long t0 = now_ns();

        evpl_threadpool_destroy(evpl_threadpool_create(NULL, n, NULL, NULL, NULL));
        plain[r] = now_ns() - t0;

        t0 = now_ns();
        evpl_threadpool_destroy(evpl_threadpool_create_placed(NULL, plan, NULL, NULL, NULL));
        placed[r] = now_ns() - t0;
    }
    qsort(plain, repeat, sizeof(*plain), compare_u64);
    qsort(placed, repeat, sizeof(*placed), compare_u64);
    printf("pool of %d loops (policy %s), create+destroy median of %d: plain %.1f us, placed %.1f "
           "us\n",
           n, evpl_placement_policy_name(policy), repeat, plain[repeat / 2] / 1000.0,
           placed[repeat / 2] / 1000.0);
    free(plain);
    free(placed);
    evpl_placement_destroy(plan);
}

static void
usage(FILE *out)
{
    fprintf(out, "usage: evpl-topology [--synthetic DESC | --xml FILE] [--restrict CPULIST]\n"
                 "                     [--policy core|pu|cache|numa|cpus|all] [--cpus CPULIST]\n"
                 "                     [--loops N] [--time-pools REPEAT]\n");
}

int
main(int argc, char **argv)
{
    static const struct option options[] = {
        {"synthetic", required_argument, NULL, 's'},
        {"xml", required_argument, NULL, 'x'},
        {"restrict", required_argument, NULL, 'r'},
        {"policy", required_argument, NULL, 'p'},
        {"cpus", required_argument, NULL, 'c'},
        {"loops", required_argument, NULL, 'n'},
        {"time-pools", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static int                 list[MAX_LIST], restrict_list[MAX_LIST];
    const char                *synthetic = NULL, *xml = NULL, *policy_name = "all";
    int                        nlist = 0, nrestrict = 0, nloops = 0, repeat = 0, opt;
    struct evpl_topology      *topo;
    enum evpl_placement_policy policy = EVPL_PLACE_CORE;

    while ((opt = getopt_long(argc, argv, "s:x:r:p:c:n:t:h", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            synthetic = optarg;
            break;
        case 'x':
            xml = optarg;
            break;
        case 'p':
            policy_name = optarg;
            break;
        case 'n':
            nloops = atoi(optarg);
            break;
        case 't':
            repeat = atoi(optarg);
            break;
        case 'c':
        case 'r': {
            int n = parse_cpu_list(optarg, opt == 'c' ? list : restrict_list, MAX_LIST);

            if (n <= 0) {
                fprintf(stderr, "evpl-topology: bad CPU list '%s'\n", optarg);
                return 2;
            }
            *(opt == 'c' ? &nlist : &nrestrict) = n;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(policy_name, "all") != 0 && evpl_placement_policy_parse(policy_name, &policy)) {
        fprintf(stderr, "evpl-topology: unknown policy '%s'\n", policy_name);
        return 2;
    }
    if ((synthetic || xml) && !evpl_topology_have_hwloc()) {
        fprintf(stderr, "evpl-topology: libevpl was built without hwloc\n");
        return 1;
    }

    topo = synthetic ? evpl_topology_from_synthetic(synthetic)
           : xml     ? evpl_topology_from_xml(xml)
                     : evpl_topology_discover();
    if (!topo) {
        fprintf(stderr, "evpl-topology: hwloc rejected the %s\n",
                synthetic ? "description" : "file");
        return 1;
    }
    if (nrestrict && evpl_topology_restrict(topo, restrict_list, nrestrict) != 0) {
        fprintf(stderr, "evpl-topology: no CPU of the restriction is in the topology\n");
        evpl_topology_destroy(topo);
        return 1;
    }

    if (repeat > 0) {
        if (synthetic || xml) {
            fprintf(stderr, "evpl-topology: --time-pools runs on this machine only\n");
            evpl_topology_destroy(topo);
            return 2;
        }
        time_pools(topo, policy, list, nlist, nloops, repeat);
        evpl_topology_destroy(topo);
        return 0;
    }

    print_topology(topo);
    if (strcmp(policy_name, "all") == 0) {
        for (int p = EVPL_PLACE_CORE; p <= EVPL_PLACE_NUMA; p++) {
            print_plan(topo, (enum evpl_placement_policy) p, NULL, 0, nloops);
        }
        if (nlist) {
            print_plan(topo, EVPL_PLACE_CPUS, list, nlist, nloops);
        }
    } else {
        print_plan(topo, policy, list, nlist, nloops);
    }
    evpl_topology_destroy(topo);
    return 0;
}
