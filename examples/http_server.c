/*
 * http_server: a small HTTP/1.1 server on libevpl_http.
 *
 *   http_server [--port P] [--address A] [--protocol NAME] [--body TEXT]
 *
 * Serves
 *   /metrics   the library's metrics (evpl_metrics_scrape(), Prometheus text
 *              format) followed by this program's own request counter
 *   /          the fixed body (--body, default "hello, world\n")
 *   anything   else 404
 * Request bodies (POST, PUT) are read and discarded; the answer is sent once
 * the request has fully arrived.  Runs until killed (SIGINT/SIGTERM stop the
 * loop cleanly).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evpl/evpl.h>
#include <evpl/evpl_http.h>

static struct evpl  *loop;
static const char   *fixed_body = "hello, world\n";
static unsigned long requests_total;

/* Copy len bytes into library buffers and append them to the response body. */
static void
send_body(struct evpl *evpl, struct evpl_http_request *request, const char *data, size_t len)
{
    struct evpl_iovec iov[64];
    int               n;
    size_t            off = 0;

    if (len == 0) {
        return;
    }
    n = evpl_iovec_alloc(evpl, (unsigned int) len, 0, 64, 0, iov);
    if (n < 0) {
        return;
    }
    for (int i = 0; i < n; i++) {
        memcpy(iov[i].data, data + off, iov[i].length);
        off += iov[i].length;
    }
    /* The iovec references now belong to the request. */
    evpl_http_request_add_datav(request, iov, n);
}

static void
reply(struct evpl *evpl, struct evpl_http_request *request, int status, const char *type,
      const char *body, size_t len)
{
    evpl_http_request_add_header(request, "Content-Type", type);
    evpl_http_server_set_response_length(request, len);
    evpl_http_server_dispatch_default(request, status); /* status line and headers */
    send_body(evpl, request, body, len);
    evpl_http_request_add_datav(request, NULL, 0); /* end of body */
}

static void
answer(struct evpl *evpl, struct evpl_http_request *request)
{
    const char *url = evpl_http_request_url(request, NULL);

    requests_total++;
    if (strcmp(url, "/metrics") == 0) {
        int   size = 1 << 16, len;
        char *buf  = NULL;

        /* Grow the buffer until the scrape fits. */
        do {
            size *= 2;
            buf = realloc(buf, (size_t) size);
            len = evpl_metrics_scrape(buf, size - 256);
        } while (len < 0 && size < (64 << 20));
        if (len < 0) {
            len = 0;
        }
        len += snprintf(buf + len, 256,
                        "# TYPE http_server_requests_total counter\n"
                        "http_server_requests_total %lu\n",
                        requests_total);
        reply(evpl, request, 200, "text/plain; version=0.0.4", buf, (size_t) len);
        free(buf);
    } else if (strcmp(url, "/") == 0) {
        reply(evpl, request, 200, "text/plain", fixed_body, strlen(fixed_body));
    } else {
        reply(evpl, request, 404, "text/plain", "not found\n", 10);
    }
}

static void
request_notify(struct evpl *evpl, struct evpl_http_agent *agent, struct evpl_http_request *request,
               enum evpl_http_notify_type notify_type, enum evpl_http_request_type request_type,
               const char *uri, void *notify_data, void *private_data)
{
    struct evpl_iovec iov[64];
    uint64_t          avail;

    (void) agent;
    (void) request_type;
    (void) uri;
    (void) notify_data;
    (void) private_data;
    switch (notify_type) {
    case EVPL_HTTP_NOTIFY_RECEIVE_DATA:
    case EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE:
        /* Take (and drop) the body so the connection keeps reading. */
        while ((avail = evpl_http_request_get_data_avail(request)) > 0) {
            int n = evpl_http_request_get_datav(evpl, request, iov,
                                                avail > 65536 ? 65536 : (int) avail);

            evpl_iovecs_release(evpl, iov, n);
        }
        if (notify_type == EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE) {
            answer(evpl, request);
        }
        break;
    default:
        /* RESPONSE_COMPLETE or FAILED: the request is freed after this. */
        break;
    }
}

/* Called once per request, after its headers. */
static void
dispatch(struct evpl *evpl, struct evpl_http_agent *agent, struct evpl_http_request *request,
         evpl_http_notify_callback_t *notify_callback, void **notify_data, void *private_data)
{
    (void) evpl;
    (void) agent;
    (void) request;
    (void) private_data;
    *notify_callback = request_notify;
    *notify_data     = NULL;
}

static void
on_signal(int sig)
{
    (void) sig;
    evpl_stop(loop);
}

int
main(int argc, char **argv)
{
    const char              *address = "0.0.0.0", *proto_name = "STREAM_SOCKET_TCP";
    int                      port = 8080;
    enum evpl_protocol_id    protocol;
    struct evpl_endpoint    *endpoint;
    struct evpl_listener    *listener;
    struct evpl_http_agent  *agent;
    struct evpl_http_server *server;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) {
            port = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--address") == 0) {
            address = argv[i + 1];
        } else if (strcmp(argv[i], "--protocol") == 0) {
            proto_name = argv[i + 1];
        } else if (strcmp(argv[i], "--body") == 0) {
            fixed_body = argv[i + 1];
        } else {
            fprintf(stderr, "usage: %s [--port P] [--address A] [--protocol NAME] [--body TEXT]\n",
                    argv[0]);
            return 2;
        }
    }
    if (evpl_protocol_lookup(&protocol, proto_name) != 0) {
        fprintf(stderr, "protocol %s is not available\n", proto_name);
        return 1;
    }

    /* Wake at least every 100 ms so that a signal's evpl_stop() is seen. */
    struct evpl_thread_config *config = evpl_thread_config_init();

    evpl_thread_config_set_wait_ms(config, 100);
    loop     = evpl_create(config);
    agent    = evpl_http_init(loop);
    endpoint = evpl_endpoint_create(address, port);
    listener = evpl_listener_create();
    server   = evpl_http_attach(agent, listener, dispatch, NULL);
    if (!server || evpl_listen(listener, protocol, endpoint) != 0) {
        fprintf(stderr, "cannot listen on %s:%d\n", address, port);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fprintf(stderr, "http_server listening on %s:%d\n", address, port);
    evpl_run(loop);

    /* Servers first, then the agent (which closes what is left). */
    evpl_http_server_destroy(agent, server);
    evpl_http_destroy(agent);
    evpl_listener_destroy(listener);
    evpl_destroy(loop);
    evpl_endpoint_close(endpoint);
    return 0;
}
