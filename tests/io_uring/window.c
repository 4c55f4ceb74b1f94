/*
 * The provided-buffer window (src/io_uring/buffers.c): only a couple of
 * receive chunks are offered to the kernel at a time, and the window doubles
 * when a burst finds it empty (ENOBUFS).  Here eight connections stream into
 * one loop at once, so a single completion batch needs more than the initial
 * window: the library must report widening the window at least once (debug
 * log, captured by a sink) and every connection must still deliver all of
 * its bytes, in order, with no connection dropped.  argv[2] is the protocol.
 */
#include <stdarg.h>

#include "net_test.h"

#define FLOWS      8
#define FLOW_BYTES (4u << 20)
#define SEND_CHUNK 65536u
#define OUTSTAND   (1u << 20)

struct flow {
    struct evpl_bind *client;
    struct evpl_bind *server; /* the accepted end, once its hello arrived */
    uint64_t          queued, sent, received;
    int               id;
};

static enum evpl_protocol_id protocol;
static struct flow           flows[FLOWS];
static int                   connected;
static atomic_int            widened, disconnected;
static atomic_int            finished;

static void
sink(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
     va_list argp)
{
    char text[256];

    (void) level;
    (void) srcfile;
    (void) lineno;
    vsnprintf(text, sizeof(text), fmt, argp);
    if (strcmp(module, "io_uring") == 0 && strstr(text, "window widened")) {
        atomic_fetch_add(&widened, 1);
    }
}

static inline unsigned char
pattern(int id, uint64_t off)
{
    return (unsigned char) (off * (2 * id + 3) + off / 257 + id);
}

static struct flow *
flow_of_server(struct evpl_bind *bind)
{
    for (int f = 0; f < FLOWS; f++) {
        if (flows[f].server == bind) {
            return &flows[f];
        }
    }
    return NULL;
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    static unsigned char buf[65536];
    struct flow         *flow = flow_of_server(bind);
    int                  n;

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_DATA:
        if (flow == NULL) {
            unsigned char hello;

            /* The first byte names the flow. */
            if (evpl_recv(evpl, bind, &hello, 1, 0) != 1) {
                break;
            }
            test_assert(hello < FLOWS && flows[hello].server == NULL);
            flow         = &flows[hello];
            flow->server = bind;
        }
        while ((n = evpl_recv(evpl, bind, buf, sizeof(buf), 0)) > 0) {
            for (int i = 0; i < n; i++, flow->received++) {
                if (buf[i] != pattern(flow->id, flow->received)) {
                    test_fail("flow %d byte %llu is %u, expected %u", flow->id,
                              (unsigned long long) flow->received, buf[i],
                              pattern(flow->id, flow->received));
                }
            }
            if (flow->received == FLOW_BYTES) {
                atomic_fetch_add(&finished, 1);
            }
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        break;
    }
}

TEST_ATTACH_NOTIFY(server_attach, server_notify)

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    struct flow *flow = data;

    (void) evpl;
    (void) bind;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        connected++;
        break;
    case EVPL_NOTIFY_SENT:
        /* The hello byte is counted too. */
        flow->sent += notify->sent.bytes;
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&disconnected, 1);
        break;
    }
}

/* Keep up to OUTSTAND bytes queued on every flow. */
static void
feed(struct evpl *evpl)
{
    static unsigned char chunk[SEND_CHUNK];

    for (int f = 0; f < FLOWS; f++) {
        struct flow *flow = &flows[f];

        while (flow->queued < FLOW_BYTES && flow->queued + 1 - flow->sent < OUTSTAND) {
            unsigned int len = SEND_CHUNK;

            if (len > FLOW_BYTES - flow->queued) {
                len = (unsigned int) (FLOW_BYTES - flow->queued);
            }
            for (unsigned int i = 0; i < len; i++) {
                chunk[i] = pattern(f, flow->queued + i);
            }
            evpl_send(evpl, flow->client, chunk, len);
            flow->queued += len;
        }
    }
}

int
main(int argc, char **argv)
{
    struct evpl_global_config    *config = evpl_test_config(argc, argv);
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl_endpoint         *endpoint;
    struct evpl                  *evpl;
    struct timespec               start, now;

    evpl_test_log_observe(sink);
    evpl_init(config);
    protocol = net_protocol(argc, argv);
    endpoint = net_endpoint(protocol, "window");
    evpl     = net_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);

    for (int f = 0; f < FLOWS; f++) {
        unsigned char hello = (unsigned char) f;

        flows[f].id = f;
        flows[f].client =
            evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, &flows[f]);
        test_assert(flows[f].client != NULL);
        evpl_send(evpl, flows[f].client, &hello, 1);
        evpl_bind_request_send_notifications(evpl, flows[f].client);
    }

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(&finished) < FLOWS) {
        if (connected == FLOWS) {
            feed(evpl);
        }
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 60) {
            test_fail("timed out: %d flows finished, %d connected", atomic_load(&finished),
                      connected);
        }
    }
    test_assert_eq(atomic_load(&disconnected), 0);
    for (int f = 0; f < FLOWS; f++) {
        test_assert(flows[f].server != NULL);
        test_assert_eq(flows[f].received, FLOW_BYTES);
    }
    test_assert(atomic_load(&widened) >= 1);

    for (int f = 0; f < FLOWS; f++) {
        evpl_close(evpl, flows[f].client);
    }
    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
