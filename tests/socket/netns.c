/*
 * Two hosts joined by a veth pair, each in its own network namespace (inside
 * an unprivileged user namespace).  Host B (a child process) runs an echo
 * server on 10.99.0.2; host A:
 *   1. connects across the link and gets its echo;
 *   2. connects to 10.99.0.3, an address nobody answers on the link:
 *      DISCONNECTED without CONNECTED (host unreachable);
 *   3. host B vanishes -- its link is deleted and it is killed -- and A
 *      connects again: DISCONNECTED without CONNECTED, and the loop stays
 *      usable.  (The link is deleted explicitly because a killed process's
 *      namespace, and the veth end in it, is torn down asynchronously.)
 * Skips (77) where namespaces or veth devices cannot be created.
 */
#include "netns_test.h"

static int connected, disconnected, echoed;

static void
echo_server(int argc, char **argv, int ready_fd)
{
    evpl_test_init(argc, argv);
    netns_echo_serve(EVPL_STREAM_SOCKET_TCP, ready_fd);
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char buf[6] = {0};

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        connected++;
        break;
    case EVPL_NOTIFY_RECV_DATA:
        if (evpl_recv(evpl, bind, buf, 5, EVPL_RECV_FLAG_ALL_OR_NONE) == 5) {
            test_assert(strcmp(buf, "hello") == 0);
            echoed++;
            evpl_close(evpl, bind);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        disconnected++;
        break;
    }
}

static void
attempt(struct evpl *evpl, const char *host, int want_connected, int want_echo, int timeout_s)
{
    struct evpl_endpoint *ep = evpl_endpoint_create(host, NETNS_PORT);
    struct evpl_bind     *bind;
    struct timespec       start, now;
    int                   c0 = connected, d0 = disconnected, e0 = echoed;

    bind = evpl_connect(evpl, EVPL_STREAM_SOCKET_TCP, NULL, ep, client_notify, NULL, NULL);
    test_assert(bind != NULL);
    evpl_send(evpl, bind, "hello", 5);
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (disconnected == d0) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        test_assert_msg(now.tv_sec - start.tv_sec < timeout_s, "%s: no outcome after %d s", host,
                        timeout_s);
    }
    test_assert_eq(connected - c0, want_connected);
    test_assert_eq(echoed - e0, want_echo);
    evpl_endpoint_close(ep);
}

int
main(int argc, char **argv)
{
    pid_t child;

    netns_enter(argc, argv);
    child = netns_start_host_b(argc, argv, echo_server);

    evpl_test_init(argc, argv);
    struct evpl *evpl = net_loop_create();

    attempt(evpl, "10.99.0.2", 1, 1, 20); /* across the link */
    attempt(evpl, "10.99.0.3", 0, 0, 20); /* nobody there: host unreachable */

    /* Host B vanishes with its link (deleting one veth end deletes both,
     * synchronously, unlike a dying namespace). */
    test_assert(system("ip link del va") == 0);
    netns_stop_host_b(child);
    attempt(evpl, "10.99.0.2", 0, 0, 20);

    evpl_destroy(evpl);
    return 0;
}
