/*
 * Our client against our server on one loop, over the protocol named by
 * argv[2]: eight requests pipelined on one connection (GET, a 200 KB
 * Content-Length POST echoed back, a chunked POST echoed back chunked with a
 * trailer, HEAD, 204, 304, a chunked response with a trailer, DELETE), which
 * must complete in order with the right status, headers and bodies, with
 * RESPONSE_HEADERS before any data; then the connection is reused for a
 * second request (keep-alive).  Every request gets exactly one terminal
 * notification on each side, and the library's metrics count them.
 */
#include <strings.h>

#include "http_test.h"

struct creq {
    int    id;
    int    status;
    int    headers_seen;
    int    done;
    int    terminal;
    char  *body;
    size_t len;
    char   trailer[64];
    char   echo_hdr[16];
    int    has_date;
};

static int        next_done;
static atomic_int all_done;
static int        nreq;

static void
client_notify(struct evpl *evpl, struct evpl_http_agent *agent, struct evpl_http_request *request,
              enum evpl_http_notify_type type, enum evpl_http_request_type request_type,
              const char *uri, void *notify_data, void *private_data)
{
    struct creq *c = notify_data;
    const char  *v;

    (void) agent;
    (void) request_type;
    (void) uri;
    (void) private_data;
    switch (type) {
    case EVPL_HTTP_NOTIFY_RESPONSE_HEADERS:
        test_assert(!c->headers_seen);
        c->headers_seen = 1;
        c->status       = evpl_http_request_status(request);
        c->has_date     = evpl_http_response_header(request, "date") != NULL;
        v               = evpl_http_response_header(request, "X-Echo");
        if (v) {
            snprintf(c->echo_hdr, sizeof(c->echo_hdr), "%s", v);
        }
        break;
    case EVPL_HTTP_NOTIFY_RECEIVE_DATA:
        test_assert(c->headers_seen);
        http_test_append(evpl, request, &c->body, &c->len);
        break;
    case EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE:
        test_assert(c->headers_seen);
        test_assert(!c->terminal);
        c->terminal = 1;
        http_test_append(evpl, request, &c->body, &c->len);
        v = evpl_http_request_trailer(request, "x-len");
        if (!v) {
            v = evpl_http_request_trailer(request, "X-T");
        }
        if (v) {
            snprintf(c->trailer, sizeof(c->trailer), "%s", v);
        }
        test_assert_eq(c->id, next_done);
        next_done++;
        c->done = 1;
        if (next_done == nreq) {
            atomic_store(&all_done, 1);
        }
        break;
    case EVPL_HTTP_NOTIFY_WANT_DATA:
        break;
    default:
        test_fail("request %d: notification %d (status %d)", c->id, type,
                  evpl_http_request_status(request));
    }
}

static void
expect(struct creq *c, int status, const char *body, size_t len)
{
    test_assert_msg(c->done, "request %d not done", c->id);
    test_assert_msg(c->status == status, "request %d: status %d, expected %d", c->id, c->status,
                    status);
    test_assert_msg(c->len == len, "request %d: body %zu bytes, expected %zu", c->id, c->len, len);
    test_assert(len == 0 || memcmp(c->body, body, len) == 0);
    test_assert(c->has_date);
}

int
main(int argc, char **argv)
{
    enum evpl_protocol_id     protocol;
    struct evpl_endpoint     *endpoint;
    struct evpl              *evpl;
    struct evpl_listener     *listener;
    struct evpl_http_agent   *agent;
    struct evpl_http_server  *server;
    struct evpl_http_conn    *conn;
    struct evpl_http_request *r;
    struct creq               c[12];
    size_t                    big_len = 200000;
    char                     *big     = malloc(big_len);

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    endpoint = net_endpoint(protocol, "http-loop");
    for (size_t i = 0; i < big_len; i++) {
        big[i] = (char) ('a' + (i * 7) % 26);
    }
    memset(c, 0, sizeof(c));
    for (int i = 0; i < 12; i++) {
        c[i].id = i;
    }

    evpl     = net_loop_create();
    agent    = evpl_http_init(evpl);
    listener = evpl_listener_create();
    server   = evpl_http_attach(agent, listener, http_test_dispatch, NULL);
    test_assert(server != NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);

    conn = evpl_http_client_connect(agent, protocol, endpoint, EVPL_HTTP_VERSION_AUTO, NULL);
    test_assert(conn != NULL);

    r = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_GET, "/hello");
    evpl_http_request_dispatch(r, client_notify, &c[0]);

    r = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_POST, "/echo");
    evpl_http_client_set_request_length(r, big_len);
    evpl_http_request_dispatch(r, client_notify, &c[1]);
    http_test_send(evpl, r, big, big_len / 2);
    http_test_send(evpl, r, big + big_len / 2, big_len - big_len / 2);
    evpl_http_request_add_datav(r, NULL, 0);

    r = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_POST, "/echo");
    evpl_http_client_set_request_chunked(r);
    test_assert_eq(evpl_http_request_add_header(r, "X-Test", "chunked upload"), 0);
    test_assert_eq(evpl_http_request_add_header(r, "Bad Name", "x"), -1);
    test_assert_eq(evpl_http_request_add_header(r, "X-Bad", "a\r\nb"), -1);
    evpl_http_request_dispatch(r, client_notify, &c[2]);
    for (int i = 0; i < 3; i++) {
        http_test_send(evpl, r, big + i * 1000, 1000);
    }
    evpl_http_request_add_datav(r, NULL, 0);

    r = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_HEAD, "/hello");
    evpl_http_request_dispatch(r, client_notify, &c[3]);
    r = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_GET, "/nocontent");
    evpl_http_request_dispatch(r, client_notify, &c[4]);
    r = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_GET, "/notmodified");
    evpl_http_request_dispatch(r, client_notify, &c[5]);
    r = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_GET, "/chunked");
    evpl_http_request_dispatch(r, client_notify, &c[6]);
    r = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_DELETE, "/x?y=1");
    evpl_http_request_dispatch(r, client_notify, &c[7]);
    nreq = 8;

    net_run_until(evpl, &all_done, 30);
    expect(&c[0], 200, "hello", 5);
    expect(&c[1], 200, big, big_len);
    expect(&c[2], 200, big, 3000);
    test_assert(strcmp(c[2].trailer, "echoed") == 0);
    test_assert(strcmp(c[2].echo_hdr, "yes") == 0);
    expect(&c[3], 200, "", 0);
    expect(&c[4], 204, "", 0);
    expect(&c[5], 304, "", 0);
    expect(&c[6], 200, "abcdef", 6);
    test_assert(strcmp(c[6].trailer, "done") == 0);
    expect(&c[7], 404, "DELETE /x?y=1 0", 15);

    /* The same connection again: keep-alive. */
    atomic_store(&all_done, 0);
    nreq = 9;
    r    = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_PUT, "/other");
    evpl_http_client_set_request_length(r, 3);
    evpl_http_request_dispatch(r, client_notify, &c[8]);
    http_test_send(evpl, r, "xyz", 3);
    evpl_http_request_add_datav(r, NULL, 0);
    net_run_until(evpl, &all_done, 30);
    expect(&c[8], 404, "PUT /other 3", 12);
    test_assert_eq(atomic_load(&http_test_server_completes), 9);
    test_assert_eq(atomic_load(&http_test_server_failures), 0);

    /* A slow answer holds the next one back: responses leave in order. */
    atomic_store(&all_done, 0);
    nreq = 11;
    r    = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_GET, "/slow");
    evpl_http_request_dispatch(r, client_notify, &c[9]);
    r = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_GET, "/hello");
    evpl_http_request_dispatch(r, client_notify, &c[10]);
    for (int i = 0; i < 20 && !c[10].done; i++) {
        evpl_continue(evpl);
    }
    test_assert(http_test_slow != NULL);
    test_assert(!c[9].headers_seen && !c[10].headers_seen);
    http_test_release_slow(evpl);
    net_run_until(evpl, &all_done, 30);
    expect(&c[9], 200, "late", 4);
    expect(&c[10], 200, "hello", 5);

    /* The library's metrics count both sides' completed requests. */
    {
        static char scrape[1 << 20];

        test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) > 0);
        test_assert_msg(strstr(scrape, "evpl_http_requests_total{agent=\"0\",side=\"server\","
                                       "outcome=\"complete\"} 11"),
                        "scrape: %s", scrape);
        test_assert(strstr(scrape, "evpl_http_requests_total{agent=\"0\",side=\"client\","
                                   "outcome=\"complete\"} 11"));
        test_assert(strstr(scrape, "evpl_http_request_duration_nanoseconds_count{agent=\"0\","
                                   "side=\"server\"} 11"));
    }

    evpl_http_client_close(agent, conn);
    evpl_http_server_destroy(agent, server);
    evpl_http_destroy(agent);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    for (int i = 0; i < 12; i++) {
        free(c[i].body);
    }
    free(big);
    return 0;
}
