/*
 * Inbound flow control: a server application that does not take body data
 * makes the library stop reading the connection with about 1 MiB buffered
 * (HTTP_MAX_BUFFERED plus one read), while a 16 MiB upload waits; once the
 * application takes the data the rest arrives and is complete and intact.
 * Run per stream protocol.
 */
#include "http_test.h"

#define UPLOAD (16u << 20)

static struct evpl_http_request *held;
static uint64_t                  max_avail, taken;
static atomic_int                received, client_done;
static int                       bad_byte = -1;

static void
hold_notify(struct evpl *evpl, struct evpl_http_agent *agent, struct evpl_http_request *request,
            enum evpl_http_notify_type type, enum evpl_http_request_type request_type,
            const char *uri, void *notify_data, void *private_data)
{
    (void) agent;
    (void) request_type;
    (void) uri;
    (void) notify_data;
    (void) private_data;
    if (type == EVPL_HTTP_NOTIFY_RECEIVE_DATA) {
        uint64_t avail = evpl_http_request_get_data_avail(request);

        if (avail > max_avail) {
            max_avail = avail;
        }
    } else if (type == EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE) {
        atomic_store(&received, 1);
    } else if (type == EVPL_HTTP_NOTIFY_FAILED) {
        test_fail("held request failed");
    }
    (void) evpl;
}

static void
hold_dispatch(struct evpl *evpl, struct evpl_http_agent *agent, struct evpl_http_request *request,
              evpl_http_notify_callback_t *notify_callback, void **notify_data, void *private_data)
{
    (void) evpl;
    (void) agent;
    (void) private_data;
    held             = request;
    *notify_callback = hold_notify;
    *notify_data     = NULL;
}

static void
client_notify(struct evpl *evpl, struct evpl_http_agent *agent, struct evpl_http_request *request,
              enum evpl_http_notify_type type, enum evpl_http_request_type request_type,
              const char *uri, void *notify_data, void *private_data)
{
    (void) evpl;
    (void) agent;
    (void) request_type;
    (void) uri;
    (void) notify_data;
    (void) private_data;
    if (type == EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE) {
        test_assert_eq(evpl_http_request_status(request), 200);
        atomic_store(&client_done, 1);
    } else if (type == EVPL_HTTP_NOTIFY_FAILED) {
        test_fail("client request failed: %d", evpl_http_request_status(request));
    }
}

/* Take everything buffered, checking the pattern. */
static void
take(struct evpl *evpl)
{
    struct evpl_iovec iov[256];
    uint64_t          avail = evpl_http_request_get_data_avail(held);

    while (avail > 0) {
        int want = avail > 65536 ? 65536 : (int) avail;
        int n    = evpl_http_request_get_datav(evpl, held, iov, want);

        for (int i = 0; i < n; i++) {
            const unsigned char *p = iov[i].data;

            for (unsigned int k = 0; k < iov[i].length; k++, taken++) {
                if (p[k] != (unsigned char) (taken * 13 % 251) && bad_byte < 0) {
                    bad_byte = (int) taken;
                }
            }
        }
        evpl_iovecs_release(evpl, iov, n);
        avail -= (uint64_t) want;
    }
}

int
main(int argc, char **argv)
{
    enum evpl_protocol_id     protocol;
    struct evpl_endpoint     *ep;
    struct evpl              *evpl;
    struct evpl_listener     *listener;
    struct evpl_http_agent   *agent;
    struct evpl_http_server  *server;
    struct evpl_http_conn    *conn;
    struct evpl_http_request *r;
    unsigned char            *data = malloc(UPLOAD);

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    ep       = net_endpoint(protocol, "http-flow");
    for (unsigned int i = 0; i < UPLOAD; i++) {
        data[i] = (unsigned char) (i * 13 % 251);
    }
    {
        struct evpl_thread_config *config = evpl_thread_config_init();

        evpl_thread_config_set_wait_ms(config, 1);
        evpl = evpl_create(config);
    }
    agent    = evpl_http_init(evpl);
    listener = evpl_listener_create();
    server   = evpl_http_attach(agent, listener, hold_dispatch, NULL);
    test_assert_eq(evpl_listen(listener, protocol, ep), 0);

    conn = evpl_http_client_connect(agent, protocol, ep, EVPL_HTTP_VERSION_AUTO, NULL);
    r    = evpl_http_request_create(conn, EVPL_HTTP_REQUEST_TYPE_PUT, "/hold");
    evpl_http_client_set_request_length(r, UPLOAD);
    evpl_http_request_dispatch(r, client_notify, NULL);
    for (unsigned int off = 0; off < UPLOAD; off += 1u << 20) {
        http_test_send(evpl, r, data + off, 1u << 20);
    }
    evpl_http_request_add_datav(r, NULL, 0);

    /* Nobody takes the body: the library must stop near 1 MiB. */
    for (int i = 0; i < 500; i++) {
        evpl_continue(evpl);
    }
    test_assert(held != NULL);
    test_assert_msg(max_avail >= (1u << 20) && max_avail <= (1u << 20) + (64u << 10),
                    "buffered %llu bytes", (unsigned long long) max_avail);
    test_assert(!atomic_load(&received));

    /* Take data as it comes; the whole upload arrives intact. */
    for (int i = 0; i < 2000000 && !atomic_load(&received); i++) {
        evpl_continue(evpl);
        take(evpl);
    }
    test_assert(atomic_load(&received));
    take(evpl);
    test_assert_eq(taken, UPLOAD);
    test_assert_eq(bad_byte, -1);
    test_assert(max_avail <= (1u << 20) + (64u << 10));
    http_test_reply(evpl, held, 200, "ok", 2);
    net_run_until(evpl, &client_done, 30);

    evpl_http_client_close(agent, conn);
    evpl_http_server_destroy(agent, server);
    evpl_http_destroy(agent);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(ep);
    free(data);
    return 0;
}
