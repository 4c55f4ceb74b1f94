/*
 * 10,000 simultaneous connections: a client loop opens them all, each
 * exchanges one byte with the server (two attached loop threads), all are
 * open at the same moment, then the client closes them.  Every server-side
 * connection must see DISCONNECTED, and once the loops and the listener are
 * gone the process holds exactly the descriptors it had before (nothing
 * leaked).  The client runs in a second process so each side needs only
 * ~10,100 descriptors (skips when the hard limit is lower); epoll only
 * (select cannot watch descriptors above FD_SETSIZE; skipped there).
 */
#include <dirent.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "net_test.h"

#define NCONNS   10000
#define NSERVERS 2

struct server {
    pthread_t                     thread;
    struct evpl                  *evpl;
    struct evpl_listener_binding *binding;
    atomic_int                    ready, stop;
};

static struct evpl_listener *listener;
static struct evpl_endpoint *endpoint;
static struct server         servers[NSERVERS];
static atomic_int            server_live, server_total, server_closed;
static int                   client_connected, client_echoed, client_closed;
static struct evpl_bind     *conns[NCONNS];

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char c;

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_DATA:
        while (evpl_recv(evpl, bind, &c, 1, 0) == 1) {
            evpl_send(evpl, bind, &c, 1);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_sub(&server_live, 1);
        atomic_fetch_add(&server_closed, 1);
        break;
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
    atomic_fetch_add(&server_live, 1);
    atomic_fetch_add(&server_total, 1);
    *notify_callback = server_notify;
}

static void *
server_thread(void *arg)
{
    struct server *s = arg;

    s->evpl    = net_loop_create();
    s->binding = evpl_listener_attach(s->evpl, listener, server_attach, s);
    atomic_store(&s->ready, 1);
    while (!atomic_load(&s->stop)) {
        evpl_continue(s->evpl);
    }
    evpl_listener_detach(s->evpl, s->binding);
    evpl_destroy(s->evpl);
    return NULL;
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char c;

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        client_connected++;
        break;
    case EVPL_NOTIFY_RECV_DATA:
        if (evpl_recv(evpl, bind, &c, 1, 0) == 1) {
            test_assert(c == 'x');
            client_echoed++;
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        client_closed++;
        break;
    }
}

static int
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int  n = 0;

    test_assert(d != NULL);
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n;
}

static void
pump(struct evpl *evpl, int (*done)(void), const char *what)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!done()) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        test_assert_msg(now.tv_sec - start.tv_sec < 60, "timed out waiting for %s (%d/%d/%d)", what,
                        client_connected, client_echoed, client_closed);
    }
}

static int
all_echoed(void)
{
    return client_echoed == NCONNS;
}

/* The client half, in a child process (each side needs ~10,000 fds). */
static int
client_main(int argc, char **argv, int port, int to_parent, int from_parent)
{
    struct evpl *evpl;
    char         c = 0;

    evpl_test_init(argc, argv);
    endpoint = evpl_endpoint_create("127.0.0.1", port);
    evpl     = net_loop_create();
    for (int i = 0; i < NCONNS; i++) {
        conns[i] =
            evpl_connect(evpl, EVPL_STREAM_SOCKET_TCP, NULL, endpoint, client_notify, NULL, NULL);
        test_assert(conns[i] != NULL);
        evpl_send(evpl, conns[i], "x", 1);
        if (i % 500 == 499) {
            evpl_continue(evpl); /* let the backlog drain */
        }
    }
    pump(evpl, all_echoed, "echoes");
    test_assert_eq(client_connected, NCONNS);

    /* all open now: let the parent check its side, then close them all */
    test_assert(write(to_parent, &c, 1) == 1);
    test_assert(read(from_parent, &c, 1) == 1);
    for (int i = 0; i < NCONNS; i++) {
        evpl_close(evpl, conns[i]);
    }
    while (client_closed < NCONNS) {
        evpl_continue(evpl);
    }
    evpl_destroy(evpl);
    return 0;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config;
    struct rlimit              rl;
    int                        fds_before, port, status;
    int                        up[2], down[2];
    pid_t                      child;
    char                       c = 0;

    if (argc == 6 && strcmp(argv[2], "client") == 0) {
        return client_main(2, argv, atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    }
    if (strcmp(evpl_test_mech_name(argc, argv), "select") == 0) {
        test_skip("select cannot watch %d descriptors", NCONNS);
    }
    test_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_max < NCONNS + 200) {
        test_skip("RLIMIT_NOFILE hard limit %llu is too low", (unsigned long long) rl.rlim_max);
    }
    rl.rlim_cur = rl.rlim_max;
    test_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);

    port = net_free_port(SOCK_STREAM);
    test_assert(pipe(up) == 0 && pipe(down) == 0);

    config = evpl_test_config(argc, argv);
    evpl_global_config_set_max_pending(config, 4096);
    evpl_init(config);
    endpoint   = evpl_endpoint_create("127.0.0.1", port);
    fds_before = count_fds();

    listener = evpl_listener_create();
    for (int i = 0; i < NSERVERS; i++) {
        pthread_create(&servers[i].thread, NULL, server_thread, &servers[i]);
        while (!atomic_load(&servers[i].ready)) {
            usleep(1000);
        }
    }
    test_assert_eq(evpl_listen(listener, EVPL_STREAM_SOCKET_TCP, endpoint), 0);

    /* exec a fresh copy as the client: forking a threaded process is unsafe */
    child = fork();
    test_assert(child >= 0);
    if (child == 0) {
        char port_s[16], up_s[16], down_s[16];
        snprintf(port_s, sizeof(port_s), "%d", port);
        snprintf(up_s, sizeof(up_s), "%d", up[1]);
        snprintf(down_s, sizeof(down_s), "%d", down[0]);
        execl("/proc/self/exe", argv[0], evpl_test_mech_name(argc, argv), "client", port_s, up_s,
              down_s, (char *) NULL);
        _exit(1);
    }
    test_assert(read(up[0], &c, 1) == 1);
    test_assert_eq(atomic_load(&server_live), NCONNS); /* all open at once */
    test_assert(write(down[1], &c, 1) == 1);

    waitpid(child, &status, 0);
    test_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client failed");
    while (atomic_load(&server_closed) < NCONNS) {
        usleep(1000);
    }
    test_assert_eq(atomic_load(&server_total), NCONNS);

    for (int i = 0; i < NSERVERS; i++) {
        atomic_store(&servers[i].stop, 1);
        pthread_join(servers[i].thread, NULL);
    }
    evpl_listener_destroy(listener);
    test_assert_eq(count_fds(), fds_before);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
    evpl_endpoint_close(endpoint);
    return 0;
}
