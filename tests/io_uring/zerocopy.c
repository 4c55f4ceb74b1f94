/*
 * Sends over STREAM_IO_URING_TCP with the zero-copy path enabled on loopback
 * (EVPL_IO_URING_ZC_MIN / EVPL_IO_URING_ZC_LOOPBACK, set before evpl_init),
 * and closes that race operations still in flight.  argv[2] is the protocol,
 * argv[3] the scenario:
 *
 *   stream   8 MiB in a mix of small copied sends, large evpl_send()s and
 *            several evpl_sendv()s queued per pass (single-iovec SEND_ZC and
 *            multi-iovec SENDMSG_ZC); every byte must arrive in order and
 *            the SENT notifications must add up to exactly the bytes queued.
 *   finish   4 MiB queued, then evpl_finish() right away: the peer must get
 *            every byte and then the end of stream.
 *   close    4 MiB queued, then evpl_close() while the sends are in flight:
 *            the peer gets an intact prefix and the end of stream; the client
 *            gets DISCONNECTED; nothing leaks (ASan).
 *   connect_close  evpl_connect() then evpl_close() in the same pass (the
 *            connect is cancelled or completes after the bind is gone); the
 *            client gets DISCONNECTED (CONNECTED may come first), a second connection on the same
 * loop (a new ring) then works normally. copy     as stream, but without the knobs (loopback never
 * goes zero copy): same assertions over the copying path.
 *   adjacent 8 MiB as many small evpl_sendv()s of pieces allocated one after
 *            the other, so that most of them continue each other in memory
 *            and the transport gathers runs of them into one iovec: the
 *            zero-copy records must hold a reference on every piece of a
 *            run, and every byte must arrive in order.
 *   adjacent_copy   the same over the copying path (no knobs); also run over
 *            STREAM_SOCKET_TCP.
 *   adjacent_close  adjacent pieces queued, then evpl_close() while they are
 *            in flight: an intact prefix arrives, nothing leaks (ASan).
 */
#include <stdlib.h>

#include "net_test.h"

#define CHUNK 65536u

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static const char           *scenario;
static uint64_t              total;
static uint64_t              queued, received, sent_reported;
static atomic_int            server_done, client_done, client_connected;
static struct evpl_bind     *client;

static inline unsigned char
pattern(uint64_t off)
{
    return (unsigned char) (off * 13 + off / 509);
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    static unsigned char buf[CHUNK];
    int                  n;

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_DATA:
        while ((n = evpl_recv(evpl, bind, buf, sizeof(buf), 0)) > 0) {
            for (int i = 0; i < n; i++, received++) {
                if (buf[i] != pattern(received)) {
                    test_fail("byte %llu is %u, expected %u", (unsigned long long) received, buf[i],
                              pattern(received));
                }
            }
        }
        test_assert(received <= total);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_store(&server_done, 1);
        break;
    }
}

TEST_ATTACH_NOTIFY(server_attach, server_notify)

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) evpl;
    (void) bind;
    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        atomic_store(&client_connected, 1);
        break;
    case EVPL_NOTIFY_SENT:
        sent_reported += notify->sent.bytes;
        test_assert(sent_reported <= queued);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_store(&client_done, 1);
        break;
    }
}

/* Queue len pattern bytes starting at queued, copying. */
static void
queue_copy(struct evpl *evpl, unsigned int len)
{
    static unsigned char buf[4 * CHUNK];

    test_assert(len <= sizeof(buf));
    for (unsigned int i = 0; i < len; i++) {
        buf[i] = pattern(queued + i);
    }
    evpl_send(evpl, client, buf, len);
    queued += len;
}

/* Queue len pattern bytes from library buffers, zero-copy (TAKE_REF). */
static void
queue_iov(struct evpl *evpl, unsigned int len)
{
    struct evpl_iovec iov[8];
    uint64_t          off = queued;
    int               n   = evpl_iovec_alloc(evpl, len, 0, 8, 0, iov);

    test_assert(n > 0);
    for (int i = 0; i < n; i++) {
        unsigned char *p = iov[i].data;

        for (unsigned int j = 0; j < iov[i].length; j++) {
            p[j] = pattern(off++);
        }
    }
    evpl_sendv(evpl, client, iov, n, (int) len, EVPL_SEND_FLAG_TAKE_REF);
    queued += len;
}

/*
 * Queue about len pattern bytes as separately allocated small pieces, each
 * its own evpl_sendv(): consecutive allocations are packed into the loop's
 * current buffer, so the send ring holds runs of entries that continue each
 * other in memory.
 */
static void
queue_adjacent(struct evpl *evpl, unsigned int len)
{
    static const unsigned int sizes[] = {1, 63, 64, 1000, 4095, 4096, 9000, 517};
    static unsigned int       step;
    unsigned int              done = 0;

    while (done < len && queued < total) {
        struct evpl_iovec iov[8];
        unsigned int      sz  = sizes[step++ % 8];
        uint64_t          off = queued;
        int               n;

        if (sz > total - queued) {
            sz = (unsigned int) (total - queued);
        }
        n = evpl_iovec_alloc(evpl, sz, 0, 8, 0, iov);
        test_assert(n > 0);
        for (int i = 0; i < n; i++) {
            unsigned char *p = iov[i].data;

            for (unsigned int j = 0; j < iov[i].length; j++) {
                p[j] = pattern(off++);
            }
        }
        evpl_sendv(evpl, client, iov, n, (int) sz, EVPL_SEND_FLAG_TAKE_REF);
        queued += sz;
        done += sz;
    }
}

static int adjacent; /* the adjacent scenarios feed with queue_adjacent() */

/* One pass worth of sends of assorted sizes and kinds. */
static void
queue_some(struct evpl *evpl)
{
    static unsigned int step;
    unsigned int        sizes[] = {100, 3 * CHUNK, 1500, CHUNK, 7000, 2 * CHUNK + 17};

    if (adjacent) {
        queue_adjacent(evpl, 2 * CHUNK);
        return;
    }
    for (int i = 0; i < 6 && queued < total; i++, step++) {
        unsigned int len = sizes[step % 6];

        if (len > total - queued) {
            len = (unsigned int) (total - queued);
        }
        if (step % 3 == 0) {
            queue_copy(evpl, len);
        } else {
            queue_iov(evpl, len);
        }
    }
}

static void
run_until(struct evpl *evpl, atomic_int *a, atomic_int *b, int limit_s)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!atomic_load(a) || (b && !atomic_load(b))) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > limit_s) {
            test_fail("%s: timed out, %llu queued, %llu received, %llu reported sent", scenario,
                      (unsigned long long) queued, (unsigned long long) received,
                      (unsigned long long) sent_reported);
        }
    }
}

/* Pump until every byte queued so far (and, with feed, all of total) has
 * arrived, keeping at most 16 chunks outstanding. */
static void
pump_received(struct evpl *evpl, int feed)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (received < (feed ? total : queued)) {
        if (feed && queued < total && queued - received < 16 * CHUNK) {
            queue_some(evpl);
        }
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 30) {
            test_fail("%s: timed out, %llu queued, %llu received", scenario,
                      (unsigned long long) queued, (unsigned long long) received);
        }
    }
}

static void
connect_client(struct evpl *evpl)
{
    atomic_store(&client_connected, 0);
    atomic_store(&client_done, 0);
    client = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, NULL);
    test_assert(client != NULL);
    evpl_bind_request_send_notifications(evpl, client);
}

int
main(int argc, char **argv)
{
    struct evpl_global_config    *config;
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl                  *evpl;

    scenario = argc > 3 ? argv[3] : "stream";
    adjacent = strncmp(scenario, "adjacent", 8) == 0;
    if (strcmp(scenario, "copy") != 0 && strcmp(scenario, "adjacent_copy") != 0) {
        setenv("EVPL_IO_URING_ZC_MIN", "4096", 1);
        setenv("EVPL_IO_URING_ZC_LOOPBACK", "1", 1);
    }
    config = evpl_test_config(argc, argv);
    evpl_init(config);
    protocol = net_protocol(argc, argv);
    endpoint = net_endpoint(protocol, "zerocopy");

    evpl     = net_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);

    if (strcmp(scenario, "stream") == 0 || strcmp(scenario, "copy") == 0 ||
        strcmp(scenario, "adjacent") == 0 || strcmp(scenario, "adjacent_copy") == 0) {
        total = 8u << 20;
        connect_client(evpl);
        run_until(evpl, &client_connected, NULL, 30);
        /* The server closes nothing: wait for every byte, then finish. */
        pump_received(evpl, 1);
        test_assert_eq(queued, total);
        evpl_finish(evpl, client);
        run_until(evpl, &client_done, &server_done, 30);
        test_assert_eq(received, total);
        test_assert_eq(sent_reported, total);
    } else if (strcmp(scenario, "finish") == 0 || strcmp(scenario, "close") == 0 ||
               strcmp(scenario, "adjacent_close") == 0) {
        int finish = strcmp(scenario, "finish") == 0;

        total = 4u << 20;
        connect_client(evpl);
        run_until(evpl, &client_connected, NULL, 30);
        while (queued < total) {
            if (adjacent) {
                queue_adjacent(evpl, CHUNK);
            } else if ((queued / CHUNK) % 2) {
                queue_iov(evpl, CHUNK);
            } else {
                queue_copy(evpl, CHUNK);
            }
        }
        /* One pass: the sends go to the kernel and are in flight. */
        evpl_continue(evpl);
        if (finish) {
            evpl_finish(evpl, client);
        } else {
            evpl_close(evpl, client);
        }
        run_until(evpl, &client_done, &server_done, 30);
        if (finish) {
            test_assert_eq(received, total);
            test_assert_eq(sent_reported, total);
        } else {
            test_assert(received <= total);
            test_assert(sent_reported <= total);
        }
    } else if (strcmp(scenario, "connect_close") == 0) {
        total = 2 * CHUNK;
        connect_client(evpl);
        evpl_close(evpl, client);
        run_until(evpl, &client_done, NULL, 30);
        /* Let the server side settle (it may or may not have accepted). */
        for (int i = 0; i < 20; i++) {
            evpl_continue(evpl);
        }
        /* The ring went with the last connection on this loop; a new
         * connection brings up a new one and carries data. */
        atomic_store(&server_done, 0);
        received = 0;
        connect_client(evpl);
        run_until(evpl, &client_connected, NULL, 30);
        queue_copy(evpl, CHUNK);
        queue_iov(evpl, CHUNK);
        pump_received(evpl, 0);
        evpl_finish(evpl, client);
        run_until(evpl, &client_done, &server_done, 30);
        test_assert_eq(received, total);
        test_assert_eq(sent_reported, total);
    } else {
        test_fail("unknown scenario %s", scenario);
    }

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
