/*
 * TLS settings and the extension hooks, our client against our server
 * (self-signed certificate, verification off), one case per argv[2]:
 *   alpn           the server accepts "h2" and "http/1.1", the client offers
 *                  "spdy/1" and "http/1.1": both ends see "http/1.1";
 *   alpn_mismatch  the server accepts only "h2": the handshake fails (one
 *                  error line naming the ALPN failure), no CONNECTED;
 *   alpn_none      the client offers ALPN, the server has no list: CONNECTED,
 *                  nothing selected;
 *   suites13       cipher list "TLS_CHACHA20_POLY1305_SHA256" (a TLS 1.3
 *                  suite list): that suite is negotiated;
 *   mixed          "ECDHE-ECDSA-CHACHA20-POLY1305:TLS_AES_128_GCM_SHA256": the
 *                  TLS 1.3 part applies (TLS_AES_128_GCM_SHA256);
 *   api_errors     the extension calls reject misuse with EINVAL / EBUSY.
 */
#include <errno.h>

#include "tls_test.h"

static const char *mode;
static atomic_int  server_connected, client_connected, server_disc, client_disc;

static void
check_connected(struct evpl_bind *bind)
{
    const unsigned char *proto;
    unsigned int         len;
    const char          *cipher = evpl_tls_get_cipher(bind);

    test_assert(cipher != NULL);
    test_assert_eq(evpl_tls_get_alpn(bind, &proto, &len), 0);
    if (strcmp(mode, "alpn") == 0) {
        test_assert(len == 8 && memcmp(proto, "http/1.1", 8) == 0);
    } else {
        test_assert_eq(len, 0);
    }
    if (strcmp(mode, "suites13") == 0) {
        test_assert_msg(strcmp(cipher, "TLS_CHACHA20_POLY1305_SHA256") == 0, "cipher %s", cipher);
    }
    if (strcmp(mode, "mixed") == 0) {
        test_assert_msg(strcmp(cipher, "TLS_AES_128_GCM_SHA256") == 0, "cipher %s", cipher);
    }
    /* Too late now. */
    errno = 0;
    test_assert_eq(evpl_tls_set_alpn(bind, (const unsigned char *) "\x02h2", 3), -1);
    test_assert_eq(errno, EBUSY);
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) evpl;
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_CONNECTED) {
        check_connected(bind);
        atomic_fetch_add(&server_connected, 1);
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_fetch_add(&server_disc, 1);
    }
}

static void
server_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    (void) evpl;
    (void) segment_callback;
    (void) conn_private_data;
    (void) private_data;
    *notify_callback = server_notify;
    if (strcmp(mode, "alpn") == 0) {
        test_assert_eq(evpl_tls_set_alpn(bind, (const unsigned char *) "\x02h2\x08http/1.1", 12),
                       0);
    } else if (strcmp(mode, "alpn_mismatch") == 0) {
        test_assert_eq(evpl_tls_set_alpn(bind, (const unsigned char *) "\x02h2", 3), 0);
    }
    /* A server bind has no server name to set. */
    test_assert_eq(evpl_tls_set_server_name(bind, "localhost"), -1);
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) data;
    if (notify->notify_type == EVPL_NOTIFY_CONNECTED) {
        check_connected(bind);
        atomic_fetch_add(&client_connected, 1);
        evpl_close(evpl, bind);
    } else if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_fetch_add(&client_disc, 1);
    }
}

int
main(int argc, char **argv)
{
    struct evpl_global_config    *config;
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl_endpoint         *endpoint;
    struct evpl_bind             *bind;
    struct evpl                  *evpl;
    int                           fails;

    mode  = argc > 2 ? argv[2] : "alpn";
    fails = strcmp(mode, "alpn_mismatch") == 0;

    tls_log_capture();
    config = evpl_test_config(argc, argv);
    evpl_global_config_set_tls_verify_peer(config, 0);
    if (strcmp(mode, "suites13") == 0) {
        evpl_global_config_set_tls_cipher_list(config, "TLS_CHACHA20_POLY1305_SHA256");
    } else if (strcmp(mode, "mixed") == 0) {
        evpl_global_config_set_tls_cipher_list(
            config, "ECDHE-ECDSA-CHACHA20-POLY1305:TLS_AES_128_GCM_SHA256");
    }
    evpl_init(config);

    evpl     = tls_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    tls_listen(listener, &endpoint);

    if (strcmp(mode, "api_errors") == 0) {
        errno = 0;
        test_assert_eq(evpl_tls_set_server_name(NULL, "x"), -1);
        test_assert_eq(errno, EINVAL);
        test_assert(evpl_tls_get_version(NULL) == NULL);
    }

    bind = evpl_connect(evpl, EVPL_STREAM_SOCKET_TLS, NULL, endpoint, client_notify, NULL, NULL);
    test_assert(bind != NULL);
    test_assert(evpl_tls_get_version(bind) == NULL); /* not yet */
    if (strncmp(mode, "alpn", 4) == 0) {
        test_assert_eq(
            evpl_tls_set_alpn(bind, (const unsigned char *) "\x06spdy/1\x08http/1.1", 16), 0);
    }
    if (strcmp(mode, "api_errors") == 0) {
        /* Malformed ALPN lists: a zero length, a length past the end. */
        errno = 0;
        test_assert_eq(evpl_tls_set_alpn(bind, (const unsigned char *) "\x00", 1), -1);
        test_assert_eq(errno, EINVAL);
        test_assert_eq(evpl_tls_set_alpn(bind, (const unsigned char *) "\x05h2", 3), -1);
        test_assert_eq(evpl_tls_set_server_name(bind, ""), -1);
        test_assert_eq(evpl_tls_set_server_name(bind, "localhost"), 0);
    }

    tls_run_until(evpl, &client_disc, 1, 20);
    tls_run_until(evpl, &server_disc, 1, 20);

    if (fails) {
        test_assert_eq(client_connected, 0);
        test_assert_eq(server_connected, 0);
        test_assert_eq(tls_log_errors(), 2); /* each end names what it saw */
        test_assert(tls_log_line_has(0, "application protocol") ||
                    tls_log_line_has(1, "application protocol"));
    } else {
        test_assert_eq(client_connected, 1);
        test_assert_eq(server_connected, 1);
        test_assert_eq(tls_log_errors(), 0);
    }

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
