/*
 * AF_UNIX listening rules (contract 6.4, 19.2): listening on a path a live
 * server owns returns -1 and the live server observes the probe connection;
 * a stale socket file is replaced; a path that is not a socket is never
 * removed; an unwritable directory fails; the listener keeps working after
 * each failure; renderings "unix:<path>" and "unix:*"; the socket file is
 * removed when the listener is destroyed.  Abstract names too.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "net_test.h"

static atomic_int accepted, disconnected, client_done;
static char       server_local[EVPL_ADDRESS_STRLEN], server_remote[EVPL_ADDRESS_STRLEN];

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) evpl;
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_CONNECTED) {
        evpl_bind_get_local_address(bind, server_local, sizeof(server_local));
        evpl_bind_get_remote_address(bind, server_remote, sizeof(server_remote));
    }
    if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_fetch_add(&disconnected, 1);
    }
}

static void
server_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    (void) evpl;
    (void) bind;
    (void) segment_callback;
    (void) conn_private_data;
    (void) private_data;
    atomic_fetch_add(&accepted, 1);
    *notify_callback = server_notify;
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char buf[EVPL_ADDRESS_STRLEN];

    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_CONNECTED) {
        evpl_bind_get_remote_address(bind, buf, sizeof(buf));
        test_assert(strncmp(buf, "unix:", 5) == 0);
        /* 8-byte buffer: 7 characters and the NUL */
        memset(buf, 'X', sizeof(buf));
        evpl_bind_get_remote_address(bind, buf, 8);
        test_assert_eq(strlen(buf), 7);
        test_assert(buf[8] == 'X');
        evpl_close(evpl, bind);
    }
    if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_store(&client_done, 1);
    }
}

static void
wait_for(struct evpl *evpl, atomic_int *v, int want)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(v) < want) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        test_assert_msg(now.tv_sec - start.tv_sec < 10, "timed out");
    }
}

/* Connect a library client and wait for both ends to finish. */
static void
round_trip(struct evpl *evpl, struct evpl_endpoint *ep)
{
    int before = atomic_load(&accepted);

    atomic_store(&client_done, 0);
    test_assert(evpl_connect(evpl, EVPL_STREAM_SOCKET_UNIX, NULL, ep, client_notify, NULL, NULL) !=
                NULL);
    wait_for(evpl, &client_done, 1);
    /* every server-side connection so far (probes included) has ended */
    wait_for(evpl, &disconnected, before + 1);
}

int
main(int argc, char **argv)
{
    struct evpl_listener         *l1, *l2;
    struct evpl_listener_binding *b1, *b2;
    struct evpl_endpoint         *ep, *bad, *abs_ep;
    struct evpl                  *evpl;
    char                          path[108], stale[108], notsock[108], abstract[64], want[160];
    struct stat                   st;
    int                           fd;
    /* Listening on a path a live server holds is refused with an error log. */
    evpl_test_log_expect("a live server is listening there");
    evpl_test_log_expect("evpl_listen: STREAM_SOCKET_UNIX on");

    evpl_test_init(argc, argv);
    evpl = net_loop_create();
    snprintf(path, sizeof(path), "/tmp/evpl-unix-%d.sock", (int) getpid());
    snprintf(stale, sizeof(stale), "/tmp/evpl-unix-%d-stale.sock", (int) getpid());
    snprintf(notsock, sizeof(notsock), "/tmp/evpl-unix-%d-file", (int) getpid());
    snprintf(abstract, sizeof(abstract), "@evpl-unix-%d", (int) getpid());
    unlink(path);

    l1 = evpl_listener_create();
    b1 = evpl_listener_attach(evpl, l1, server_attach, NULL);
    ep = evpl_endpoint_create_local(path);
    test_assert_eq(evpl_listen(l1, EVPL_STREAM_SOCKET_UNIX, ep), 0);
    test_assert(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));

    /* renderings: accepting side sees its path and an unnamed peer */
    round_trip(evpl, ep);
    snprintf(want, sizeof(want), "unix:%s", path);
    test_assert_msg(strcmp(server_local, want) == 0, "local '%s'", server_local);
    test_assert_msg(strcmp(server_remote, "unix:*") == 0, "remote '%s'", server_remote);

    /* a second listener on the live path: -1, and the probe is observed */
    l2    = evpl_listener_create();
    b2    = evpl_listener_attach(evpl, l2, server_attach, NULL);
    int n = atomic_load(&accepted);
    test_assert_eq(evpl_listen(l2, EVPL_STREAM_SOCKET_UNIX, ep), -1);
    wait_for(evpl, &accepted, n + 1);
    test_assert(stat(path, &st) == 0 && S_ISSOCK(st.st_mode)); /* not removed */

    /* unwritable directory */
    bad = evpl_endpoint_create_local("/proc/evpl-test.sock");
    test_assert_eq(evpl_listen(l2, EVPL_STREAM_SOCKET_UNIX, bad), -1);
    evpl_endpoint_close(bad);

    /* a regular file is never removed */
    fd = open(notsock, O_CREAT | O_WRONLY, 0600);
    test_assert(fd >= 0);
    close(fd);
    bad = evpl_endpoint_create_local(notsock);
    test_assert_eq(evpl_listen(l2, EVPL_STREAM_SOCKET_UNIX, bad), -1);
    test_assert(stat(notsock, &st) == 0 && S_ISREG(st.st_mode));
    unlink(notsock);
    evpl_endpoint_close(bad);

    /* a stale socket file (bound, nobody listening) is replaced */
    {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        unlink(stale);
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", stale);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        test_assert(bind(fd, (struct sockaddr *) &sun, sizeof(sun)) == 0);
        close(fd);
        bad = evpl_endpoint_create_local(stale);
        test_assert_eq(evpl_listen(l2, EVPL_STREAM_SOCKET_UNIX, bad), 0);
        round_trip(evpl, bad);
    }

    /* abstract names; a second listen on the same name fails */
    abs_ep = evpl_endpoint_create_local(abstract);
    test_assert_eq(evpl_listen(l2, EVPL_STREAM_SOCKET_UNIX, abs_ep), 0);
    test_assert_eq(evpl_listen(l1, EVPL_STREAM_SOCKET_UNIX, abs_ep), -1);
    round_trip(evpl, abs_ep);
    snprintf(want, sizeof(want), "unix:%s", abstract);
    test_assert_msg(strcmp(server_local, want) == 0, "local '%s'", server_local);

    /* the first listener still works after all those failures */
    round_trip(evpl, ep);

    /* A.18: destroying a listener with a binding still attached is
     * tolerated; the binding becomes inert and is detached afterwards */
    evpl_listener_destroy(l2);
    test_assert(stat(stale, &st) != 0); /* removed with its listener */
    evpl_continue(evpl);
    evpl_listener_detach(evpl, b2);
    evpl_listener_detach(evpl, b1);
    evpl_listener_destroy(l1);
    test_assert(stat(path, &st) != 0);
    evpl_endpoint_close(bad);
    evpl_endpoint_close(ep);
    evpl_endpoint_close(abs_ep);
    evpl_destroy(evpl);
    return 0;
}
