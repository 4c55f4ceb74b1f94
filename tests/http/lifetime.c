/*
 * Lifetimes: every request ends with exactly one terminal notification and
 * nothing leaks (ASan/valgrind legs) when
 *   - a peer resets mid-headers and mid-body (server side),
 *   - the server is destroyed with a request still unanswered,
 *   - the server resets mid-response with requests pipelined (client side),
 *   - the client closes, or the agent is destroyed, with requests in flight,
 *   - a request is dispatched on a retired connection,
 *   - 10,000 keep-alive connections are opened, used twice and closed.
 * One loop, raw peers on non-blocking sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include "http_test.h"

static struct evpl *evpl;

static void
pump(int passes)
{
    for (int i = 0; i < passes; i++) {
        evpl_continue(evpl);
    }
}

static void
pump_until(atomic_int *flag, int want)
{
    for (int i = 0; i < 200000 && atomic_load(flag) < want; i++) {
        evpl_continue(evpl);
    }
    test_assert_msg(atomic_load(flag) >= want, "waited for %d, got %d", want, atomic_load(flag));
}

static int
raw_connect(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    int                fd  = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    return fd;
}

/* Close with RST rather than FIN. */
static void
raw_reset(int fd)
{
    struct linger lg = {1, 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

struct cl {
    int terminal, failed, status;
};
static atomic_int client_terminals;

static void
client_notify(struct evpl *ev, struct evpl_http_agent *agent, struct evpl_http_request *request,
              enum evpl_http_notify_type type, enum evpl_http_request_type request_type,
              const char *uri, void *notify_data, void *private_data)
{
    struct cl *c = notify_data;

    (void) ev;
    (void) agent;
    (void) request_type;
    (void) uri;
    (void) private_data;
    if (type == EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE || type == EVPL_HTTP_NOTIFY_FAILED) {
        test_assert_msg(!c->terminal, "second terminal notification");
        c->terminal = 1;
        c->failed   = type == EVPL_HTTP_NOTIFY_FAILED;
        c->status   = evpl_http_request_status(request);
        atomic_fetch_add(&client_terminals, 1);
    } else if (type == EVPL_HTTP_NOTIFY_RECEIVE_DATA) {
        struct evpl_iovec iov[64];
        int               n = evpl_http_request_get_datav(ev, request, iov,
                                                          (int) evpl_http_request_get_data_avail(request));

        evpl_iovecs_release(ev, iov, n);
    }
}

static struct evpl_http_request *
get(struct evpl_http_conn *conn, const char *url, struct cl *c)
{
    struct evpl_http_request *r = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_GET, url);

    test_assert(r != NULL);
    evpl_http_request_dispatch(r, client_notify, c);
    return r;
}

static int
raw_listen(int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          sl  = sizeof(sin);
    int                fd  = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    test_assert(listen(fd, 64) == 0);
    test_assert(getsockname(fd, (struct sockaddr *) &sin, &sl) == 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

static int
raw_accept(int lfd)
{
    int fd = -1;

    for (int i = 0; i < 200000 && fd < 0; i++) {
        evpl_continue(evpl);
        fd = accept(lfd, NULL, NULL);
    }
    test_assert(fd >= 0);
    return fd;
}

/* Read until the peer has sent n request heads. */
static void
raw_wait_heads(int fd, int n)
{
    char buf[65536];
    int  len = 0, heads = 0;

    fcntl(fd, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < 200000 && heads < n; i++) {
        ssize_t r;

        evpl_continue(evpl);
        r = recv(fd, buf + len, sizeof(buf) - (size_t) len - 1, 0);
        if (r > 0) {
            len += (int) r;
            buf[len] = '\0';
            heads    = 0;
            for (char *p = buf; (p = strstr(p, "\r\n\r\n")); p += 4) {
                heads++;
            }
        }
    }
    test_assert_eq(heads, n);
}

static atomic_int open_done;
static void
many_notify(struct evpl *ev, struct evpl_http_agent *agent, struct evpl_http_request *request,
            enum evpl_http_notify_type type, enum evpl_http_request_type request_type,
            const char *uri, void *notify_data, void *private_data)
{
    (void) notify_data;
    client_notify(ev, agent, request, type, request_type, uri, &(struct cl){0}, private_data);
    if (type == EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE) {
        test_assert_eq(evpl_http_request_status(request), 200);
        atomic_fetch_add(&open_done, 1);
    }
}

int
main(int argc, char **argv)
{
    struct evpl_thread_config *config;
    struct evpl_listener      *listener;
    struct evpl_http_agent    *agent;
    struct evpl_http_server   *server;
    struct evpl_http_conn     *conn;
    struct evpl_endpoint      *ep, *raw_ep;
    struct cl                  c[8];
    int                        port, fd, lfd, raw_port;

    evpl_test_init(argc, argv);
    config = evpl_thread_config_init();
    evpl_thread_config_set_wait_ms(config, 0);
    evpl     = evpl_create(config);
    agent    = evpl_http_init(evpl);
    ep       = net_endpoint(EVPL_STREAM_SOCKET_TCP, "http-life");
    port     = evpl_endpoint_port(ep);
    listener = evpl_listener_create();
    server   = evpl_http_attach(agent, listener, http_test_dispatch, NULL);
    test_assert_eq(evpl_listen(listener, EVPL_STREAM_SOCKET_TCP, ep), 0);

    /* Server: reset mid-headers (never dispatched, nothing to notify). */
    fd = raw_connect(port);
    test_assert(send(fd, "GET /hello HTTP/1.1\r\nHo", 23, 0) == 23);
    pump(200);
    raw_reset(fd);
    pump(200);
    test_assert_eq(atomic_load(&http_test_server_failures), 0);

    /* Server: reset mid-body: the dispatched request fails once. */
    fd = raw_connect(port);
    test_assert(send(fd, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789",
                     64, 0) == 64);
    pump(200);
    raw_reset(fd);
    pump_until(&http_test_server_failures, 1);
    pump(100);
    test_assert_eq(atomic_load(&http_test_server_failures), 1);

    /* Client against our server: many keep-alive connections, each used twice. */
    for (int i = 0; i < 10000; i++) {
        conn = evpl_http_client_connect(agent, EVPL_STREAM_SOCKET_TCP, ep, EVPL_HTTP_VERSION_AUTO,
                                        NULL);
        test_assert(conn != NULL);
        for (int k = 0; k < 2; k++) {
            struct evpl_http_request *r =
                evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_GET, "/hello");

            evpl_http_request_dispatch(r, many_notify, NULL);
        }
        pump_until(&open_done, 2 * (i + 1));
        evpl_http_client_close(agent, conn);
    }
    client_terminals = 0;

    /* Server destroyed with a request unanswered: it fails once. */
    conn =
        evpl_http_client_connect(agent, EVPL_STREAM_SOCKET_TCP, ep, EVPL_HTTP_VERSION_AUTO, NULL);
    memset(c, 0, sizeof(c));
    get(conn, "/slow", &c[0]);
    for (int i = 0; i < 200000 && !http_test_slow; i++) {
        evpl_continue(evpl);
    }
    test_assert(http_test_slow != NULL);
    evpl_http_server_destroy(agent, server);
    pump_until(&http_test_server_failures, 2);
    pump_until(&client_terminals, 1);
    test_assert(c[0].failed && c[0].status == EVPL_HTTP_ERROR_CONN_LOST);
    /* The retired connection is kept until closed; new requests fail at once. */
    get(conn, "/hello", &c[1]);
    test_assert(c[1].terminal && c[1].failed);
    evpl_http_client_close(agent, conn);

    /* Client: the server resets mid-response with three requests pipelined. */
    lfd    = raw_listen(&raw_port);
    raw_ep = evpl_endpoint_create("127.0.0.1", raw_port);
    conn   = evpl_http_client_connect(agent, EVPL_STREAM_SOCKET_TCP, raw_ep, EVPL_HTTP_VERSION_AUTO,
                                      NULL);
    memset(c, 0, sizeof(c));
    client_terminals = 0;
    for (int i = 0; i < 3; i++) {
        get(conn, "/x", &c[i]);
    }
    fd = raw_accept(lfd);
    raw_wait_heads(fd, 3);
    test_assert(send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nabc", 42, 0) == 42);
    pump(100);
    raw_reset(fd);
    pump_until(&client_terminals, 3);
    for (int i = 0; i < 3; i++) {
        test_assert(c[i].failed && c[i].status == EVPL_HTTP_ERROR_CONN_LOST);
    }
    evpl_http_client_close(agent, conn);

    /* Client closes with requests in flight: FAILED before close returns. */
    conn = evpl_http_client_connect(agent, EVPL_STREAM_SOCKET_TCP, raw_ep, EVPL_HTTP_VERSION_AUTO,
                                    NULL);
    memset(c, 0, sizeof(c));
    get(conn, "/a", &c[0]);
    get(conn, "/b", &c[1]);
    fd = raw_accept(lfd);
    raw_wait_heads(fd, 2);
    evpl_http_client_close(agent, conn);
    test_assert(c[0].terminal && c[0].failed && c[1].terminal && c[1].failed);
    close(fd);

    /* Agent destroyed with requests in flight: each fails once. */
    conn = evpl_http_client_connect(agent, EVPL_STREAM_SOCKET_TCP, raw_ep, EVPL_HTTP_VERSION_AUTO,
                                    NULL);
    memset(c, 0, sizeof(c));
    get(conn, "/a", &c[0]);
    get(conn, "/b", &c[1]);
    fd = raw_accept(lfd);
    raw_wait_heads(fd, 2);
    evpl_http_destroy(agent);
    test_assert(c[0].terminal && c[0].failed && c[1].terminal && c[1].failed);
    close(fd);
    close(lfd);

    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(ep);
    evpl_endpoint_close(raw_ep);
    return 0;
}
