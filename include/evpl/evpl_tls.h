/*
 * TLS extensions for STREAM_SOCKET_TLS binds -- not part of the libevpl
 * contract and not included by <evpl/evpl.h>: include <evpl/evpl_tls.h>
 * explicitly.  Everything else about TLS (certificate, key, CA, ciphers,
 * verification, kTLS) is configured through evpl_config.h.
 *
 * All functions run on the owning thread of the bind's loop.  They return 0
 * (or a pointer) on success and -1 (or NULL) with errno set on failure:
 * EINVAL for a NULL or non-TLS bind or a malformed argument, EBUSY when the
 * handshake has already started, ENOTSUP when the library was built
 * without OpenSSL.
 *
 * Zero-configuration TLS: with no certificate and key configured, a server
 * presents a generated self-signed certificate.  Peer verification stays on
 * by default and rejects it; a program that means to accept it turns
 * verification off explicitly (evpl_global_config_set_tls_verify_peer(cfg,
 * 0)), as examples/echo_demo does and says.  See docs/tls.md.
 *
 * The handshake of a client bind starts once its TCP connection is up, never
 * inside evpl_connect(); the handshake of an accepted bind starts after the
 * attach callback returns.  So the setters below are effective when called
 * right after evpl_connect() returns, or from the attach callback.
 */
#pragma once

#include <evpl/evpl.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/*
 * Client binds: override the server's name.  By default evpl_connect() uses
 * the inet endpoint's host string.  A host name is sent as SNI; with peer
 * verification enabled (evpl_global_config_set_tls_verify_peer, the
 * default) the certificate must match it (host name, or IP address for an
 * IP literal, which is not sent as SNI).  Call it right after
 * evpl_connect(); name is copied.  Returns 0, or -1 with errno EINVAL (bad
 * name, not a TLS client bind) or EBUSY (handshake already started).
 */
int evpl_tls_set_server_name(struct evpl_bind *bind, const char *name);

/*
 * ALPN (RFC 7301).  protos is the wire-format list: each name preceded by
 * its length byte, e.g. "\x02h2\x08http/1.1"; it is copied.
 *   client bind: the protocols offered, in preference order;
 *   accepted bind (call it from the attach callback): the protocols this
 *   server accepts, in its preference order.  If the client offers ALPN and
 *   none matches, the handshake fails (no_application_protocol alert).  A
 *   server bind without a list ignores the client's offer.
 */
int evpl_tls_set_alpn(struct evpl_bind *bind, const unsigned char *protos, unsigned int protos_len);

/*
 * The protocol ALPN selected, valid from CONNECTED until DISCONNECTED:
 * *proto points at *len bytes (not NUL-terminated) owned by the library;
 * *len is 0 when none was negotiated.
 */
int evpl_tls_get_alpn(struct evpl_bind *bind, const unsigned char **proto, unsigned int *len);

/* The negotiated protocol version ("TLSv1.2", "TLSv1.3") and cipher name,
 * from CONNECTED until DISCONNECTED; NULL before the handshake completed. */
const char *evpl_tls_get_version(struct evpl_bind *bind);
const char *evpl_tls_get_cipher(struct evpl_bind *bind);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
