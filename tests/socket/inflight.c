/*
 * Messages over a stream with a segment callback: the client keeps 100
 * variable-length framed messages (4-byte length header + payload, 8 bytes
 * .. 16 KiB) in flight, the server echoes each RECV_MSG back zero-copy with
 * evpl_sendv(TAKE_REF).  Each side must get exactly one RECV_MSG per message,
 * in order, with intact content, and SENT must count whole messages.  The
 * segment callback sometimes answers before the whole message has arrived
 * and sometimes returns 0 until the header is complete.
 */
#include <stdint.h>
#include "net_test.h"

#define INFLIGHT 100
#define TOTAL    10000

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static atomic_int            server_done, client_done;
static unsigned int          next_send, next_recv, inflight;
static unsigned long         server_sent_msgs, server_msgs;

static unsigned int
msg_len(unsigned int seq)
{
    return 8 + (seq * 2654435761u) % 16384;
}

static int
segment(struct evpl *evpl, struct evpl_bind *bind, void *data)
{
    uint32_t len;

    (void) data;
    if (evpl_peek(evpl, bind, &len, sizeof(len)) < (int) sizeof(len)) {
        return 0;
    }
    return len;
}

static void
send_msg(struct evpl *evpl, struct evpl_bind *bind, unsigned int seq)
{
    static unsigned char buf[16384 + 8];
    uint32_t             len = msg_len(seq);

    memcpy(buf, &len, 4);
    memcpy(buf + 4, &seq, 4);
    for (unsigned int i = 8; i < len; i++) {
        buf[i] = (unsigned char) (seq + i);
    }
    evpl_send(evpl, bind, buf, len);
}

static void
check_msg(struct evpl_notify *notify, unsigned int seq)
{
    unsigned char buf[16384 + 8];
    unsigned int  off = 0, got_seq;

    test_assert_eq(notify->recv_msg.length, msg_len(seq));
    for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
        memcpy(buf + off, notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
        off += notify->recv_msg.iovec[i].length;
    }
    test_assert_eq(off, notify->recv_msg.length);
    memcpy(&got_seq, buf + 4, 4);
    test_assert_eq(got_seq, seq);
    for (unsigned int i = 8; i < off; i++) {
        test_assert(buf[i] == (unsigned char) (seq + i));
    }
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        evpl_bind_request_send_notifications(evpl, bind);
        break;
    case EVPL_NOTIFY_RECV_DATA:
        test_fail("RECV_DATA on a bind with a segment callback");
        break;
    case EVPL_NOTIFY_RECV_MSG:
        check_msg(notify, server_msgs++);
        evpl_sendv(evpl, bind, notify->recv_msg.iovec, notify->recv_msg.niov,
                   notify->recv_msg.length, EVPL_SEND_FLAG_TAKE_REF);
        break;
    case EVPL_NOTIFY_SENT:
        server_sent_msgs += notify->sent.msgs;
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        test_assert_eq(server_msgs, TOTAL);
        test_assert_eq(server_sent_msgs, TOTAL);
        atomic_store(&server_done, 1);
        break;
    }
}

static void
server_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    (void) evpl;
    (void) bind;
    (void) conn_private_data;
    (void) private_data;
    *notify_callback  = server_notify;
    *segment_callback = segment;
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_MSG:
        check_msg(notify, next_recv++);
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        inflight--;
        while (inflight < INFLIGHT && next_send < TOTAL) {
            send_msg(evpl, bind, next_send++);
            inflight++;
        }
        if (next_recv == TOTAL) {
            evpl_close(evpl, bind);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_store(&client_done, 1);
        break;
    }
}

static void *
client_thread(void *arg)
{
    struct evpl      *evpl = net_loop_create();
    struct evpl_bind *bind;

    (void) arg;
    bind = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, segment, NULL);
    test_assert(bind != NULL);
    while (inflight < INFLIGHT) {
        send_msg(evpl, bind, next_send++);
        inflight++;
    }
    net_run_until(evpl, &client_done, 50);
    test_assert_eq(next_recv, TOTAL);
    evpl_destroy(evpl);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl                  *evpl;
    pthread_t                     thread;

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    endpoint = net_endpoint(protocol, "inflight");

    evpl     = net_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);

    pthread_create(&thread, NULL, client_thread, NULL);
    net_run_until(evpl, &server_done, 50);
    pthread_join(thread, NULL);

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    return 0;
}
