/*
 * Ping-pong over a connected message bind (argv[2]: DATAGRAM_INPROC,
 * STREAM_INPROC with a constant segment callback, DATAGRAM_TCP_RDMA; argv[3]:
 * "same" for both ends on one loop, "threads" for the client on its own
 * thread): the server greets from its attach callback, the client sends
 * before CONNECTED and keeps 100 records in flight until 10,000 round trips
 * are done; every record must arrive as exactly one RECV_MSG of the right
 * size, in order.  Then the client closes and both ends see DISCONNECTED.
 */
#include <stdlib.h>

#include "transport_test.h"

#define RECORD    64
#define IN_FLIGHT 100
#define ROUNDS    10000
#define HELLO     0xffffffffu

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static int                   same_loop;

static atomic_int server_disconnected, listening;

struct client {
    struct evpl *evpl;
    atomic_int   connected, disconnected, done;
    int          hello;
    unsigned int sent, received;
};

static void
record_make(unsigned char *rec, unsigned int seq)
{
    memcpy(rec, &seq, sizeof(seq));
    for (int i = 4; i < RECORD; i++) {
        rec[i] = (unsigned char) (seq * 31 + i);
    }
}

static unsigned int
record_check(struct evpl_notify *notify)
{
    unsigned char rec[RECORD], want[RECORD];
    unsigned int  off = 0, seq;

    test_assert_eq(notify->recv_msg.length, RECORD);
    for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
        test_assert(off + notify->recv_msg.iovec[i].length <= RECORD);
        memcpy(rec + off, notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
        off += notify->recv_msg.iovec[i].length;
    }
    test_assert_eq(off, RECORD);
    memcpy(&seq, rec, sizeof(seq));
    record_make(want, seq);
    test_assert(memcmp(rec, want, RECORD) == 0);
    return seq;
}

static int
segment_cb(struct evpl *evpl, struct evpl_bind *bind, void *private_data)
{
    (void) evpl;
    (void) bind;
    (void) private_data;
    return RECORD;
}

static void
release_msg(struct evpl *evpl, struct evpl_notify *notify)
{
    for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
        evpl_iovec_release(evpl, &notify->recv_msg.iovec[i]);
    }
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    (void) arg;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        break;
    case EVPL_NOTIFY_RECV_MSG: {
        /* Echo by reference: the received iovecs go straight back. */
        record_check(notify);
        evpl_sendv(evpl, bind, notify->recv_msg.iovec, notify->recv_msg.niov,
                   notify->recv_msg.length, EVPL_SEND_FLAG_TAKE_REF);
        break;
    }
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&server_disconnected, 1);
        break;
    default:
        test_fail("server: unexpected notification %u", notify->notify_type);
    }
}

static void
attach_cb(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
          evpl_segment_callback_t *segment_callback, void **conn_private, void *private_data)
{
    unsigned char rec[RECORD];

    (void) private_data;
    *notify_callback  = server_notify;
    *segment_callback = segment_cb;
    *conn_private     = NULL;
    record_make(rec, HELLO);
    evpl_send(evpl, bind, rec, RECORD);
}

static void
client_send(struct evpl *evpl, struct evpl_bind *bind, struct client *c)
{
    unsigned char rec[RECORD];

    record_make(rec, c->sent++);
    evpl_send(evpl, bind, rec, RECORD);
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct client *c = arg;
    unsigned int   seq;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        test_assert(!atomic_load(&c->connected));
        atomic_store(&c->connected, 1);
        break;
    case EVPL_NOTIFY_RECV_MSG:
        test_assert(atomic_load(&c->connected));
        seq = record_check(notify);
        release_msg(evpl, notify);
        if (!c->hello) {
            test_assert_eq(seq, HELLO);
            c->hello = 1;
            break;
        }
        test_assert_eq(seq, c->received);
        c->received++;
        if (c->sent < ROUNDS) {
            client_send(evpl, bind, c);
        }
        if (c->received == ROUNDS) {
            evpl_close(evpl, bind);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        test_assert_eq(c->received, ROUNDS);
        atomic_fetch_add(&c->disconnected, 1);
        atomic_store(&c->done, 1);
        break;
    default:
        test_fail("client: unexpected notification %u", notify->notify_type);
    }
}

static void
client_start(struct evpl *evpl, struct client *c)
{
    struct evpl_bind *bind;

    c->evpl = evpl;
    bind    = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, segment_cb, c);
    test_assert(bind != NULL);
    /* Sent before CONNECTED: delivered once the connection is up. */
    for (int i = 0; i < IN_FLIGHT; i++) {
        client_send(evpl, bind, c);
    }
}

static void *
client_thread(void *arg)
{
    struct client *c    = arg;
    struct evpl   *evpl = tt_loop_create();

    client_start(evpl, c);
    tt_run_until(evpl, &c->done, 120);
    evpl_destroy(evpl);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl                  *evpl;
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct client                 c = {0};
    pthread_t                     thread;

    evpl_test_init(argc, argv);
    protocol  = tt_protocol(argc, argv, 2, "DATAGRAM_INPROC");
    same_loop = tt_arg_is(argc, argv, 3, "same", 0);

    evpl     = tt_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, attach_cb, NULL);
    endpoint = tt_listen(listener, protocol, "pingpong");
    (void) listening;

    if (same_loop) {
        client_start(evpl, &c);
        tt_run_until(evpl, &c.done, 120);
    } else {
        test_assert(pthread_create(&thread, NULL, client_thread, &c) == 0);
        tt_run_until(evpl, &c.done, 120);
    }
    tt_run_until(evpl, &server_disconnected, 30);
    if (!same_loop) {
        pthread_join(thread, NULL);
    }
    test_assert_eq(atomic_load(&c.disconnected), 1);
    test_assert_eq(atomic_load(&server_disconnected), 1);
    test_assert_eq(c.received, ROUNDS);

    evpl_listener_destroy(listener);
    evpl_listener_detach(evpl, binding);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
