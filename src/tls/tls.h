/*
 * STREAM_SOCKET_TLS: TLS 1.2/1.3 over kernel TCP with OpenSSL 3.
 *
 * The TLS engine never touches the socket.  It is driven through a memory
 * BIO of our own (bio.c) over two per-connection byte buffers: stream.c
 * reads ciphertext from the socket into `in`, OpenSSL decrypts from there
 * straight into the loop's pooled receive buffers, and encrypts queued
 * iovecs into `out`, which stream.c writes to the socket.  Keeping the
 * engine off the fd is what lets it later sit over io_uring unchanged.
 *
 * context.c owns the two process-wide SSL_CTXs (server, client): settings of
 * API §3.2, the generated self-signed certificate, the ALPN selection hook
 * and the one-time kTLS probe.
 *
 * Without OpenSSL (EVPL_HAVE_OPENSSL undefined) only evpl_tls_register()
 * exists and registers nothing: the protocol is then unavailable.
 */
#pragma once

/* Registration, called from evpl_backends_register(). */
void evpl_tls_register(void);

#ifdef EVPL_HAVE_OPENSSL

#include <stddef.h>
#include <stdint.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/event.h"
#include "core/log.h"
#include "bind/backend.h"

#define evpl_tls_debug(...) evpl_log_debug("tls", __VA_ARGS__)
#define evpl_tls_info(...)  evpl_log_info("tls", __VA_ARGS__)
#define evpl_tls_error(...) evpl_log_error("tls", __VA_ARGS__)

/* A growable byte queue: bytes [head, tail) of data are pending. */
struct evpl_tls_buf {
    unsigned char *data;
    uint32_t       head;
    uint32_t       tail;
    uint32_t       cap;
};

static inline uint32_t
evpl_tls_buf_len(const struct evpl_tls_buf *b)
{
    return b->tail - b->head;
}

/* Per-connection state (in bind->backend_private); event comes first. */
struct evpl_tls {
    struct evpl_event   event;
    SSL                *ssl;
    struct evpl_tls_buf in;  /* ciphertext read from the socket, not yet parsed */
    struct evpl_tls_buf out; /* ciphertext produced by OpenSSL, not yet sent */
    /* Plaintext bytes at the front of the send ring that were encrypted
     * into `out`; they are reported to the bind layer (send_advance) only
     * once `out` has reached the kernel, so a finish() never closes the
     * socket with ciphertext still in user space. */
    uint64_t       encrypted;
    unsigned int   flags;
    char          *server_name; /* SNI and the name verified, or NULL */
    unsigned char *alpn;        /* ALPN list (wire format) offered/accepted */
    unsigned int   alpn_len;
};

#define EVPL_TLS_CONNECTING     0x01u /* non-blocking TCP connect in progress */
#define EVPL_TLS_HANDSHAKE_DONE 0x02u
#define EVPL_TLS_EOF            0x04u /* the socket reported end of stream */
#define EVPL_TLS_FAILED         0x08u /* a fatal TLS error: no close_notify */
#define EVPL_TLS_PEER_CLOSED    0x10u /* close_notify received */
#define EVPL_TLS_SERVER         0x20u
#define EVPL_TLS_GOT_BYTES      0x40u /* the peer sent something */

static inline struct evpl_tls *
evpl_tls_of(struct evpl_bind *bind)
{
    return evpl_bind_private(bind);
}

/* ---- context.c ---------------------------------------------------------- */

/*
 * The process-wide context for the server or client role, created at first
 * use from the global config.  Returns NULL (with an error log) when the
 * certificate, key or CA cannot be loaded; aborts on an invalid cipher
 * list (API §3.2).  Thread-safe.
 */
SSL_CTX *evpl_tls_context(int server);

/* Free both contexts (exit handler). */
void evpl_tls_context_shutdown(void);

/* Once per process, after the first handshake when kTLS is enabled: find
 * out whether the kernel has the TLS ULP and log the outcome once. */
void evpl_tls_ktls_probe(void);

/* Append a description of the pending OpenSSL error (and the certificate
 * verification result, if any) to buf; clears the error queue. */
void evpl_tls_error_string(SSL *ssl, int ssl_error, char *buf, size_t len);

/*
 * Empty this thread's OpenSSL error queue before an SSL_read/SSL_write, as
 * SSL_get_error() requires.  ERR_clear_error() resets all 16 slots (with 32
 * free() calls) even when the queue is already empty, which is the common
 * case and costs more than a small record; peeking first leaves the same
 * queue behind.
 */
static inline void
evpl_tls_error_clear(void)
{
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

/* SSL ex_data / app data: the bind that owns an SSL. */
static inline struct evpl_bind *
evpl_tls_ssl_bind(const SSL *ssl)
{
    return SSL_get_app_data(ssl);
}

/* ---- bio.c -------------------------------------------------------------- */

/* A BIO reading from t->in and writing to t->out (owned by the SSL it is
 * attached to).  NULL on allocation failure. */
BIO *evpl_tls_bio_new(struct evpl_tls *t);

/* Make room for at least want more bytes at the tail of b (compacting or
 * growing).  Returns 0 or -ENOMEM. */
int  evpl_tls_buf_reserve(struct evpl_tls_buf *b, uint32_t want);
void evpl_tls_buf_free(struct evpl_tls_buf *b);

/* Free the BIO method (exit handler; every BIO made from it is gone). */
void evpl_tls_bio_shutdown(void);

#endif /* EVPL_HAVE_OPENSSL */
