/*
 * Helpers shared by the peer programs (libevent, libuv, hand-written epoll):
 * the same wire behaviour as evpl-bench (tools/evpl-bench/wire.h), the same
 * per-flow bookkeeping, plain-socket setup.  Each peer offers
 * STREAM_SOCKET_TCP (pingpong, stream); libevent and epoll also offer
 * DATAGRAM_SOCKET_UDP (pingpong).
 */
#pragma once

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "driver.h"
#include "wire.h"

/* Per-flow bookkeeping: message k was issued at stamp[k % depth]. */
struct peer_flow {
    uint64_t  sent;
    uint64_t  done;
    uint64_t *stamp;
    uint64_t  rx;         /* bytes received (pingpong) or written (stream) not yet a message */
    uint32_t  hello_left; /* stream: hello bytes not yet written */
};

/* Protocol check for a peer: TCP always, UDP when `udp_ok`.  Sets *is_udp. */
int peer_prepare(struct bench_options *opt, int udp_ok, int *is_udp, char *err, size_t errlen);

/* Resolve opt->address:opt->port (IPv4). 0, or -1 with a message. */
int peer_resolve(const struct bench_options *opt, struct sockaddr_in *sin, char *err,
                 size_t errlen);

/* A non-blocking listening TCP socket, or -1 with a message (port in use). */
int peer_listen_tcp(const struct bench_options *opt, int reuseport, char *err, size_t errlen);

/* A non-blocking bound UDP socket on opt->address:opt->port, or -1. */
int peer_bind_udp(const struct bench_options *opt, char *err, size_t errlen);

/* Non-blocking TCP connect in progress (TCP_NODELAY set), or -1. */
int peer_connect_tcp(const struct sockaddr_in *sin);

void peer_set_nonblock(int fd);
void peer_set_nodelay(int fd);

/* Constant request bytes: `count` messages' worth, plus the hello. */
const unsigned char *peer_payload(const struct bench_options *opt, size_t *len);
void                 peer_hello(const struct bench_options *opt, struct bench_wire_hello *hello);

/* A server reading a connection's first 16 bytes: 1 when the hello is
 * complete and valid, 0 when more bytes are needed, -1 when invalid. */
int peer_hello_parse(const struct bench_wire_hello *hello);

int  peer_flow_init(struct peer_flow *f, const struct bench_options *opt);
void peer_flow_free(struct peer_flow *f);

/* Issue one message now (records its stamp). */
static inline void
peer_flow_issue(struct peer_flow *f, const struct bench_options *opt, uint64_t now)
{
    f->stamp[f->sent % opt->depth] = now;
    f->sent++;
}

/* `bytes` more bytes of answers (pingpong) or of written data (stream):
 * record every message they complete and return how many new messages to
 * issue (0 once the run is stopping). */
static inline unsigned int
peer_flow_progress(struct peer_flow *f, struct bench_worker *w, uint64_t bytes, uint64_t now)
{
    const struct bench_options *opt   = w->opt;
    unsigned int                again = 0;

    f->rx += bytes;
    while (f->rx >= opt->size) {
        f->rx -= opt->size;
        bench_record(w, f->stamp[f->done % opt->depth], now, opt->size);
        f->done++;
        if (!bench_stopping()) {
            peer_flow_issue(f, opt, now);
            again++;
        }
    }
    return again;
}

/* UDP flows: per-slot request ids (as in evpl-bench). */
struct peer_dgram_flow {
    int            fd;
    uint64_t      *id;
    uint64_t      *stamp;
    uint64_t       next_id;
    unsigned char *buf; /* one request */
};

int  peer_dgram_flow_init(struct peer_dgram_flow *f, const struct bench_options *opt,
                          unsigned int flow_index);
void peer_dgram_flow_free(struct peer_dgram_flow *f);
/* Fill f->buf for slot s with a new id and stamp it. */
void peer_dgram_prepare_slot(struct peer_dgram_flow *f, const struct bench_options *opt,
                             unsigned int slot, uint64_t now);
/* An answer arrived: returns the slot to resend (or -1 when stale or the
 * run is stopping). */
int peer_dgram_answer(struct peer_dgram_flow *f, struct bench_worker *w, const void *data,
                      size_t len, uint64_t now);
/* Slots unanswered for 200 ms: counted lost; returns a bitmap-free list in
 * `slots` (up to depth), the count as result. */
unsigned int peer_dgram_expired(struct peer_dgram_flow *f, struct bench_worker *w, uint64_t now,
                                unsigned int *slots);
