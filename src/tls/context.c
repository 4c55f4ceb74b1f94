/*
 * The two process-wide SSL_CTXs (server and client role), built at first use
 * from the global config (API §3.2), plus the things that hang off them: the
 * generated self-signed certificate, the ALPN selection hook and the
 * one-time kTLS probe.
 *
 * A context is created under a mutex the first time a listener, an accepted
 * connection or a connect needs it, and then only read (SSL_CTX is
 * thread-safe for SSL_new); both are freed by the exit handler.
 */
#ifdef EVPL_HAVE_OPENSSL

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/shared.h"
#include "tls/tls.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* The contract's default TLS 1.2 list when kTLS is enabled and none is set:
 * the AES-GCM suites every kTLS implementation can offload. */
#define KTLS_DEFAULT_CIPHERS                                                                       \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256"
/* ...and for TLS 1.3 the same preference for AES-128-GCM (OpenSSL's own
 * default puts AES-256 first, about a third slower per byte); all three
 * suites stay allowed. */
#define KTLS_DEFAULT_SUITES                                                                        \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

static pthread_mutex_t context_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX        *contexts[2]; /* [0] client, [1] server */

void
evpl_tls_error_string(SSL *ssl, int ssl_error, char *buf, size_t len)
{
    unsigned long err = ERR_peek_last_error();
    size_t        off;

    if (len == 0) {
        return;
    }
    if (err) {
        ERR_error_string_n(err, buf, len);
    } else if (ssl_error == SSL_ERROR_SYSCALL) {
        snprintf(buf, len, "%s", errno ? strerror(errno) : "unexpected end of stream");
    } else {
        snprintf(buf, len, "SSL error %d", ssl_error);
    }
    off = strlen(buf);
    if (ssl && off < len) {
        long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) {
            snprintf(buf + off, len - off, " (certificate verification: %s)",
                     X509_verify_cert_error_string(verify));
        }
    }
    ERR_clear_error();
}

/*
 * Apply a cipher setting.  The contract accepts an OpenSSL (TLS 1.2) cipher
 * string, a TLS 1.3 suite list, or a mix: TLS_* names go to
 * SSL_CTX_set_ciphersuites(), everything else to SSL_CTX_set_cipher_list().
 * An invalid list aborts (API §3.2).
 */
static void
apply_cipher_list(SSL_CTX *ctx, const char *list)
{
    size_t len  = strlen(list) + 1;
    char  *copy = malloc(len), *tls12 = malloc(len), *tls13 = malloc(len);
    char  *save = NULL;

    evpl_abort_if(copy == NULL || tls12 == NULL || tls13 == NULL, "tls", "out of memory");
    memcpy(copy, list, len);
    tls12[0] = tls13[0] = '\0';
    for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        char *dst = strncmp(tok, "TLS_", 4) == 0 ? tls13 : tls12;
        if (dst[0]) {
            strcat(dst, ":");
        }
        strcat(dst, tok);
    }
    if (tls12[0] && SSL_CTX_set_cipher_list(ctx, tls12) != 1) {
        evpl_abort("tls", __FILE__, __LINE__, "invalid TLS cipher list '%s'", list);
    }
    if (tls13[0] && SSL_CTX_set_ciphersuites(ctx, tls13) != 1) {
        evpl_abort("tls", __FILE__, __LINE__, "invalid TLS 1.3 cipher suites '%s'", list);
    }
    free(copy);
    free(tls12);
    free(tls13);
}

/*
 * A self-signed P-256 certificate for "localhost" (SAN localhost, 127.0.0.1,
 * ::1), valid for a year, generated in memory: a server comes up with zero
 * configuration.  It is never trusted implicitly: peers verifying (the
 * default) reject it, and a program that accepts it turns verification off
 * explicitly (docs/tls.md, "Zero-configuration TLS").
 */
static int
use_self_signed(SSL_CTX *ctx)
{
    EVP_PKEY       *key  = EVP_EC_gen("P-256");
    X509           *x509 = X509_new();
    X509_EXTENSION *ext  = NULL;
    X509V3_CTX      v3;
    unsigned char   serial[8];
    BIGNUM         *bn = NULL;
    int             ok = 0;

    if (key == NULL || x509 == NULL || RAND_bytes(serial, sizeof(serial)) != 1) {
        goto out;
    }
    serial[0] &= 0x7f; /* positive */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509)) == NULL) {
        goto out;
    }
    X509_set_version(x509, 2);
    X509_gmtime_adj(X509_getm_notBefore(x509), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x509), 365L * 24 * 3600);
    X509_set_pubkey(x509, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x509), "CN", MBSTRING_ASC,
                               (const unsigned char *) "localhost", -1, -1, 0);
    X509_set_issuer_name(x509, X509_get_subject_name(x509));
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x509, x509, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    if (ext == NULL || X509_add_ext(x509, ext, -1) != 1) {
        goto out;
    }
    if (X509_sign(x509, key, EVP_sha256()) == 0) {
        goto out;
    }
    ok = SSL_CTX_use_certificate(ctx, x509) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;

out:
    X509_EXTENSION_free(ext);
    BN_free(bn);
    X509_free(x509);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

/* Server side of the ALPN hook: pick from the bind's list (evpl_tls.h). */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
            unsigned int inlen, void *arg)
{
    struct evpl_bind *bind = evpl_tls_ssl_bind(ssl);
    struct evpl_tls  *t    = evpl_tls_of(bind);

    (void) arg;
    if (t->alpn == NULL) {
        return SSL_TLSEXT_ERR_NOACK; /* the application did not ask for ALPN */
    }
    if (SSL_select_next_proto((unsigned char **) out, outlen, t->alpn, t->alpn_len, in, inlen) ==
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol (RFC 7301) */
}

static SSL_CTX *
context_create(int server)
{
    const struct evpl_global_config *cfg = evpl_config();
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    char     why[256];

    if (ctx == NULL) {
        evpl_tls_error_string(NULL, SSL_ERROR_SSL, why, sizeof(why));
        evpl_tls_error("cannot create the TLS context: %s", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
    /* Read whole records from the BIO at once: fewer BIO calls per record. */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* No session resumption, hence no TLS 1.3 session tickets: tickets are
     * the only data a server sends after the handshake unprompted, and a
     * client that closes with them unread in its socket resets the
     * connection, losing data it had not yet sent. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (server) {
        SSL_CTX_set_num_tickets(ctx, 0);
    }

    if (cfg->tls_cipher_list) {
        apply_cipher_list(ctx, cfg->tls_cipher_list);
    } else if (cfg->tls_ktls_enabled) {
        apply_cipher_list(ctx, KTLS_DEFAULT_CIPHERS ":" KTLS_DEFAULT_SUITES);
    }

    if (cfg->tls_cert && cfg->tls_key) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            evpl_tls_error_string(NULL, SSL_ERROR_SSL, why, sizeof(why));
            evpl_tls_error("cannot load TLS certificate '%s' / key '%s': %s", cfg->tls_cert,
                           cfg->tls_key, why);
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else if (server) {
        if (use_self_signed(ctx) < 0) {
            evpl_tls_error_string(NULL, SSL_ERROR_SSL, why, sizeof(why));
            evpl_tls_error("cannot generate a self-signed certificate: %s", why);
            SSL_CTX_free(ctx);
            return NULL;
        }
        evpl_tls_info("no TLS certificate and key configured: using a generated self-signed "
                      "certificate for localhost");
    }

    if (cfg->tls_verify_peer) {
        int ok = cfg->tls_ca ? SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL)
                             : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            evpl_tls_error_string(NULL, SSL_ERROR_SSL, why, sizeof(why));
            evpl_tls_error("cannot load TLS CA '%s': %s", cfg->tls_ca ? cfg->tls_ca : "(system)",
                           why);
            SSL_CTX_free(ctx);
            return NULL;
        }
        /* Both directions (API §3.2): a server requires a client certificate. */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }

    if (server) {
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    }
    ERR_clear_error();
    return ctx;
}

SSL_CTX *
evpl_tls_context(int server)
{
    SSL_CTX *ctx;

    server = server ? 1 : 0;
    pthread_mutex_lock(&context_lock);
    if (contexts[server] == NULL) {
        contexts[server] = context_create(server);
    }
    ctx = contexts[server];
    pthread_mutex_unlock(&context_lock);
    return ctx;
}

void
evpl_tls_context_shutdown(void)
{
    pthread_mutex_lock(&context_lock);
    for (int i = 0; i < 2; i++) {
        SSL_CTX_free(contexts[i]);
        contexts[i] = NULL;
    }
    pthread_mutex_unlock(&context_lock);
}

/* ---- kTLS --------------------------------------------------------------- */

static pthread_once_t ktls_once = PTHREAD_ONCE_INIT;

/*
 * The TLS ULP can only be attached to an established TCP socket, and
 * attaching it to a live connection changes that connection, so the probe
 * uses a throwaway loopback pair.  ENOENT: the kernel has no CONFIG_TLS (and
 * no module to load).
 */
static void
ktls_probe_once(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          len = sizeof(sin);
    int                lfd = -1, cfd = -1, afd = -1, err = 0;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd                 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *) &sin, sizeof(sin)) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *) &sin, &len) < 0) {
        err = errno;
        goto out;
    }
    cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *) &sin, sizeof(sin)) < 0) {
        err = errno;
        goto out;
    }
    afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (afd < 0) {
        err = errno;
        goto out;
    }
    if (setsockopt(cfd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) == 0) {
        evpl_tls_info("kernel TLS (TCP_ULP \"tls\") is available, but this build does not hand "
                      "keys to it yet: records are encrypted in user space");
    } else {
        evpl_tls_info("kernel TLS unavailable (setsockopt TCP_ULP \"tls\": %s): records are "
                      "encrypted in user space",
                      strerror(errno));
    }
out:
    if (err) {
        evpl_tls_info("kernel TLS probe failed (%s): records are encrypted in user space",
                      strerror(err));
    }
    if (afd >= 0) {
        close(afd);
    }
    if (cfd >= 0) {
        close(cfd);
    }
    if (lfd >= 0) {
        close(lfd);
    }
}

void
evpl_tls_ktls_probe(void)
{
    pthread_once(&ktls_once, ktls_probe_once);
}

#endif /* EVPL_HAVE_OPENSSL */
