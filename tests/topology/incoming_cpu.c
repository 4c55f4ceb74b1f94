/*
 * INCOMING_CPU listener steering: two loops pinned one to each of two CPUs
 * (a placed pool) attach to a TCP listener; clients connect from a thread
 * pinned to one CPU or the other.  On loopback the kernel reports, as the
 * accepted socket's SO_INCOMING_CPU, the CPU the connecting thread ran on
 * (checked here first with a plain socket pair), so every connection must
 * land on the loop pinned to its client's CPU, in any order of CPUs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include <evpl/evpl_topology.h>

#define NLOOPS 2
#define NCONNS 12

struct loop {
    struct evpl                  *evpl;
    struct evpl_listener_binding *binding;
    atomic_int                    accepted;
};

static struct loop           loops[NLOOPS];
static atomic_int            nloops_ready;
static struct evpl_listener *listener;

static void
conn_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char buf[64];

    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_DATA) {
        while (evpl_recv(evpl, bind, buf, sizeof(buf), 0) > 0) {
        }
    }
}

static void
conn_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
            evpl_segment_callback_t *segment_callback, void **conn_private_data, void *private_data)
{
    struct loop *loop = private_data;

    (void) bind;
    (void) segment_callback;
    (void) conn_private_data;
    test_assert(loop->evpl == evpl);
    atomic_fetch_add(&loop->accepted, 1);
    *notify_callback = conn_notify;
}

/* Pool threads start one at a time, in plan order. */
static void *
loop_init(struct evpl *evpl, void *private_data)
{
    struct loop *loop = &loops[atomic_load(&nloops_ready)];

    (void) private_data;
    loop->evpl    = evpl;
    loop->binding = evpl_listener_attach(evpl, listener, conn_attach, loop);
    atomic_fetch_add(&nloops_ready, 1);
    return loop;
}

static void
loop_shutdown(struct evpl *evpl, void *private_data)
{
    struct loop *loop = private_data;

    evpl_listener_detach(evpl, loop->binding);
}

static void
pin_self(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    test_assert(sched_setaffinity(0, sizeof(set), &set) == 0);
}

static int
connect_to(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    int                fd  = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(fd >= 0);
    test_assert(connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    return fd;
}

/* What does this kernel report on loopback?  The test's premise. */
static int
loopback_reports_sender_cpu(int cpu)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          len = sizeof(sin);
    int                lfd = socket(AF_INET, SOCK_STREAM, 0), cfd, afd, got = -1;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(bind(lfd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    test_assert(listen(lfd, 4) == 0);
    test_assert(getsockname(lfd, (struct sockaddr *) &sin, &len) == 0);
    pin_self(cpu);
    cfd = connect_to(ntohs(sin.sin_port));
    afd = accept(lfd, NULL, NULL);
    test_assert(afd >= 0);
    len = sizeof(got);
    if (getsockopt(afd, SOL_SOCKET, SO_INCOMING_CPU, &got, &len) != 0) {
        got = -1;
    }
    close(afd);
    close(cfd);
    close(lfd);
    return got == cpu;
}

static int
free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          len = sizeof(sin);
    int                fd  = socket(AF_INET, SOCK_STREAM, 0), port;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    test_assert(getsockname(fd, (struct sockaddr *) &sin, &len) == 0);
    port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config;
    struct evpl_topology      *topo;
    struct evpl_placement     *plan;
    struct evpl_threadpool    *pool;
    struct evpl_endpoint      *endpoint;
    cpu_set_t                  all;
    int                        cpus[NLOOPS], ncpus = 0, port, fds[NCONNS];

    test_assert(sched_getaffinity(0, sizeof(all), &all) == 0);
    for (int cpu = 0; cpu < CPU_SETSIZE && ncpus < NLOOPS; cpu++) {
        if (CPU_ISSET(cpu, &all)) {
            cpus[ncpus++] = cpu;
        }
    }
    if (ncpus < NLOOPS) {
        test_skip("needs two CPUs, this process may use %d", ncpus);
    }
    for (int i = 0; i < NLOOPS; i++) {
        if (!loopback_reports_sender_cpu(cpus[i])) {
            test_skip("loopback does not report the connecting CPU as SO_INCOMING_CPU here");
        }
    }
    test_assert(sched_setaffinity(0, sizeof(all), &all) == 0);

    config = evpl_test_config(argc, argv);
    evpl_global_config_set_listener_policy(config, EVPL_LISTENER_POLICY_INCOMING_CPU);
    evpl_init(config);

    port     = free_port();
    endpoint = evpl_endpoint_create("127.0.0.1", port);
    listener = evpl_listener_create();
    test_assert_eq(evpl_listen(listener, EVPL_STREAM_SOCKET_TCP, endpoint), 0);

    topo = evpl_topology_discover();
    plan = evpl_placement_create(topo, EVPL_PLACE_CPUS, cpus, NLOOPS, 0);
    test_assert_eq(evpl_placement_count(plan), NLOOPS);
    pool = evpl_threadpool_create_placed(NULL, plan, loop_init, loop_shutdown, NULL);
    test_assert(pool != NULL);
    test_assert_eq(atomic_load(&nloops_ready), NLOOPS);

    /* CPUs in an order round-robin steering could not follow: 0 0 1 0 1 1 ... */
    for (int k = 0; k < NCONNS; k++) {
        int             want = (k * 7 / 3) % NLOOPS, before[NLOOPS];
        struct timespec start, now;

        for (int i = 0; i < NLOOPS; i++) {
            before[i] = atomic_load(&loops[i].accepted);
        }
        pin_self(cpus[want]);
        fds[k] = connect_to(port);

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
            int total = 0;

            for (int i = 0; i < NLOOPS; i++) {
                total += atomic_load(&loops[i].accepted) - before[i];
            }
            if (total == 1) {
                break;
            }
            test_assert_eq(total, 0);
            clock_gettime(CLOCK_MONOTONIC, &now);
            test_assert_msg(now.tv_sec - start.tv_sec < 30, "connection %d never accepted", k);
            usleep(1000);
        }
        test_assert_msg(atomic_load(&loops[want].accepted) == before[want] + 1,
                        "connection %d from CPU %d did not land on the loop pinned there", k,
                        cpus[want]);
    }
    test_assert(sched_setaffinity(0, sizeof(all), &all) == 0);

    for (int k = 0; k < NCONNS; k++) {
        close(fds[k]);
    }
    evpl_threadpool_destroy(pool);
    evpl_listener_destroy(listener);
    evpl_placement_destroy(plan);
    evpl_topology_destroy(topo);
    evpl_endpoint_close(endpoint);
    return 0;
}
