/*
 * Zero-copy sends across threads (API §6.6, §7.6, §19.2) over argv[2]:
 * a SHARED iovec sent with EVPL_SEND_FLAG_TAKE_REF arrives intact (on the
 * in-process transports by reference: the receiver sees the sender's very
 * bytes), a local iovec sent with TAKE_REF arrives intact (copied when it
 * crosses), and a GLOBAL iovec sent without TAKE_REF arrives intact and is
 * freed once by its owner after SENT.  Receivers get owned references.
 */
#include <stdint.h>

#include "transport_test.h"

#define LEN 20000

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static atomic_int            server_got, server_disc;
static void *_Atomic shared_data; /* where the SHARED payload lives (set on the client thread) */
static int           zero_copy_seen;

/* Reassemble messages (and stream bytes) into LEN-byte records. */
static unsigned char rx[LEN];
static unsigned int  rx_len;

static void
record_done(void)
{
    unsigned int kind = rx[0];

    test_assert(kind >= 1 && kind <= 3);
    for (unsigned int i = 1; i < LEN; i++) {
        test_assert_msg(rx[i] == (unsigned char) (kind * 41 + i), "record %u byte %u", kind, i);
    }
    rx_len = 0;
    atomic_fetch_add(&server_got, 1);
}

static void
absorb(struct evpl_iovec *iov)
{
    unsigned char *p   = iov->data;
    unsigned int   len = iov->length;

    void *shared = atomic_load(&shared_data);

    if (shared && p == shared) {
        zero_copy_seen = 1;
    }
    while (len) {
        unsigned int take = LEN - rx_len < len ? LEN - rx_len : len;

        memcpy(rx + rx_len, p, take);
        rx_len += take;
        p += take;
        len -= take;
        if (rx_len == LEN) {
            record_done();
        }
    }
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct evpl_iovec iov[8];
    int               n, len;

    (void) arg;
    test_assert_msg(atomic_load(&server_disc) == 0, "server: notification %u after DISCONNECTED",
                    notify->notify_type);
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_DATA:
        while ((n = evpl_recvv(evpl, bind, iov, 8, LEN * 4, &len)) > 0) {
            for (int i = 0; i < n; i++) {
                absorb(&iov[i]);
                evpl_iovec_release(evpl, &iov[i]);
            }
        }
        break;
    case EVPL_NOTIFY_RECV_MSG:
        test_assert_eq(notify->recv_msg.length, LEN);
        for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
            absorb(&notify->recv_msg.iovec[i]);
            evpl_iovec_release(evpl, &notify->recv_msg.iovec[i]);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&server_disc, 1); /* exactly once, checked at the end */
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
    struct evpl_iovec global;
    uint64_t          acked;
    atomic_int        done;
};

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct client *c = arg;

    (void) bind;
    test_assert_msg(atomic_load(&c->done) == 0, "client: notification %u after DISCONNECTED",
                    notify->notify_type);
    if (notify->notify_type == EVPL_NOTIFY_SENT) {
        c->acked += notify->sent.bytes;
        if (c->acked == 3 * LEN && c->global.data) {
            /* The transfer is finished: the owner frees its GLOBAL buffer. */
            evpl_iovec_release(evpl, &c->global);
        }
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_fetch_add(&c->done, 1);
    }
}

static int
fill(struct evpl_iovec *iov, int n, unsigned int kind)
{
    unsigned int pos = 0;

    for (int i = 0; i < n; i++) {
        unsigned char *p = iov[i].data;
        for (unsigned int j = 0; j < iov[i].length; j++, pos++) {
            p[j] = pos == 0 ? kind : (unsigned char) (kind * 41 + pos);
        }
    }
    return (int) pos;
}

static void *
client_thread(void *arg)
{
    struct client    *c    = arg;
    struct evpl      *evpl = tt_loop_create();
    struct evpl_iovec iov[8];
    struct evpl_bind *bind;
    int               n;

    bind = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, c);
    test_assert(bind != NULL);
    evpl_bind_request_send_notifications(evpl, bind);

    n = evpl_iovec_alloc(evpl, LEN, 0, 8, EVPL_IOVEC_FLAG_SHARED, iov);
    test_assert(n == 1);
    fill(iov, n, 1);
    atomic_store(&shared_data, iov[0].data);
    evpl_sendv(evpl, bind, iov, n, LEN, EVPL_SEND_FLAG_TAKE_REF);

    n = evpl_iovec_alloc(evpl, LEN, 0, 8, 0, iov);
    test_assert(n >= 1);
    fill(iov, n, 2);
    evpl_sendv(evpl, bind, iov, n, LEN, EVPL_SEND_FLAG_TAKE_REF);

    evpl_iovec_alloc_global(evpl, &c->global);
    test_assert(c->global.length >= LEN);
    c->global.length = LEN;
    fill(&c->global, 1, 3);
    evpl_sendv(evpl, bind, &c->global, 1, LEN, 0);

    while (c->acked < 3 * LEN || atomic_load(&server_got) < 3) {
        evpl_continue(evpl);
    }
    evpl_close(evpl, bind);
    tt_run_until(evpl, &c->done, 30);
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
    protocol = tt_protocol(argc, argv, 2, "DATAGRAM_INPROC");

    evpl     = tt_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, attach_cb, NULL);
    endpoint = tt_listen(listener, protocol, "takeref");

    test_assert(pthread_create(&thread, NULL, client_thread, &c) == 0);
    tt_run_until(evpl, &server_disc, 60);
    pthread_join(thread, NULL);
    test_assert_eq(atomic_load(&server_got), 3);
    if (evpl_protocol_is_inproc(protocol)) {
        test_assert_msg(zero_copy_seen, "SHARED payload was copied");
    }

    evpl_listener_destroy(listener);
    evpl_listener_detach(evpl, binding);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    /* DISCONNECTED exactly once per end, teardown included. */
    test_assert_eq(atomic_load(&server_disc), 1);
    test_assert_eq(atomic_load(&c.done), 1);
    return 0;
}
