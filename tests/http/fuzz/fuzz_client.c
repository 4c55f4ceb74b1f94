/*
 * libFuzzer harness, client direction: our client pipelines two requests
 * (the first byte of the input picks GET or HEAD and seeds the split points)
 * over STREAM_INPROC to a raw peer that answers with the rest of the input,
 * in pieces, then closes.  Both requests must end with exactly one terminal
 * notification; nothing may crash or leak.
 */
#include <stdarg.h>
#include <stdint.h>

#include "http_test.h"

static struct evpl            *evpl;
static struct evpl_http_agent *agent;
static struct evpl_endpoint   *ep;
static struct evpl_listener   *listener;
static struct evpl_bind       *peer;
static int                     terminals[2];

static void
peer_notify(struct evpl *ev, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char buf[4096];

    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_RECV_DATA) {
        while (evpl_recv(ev, bind, buf, sizeof(buf), 0) > 0) {
        }
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        peer = NULL;
    }
}

static void
peer_attach(struct evpl *ev, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
            evpl_segment_callback_t *segment_callback, void **conn_private_data, void *private_data)
{
    (void) ev;
    (void) segment_callback;
    (void) conn_private_data;
    (void) private_data;
    peer             = bind;
    *notify_callback = peer_notify;
}

static void
client_notify(struct evpl *ev, struct evpl_http_agent *ag, struct evpl_http_request *request,
              enum evpl_http_notify_type type, enum evpl_http_request_type request_type,
              const char *uri, void *notify_data, void *private_data)
{
    int *t = notify_data;

    (void) ag;
    (void) request_type;
    (void) uri;
    (void) private_data;
    if (*t) {
        abort(); /* a notification after the terminal one */
    }
    if (type == EVPL_HTTP_NOTIFY_RECEIVE_DATA || type == EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE) {
        struct evpl_iovec iov[256];
        uint64_t          avail;

        while ((avail = evpl_http_request_get_data_avail(request)) > 0) {
            int n =
                evpl_http_request_get_datav(ev, request, iov, avail > 65536 ? 65536 : (int) avail);

            evpl_iovecs_release(ev, iov, n);
        }
    }
    if (type == EVPL_HTTP_NOTIFY_RECEIVE_COMPLETE || type == EVPL_HTTP_NOTIFY_FAILED) {
        *t = 1;
    }
}

/* Refusals are expected by the thousand: keep the fuzzer's output readable. */
static void
quiet_log(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
          va_list argp)
{
    (void) level;
    (void) module;
    (void) srcfile;
    (void) lineno;
    (void) fmt;
    (void) argp;
}

static void
setup(void)
{
    struct evpl_thread_config *config;

    evpl_set_log_fn(quiet_log, NULL);
    evpl_init(NULL);
    config = evpl_thread_config_init();
    evpl_thread_config_set_wait_ms(config, 0); /* never sleep: the harness drives the loop */
    evpl     = evpl_create(config);
    agent    = evpl_http_init(evpl);
    ep       = evpl_endpoint_create_inproc("http-fuzz-client");
    listener = evpl_listener_create();
    evpl_listener_attach(evpl, listener, peer_attach, NULL);
    if (evpl_listen(listener, EVPL_STREAM_INPROC, ep) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evpl_http_conn *conn;
    unsigned int           seed;
    size_t                 off = 1;

    if (!evpl) {
        setup();
    }
    if (size < 1) {
        return 0;
    }
    seed         = data[0];
    terminals[0] = terminals[1] = 0;
    conn = evpl_http_client_connect(agent, EVPL_STREAM_INPROC, ep, EVPL_HTTP_VERSION_AUTO, NULL);
    for (int i = 0; i < 2; i++) {
        struct evpl_http_request *r = evpl_http_request_create(
            conn,
            (data[0] & 1) && i == 0 ? EVPL_HTTP_REQUEST_TYPE_HEAD : EVPL_HTTP_REQUEST_TYPE_GET,
            "/f");

        evpl_http_request_dispatch(r, client_notify, &terminals[i]);
    }
    for (int i = 0; i < 1000 && !peer; i++) {
        evpl_continue(evpl);
    }
    while (peer && off < size) {
        size_t piece = 1 + (size_t) rand_r(&seed) % 64;

        if (piece > size - off) {
            piece = size - off;
        }
        evpl_send(evpl, peer, data + off, (unsigned int) piece);
        off += piece;
        evpl_continue(evpl);
    }
    if (peer) {
        evpl_finish(evpl, peer);
    }
    for (int i = 0; i < 1000 && (!terminals[0] || !terminals[1]); i++) {
        evpl_continue(evpl);
    }
    evpl_http_client_close(agent, conn);
    if (!terminals[0] || !terminals[1]) {
        abort(); /* close must have ended every request */
    }
    for (int i = 0; i < 1000 && peer; i++) {
        evpl_continue(evpl);
    }
    return 0;
}
