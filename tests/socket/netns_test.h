/*
 * Two hosts for the network-namespace tests: host A (the test process, in
 * its own user and network namespace) and host B (a forked child in a
 * network namespace of its own), joined by a veth pair -- va 10.99.0.1 on A,
 * vb 10.99.0.2 on B.  Host B runs an echo server on NETNS_PORT; everything
 * that cannot be set up fails the test with a message saying what (unshare
 * is a required tool, tests/common/test.c); host B's own failure is reported
 * when it is stopped (netns_stop_host_b).
 *
 *   netns_enter(argc, argv)          first thing in main(): re-executes the
 *                                    test under `unshare -rn` (argv kept)
 *   netns_start_host_b(argc, argv, start_server)
 *                                    forks host B, builds the link, and
 *                                    returns once B's server listens;
 *                                    start_server runs in B, inside its
 *                                    namespace, and must not return
 *   netns_echo_attach                an attach callback that echoes bytes
 *                                    (streams) or messages
 */
#pragma once

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "net_test.h"

#define NETNS_PORT 8000

static inline void
netns_enter(int argc, char **argv)
{
    char *args[8];
    int   n = 0;

    if (getenv("EVPL_TEST_NETNS")) {
        if (system("ip link set lo up") != 0) {
            test_fail("cannot configure the network namespace (ip link set lo up)");
        }
        return;
    }
    setenv("EVPL_TEST_NETNS", "1", 1);
    args[n++] = "unshare";
    args[n++] = "-rn";
    for (int i = 0; i < argc && n < 7; i++) {
        args[n++] = argv[i];
    }
    args[n] = NULL;
    execvp("unshare", args);
    evpl_test_unavailable("unshare", "cannot be run");
}

static void
netns_echo_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char buf[64];
    int  n;

    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_DATA) {
        while ((n = evpl_recv(evpl, bind, buf, sizeof(buf), 0)) > 0) {
            evpl_send(evpl, bind, buf, n);
        }
    } else if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
        evpl_sendv(evpl, bind, notify->recv_msg.iovec, notify->recv_msg.niov,
                   notify->recv_msg.length, EVPL_SEND_FLAG_TAKE_REF);
    }
}

TEST_ATTACH_NOTIFY(netns_echo_attach, netns_echo_notify)

/* Host B's server body: an echo listener on NETNS_PORT over protocol; one
 * byte to ready_fd once it listens; never returns (host A kills it). */
static void
netns_echo_serve(enum evpl_protocol_id protocol, int ready_fd)
{
    struct evpl          *evpl     = evpl_create(NULL);
    struct evpl_listener *listener = evpl_listener_create();
    struct evpl_endpoint *ep       = evpl_endpoint_create("0.0.0.0", NETNS_PORT);
    char                  c        = 0;

    evpl_listener_attach(evpl, listener, netns_echo_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, ep), 0);
    test_assert(write(ready_fd, &c, 1) == 1);
    while (1) {
        evpl_continue(evpl);
    }
}

/* Host B: its namespace and address, then the caller's server (which
 * writes one byte to ready_fd once it listens, and never returns). */
static void
netns_host_b(int argc, char **argv, int ready_fd, int go_fd,
             void (*start_server)(int argc, char **argv, int ready_fd))
{
    char c = 0;

    /* Host B must not outlive a failing host A (ctest would wait for it). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (unshare(CLONE_NEWNET) != 0) {
        test_fail("host B: unshare(CLONE_NEWNET): %s", strerror(errno));
    }
    test_assert(write(ready_fd, &c, 1) == 1);
    test_assert(read(go_fd, &c, 1) == 1);
    if (system("ip link set lo up && ip addr add 10.99.0.2/24 dev vb && ip link set vb up") != 0) {
        test_fail("host B: cannot configure its end of the link");
    }
    start_server(argc, argv, ready_fd);
    _exit(0);
}

static inline pid_t
netns_start_host_b(int argc, char **argv, void (*start_server)(int argc, char **argv, int ready_fd))
{
    int   ready[2], go[2], status;
    char  c = 0, cmd[256];
    pid_t child;

    test_assert(pipe(ready) == 0 && pipe(go) == 0);
    child = fork();
    test_assert(child >= 0);
    if (child == 0) {
        close(ready[0]);
        close(go[1]);
        netns_host_b(argc, argv, ready[1], go[0], start_server);
    }
    /* Only host B may hold these ends: a B that dies makes read() return 0
     * at once, instead of a ctest timeout. */
    close(ready[1]);
    close(go[0]);
    if (read(ready[0], &c, 1) != 1) {
        waitpid(child, &status, 0);
        test_fail("host B could not create its namespace (status 0x%x)", status);
    }
    snprintf(cmd, sizeof(cmd),
             "ip link add va type veth peer name vb && ip link set vb netns %d && "
             "ip addr add 10.99.0.1/24 dev va && ip link set va up",
             (int) child);
    if (system(cmd) != 0) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        test_fail("cannot create a veth pair");
    }
    test_assert(write(go[1], &c, 1) == 1);
    if (read(ready[0], &c, 1) != 1) {
        waitpid(child, &status, 0);
        test_fail("host B could not start its server (status 0x%x)", status);
    }
    close(ready[0]);
    close(go[1]);
    return child;
}

/* Stop host B; it must still have been running (a B that exited by itself
 * failed, or skipped, and its status would otherwise be lost). */
static inline void
netns_stop_host_b(pid_t child)
{
    int status;

    kill(child, SIGKILL);
    test_assert(waitpid(child, &status, 0) == child);
    test_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                    "host B ended by itself (status 0x%x) before it was stopped", status);
}
