/*
 * The TCP liveness options (evpl_global_config_set_tcp_keepalive /
 * _set_tcp_user_timeout_ms) are really set on both ends of a connection of
 * the TCP-based protocol argv[2], for the settings of argv[3]:
 *   default   keepalive on, 60 s / 10 s / 6 probes, user timeout 120000 ms;
 *   custom    keepalive 1 s / 1 s / 2, user timeout 2000 ms;
 *   derived   keepalive 5 s / 2 s / 3 and no explicit user timeout: the
 *             timeout follows (11000 ms); invalid settings made afterwards
 *             are refused and change nothing;
 *   off       keepalive off: SO_KEEPALIVE 0 and no user timeout;
 *   explicit  keepalive off but an explicit user timeout of 3000 ms.
 * The library has no fd getter, so the test finds the two sockets itself:
 * among its open descriptors, the TCP sockets whose local and peer addresses
 * are the bind's (client) or the bind's swapped (accepted side).
 */
#include <dirent.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "net_test.h"

struct expect {
    int keepalive, idle, interval, count, user_timeout;
};

static enum evpl_protocol_id protocol;
static atomic_int            client_up, server_up, client_gone, server_gone;

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) bind;
    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        atomic_store(&server_up, 1);
        break;
    case EVPL_NOTIFY_RECV_MSG:
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_store(&server_gone, 1);
        break;
    }
}

TEST_ATTACH_NOTIFY(server_attach, server_notify)

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) evpl;
    (void) bind;
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_CONNECTED) {
        atomic_store(&client_up, 1);
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_store(&client_gone, 1);
    }
}

/* The library's rendering of an inet socket address (API §5.2). */
static void
render(const struct sockaddr_storage *ss, char *str, size_t len)
{
    char text[INET6_ADDRSTRLEN];

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
        snprintf(str, len, "%s:%u", text, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
        snprintf(str, len, "[%s]:%u", text, ntohs(sin6->sin6_port));
    } else {
        snprintf(str, len, "?");
    }
}

/* The descriptor of the TCP socket from local to peer (rendered), or -1. */
static int
find_socket(const char *local, const char *peer)
{
    DIR           *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int            found = -1;

    test_assert(dir != NULL);
    while (found < 0 && (de = readdir(dir)) != NULL) {
        struct sockaddr_storage ss;
        socklen_t               len = sizeof(ss);
        struct stat             st;
        char                    a[EVPL_ADDRESS_STRLEN], b[EVPL_ADDRESS_STRLEN];
        int                     fd = atoi(de->d_name);

        if (de->d_name[0] == '.' || fd == dirfd(dir) || fstat(fd, &st) != 0 ||
            !S_ISSOCK(st.st_mode)) {
            continue;
        }
        if (getsockname(fd, (struct sockaddr *) &ss, &len) != 0) {
            continue;
        }
        render(&ss, a, sizeof(a));
        len = sizeof(ss);
        if (getpeername(fd, (struct sockaddr *) &ss, &len) != 0) {
            continue;
        }
        render(&ss, b, sizeof(b));
        if (strcmp(a, local) == 0 && strcmp(b, peer) == 0) {
            found = fd;
        }
    }
    closedir(dir);
    return found;
}

static int
getopt_int(int fd, int level, int name)
{
    int       value = -1;
    socklen_t len   = sizeof(value);

    test_assert(getsockopt(fd, level, name, &value, &len) == 0);
    return value;
}

static void
check_socket(int fd, const char *side, const struct expect *e)
{
    int keepalive = getopt_int(fd, SOL_SOCKET, SO_KEEPALIVE) != 0;

    test_assert_msg(fd >= 0, "%s socket not found", side);
    test_assert_eq(getopt_int(fd, IPPROTO_TCP, TCP_NODELAY) != 0, 1);
    test_assert_msg(keepalive == e->keepalive, "%s: SO_KEEPALIVE %d, expected %d", side, keepalive,
                    e->keepalive);
    if (e->keepalive) {
        test_assert_eq(getopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE), e->idle);
        test_assert_eq(getopt_int(fd, IPPROTO_TCP, TCP_KEEPINTVL), e->interval);
        test_assert_eq(getopt_int(fd, IPPROTO_TCP, TCP_KEEPCNT), e->count);
    }
    test_assert_eq(getopt_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), e->user_timeout);
}

int
main(int argc, char **argv)
{
    struct evpl_global_config    *config = evpl_test_config(argc, argv);
    const char                   *mode   = argc > 3 ? argv[3] : "default";
    struct expect                 e      = {1, 60, 10, 6, 120000};
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl_endpoint         *endpoint;
    struct evpl_bind             *bind;
    struct evpl                  *evpl;
    char                          local[EVPL_ADDRESS_STRLEN], remote[EVPL_ADDRESS_STRLEN];

    evpl_global_config_set_tls_verify_peer(config, 0);
    if (strcmp(mode, "custom") == 0) {
        evpl_global_config_set_tcp_keepalive(config, 1, 1, 2);
        evpl_global_config_set_tcp_user_timeout_ms(config, 2000);
        e = (struct expect){1, 1, 1, 2, 2000};
    } else if (strcmp(mode, "derived") == 0) {
        evpl_global_config_set_tcp_keepalive(config, 5, 2, 3);
        /* Refused (error log), the previous setting stays. */
        evpl_test_log_expect("invalid TCP keepalive");
        evpl_test_log_expect("user timeout");
        evpl_global_config_set_tcp_keepalive(config, 7, 0, 3);
        evpl_global_config_set_tcp_keepalive(config, 7, 1, 128);
        evpl_global_config_set_tcp_keepalive(config, 32768, 1, 1);
        evpl_global_config_set_tcp_user_timeout_ms(config, 0x80000000u);
        e = (struct expect){1, 5, 2, 3, 11000};
    } else if (strcmp(mode, "off") == 0) {
        evpl_global_config_set_tcp_keepalive(config, 0, 0, 0);
        e = (struct expect){0, 0, 0, 0, 0};
    } else if (strcmp(mode, "explicit") == 0) {
        evpl_global_config_set_tcp_user_timeout_ms(config, 3000);
        evpl_global_config_set_tcp_keepalive(config, 0, 0, 0);
        e = (struct expect){0, 0, 0, 0, 3000};
    } else {
        test_assert(strcmp(mode, "default") == 0);
    }
    evpl_init(config);
    protocol = net_protocol(argc, argv);
    endpoint = net_endpoint(protocol, "tcp_options");

    evpl     = net_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);

    bind = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, NULL);
    test_assert(bind != NULL);
    net_run_until(evpl, &client_up, 20);
    net_run_until(evpl, &server_up, 20);

    evpl_bind_get_local_address(bind, local, sizeof(local));
    evpl_bind_get_remote_address(bind, remote, sizeof(remote));
    check_socket(find_socket(local, remote), "client", &e);
    check_socket(find_socket(remote, local), "accepted", &e);

    evpl_close(evpl, bind);
    net_run_until(evpl, &client_gone, 20);
    net_run_until(evpl, &server_gone, 20);

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
