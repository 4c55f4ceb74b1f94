/*
 * Graceful shutdown (API §6.8, §19.2) over argv[2], client on its own
 * thread.  1: the server answers a request and calls evpl_finish() in the
 * same callback; the client receives the whole reply, then DISCONNECTED, and
 * the server also gets DISCONNECTED.  Stream protocols read the fixed-size
 * records with EVPL_RECV_FLAG_ALL_OR_NONE.  2: a client loop destroyed while
 * connected makes the server see DISCONNECTED.
 */
#include "transport_test.h"

#define REQ   8
#define REPLY 3000

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static int                   stream;
static atomic_int            server_disc, server_conns;

/* Collect `want` bytes of the next record from either notification kind. */
static int
record_take(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify,
            unsigned char *out, int want)
{
    if (notify->notify_type == EVPL_NOTIFY_RECV_DATA) {
        return evpl_recv(evpl, bind, out, want, EVPL_RECV_FLAG_ALL_OR_NONE) == want;
    }
    test_assert_eq(notify->recv_msg.length, want);
    int off = 0;
    for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
        memcpy(out + off, notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
        off += notify->recv_msg.iovec[i].length;
        evpl_iovec_release(evpl, &notify->recv_msg.iovec[i]);
    }
    return 1;
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    unsigned char req[REQ], reply[REPLY];

    (void) arg;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        atomic_fetch_add(&server_conns, 1);
        break;
    case EVPL_NOTIFY_RECV_DATA:
    case EVPL_NOTIFY_RECV_MSG:
        if (!record_take(evpl, bind, notify, req, REQ)) {
            break;
        }
        test_assert(memcmp(req, "request", REQ) == 0);
        for (int i = 0; i < REPLY; i++) {
            reply[i] = (unsigned char) i;
        }
        evpl_send(evpl, bind, reply, REPLY);
        evpl_finish(evpl, bind);
        test_assert(evpl_bind_is_closing(bind));
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&server_disc, 1);
        break;
    default:
        break;
    }
}

static void
attach_cb(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
          evpl_segment_callback_t *segment_callback, void **conn_private, void *private_data)
{
    (void) evpl;
    (void) bind;
    (void) segment_callback;
    (void) private_data;
    *notify_callback = server_notify;
    *conn_private    = NULL;
}

struct client {
    atomic_int connected, got_reply, disconnected;
};

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct client *c = arg;
    unsigned char  reply[REPLY];

    test_assert_msg(atomic_load(&c->disconnected) == 0,
                    "client: notification %u after DISCONNECTED", notify->notify_type);

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        atomic_store(&c->connected, 1);
        break;
    case EVPL_NOTIFY_RECV_DATA:
    case EVPL_NOTIFY_RECV_MSG:
        if (!record_take(evpl, bind, notify, reply, REPLY)) {
            break;
        }
        for (int i = 0; i < REPLY; i++) {
            test_assert(reply[i] == (unsigned char) i);
        }
        test_assert(!atomic_load(&c->got_reply));
        atomic_store(&c->got_reply, 1);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        test_assert_msg(atomic_load(&c->got_reply), "DISCONNECTED before the reply");
        atomic_fetch_add(&c->disconnected, 1);
        break;
    default:
        test_fail("client: unexpected notification %u", notify->notify_type);
    }
}

static void *
finish_client(void *arg)
{
    struct client    *c    = arg;
    struct evpl      *evpl = tt_loop_create();
    struct evpl_bind *bind;

    bind = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, c);
    test_assert(bind != NULL);
    evpl_send(evpl, bind, "request", REQ);
    tt_run_until(evpl, &c->disconnected, 30);
    evpl_destroy(evpl);
    return NULL;
}

static void
idle_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct client *c = arg;

    (void) evpl;
    (void) bind;
    test_assert_msg(atomic_load(&c->disconnected) == 0, "notification %u after DISCONNECTED",
                    notify->notify_type);
    if (notify->notify_type == EVPL_NOTIFY_CONNECTED) {
        atomic_store(&c->connected, 1);
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_fetch_add(&c->disconnected, 1);
    }
}

static void *
destroy_client(void *arg)
{
    struct client *c    = arg;
    struct evpl   *evpl = tt_loop_create();

    test_assert(evpl_connect(evpl, protocol, NULL, endpoint, idle_notify, NULL, c) != NULL);
    tt_run_until(evpl, &c->connected, 30);
    /* Destroy while connected: the DISCONNECTED comes inside the call. */
    evpl_destroy(evpl);
    test_assert_eq(atomic_load(&c->disconnected), 1);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl                  *evpl;
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct client                 c1 = {0}, c2 = {0};
    pthread_t                     thread;

    evpl_test_init(argc, argv);
    protocol = tt_protocol(argc, argv, 2, "DATAGRAM_INPROC");
    stream   = evpl_protocol_is_stream(protocol);

    evpl     = tt_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, attach_cb, NULL);
    endpoint = tt_listen(listener, protocol, "finish");

    test_assert(pthread_create(&thread, NULL, finish_client, &c1) == 0);
    tt_run_until(evpl, &c1.disconnected, 30);
    tt_run_until(evpl, &server_disc, 30);
    pthread_join(thread, NULL);
    test_assert(atomic_load(&c1.got_reply));

    test_assert(pthread_create(&thread, NULL, destroy_client, &c2) == 0);
    while (atomic_load(&server_disc) < 2) {
        evpl_continue(evpl);
    }
    pthread_join(thread, NULL);
    test_assert_eq(atomic_load(&server_conns), 2);

    evpl_listener_destroy(listener);
    evpl_listener_detach(evpl, binding);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    /* DISCONNECTED exactly once per bind, teardown included. */
    test_assert_eq(atomic_load(&c1.disconnected), 1);
    test_assert_eq(atomic_load(&server_disc), 2);
    return 0;
}
