/*
 * Kernel-socket transports: STREAM_SOCKET_TCP and STREAM_SOCKET_UNIX share
 * the stream machinery of stream.c (they differ only in how they listen and
 * in TCP_NODELAY); DATAGRAM_SOCKET_UDP lives in udp.c.
 */
#pragma once

#include "core/event.h"
#include "core/loop.h"
#include "bind/backend.h"

#define evpl_socket_debug(...) evpl_log_debug("socket", __VA_ARGS__)
#define evpl_socket_info(...)  evpl_log_info("socket", __VA_ARGS__)
#define evpl_socket_error(...) evpl_log_error("socket", __VA_ARGS__)

/* Per-bind state of every socket transport (in bind->backend_private). */
struct evpl_socket {
    struct evpl_event          event;
    int                        connecting; /* non-blocking connect in progress */
    struct evpl_address_cache *senders;    /* UDP: recent sender addresses (owned) */
    unsigned int               gso;        /* UDP: largest datagram sent in GSO runs, 0 off */
    int                        gro;        /* UDP: the kernel may coalesce received ones */
};

static inline struct evpl_socket *
evpl_socket_of(struct evpl_bind *bind)
{
    return evpl_bind_private(bind);
}

static inline struct evpl_bind *
evpl_socket_bind(struct evpl_event *event)
{
    return evpl_bind_from_private(event); /* event is the first member */
}

/* Listening-socket state (in ls->backend_private). */
struct evpl_socket_listen {
    struct evpl_event          event;
    struct evpl_timer          retry; /* re-arms accepting after EMFILE & co */
    int                        retry_armed;
    int                        starved; /* descriptor shortage reported, not yet over */
    struct evpl_listen_socket *ls;
    int                        unlink_path; /* AF_UNIX pathname we created */
    dev_t                      dev;
    ino_t                      ino;
};

/* stream.c: shared by TCP and UNIX */
int  evpl_socket_stream_connect(struct evpl *evpl, struct evpl_bind *bind);
int  evpl_socket_stream_attach(struct evpl *evpl, struct evpl_bind *bind,
                               struct evpl_handoff *handoff);
void evpl_socket_handoff_discard(struct evpl_handoff *handoff);
void evpl_socket_stream_flush(struct evpl *evpl, struct evpl_bind *bind);
void evpl_socket_stream_close(struct evpl *evpl, struct evpl_bind *bind);
void evpl_socket_stream_recv_resume(struct evpl *evpl, struct evpl_bind *bind);
/* tcp.c: a TCP socket bound to address with SO_REUSEADDR (type_flags:
 * SOCK_NONBLOCK and/or SOCK_CLOEXEC); returns the fd or a negative errno. */
int evpl_socket_tcp_bind(const struct evpl_address *address, int type_flags);
/* tcp.c: .listen of the TCP-based socket transports (TCP, TLS, TCP_RDMA):
 * a nonblocking bound socket handed to evpl_socket_listen_start(). */
int evpl_socket_tcp_listen(struct evpl_listen_socket *ls);
/*
 * stream.c: the outcome of a non-blocking connect() once the mechanism
 * reported the socket writable or in error -- 0 connected, a positive errno
 * when the attempt failed, -1 when it is in fact still in progress (a
 * report that does not match the socket, seen under heavy load with select:
 * keep waiting for the real one).  SO_ERROR alone reads 0 in that case too,
 * so success is confirmed with getpeername().
 */
int evpl_socket_connect_result(int fd);
/* stream.c: record the bind's local address from fd, unless it has one. */
void evpl_socket_set_local_address(struct evpl_bind *bind, int fd);
/* Start accepting on a bound, listening fd (service thread). */
int  evpl_socket_listen_start(struct evpl_listen_socket *ls, int fd);
void evpl_socket_listen_stop(struct evpl_listen_socket *ls);

/*
 * tcp.c: the options every TCP connection socket gets, whichever transport
 * owns it (TCP, TLS, TCP_RDMA, io_uring TCP), on the connecting side before
 * connect() and on the accepting side right after accept(): TCP_NODELAY, and
 * the liveness settings of the global config (SO_KEEPALIVE with
 * TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT, TCP_USER_TIMEOUT).  A dead peer
 * then surfaces as ETIMEDOUT on the socket, which the transports' ordinary
 * error paths turn into DISCONNECTED.  Failures are logged (debug) and
 * otherwise ignored: the connection still works, only without them.
 */
void evpl_socket_tcp_setup(int fd);

/* Registration, called from evpl_backends_register(). */
void evpl_socket_tcp_register(void);
void evpl_socket_unix_register(void);
void evpl_socket_udp_register(void);
