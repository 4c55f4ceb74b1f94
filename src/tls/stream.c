/*
 * STREAM_SOCKET_TLS: the transport.  A TCP socket (non-blocking, latched
 * readiness as in core/event.h) carries ciphertext; OpenSSL runs over the
 * connection's memory BIO (bio.c) and never sees the fd.
 *
 *   receive:  recv() -> t->in -> SSL_read_ex() into the loop's pooled
 *             receive buffer -> evpl_bind_recv_append(): the application
 *             gets the plaintext as iovecs without another copy.
 *   send:     send ring -> SSL_write_ex() (small iovecs coalesced into
 *             full-size records, large ones written in whole records) ->
 *             t->out -> send().  Bytes are reported to the bind layer only
 *             once their ciphertext left t->out, so evpl_finish() closes
 *             after everything reached the kernel.
 *   connect:  TCP connect, then the handshake; CONNECTED follows the
 *             handshake on both sides (attach returns EVPL_ATTACH_PENDING).
 *   close:    close_notify (best effort, never blocking), then the socket.
 *
 * Every fatal condition (handshake or verification failure, bad record,
 * truncation, peer gone mid-handshake) is logged once, with the peer and
 * OpenSSL's reason, and ends the connection through
 * evpl_bind_transport_closed(): DISCONNECTED follows.
 */
#include <errno.h>
#include <string.h>

#include "tls/tls.h"

#ifdef EVPL_HAVE_OPENSSL

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "core/shared.h"
#include "socket/socket.h"
#include "evpl/evpl_tls.h"

/* Socket reads per dispatch before other events get a turn. */
#define READS_PER_DISPATCH 8
/* Ciphertext read per recv(). */
#define READ_CHUNK 65536
/* Plaintext encrypted into t->out before it is sent. */
#define ENCRYPT_BUDGET (256u * 1024)
/* A full TLS record's plaintext. */
#define RECORD_SIZE 16384
/* A receive-buffer tail smaller than this is skipped for a fresh buffer, so
 * records are not decrypted in slivers. */
#define MIN_TAIL 2048

_Static_assert(sizeof(struct evpl_tls) <= EVPL_BIND_PRIVATE_SIZE, "TLS state too large");

/* Coalescing buffer for small sends (one record). */
static __thread unsigned char staging[RECORD_SIZE];

static void tls_read_cb(struct evpl *evpl, struct evpl_event *event);
static void tls_write_cb(struct evpl *evpl, struct evpl_event *event);
static void tls_error_cb(struct evpl *evpl, struct evpl_event *event);
static void tls_flush(struct evpl *evpl, struct evpl_bind *bind);

static inline struct evpl_bind *
event_bind(struct evpl_event *event)
{
    return evpl_bind_from_private(event); /* event is the first member */
}

static void
peer_name(struct evpl_bind *bind, char *buf, int len)
{
    evpl_address_render(bind->remote, buf, len);
}

/* A fatal condition: log it once and end the connection. */
static void
tls_fail(struct evpl *evpl, struct evpl_bind *bind, const char *what, const char *why)
{
    struct evpl_tls *t = evpl_tls_of(bind);
    char             peer[EVPL_ADDRESS_STRLEN];

    if (!(t->flags & EVPL_TLS_FAILED)) {
        peer_name(bind, peer, sizeof(peer));
        evpl_tls_error("%s %s %s: %s", what, (t->flags & EVPL_TLS_SERVER) ? "from" : "to", peer,
                       why);
    }
    t->flags |= EVPL_TLS_FAILED;
    evpl_bind_transport_closed(evpl, bind);
}

static void
tls_fail_ssl(struct evpl *evpl, struct evpl_bind *bind, const char *what, int ssl_error)
{
    char why[512];

    evpl_tls_error_string(evpl_tls_of(bind)->ssl, ssl_error, why, sizeof(why));
    tls_fail(evpl, bind, what, why);
}

/* The TCP options (evpl_socket_tcp_setup) are already set: by tls_connect
 * before connect(), by the listener for accepted sockets. */
static int
register_socket(struct evpl *evpl, struct evpl_tls *t, int fd)
{
    t->event.fd             = fd;
    t->event.read_callback  = tls_read_cb;
    t->event.write_callback = tls_write_cb;
    t->event.error_callback = tls_error_cb;
    return evpl_event_add_traffic(evpl, &t->event);
}

static int
ssl_create(struct evpl_bind *bind, int server)
{
    struct evpl_tls *t   = evpl_tls_of(bind);
    SSL_CTX         *ctx = evpl_tls_context(server);
    BIO             *bio;

    if (ctx == NULL) {
        return -EINVAL; /* logged by evpl_tls_context() */
    }
    t->ssl = SSL_new(ctx);
    bio    = t->ssl ? evpl_tls_bio_new(t) : NULL;
    if (bio == NULL) {
        evpl_tls_error("out of memory creating a TLS session");
        SSL_free(t->ssl);
        t->ssl = NULL;
        ERR_clear_error();
        return -ENOMEM;
    }
    SSL_set_bio(t->ssl, bio, bio); /* ssl owns the BIO (it takes the second ref itself) */
    SSL_set_app_data(t->ssl, bind);
    if (server) {
        t->flags |= EVPL_TLS_SERVER;
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
    }
    return 0;
}

/*
 * Write t->out to the socket.  Returns 0 when it is empty, 1 when the socket
 * is full (write interest armed), -1 when the connection failed.
 */
static int
out_send(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_tls *t = evpl_tls_of(bind);

    while (evpl_tls_buf_len(&t->out)) {
        uint32_t len = evpl_tls_buf_len(&t->out);
        ssize_t rc = send(t->event.fd, t->out.data + t->out.head, len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                evpl_event_mark_unwritable(evpl, &t->event);
                evpl_event_write_interest(evpl, &t->event);
                return 1;
            }
            char peer[EVPL_ADDRESS_STRLEN];
            peer_name(bind, peer, sizeof(peer));
            evpl_tls_info("send to %s failed: %s", peer, strerror(errno));
            t->flags |= EVPL_TLS_FAILED;
            evpl_bind_transport_closed(evpl, bind);
            return -1;
        }
        t->out.head += rc;
        if ((uint32_t) rc < len) {
            /* The socket buffer is full; wait for the next writable edge. */
            evpl_event_mark_unwritable(evpl, &t->event);
            evpl_event_write_interest(evpl, &t->event);
            return 1;
        }
    }
    t->out.head = t->out.tail = 0;
    return 0;
}

/*
 * End of stream before the handshake completed.  A client that connects and
 * leaves without a byte (port probes, load-balancer health checks) is not
 * worth an error line; a peer that leaves mid-handshake is.
 */
static void
handshake_eof(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_tls *t = evpl_tls_of(bind);

    ERR_clear_error();
    if ((t->flags & EVPL_TLS_SERVER) && !(t->flags & EVPL_TLS_GOT_BYTES)) {
        char peer[EVPL_ADDRESS_STRLEN];
        peer_name(bind, peer, sizeof(peer));
        evpl_tls_info("%s closed the connection before the TLS handshake started", peer);
        t->flags |= EVPL_TLS_FAILED;
        evpl_bind_transport_closed(evpl, bind);
        return;
    }
    tls_fail(evpl, bind, "TLS handshake", "peer closed the connection during the handshake");
}

/*
 * Drive the handshake.  Returns 0 when it completed (CONNECTED delivered),
 * 1 while it needs more input, -1 when the connection failed.
 */
static int
handshake(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_tls *t = evpl_tls_of(bind);
    int              rc, err;

    evpl_tls_error_clear();
    rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        char peer[EVPL_ADDRESS_STRLEN];

        t->flags |= EVPL_TLS_HANDSHAKE_DONE;
        peer_name(bind, peer, sizeof(peer));
        evpl_tls_debug("handshake %s %s: %s %s", (t->flags & EVPL_TLS_SERVER) ? "from" : "to", peer,
                       SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
        if (evpl_config()->tls_ktls_enabled) {
            evpl_tls_ktls_probe();
        }
        if (out_send(evpl, bind) < 0) {
            return -1;
        }
        evpl_bind_connected(evpl, bind);
        return 0;
    }

    err = SSL_get_error(t->ssl, rc);
    if (err == SSL_ERROR_WANT_READ) {
        if (out_send(evpl, bind) < 0) {
            return -1;
        }
        if (t->flags & EVPL_TLS_EOF) {
            handshake_eof(evpl, bind);
            return -1;
        }
        return 1;
    }
    if ((t->flags & EVPL_TLS_EOF) &&
        (err == SSL_ERROR_SYSCALL ||
         ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        handshake_eof(evpl, bind);
        return -1;
    }
    tls_fail_ssl(evpl, bind, "TLS handshake", err);
    return -1;
}

/*
 * Decrypt everything OpenSSL can give into the receive ring.  Returns 0
 * (needs more input), 1 (close_notify received) or -1 (fatal, why filled);
 * *total grows by the plaintext bytes appended.
 */
static int
decrypt(struct evpl *evpl, struct evpl_bind *bind, uint64_t *total, char *why, size_t whylen)
{
    struct evpl_tls *t = evpl_tls_of(bind);

    while (!evpl_bind_closing(bind)) {
        struct evpl_recv_buffer rb;
        void                   *dst;
        struct evpl_iovec_ref  *ref;
        unsigned int            cap, skip;
        size_t                  n;

        /* Nothing buffered here or inside OpenSSL (SSL_has_pending also
         * counts read-ahead bytes): SSL_read_ex() could only report
         * WANT_READ.  At end of stream it still runs, to tell a clean close
         * from a truncated record. */
        if (evpl_tls_buf_len(&t->in) == 0 && !(t->flags & EVPL_TLS_EOF) &&
            !SSL_has_pending(t->ssl)) {
            return 0;
        }

        evpl_bind_recv_buffer(evpl, &rb);
        if (rb.tail_len >= MIN_TAIL) {
            dst  = rb.tail;
            cap  = rb.tail_len;
            ref  = rb.tail_ref;
            skip = 0;
        } else {
            dst  = rb.spare;
            cap  = rb.spare_len;
            ref  = rb.spare_ref;
            skip = rb.tail_len; /* commit counts the tail first */
        }

        evpl_tls_error_clear();
        if (SSL_read_ex(t->ssl, dst, cap, &n)) {
            /* Reference the bytes before commit can retire the buffer. */
            evpl_bind_recv_append(evpl, bind, dst, n, ref);
            evpl_bind_recv_buffer_commit(evpl, skip + n);
            *total += n;
            continue;
        }

        int err = SSL_get_error(t->ssl, 0);
        if (err == SSL_ERROR_WANT_READ) {
            return 0;
        }
        if (err == SSL_ERROR_ZERO_RETURN) {
            t->flags |= EVPL_TLS_PEER_CLOSED;
            return 1;
        }
        if ((t->flags & EVPL_TLS_EOF) &&
            (err == SSL_ERROR_SYSCALL ||
             ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
            /* End of stream without close_notify: the caller tells a clean
             * cut from a truncated record. */
            ERR_clear_error();
            return 0;
        }
        evpl_tls_error_string(t->ssl, err, why, whylen);
        return -1;
    }
    return 0;
}

static void
tls_read_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind *bind   = event_bind(event);
    struct evpl_tls  *t      = evpl_tls_of(bind);
    uint64_t          total  = 0;
    int               status = 0;
    char              why[512];

    if (evpl_bind_closing(bind)) {
        /* Closing: whatever arrives now would be dropped anyway. */
        evpl_event_mark_unreadable(evpl, event);
        return;
    }

    for (int round = 0; round < READS_PER_DISPATCH; round++) {
        int     drained = 0;
        size_t  room;
        ssize_t rc;

        if (evpl_tls_buf_reserve(&t->in, READ_CHUNK) < 0) {
            tls_fail(evpl, bind, "receive", "out of memory");
            return;
        }
        room = t->in.cap - t->in.tail;
        rc   = recv(event->fd, t->in.data + t->in.tail, room, MSG_DONTWAIT);
        if (rc < 0) {
            if (errno == EINTR) {
                round--;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* A reset ends the stream like a close; the line logged
                 * below says what that cut short. */
                evpl_tls_debug("recv failed: %s", strerror(errno));
                t->flags |= EVPL_TLS_EOF;
            }
            evpl_event_mark_unreadable(evpl, event);
            drained = 1;
        } else if (rc == 0) {
            t->flags |= EVPL_TLS_EOF;
            evpl_event_mark_unreadable(evpl, event);
            drained = 1;
        } else {
            t->in.tail += rc;
            t->flags |= EVPL_TLS_GOT_BYTES;
            /* A short read drained the socket (as for TCP): no recv() that
             * would only return EAGAIN. */
            if ((size_t) rc < room && evpl_event_short_read_drained(event)) {
                evpl_event_mark_unreadable(evpl, event);
                drained = 1;
            }
        }

        if (!(t->flags & EVPL_TLS_HANDSHAKE_DONE)) {
            if (handshake(evpl, bind) != 0 || !(t->flags & EVPL_TLS_HANDSHAKE_DONE)) {
                if (evpl_bind_closing(bind)) {
                    return;
                }
                if (drained) {
                    return;
                }
                continue;
            }
            if (evpl_bind_closing(bind)) {
                return; /* closed from the CONNECTED callback */
            }
        }

        status = decrypt(evpl, bind, &total, why, sizeof(why));
        if (drained || status != 0 || evpl_bind_closing(bind)) {
            break;
        }
    }

    /* Data that arrived before the end (or the error) is delivered first. */
    if (total) {
        evpl_bind_recv_stream(evpl, bind);
    }
    if (status < 0) {
        tls_fail(evpl, bind, "TLS record", why);
        return;
    }
    if (status > 0) {
        evpl_tls_debug("peer sent close_notify");
        evpl_event_mark_unreadable(evpl, event);
        evpl_bind_transport_closed(evpl, bind);
        return;
    }
    if (t->flags & EVPL_TLS_EOF) {
        if (evpl_tls_buf_len(&t->in) || SSL_has_pending(t->ssl)) {
            tls_fail(evpl, bind, "TLS stream",
                     "truncated record: peer closed the connection in the middle of a record");
        } else {
            char peer[EVPL_ADDRESS_STRLEN];
            peer_name(bind, peer, sizeof(peer));
            evpl_tls_info("%s closed the connection without close_notify", peer);
            evpl_bind_transport_closed(evpl, bind);
        }
        return;
    }
    /* Reading may have produced records to send (alerts, key updates). */
    if (!evpl_bind_closing(bind) && evpl_tls_buf_len(&t->out)) {
        out_send(evpl, bind);
    }
}

/* The non-blocking connect finished: start the handshake. */
static void
connect_complete(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_tls *t   = evpl_tls_of(bind);
    int              err = evpl_socket_connect_result(t->event.fd);

    if (err < 0) {
        evpl_event_mark_unwritable(evpl, &t->event); /* not over yet */
        return;
    }
    t->flags &= ~EVPL_TLS_CONNECTING;
    evpl_event_write_disinterest(evpl, &t->event);
    if (err) {
        char peer[EVPL_ADDRESS_STRLEN];
        peer_name(bind, peer, sizeof(peer));
        evpl_tls_debug("connect to %s failed: %s", peer, strerror(err));
        t->flags |= EVPL_TLS_FAILED;
        evpl_bind_transport_closed(evpl, bind);
        return;
    }
    evpl_socket_set_local_address(bind, t->event.fd);
    evpl_event_read_interest(evpl, &t->event);
    handshake(evpl, bind); /* sends the ClientHello */
}

static void
tls_write_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind *bind = event_bind(event);
    struct evpl_tls  *t    = evpl_tls_of(bind);

    if (t->flags & EVPL_TLS_CONNECTING) {
        connect_complete(evpl, bind);
        return;
    }
    if ((bind->flags & EVPL_BIND_CLOSED) || (t->flags & EVPL_TLS_FAILED)) {
        return;
    }
    if (!(t->flags & EVPL_TLS_HANDSHAKE_DONE)) {
        /* A handshake flight did not fit into the socket at once. */
        if (out_send(evpl, bind) == 0) {
            evpl_event_write_disinterest(evpl, event);
        }
        return;
    }
    if (evpl_tls_buf_len(&t->out) == 0 && evpl_iovec_ring_empty(&bind->send_ring)) {
        evpl_event_write_disinterest(evpl, event);
        return;
    }
    tls_flush(evpl, bind);
}

static void
tls_error_cb(struct evpl *evpl, struct evpl_event *event)
{
    struct evpl_bind *bind = event_bind(event);
    struct evpl_tls  *t    = evpl_tls_of(bind);

    if (t->flags & EVPL_TLS_CONNECTING) {
        connect_complete(evpl, bind);
        return;
    }
    if (!evpl_bind_closing(bind)) {
        /* Reading surfaces the error or end of stream, after any data. */
        tls_read_cb(evpl, event);
    }
}

static int
encrypt_write(struct evpl *evpl, struct evpl_bind *bind, const void *data, size_t len)
{
    struct evpl_tls *t = evpl_tls_of(bind);
    size_t           written;

    evpl_tls_error_clear();
    if (SSL_write_ex(t->ssl, data, len, &written) && written == len) {
        return 0;
    }
    tls_fail_ssl(evpl, bind, "TLS write", SSL_get_error(t->ssl, 0));
    return -1;
}

/*
 * Encrypt up to ENCRYPT_BUDGET bytes from the front of the send ring into
 * t->out.  Records are full-size wherever the data allows: small iovecs are
 * coalesced in `staging`, and long runs are handed to OpenSSL in multiples
 * of the record size (it cuts them into records itself).
 */
static int
encrypt_ring(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_tls        *t      = evpl_tls_of(bind);
    struct evpl_iovec_ring *ring   = &bind->send_ring;
    unsigned int            count  = evpl_iovec_ring_count(ring);
    uint64_t                done   = 0;
    size_t                  staged = 0;

    for (unsigned int i = 0; i < count && done < ENCRYPT_BUDGET; i++) {
        struct evpl_iovec   *e = evpl_iovec_ring_at(ring, i);
        const unsigned char *p = e->data;
        size_t               n = e->length;

        if (n > ENCRYPT_BUDGET - done) {
            n = ENCRYPT_BUDGET - done; /* send_advance trims a partial iovec */
        }
        done += n;
        while (n) {
            if (staged == 0 && n >= RECORD_SIZE) {
                size_t w = n - n % RECORD_SIZE;
                if (encrypt_write(evpl, bind, p, w) < 0) {
                    return -1;
                }
                p += w;
                n -= w;
                continue;
            }
            size_t c = RECORD_SIZE - staged < n ? RECORD_SIZE - staged : n;
            memcpy(staging + staged, p, c);
            staged += c;
            p += c;
            n -= c;
            if (staged == RECORD_SIZE) {
                if (encrypt_write(evpl, bind, staging, staged) < 0) {
                    return -1;
                }
                staged = 0;
            }
        }
    }
    if (staged && encrypt_write(evpl, bind, staging, staged) < 0) {
        return -1;
    }
    t->encrypted = done;
    return 0;
}

static void
tls_flush(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_tls *t = evpl_tls_of(bind);

    if (!(t->flags & EVPL_TLS_HANDSHAKE_DONE) || (t->flags & EVPL_TLS_FAILED)) {
        return;
    }
    while (1) {
        int rc = out_send(evpl, bind);
        if (rc < 0) {
            return;
        }
        if (rc > 0) {
            break;
        }
        if (t->encrypted) {
            evpl_bind_send_advance(evpl, bind, t->encrypted);
            t->encrypted = 0;
        }
        if (evpl_iovec_ring_empty(&bind->send_ring)) {
            break;
        }
        if (encrypt_ring(evpl, bind) < 0) {
            return;
        }
    }
    if (evpl_iovec_ring_empty(&bind->send_ring) && evpl_tls_buf_len(&t->out) == 0) {
        evpl_event_write_disinterest(evpl, &t->event);
    }
    evpl_bind_flushed(evpl, bind);
}

/* ---- ops ---------------------------------------------------------------- */

static int
tls_connect(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_tls     *t      = evpl_tls_of(bind);
    struct evpl_address *remote = bind->remote;
    int                  fd, rc;

    t->event.fd = -1;
    rc          = ssl_create(bind, 0);
    if (rc < 0) {
        return rc;
    }
    /* The endpoint's host name is the identity: SNI for names, and the
     * certificate's host (or IP) check when peer verification is on. An
     * application may still override it with evpl_tls_set_server_name()
     * before the handshake starts. */
    if (bind->connect_host && evpl_tls_set_server_name(bind, bind->connect_host) != 0) {
        return -EINVAL;
    }
    fd = socket(evpl_address_family(remote), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    evpl_socket_tcp_setup(fd);
    rc = connect(fd, &remote->sa, remote->addrlen);
    if (rc < 0 && errno != EINPROGRESS) {
        rc = -errno;
        close(fd);
        return rc;
    }
    t->flags |= EVPL_TLS_CONNECTING;
    rc = register_socket(evpl, t, fd);
    if (rc < 0) {
        close(fd);
        t->event.fd = -1;
        return rc;
    }
    evpl_event_write_interest(evpl, &t->event);
    return 0;
}

static int
tls_attach(struct evpl *evpl, struct evpl_bind *bind, struct evpl_handoff *handoff)
{
    struct evpl_tls *t = evpl_tls_of(bind);
    int              rc;

    t->event.fd = -1;
    rc          = ssl_create(bind, 1);
    if (rc == 0) {
        rc = register_socket(evpl, t, handoff->fd);
    }
    if (rc < 0) {
        close(handoff->fd);
        handoff->fd = -1;
        SSL_free(t->ssl);
        t->ssl      = NULL;
        t->event.fd = -1;
        return rc;
    }
    handoff->fd = -1;
    evpl_socket_set_local_address(bind, t->event.fd);
    evpl_event_read_interest(evpl, &t->event);
    /* The client speaks first; CONNECTED follows the handshake. */
    return EVPL_ATTACH_PENDING;
}

static int
tls_listen(struct evpl_listen_socket *ls)
{
    /* Build the server context now, so a bad certificate fails evpl_listen(). */
    if (evpl_tls_context(1) == NULL) {
        return -EINVAL;
    }
    return evpl_socket_tcp_listen(ls);
}

static void
tls_close(struct evpl *evpl, struct evpl_bind *bind)
{
    struct evpl_tls *t = evpl_tls_of(bind);

    if (t->event.fd >= 0) {
        if (t->ssl && (t->flags & EVPL_TLS_HANDSHAKE_DONE) && !(t->flags & EVPL_TLS_FAILED)) {
            /* close_notify; we do not wait for the peer's. */
            ERR_clear_error();
            SSL_shutdown(t->ssl);
            ERR_clear_error();
        }
        /* Best effort, never blocking: close_notify, or the alert that
         * explains a failed handshake to the peer. */
        if (evpl_tls_buf_len(&t->out)) {
            ssize_t rc = send(t->event.fd, t->out.data + t->out.head, evpl_tls_buf_len(&t->out),
                              MSG_NOSIGNAL | MSG_DONTWAIT);
            (void) rc;
        }
        /* Unread input makes close() reset the connection, which can
         * destroy what we just sent before the peer reads it. */
        if (!(t->flags & EVPL_TLS_EOF)) {
            for (int i = 0; i < 16; i++) {
                char    sink[4096];
                ssize_t rc = recv(t->event.fd, sink, sizeof(sink), MSG_DONTWAIT);
                if (rc <= 0) {
                    break;
                }
            }
        }
        evpl_event_remove(evpl, &t->event);
        close(t->event.fd);
        t->event.fd = -1;
    }
    SSL_free(t->ssl);
    t->ssl = NULL;
    evpl_tls_buf_free(&t->in);
    evpl_tls_buf_free(&t->out);
    free(t->server_name);
    t->server_name = NULL;
    free(t->alpn);
    t->alpn = NULL;
}

static const struct evpl_protocol_ops tls_ops = {
    .connect         = tls_connect,
    .attach          = tls_attach,
    .handoff_discard = evpl_socket_handoff_discard,
    .listen          = tls_listen,
    .listen_close    = evpl_socket_listen_stop,
    .flush           = tls_flush,
    .close           = tls_close,
};

static const struct evpl_protocol tls_protocol = {
    .id    = EVPL_STREAM_SOCKET_TLS,
    .name  = "STREAM_SOCKET_TLS",
    .flags = EVPL_PROTOCOL_STREAM | EVPL_PROTOCOL_CONNECTED,
    .ops   = &tls_ops,
};

static void
tls_shutdown(void)
{
    evpl_tls_context_shutdown();
    evpl_tls_bio_shutdown();
}

void
evpl_tls_register(void)
{
    evpl_protocol_register(&tls_protocol);
    evpl_at_shutdown(tls_shutdown);
}

/* ---- extension API (evpl/evpl_tls.h) ------------------------------------ */

static struct evpl_tls *
tls_bind_state(struct evpl_bind *bind)
{
    if (bind == NULL || bind->protocol->id != EVPL_STREAM_SOCKET_TLS ||
        (bind->flags & EVPL_BIND_CLOSED) || evpl_tls_of(bind)->ssl == NULL) {
        errno = EINVAL;
        return NULL;
    }
    return evpl_tls_of(bind);
}

int
evpl_tls_set_server_name(struct evpl_bind *bind, const char *name)
{
    struct evpl_tls *t = tls_bind_state(bind);
    unsigned char    ip[sizeof(struct in6_addr)];
    int              literal;

    if (t == NULL || name == NULL || name[0] == '\0' || (t->flags & EVPL_TLS_SERVER)) {
        errno = EINVAL;
        return -1;
    }
    if (!SSL_in_before(t->ssl)) {
        errno = EBUSY; /* the ClientHello is already out */
        return -1;
    }
    literal = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    ERR_clear_error();
    /* SNI carries host names only (RFC 6066); an IP literal is still the
     * identity the certificate is checked against. */
    if (!literal && SSL_set_tlsext_host_name(t->ssl, name) != 1) {
        ERR_clear_error();
        errno = EINVAL;
        return -1;
    }
    if (evpl_config()->tls_verify_peer) {
        int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name)
                         : SSL_set1_host(t->ssl, name);
        if (ok != 1) {
            ERR_clear_error();
            errno = EINVAL;
            return -1;
        }
    }
    free(t->server_name);
    t->server_name = strdup(name);
    return 0;
}

int
evpl_tls_set_alpn(struct evpl_bind *bind, const unsigned char *protos, unsigned int protos_len)
{
    struct evpl_tls *t = tls_bind_state(bind);
    unsigned char   *copy;

    if (t == NULL || protos == NULL || protos_len == 0) {
        errno = EINVAL;
        return -1;
    }
    /* The list must be well-formed: non-empty length-prefixed names. */
    for (unsigned int off = 0; off < protos_len; off += 1 + protos[off]) {
        if (protos[off] == 0 || off + 1 + protos[off] > protos_len) {
            errno = EINVAL;
            return -1;
        }
    }
    if (!SSL_in_before(t->ssl)) {
        errno = EBUSY;
        return -1;
    }
    if (!(t->flags & EVPL_TLS_SERVER) && SSL_set_alpn_protos(t->ssl, protos, protos_len) != 0) {
        ERR_clear_error();
        errno = ENOMEM;
        return -1;
    }
    copy = malloc(protos_len);
    if (copy == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(copy, protos, protos_len);
    free(t->alpn);
    t->alpn     = copy;
    t->alpn_len = protos_len;
    return 0;
}

int
evpl_tls_get_alpn(struct evpl_bind *bind, const unsigned char **proto, unsigned int *len)
{
    struct evpl_tls *t = tls_bind_state(bind);

    if (t == NULL || proto == NULL || len == NULL) {
        errno = EINVAL;
        return -1;
    }
    SSL_get0_alpn_selected(t->ssl, proto, len);
    return 0;
}

const char *
evpl_tls_get_version(struct evpl_bind *bind)
{
    struct evpl_tls *t = tls_bind_state(bind);

    if (t == NULL || !(t->flags & EVPL_TLS_HANDSHAKE_DONE)) {
        return NULL;
    }
    return SSL_get_version(t->ssl);
}

const char *
evpl_tls_get_cipher(struct evpl_bind *bind)
{
    struct evpl_tls *t = tls_bind_state(bind);

    if (t == NULL || !(t->flags & EVPL_TLS_HANDSHAKE_DONE)) {
        return NULL;
    }
    return SSL_get_cipher_name(t->ssl);
}

#else /* !EVPL_HAVE_OPENSSL: the protocol stays unavailable */

#include "evpl/evpl_tls.h"

void
evpl_tls_register(void)
{
}

int
evpl_tls_set_server_name(struct evpl_bind *bind, const char *name)
{
    (void) bind;
    (void) name;
    errno = ENOTSUP;
    return -1;
}

int
evpl_tls_set_alpn(struct evpl_bind *bind, const unsigned char *protos, unsigned int protos_len)
{
    (void) bind;
    (void) protos;
    (void) protos_len;
    errno = ENOTSUP;
    return -1;
}

int
evpl_tls_get_alpn(struct evpl_bind *bind, const unsigned char **proto, unsigned int *len)
{
    (void) bind;
    (void) proto;
    (void) len;
    errno = ENOTSUP;
    return -1;
}

const char *
evpl_tls_get_version(struct evpl_bind *bind)
{
    (void) bind;
    return NULL;
}

const char *
evpl_tls_get_cipher(struct evpl_bind *bind)
{
    (void) bind;
    return NULL;
}

#endif /* EVPL_HAVE_OPENSSL */
