/*
 * Full-duplex bulk transfer: the server loop (main thread) and a client
 * thread each send 128 MiB (argv[3] MiB if given) in random-sized sends of
 * 1 byte .. 64 KiB, mixing copying evpl_send() and zero-copy
 * evpl_sendv(TAKE_REF), while receiving with a mix of evpl_recv() and
 * zero-copy evpl_recvv().  Every byte is checked against the stream pattern.
 * The sender keeps at most 8 MiB queued, paced by SENT byte counts, which
 * must add up to exactly what was sent.
 */
#include <stdint.h>
#include "net_test.h"

#define MAX_SEND   65536
#define MAX_QUEUED (8u << 20)

struct side {
    const char *name;
    uint64_t    total;
    uint64_t    sent;     /* bytes queued */
    uint64_t    reported; /* bytes reported by SENT */
    uint64_t    received;
    uint32_t    rng;
    int         closed;
    atomic_int  done;
};

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static uint64_t              total_bytes = 128ull << 20;
static struct side           server_side = {.name = "server", .rng = 12345};
static struct side           client_side = {.name = "client", .rng = 67890};

static inline uint8_t
pattern(uint64_t off)
{
    return (uint8_t) (off ^ (off >> 8) ^ (off >> 19) ^ 0x5a);
}

static inline uint32_t
next_rand(struct side *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 17;
    s->rng ^= s->rng << 5;
    return s->rng;
}

static void
verify(struct side *s, const uint8_t *data, unsigned int len)
{
    for (unsigned int i = 0; i < len; i++) {
        if (data[i] != pattern(s->received + i)) {
            test_fail("%s: byte %llu is 0x%02x, expected 0x%02x", s->name,
                      (unsigned long long) (s->received + i), data[i], pattern(s->received + i));
        }
    }
    s->received += len;
}

static void
pump_sends(struct evpl *evpl, struct evpl_bind *bind, struct side *s)
{
    static _Thread_local uint8_t buf[MAX_SEND];

    while (s->sent < s->total && s->sent - s->reported < MAX_QUEUED) {
        uint64_t len = next_rand(s) % MAX_SEND + 1;

        if (len > s->total - s->sent) {
            len = s->total - s->sent;
        }
        if (next_rand(s) & 1) {
            for (uint64_t i = 0; i < len; i++) {
                buf[i] = pattern(s->sent + i);
            }
            evpl_send(evpl, bind, buf, len);
        } else {
            struct evpl_iovec iov[4];
            int               n   = evpl_iovec_alloc(evpl, len, 0, 4, 0, iov);
            uint64_t          off = s->sent;
            test_assert(n > 0);
            for (int j = 0; j < n; j++) {
                uint8_t *p = iov[j].data;
                for (unsigned int i = 0; i < iov[j].length; i++) {
                    p[i] = pattern(off++);
                }
            }
            evpl_sendv(evpl, bind, iov, n, len, EVPL_SEND_FLAG_TAKE_REF);
        }
        s->sent += len;
    }
}

static void
maybe_done(struct evpl *evpl, struct evpl_bind *bind, struct side *s)
{
    (void) evpl;
    (void) bind;
    if (s->received == total_bytes && s->reported == s->total) {
        atomic_store(&s->done, 1);
    }
}

static void
side_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    struct side *s = data;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        evpl_bind_request_send_notifications(evpl, bind);
        pump_sends(evpl, bind, s);
        break;
    case EVPL_NOTIFY_SENT:
        test_assert_eq(notify->sent.msgs, 0);
        s->reported += notify->sent.bytes;
        test_assert(s->reported <= s->sent);
        pump_sends(evpl, bind, s);
        maybe_done(evpl, bind, s);
        break;
    case EVPL_NOTIFY_RECV_DATA:
        if (next_rand(s) & 1) {
            struct evpl_iovec iov[8];
            int               n, len;
            while ((n = evpl_recvv(evpl, bind, iov, 8, 1 << 20, &len)) > 0) {
                int sum = 0;
                for (int i = 0; i < n; i++) {
                    verify(s, iov[i].data, iov[i].length);
                    sum += iov[i].length;
                }
                test_assert_eq(sum, len);
                evpl_iovecs_release(evpl, iov, n);
            }
        } else {
            static _Thread_local uint8_t buf[100000];
            int                          n;
            while ((n = evpl_recv(evpl, bind, buf, next_rand(s) % sizeof(buf) + 1, 0)) > 0) {
                verify(s, buf, n);
            }
        }
        test_assert(s->received <= total_bytes);
        maybe_done(evpl, bind, s);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        s->closed = 1;
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
    (void) segment_callback;
    (void) private_data;
    *notify_callback   = side_notify;
    *conn_private_data = &server_side;
}

static void *
client_thread(void *arg)
{
    struct evpl      *evpl = net_loop_create();
    struct evpl_bind *bind;

    (void) arg;
    bind = evpl_connect(evpl, protocol, NULL, endpoint, side_notify, NULL, &client_side);
    test_assert(bind != NULL);
    net_run_until(evpl, &client_side.done, 100);
    evpl_close(evpl, bind);
    while (!client_side.closed) {
        evpl_continue(evpl);
    }
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
    if (argc > 3) {
        total_bytes = strtoull(argv[3], NULL, 0) << 20;
    }
    total_bytes       = test_transfer_bytes(total_bytes, 4 * MAX_QUEUED);
    server_side.total = client_side.total = total_bytes;
    endpoint                              = net_endpoint(protocol, "duplex");

    evpl     = net_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);

    pthread_create(&thread, NULL, client_thread, NULL);
    net_run_until(evpl, &server_side.done, 100);
    while (!server_side.closed) {
        evpl_continue(evpl);
    }
    pthread_join(thread, NULL);

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    return 0;
}
