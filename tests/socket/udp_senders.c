/*
 * DATAGRAM_SOCKET_UDP sender addresses (the per-bind cache of recent
 * senders, src/bind/address_cache.c):
 *   1. ping-pong with PEERS peers at once, the server replying to each
 *      datagram with evpl_sendto(recv_msg.addr): every datagram of one peer
 *      carries the very same address object for the whole run (no address is
 *      allocated per datagram, although every reply keeps the address
 *      referenced until it is flushed), and the peers' objects differ;
 *   2. MANY peers (more than the cache holds) send at once, so the cache
 *      evicts addresses that queued replies still reference: every reply
 *      must reach the peer that sent the datagram (an evicted address the
 *      application kept is never rewritten or freed under it; ASan checks
 *      the latter).
 * Runs over IPv4 loopback, or the host in EVPL_TEST_INET_HOST (e.g. ::1).
 */
#include <stdint.h>
#include <stdlib.h>

#include "net_test.h"

/* 500 rounds: ~7 s under valgrind, where every recvmmsg() costs the check of
 * the 16 x 64 KiB it offers (2000 rounds took 20-40 s against a 30 s bound). */
#define PEERS  3
#define ROUNDS 500
#define MANY   40

struct payload {
    uint32_t peer;
    uint32_t seq;
};

static struct evpl_endpoint *server_ep;
static struct evpl_address  *seen[PEERS];
static int                   server_msgs, replies_done, many_done;
static atomic_int            all_done;

static struct payload
payload_get(struct evpl_notify *notify)
{
    struct payload p;
    unsigned int   off = 0;

    test_assert_eq(notify->recv_msg.length, sizeof(p));
    for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
        memcpy((char *) &p + off, notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
        off += notify->recv_msg.iovec[i].length;
    }
    return p;
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    struct payload p;

    (void) data;
    if (notify->notify_type != EVPL_NOTIFY_RECV_MSG) {
        return;
    }
    p = payload_get(notify);
    test_assert(notify->recv_msg.addr != NULL);
    if (p.peer < PEERS) {
        if (seen[p.peer] == NULL) {
            for (int i = 0; i < PEERS; i++) {
                test_assert_msg(seen[i] != notify->recv_msg.addr,
                                "peers %d and %u share an address object", i, p.peer);
            }
            seen[p.peer] = notify->recv_msg.addr;
        } else {
            test_assert_msg(seen[p.peer] == notify->recv_msg.addr,
                            "peer %u, datagram %u: a new address object (%p, was %p)", p.peer,
                            p.seq, (void *) notify->recv_msg.addr, (void *) seen[p.peer]);
        }
    }
    server_msgs++;
    /* The reply keeps the address until the flush at the end of the pass. */
    evpl_sendto(evpl, bind, notify->recv_msg.addr, &p, sizeof(p));
    evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    uint32_t       me = (uint32_t) (uintptr_t) data;
    struct payload p;

    if (notify->notify_type != EVPL_NOTIFY_RECV_MSG) {
        return;
    }
    p = payload_get(notify);
    evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
    test_assert_msg(p.peer == me, "peer %u received the reply meant for peer %u", me, p.peer);
    if (me < PEERS) {
        if (++p.seq < ROUNDS) {
            evpl_sendtoep(evpl, bind, server_ep, &p, sizeof(p));
        } else {
            replies_done++;
        }
    } else {
        many_done++;
    }
    if (replies_done == PEERS && many_done == MANY) {
        atomic_store(&all_done, 1);
    }
}

static struct evpl_bind *
client_bind(struct evpl *evpl, const char *host, uint32_t index)
{
    struct evpl_endpoint *ep = evpl_endpoint_create(host, 0); /* any free port */
    struct evpl_bind     *bind =
        evpl_bind(evpl, EVPL_DATAGRAM_SOCKET_UDP, ep, client_notify, (void *) (uintptr_t) index);

    test_assert(bind != NULL);
    evpl_endpoint_close(ep);
    return bind;
}

int
main(int argc, char **argv)
{
    const char *host = getenv("EVPL_TEST_INET_HOST") ? getenv("EVPL_TEST_INET_HOST") : "127.0.0.1";
    struct evpl_bind *server, *clients[PEERS + MANY];
    struct evpl      *evpl;
    struct payload    p = {0, 0};

    evpl_test_init(argc, argv);
    evpl   = net_loop_create();
    server = net_udp_bind(evpl, host, server_notify, NULL, &server_ep, NULL);

    for (uint32_t i = 0; i < PEERS + MANY; i++) {
        clients[i] = client_bind(evpl, host, i);
    }

    /* 1: interleaved ping-pong with PEERS peers. */
    for (uint32_t i = 0; i < PEERS; i++) {
        p.peer = i;
        evpl_sendtoep(evpl, clients[i], server_ep, &p, sizeof(p));
    }
    {
        struct timespec start, now;

        clock_gettime(CLOCK_MONOTONIC, &start);
        while (replies_done < PEERS) {
            evpl_continue(evpl);
            clock_gettime(CLOCK_MONOTONIC, &now);
            test_assert_msg(now.tv_sec - start.tv_sec < 30, "ping-pong stalled (%d replies done)",
                            replies_done);
        }
    }
    test_assert_eq(server_msgs, PEERS * ROUNDS);

    /* 2: more peers than the cache holds, all in one burst. */
    for (uint32_t i = PEERS; i < PEERS + MANY; i++) {
        p.peer = i;
        evpl_sendtoep(evpl, clients[i], server_ep, &p, sizeof(p));
    }
    net_run_until(evpl, &all_done, 30);
    test_assert_eq(server_msgs, PEERS * ROUNDS + MANY);

    for (int i = 0; i < PEERS + MANY; i++) {
        evpl_close(evpl, clients[i]);
    }
    evpl_close(evpl, server);
    evpl_destroy(evpl);
    evpl_endpoint_close(server_ep);
    return 0;
}
