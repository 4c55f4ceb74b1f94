/*
 * Running out of descriptors during accept: with RLIMIT_NOFILE lowered so
 * only a few more descriptors can be opened, 40 clients connect.  The
 * listener accepts what it can, backs off instead of spinning, and once the
 * limit is raised again accepts every remaining connection (nothing is lost
 * or leaked).  Clients are raw sockets created before the limit drops.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include "net_test.h"

#define NCLIENTS 40

static atomic_int accepted, starved_reports;

/* The listener reports running out of descriptors once per episode. */
static void
log_observer(const char *level, const char *module, const char *srcfile, int lineno,
             const char *fmt, va_list argp)
{
    char line[256];

    (void) level;
    (void) module;
    (void) srcfile;
    (void) lineno;
    vsnprintf(line, sizeof(line), fmt, argp);
    if (strstr(line, "Too many open files")) {
        atomic_fetch_add(&starved_reports, 1);
    }
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) evpl;
    (void) bind;
    (void) notify;
    (void) data;
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

static int
highest_fd(void)
{
    DIR           *d = opendir("/proc/self/fd");
    struct dirent *e;
    int            max = 0;

    test_assert(d != NULL);
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        max    = fd > max ? fd : max;
    }
    closedir(d);
    return max;
}

static void
pump_for(struct evpl *evpl, int ms)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
}

int
main(int argc, char **argv)
{
    struct evpl_global_config    *config;
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl_endpoint         *endpoint;
    struct evpl                  *evpl;
    struct sockaddr_in            sin = {.sin_family = AF_INET};
    struct rlimit                 saved, low;
    int                           clients[NCLIENTS];
    /* The listener logs running out of descriptors while it retries. */
    evpl_test_log_expect("Too many open files");
    evpl_test_log_observe(log_observer);

    config = evpl_test_config(argc, argv);
    evpl_global_config_set_max_pending(config, 128);
    evpl_init(config);
    endpoint = evpl_endpoint_create("127.0.0.1", net_free_port(SOCK_STREAM));
    evpl     = net_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, EVPL_STREAM_SOCKET_TCP, endpoint), 0);

    sin.sin_port        = htons(evpl_endpoint_port(endpoint));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < NCLIENTS; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        test_assert(clients[i] >= 0);
    }

    test_assert(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    low          = saved;
    low.rlim_cur = highest_fd() + 1 + 10;
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) {
        test_skip("cannot lower RLIMIT_NOFILE: %s", strerror(errno));
    }

    /* fill every free slot, then give back exactly ten */
    int fillers[4096], nfill = 0;
    while (nfill < 4096 && (fillers[nfill] = open("/dev/null", O_RDONLY)) >= 0) {
        nfill++;
    }
    test_assert(errno == EMFILE && nfill >= 10);
    for (int i = 0; i < 10; i++) {
        close(fillers[--nfill]);
    }

    for (int i = 0; i < NCLIENTS; i++) {
        int rc = connect(clients[i], (struct sockaddr *) &sin, sizeof(sin));
        test_assert(rc == 0 || errno == EINPROGRESS);
    }
    /* Events, not a time window (a loaded machine may take long to accept):
     * the listener has reported the limit and handed over what it could. */
    {
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (atomic_load(&starved_reports) == 0 || atomic_load(&accepted) == 0) {
            evpl_continue(evpl);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            test_assert_msg(t1.tv_sec - t0.tv_sec < 30, "no accept or no EMFILE report (%d, %d)",
                            atomic_load(&accepted), atomic_load(&starved_reports));
        }
    }
    pump_for(evpl, 100); /* ten retries meanwhile */
    int stalled = atomic_load(&accepted);
    test_assert_msg(stalled > 0 && stalled < NCLIENTS, "accepted %d of %d under the limit", stalled,
                    NCLIENTS);
    /* It backs off: one report for the episode, not one per retry. */
    test_assert_eq(atomic_load(&starved_reports), 1);

    /* descriptors become available again: the listener recovers */
    test_assert(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(&accepted) < NCLIENTS) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        test_assert_msg(now.tv_sec - start.tv_sec < 10, "accepted only %d after recovery",
                        atomic_load(&accepted));
    }

    for (int i = 0; i < NCLIENTS; i++) {
        close(clients[i]);
    }
    while (nfill > 0) {
        close(fillers[--nfill]);
    }
    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
