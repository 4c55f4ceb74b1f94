/*
 * Shared peer helpers (see peer.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"

int
peer_prepare(struct bench_options *opt, int udp_ok, int *is_udp, char *err, size_t errlen)
{
    *is_udp = 0;
    if (strcmp(opt->protocol, "STREAM_SOCKET_TCP") == 0) {
        return 0;
    }
    if (udp_ok && strcmp(opt->protocol, "DATAGRAM_SOCKET_UDP") == 0) {
        if (opt->workload != BENCH_WORKLOAD_PINGPONG) {
            snprintf(err, errlen, "the stream workload needs a connected protocol");
            return -1;
        }
        if (opt->size < BENCH_WIRE_MIN_DGRAM || opt->size > 65000) {
            snprintf(err, errlen, "--size must be %d to 65000 bytes over UDP",
                     BENCH_WIRE_MIN_DGRAM);
            return -1;
        }
        *is_udp = 1;
        return 0;
    }
    snprintf(err, errlen, "protocol %s is not offered by this peer program (STREAM_SOCKET_TCP%s)",
             opt->protocol, udp_ok ? ", DATAGRAM_SOCKET_UDP" : "");
    return -2;
}

int
peer_resolve(const struct bench_options *opt, struct sockaddr_in *sin, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_INET}, *res;
    int             rc;

    if ((rc = getaddrinfo(opt->address, NULL, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve %.200s: %s", opt->address, gai_strerror(rc));
        return -1;
    }
    memcpy(sin, res->ai_addr, sizeof(*sin));
    sin->sin_port = htons((uint16_t) opt->port);
    freeaddrinfo(res);
    return 0;
}

void
peer_set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void
peer_set_nodelay(int fd)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int
bound_socket(const struct bench_options *opt, int type, int reuseport, char *err, size_t errlen)
{
    struct sockaddr_in sin;
    int                fd, one = 1;

    if (peer_resolve(opt, &sin, err, errlen) != 0) {
        return -1;
    }
    fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (type == SOCK_STREAM) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (reuseport) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0 ||
        (type == SOCK_STREAM && listen(fd, 128) != 0)) {
        snprintf(err, errlen, "cannot %s %.200s port %d (%s): %s",
                 type == SOCK_STREAM ? "listen on" : "bind", opt->address, opt->port, opt->protocol,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int
peer_listen_tcp(const struct bench_options *opt, int reuseport, char *err, size_t errlen)
{
    return bound_socket(opt, SOCK_STREAM, reuseport, err, errlen);
}

int
peer_bind_udp(const struct bench_options *opt, char *err, size_t errlen)
{
    return bound_socket(opt, SOCK_DGRAM, 0, err, errlen);
}

int
peer_connect_tcp(const struct sockaddr_in *sin)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    peer_set_nodelay(fd);
    if (connect(fd, (const struct sockaddr *) sin, sizeof(*sin)) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

const unsigned char *
peer_payload(const struct bench_options *opt, size_t *len)
{
    static unsigned char *payload;
    static size_t         payload_len;

    /* Built once, before any worker starts (prepare), read-only after. */
    if (!payload) {
        payload_len = (size_t) opt->size * opt->depth;
        payload     = malloc(payload_len);
        if (!payload) {
            abort();
        }
        for (size_t i = 0; i < payload_len; i++) {
            payload[i] = (unsigned char) ('a' + (i / 4096) % 26);
        }
    }
    *len = payload_len;
    return payload;
}

void
peer_hello(const struct bench_options *opt, struct bench_wire_hello *hello)
{
    memset(hello, 0, sizeof(*hello));
    hello->magic    = BENCH_WIRE_MAGIC;
    hello->workload = (uint32_t) opt->workload;
    hello->size     = (uint32_t) opt->size;
}

int
peer_hello_parse(const struct bench_wire_hello *hello)
{
    if (hello->magic != BENCH_WIRE_MAGIC || hello->size == 0 ||
        (hello->workload != BENCH_WORKLOAD_PINGPONG && hello->workload != BENCH_WORKLOAD_STREAM)) {
        return -1;
    }
    return 1;
}

int
peer_flow_init(struct peer_flow *f, const struct bench_options *opt)
{
    memset(f, 0, sizeof(*f));
    f->stamp = calloc(opt->depth, sizeof(*f->stamp));
    return f->stamp ? 0 : -1;
}

void
peer_flow_free(struct peer_flow *f)
{
    free(f->stamp);
    f->stamp = NULL;
}

int
peer_dgram_flow_init(struct peer_dgram_flow *f, const struct bench_options *opt,
                     unsigned int flow_index)
{
    memset(f, 0, sizeof(*f));
    f->fd      = -1;
    f->id      = calloc(opt->depth, sizeof(*f->id));
    f->stamp   = calloc(opt->depth, sizeof(*f->stamp));
    f->buf     = calloc(1, opt->size);
    f->next_id = (uint64_t) flow_index << 40;
    if (!f->id || !f->stamp || !f->buf) {
        return -1;
    }
    memset(f->buf, 'u', opt->size);
    for (unsigned int s = 0; s < opt->depth; s++) {
        f->id[s] = UINT64_MAX;
    }
    return 0;
}

void
peer_dgram_flow_free(struct peer_dgram_flow *f)
{
    free(f->id);
    free(f->stamp);
    free(f->buf);
}

void
peer_dgram_prepare_slot(struct peer_dgram_flow *f, const struct bench_options *opt,
                        unsigned int slot, uint64_t now)
{
    /* ids are allocated so that id % depth == slot */
    uint64_t id = f->next_id++ * opt->depth + slot;

    f->id[slot]    = id;
    f->stamp[slot] = now;
    memcpy(f->buf, &id, sizeof(id));
}

int
peer_dgram_answer(struct peer_dgram_flow *f, struct bench_worker *w, const void *data, size_t len,
                  uint64_t now)
{
    uint64_t     id;
    unsigned int slot;

    if (len < sizeof(id)) {
        return -1;
    }
    memcpy(&id, data, sizeof(id));
    slot = (unsigned int) (id % w->opt->depth);
    if (f->id[slot] != id) {
        return -1;
    }
    bench_record(w, f->stamp[slot], now, w->opt->size);
    f->id[slot] = UINT64_MAX;
    return bench_stopping() ? -1 : (int) slot;
}

unsigned int
peer_dgram_expired(struct peer_dgram_flow *f, struct bench_worker *w, uint64_t now,
                   unsigned int *slots)
{
    unsigned int n = 0;

    for (unsigned int s = 0; s < w->opt->depth; s++) {
        if (f->id[s] != UINT64_MAX && now - f->stamp[s] > 200000000u) {
            w->lost++;
            f->id[s]   = UINT64_MAX;
            slots[n++] = s;
        }
    }
    return n;
}
