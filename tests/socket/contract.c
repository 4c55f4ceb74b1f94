/*
 * The stream bind contract of docs' API sections 6 and 7 over argv[2]
 * (a stream protocol), client and server on one loop:
 *   - no notification from inside the call that caused it (connect, send,
 *     close, SENT opt-in);
 *   - per bind: CONNECTED before any receive, DISCONNECTED exactly once and
 *     last;
 *   - the error returns of evpl_peek/peekv/recv/recvv (NULL or non-positive
 *     arguments, *length = 0 on error);
 *   - evpl_peekv returns borrowed views of the buffered bytes (not
 *     consumed, not referenced), evpl_consume discards exactly its length
 *     or nothing, ALL_OR_NONE receives nothing when too little is buffered;
 *   - evpl_sendv trims to length, TAKE_REF releases the iovecs beyond it,
 *     nbufvecs == 0 sends nothing, flags 0 on a plain iovec leaves the
 *     caller's reference to the caller (the harness's leak check at
 *     evpl_destroy() proves every reference was released once);
 *   - SENT requested after data was queued in the same pass reports it;
 *   - an accepted connection's local address is concrete (127.0.0.1) when
 *     the listener listens on 0.0.0.0;
 *   - a second evpl_close() is a no-op and evpl_bind_is_closing() says 1
 *     after it, 0 inside CONNECTED, 1 on the server once the peer's end of
 *     stream was seen.
 */
#include <errno.h>
#include <stdlib.h>

#include "net_test.h"

#define REQUEST_LEN 10

static const char REQUEST[] = "0123456789";
#define REPLY     "abcdefXYZ" /* "abcdef" trimmed from 12 bytes, then "XYZ" */
#define REPLY_LEN 9

struct side {
    const char       *name;
    struct evpl_bind *bind;
    int               connected, disconnected, events_after_disconnect;
    int               received; /* RECV_DATA notifications */
    unsigned long     sent_bytes;
    char              data[64];
    int               len;
};

static struct side           client = {.name = "client"}, server = {.name = "server"};
static int                   in_call; /* inside an API call that may cause a notification */
static atomic_int            both_disconnected;
static enum evpl_protocol_id protocol;
static int                   inet;
static char                  expect_local[EVPL_ADDRESS_STRLEN];

/* Every notification: never inside a causing call; nothing after
 * DISCONNECTED; nothing but CONNECTED first. */
static void
record(struct side *s, struct evpl_bind *bind, const struct evpl_notify *n)
{
    test_assert_msg(!in_call, "%s: notification %u inside the call that caused it", s->name,
                    n->notify_type);
    if (s->disconnected) {
        s->events_after_disconnect++;
        test_fail("%s: notification %u after DISCONNECTED", s->name, n->notify_type);
    }
    if (n->notify_type != EVPL_NOTIFY_CONNECTED && n->notify_type != EVPL_NOTIFY_DISCONNECTED &&
        n->notify_type != EVPL_NOTIFY_SENT) {
        test_assert_msg(s->connected == 1, "%s: notification %u before CONNECTED", s->name,
                        n->notify_type);
    }
    if (s->bind == NULL) {
        s->bind = bind;
    }
    test_assert(s->bind == bind);
    switch (n->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        test_assert_eq(s->connected, 0);
        s->connected++;
        test_assert_eq(evpl_bind_is_closing(bind), 0);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        s->disconnected++;
        if (client.disconnected && server.disconnected) {
            atomic_store(&both_disconnected, 1);
        }
        break;
    case EVPL_NOTIFY_SENT:
        s->sent_bytes += n->sent.bytes;
        break;
    case EVPL_NOTIFY_RECV_DATA:
        s->received++;
        break;
    default:
        test_fail("%s: unexpected notification %u", s->name, n->notify_type);
    }
}

/* The error returns of the receive functions (API 6.7). */
static void
check_receive_errors(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_iovec iov[4];
    char              buf[16];
    int               length;

    errno = 0;
    test_assert_eq(evpl_peek(evpl, bind, NULL, 4), -1);
    test_assert_eq(errno, EINVAL);
    test_assert_eq(evpl_peek(evpl, bind, buf, 0), -1);
    test_assert_eq(evpl_peek(evpl, bind, buf, -1), -1);
    test_assert_eq(evpl_peek(evpl, NULL, buf, 4), -1);
    test_assert_eq(evpl_peekv(evpl, bind, NULL, 4, 4), -1);
    test_assert_eq(evpl_peekv(evpl, bind, iov, 0, 4), -1);
    test_assert_eq(evpl_peekv(evpl, bind, iov, 4, 0), -1);
    errno = 0;
    test_assert_eq(evpl_recv(evpl, bind, NULL, 4, 0), -1);
    test_assert_eq(errno, EINVAL);
    test_assert_eq(evpl_recv(evpl, bind, buf, 0, 0), -1);
    test_assert_eq(evpl_recv(evpl, bind, buf, -5, 0), -1);
    length = 123;
    test_assert_eq(evpl_recvv(evpl, bind, iov, 0, 4, &length), -1);
    test_assert_eq(length, 0);
    length = 123;
    test_assert_eq(evpl_recvv(evpl, bind, iov, 4, 0, &length), -1);
    test_assert_eq(length, 0);
    length = 123;
    test_assert_eq(evpl_recvv(evpl, bind, NULL, 4, 4, &length), -1);
    test_assert_eq(length, 0);
}

/* Fill an iovec of len bytes with text. */
static void
alloc_text(struct evpl *evpl, struct evpl_iovec *iov, const char *text, unsigned int len)
{
    test_assert_eq(evpl_iovec_alloc(evpl, len, 0, 1, 0, iov), 1);
    memcpy(iov->data, text, len);
}

static void
server_reply(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_iovec iov[3], plain;

    /* 12 bytes offered, 6 sent: "abcd" whole, "efgh" trimmed to "ef", "ijkl"
     * not sent and released by the library (TAKE_REF). */
    alloc_text(evpl, &iov[0], "abcd", 4);
    alloc_text(evpl, &iov[1], "efgh", 4);
    alloc_text(evpl, &iov[2], "ijkl", 4);
    in_call = 1;
    evpl_sendv(evpl, bind, iov, 3, 6, EVPL_SEND_FLAG_TAKE_REF);
    evpl_sendv(evpl, bind, iov, 0, 0, EVPL_SEND_FLAG_TAKE_REF); /* no-op */
    in_call = 0;

    /* flags 0: the library takes its own reference; ours is released now,
     * and the bytes still arrive. */
    alloc_text(evpl, &plain, "XYZ", 3);
    in_call = 1;
    evpl_sendv(evpl, bind, &plain, 1, 3, 0);
    in_call = 0;
    evpl_iovec_release(evpl, &plain);
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *n, void *arg)
{
    struct evpl_iovec iov[8];
    char              buf[32];
    int               niov, total, length;

    (void) arg;
    record(&server, bind, n);
    if (n->notify_type == EVPL_NOTIFY_CONNECTED && inet) {
        char local[EVPL_ADDRESS_STRLEN];

        evpl_bind_get_local_address(bind, local, sizeof(local));
        test_assert_msg(strcmp(local, expect_local) == 0,
                        "accepted bind's local address '%s', expected '%s' (listener on 0.0.0.0)",
                        local, expect_local);
    }
    if (n->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        /* The server never closed: the peer's end of stream alone made the
         * close underway (API 6.9). */
        test_assert_eq(evpl_bind_is_closing(bind), 1);
    }
    if (n->notify_type != EVPL_NOTIFY_RECV_DATA) {
        return;
    }
    check_receive_errors(evpl, bind);
    if (evpl_peek(evpl, bind, buf, sizeof(buf)) < REQUEST_LEN) {
        return; /* wait for the whole request */
    }

    /* Borrowed views: the bytes, not consumed, and no reference to release. */
    niov = evpl_peekv(evpl, bind, iov, 8, REQUEST_LEN);
    test_assert(niov >= 1);
    total = 0;
    for (int i = 0; i < niov; i++) {
        test_assert(memcmp(iov[i].data, REQUEST + total, iov[i].length) == 0);
        total += (int) iov[i].length;
    }
    test_assert_eq(total, REQUEST_LEN);
    niov  = evpl_peekv(evpl, bind, iov, 8, 4);
    total = 0;
    for (int i = 0; i < niov; i++) {
        total += (int) iov[i].length;
    }
    test_assert_eq(total, 4);
    test_assert_eq(evpl_peek(evpl, bind, buf, sizeof(buf)), REQUEST_LEN);

    /* consume: all of length or nothing */
    test_assert_eq(evpl_consume(evpl, bind, REQUEST_LEN + 1), -1);
    test_assert_eq(evpl_peek(evpl, bind, buf, sizeof(buf)), REQUEST_LEN);
    test_assert_eq(evpl_consume(evpl, bind, 3), 0);
    test_assert_eq(evpl_peek(evpl, bind, buf, sizeof(buf)), REQUEST_LEN - 3);
    test_assert(memcmp(buf, REQUEST + 3, REQUEST_LEN - 3) == 0);

    /* ALL_OR_NONE with too little buffered: 0, nothing consumed */
    test_assert_eq(evpl_recv(evpl, bind, buf, REQUEST_LEN, EVPL_RECV_FLAG_ALL_OR_NONE), 0);
    test_assert_eq(evpl_peek(evpl, bind, buf, sizeof(buf)), REQUEST_LEN - 3);

    /* recvv: the rest, with references we own */
    niov = evpl_recvv(evpl, bind, iov, 8, 64, &length);
    test_assert(niov >= 1);
    test_assert_eq(length, REQUEST_LEN - 3);
    total = 0;
    for (int i = 0; i < niov; i++) {
        test_assert(memcmp(iov[i].data, REQUEST + 3 + total, iov[i].length) == 0);
        total += (int) iov[i].length;
    }
    test_assert_eq(total, REQUEST_LEN - 3);
    evpl_iovecs_release(evpl, iov, niov);
    test_assert_eq(evpl_recv(evpl, bind, buf, sizeof(buf), 0), 0);
    length = 77;
    test_assert_eq(evpl_recvv(evpl, bind, iov, 8, 64, &length), 0);
    test_assert_eq(length, 0);

    server_reply(evpl, bind);
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *n, void *arg)
{
    int got;

    (void) arg;
    record(&client, bind, n);
    if (n->notify_type != EVPL_NOTIFY_RECV_DATA) {
        return;
    }
    got =
        evpl_recv(evpl, bind, client.data + client.len, (int) sizeof(client.data) - client.len, 0);
    test_assert(got > 0);
    client.len += got;
    test_assert(client.len <= REPLY_LEN);
    if (client.len == REPLY_LEN) {
        test_assert_msg(memcmp(client.data, REPLY, REPLY_LEN) == 0, "reply '%.*s'", REPLY_LEN,
                        client.data);
        in_call = 1;
        evpl_close(evpl, bind);
        evpl_close(evpl, bind); /* a no-op */
        in_call = 0;
        test_assert_eq(evpl_bind_is_closing(bind), 1);
    }
}

static void
server_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    (void) evpl;
    (void) bind;
    (void) segment_callback;
    (void) conn_private_data;
    (void) private_data;
    *notify_callback = server_notify;
}

int
main(int argc, char **argv)
{
    struct evpl                  *evpl;
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl_endpoint         *listen_ep, *connect_ep;
    struct evpl_bind             *bind;

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    test_assert(evpl_protocol_is_stream(protocol));
    inet = !evpl_protocol_is_local(protocol) && !evpl_protocol_is_inproc(protocol);
    if (inet) {
        int port = net_free_port(SOCK_STREAM);

        listen_ep  = evpl_endpoint_create("0.0.0.0", port);
        connect_ep = evpl_endpoint_create("127.0.0.1", port);
        snprintf(expect_local, sizeof(expect_local), "127.0.0.1:%d", port);
    } else {
        listen_ep = connect_ep = net_endpoint(protocol, "contract");
    }

    evpl     = net_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, listen_ep), 0);

    in_call = 1;
    bind    = evpl_connect(evpl, protocol, NULL, connect_ep, client_notify, NULL, NULL);
    test_assert(bind != NULL);
    evpl_send(evpl, bind, REQUEST, REQUEST_LEN);
    /* Opted in after the data was queued, in the same pass: still reported. */
    evpl_bind_request_send_notifications(evpl, bind);
    in_call = 0;

    net_run_until(evpl, &both_disconnected, 30);
    /* A few more passes: nothing may follow DISCONNECTED. */
    for (int i = 0; i < 5; i++) {
        evpl_continue(evpl);
    }

    test_assert_eq(client.connected, 1);
    test_assert_eq(server.connected, 1);
    test_assert_eq(client.disconnected, 1);
    test_assert_eq(server.disconnected, 1);
    test_assert_eq(client.sent_bytes, REQUEST_LEN);
    test_assert(server.received >= 1);

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(listen_ep);
    if (connect_ep != listen_ep) {
        evpl_endpoint_close(connect_ep);
    }
    return 0;
}
