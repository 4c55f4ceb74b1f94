/*
 * Certificate verification, our client against our server, both with
 * verification on (API §3.2: both directions) and the test CA configured;
 * the client names the server "localhost" (evpl_tls_set_server_name).
 * argv[2] picks the case:
 *   ok         server.crt: both ends CONNECTED, one round trip, no errors;
 *   wrongca    the peers trust another CA;
 *   expired    the certificate has expired;
 *   wronghost  the certificate is for wrong.example;
 *   ipliteral  the client names the server "127.0.0.1" (in server.crt's SAN):
 *              verified as an IP address, CONNECTED;
 *   autoname   no evpl_tls_set_server_name(): the endpoint's host ("127.0.0.1",
 *              in server.crt's SAN) is checked automatically, CONNECTED;
 *   autowrong  no evpl_tls_set_server_name(), certificate for wrong.example:
 *              the automatic check against the endpoint's host fails.
 * Every failure case: both ends get DISCONNECTED without CONNECTED, the
 * client logs exactly one error line naming the verification failure, and
 * the server at most one (the alert it received), and a second, valid
 * connection afterwards is unaffected (wrongca excepted: nothing verifies).
 */
#include "tls_test.h"

static const char *mode;
static atomic_int  server_connected, server_disc, client_connected, client_disc, client_got;

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char buf[16];

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        atomic_fetch_add(&server_connected, 1);
        break;
    case EVPL_NOTIFY_RECV_DATA:
        if (evpl_recv(evpl, bind, buf, 4, EVPL_RECV_FLAG_ALL_OR_NONE) == 4) {
            test_assert(memcmp(buf, "ping", 4) == 0);
            evpl_send(evpl, bind, "pong", 4);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&server_disc, 1);
        break;
    }
}

TEST_ATTACH_NOTIFY(server_attach, server_notify)

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char buf[16];

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        atomic_fetch_add(&client_connected, 1);
        break;
    case EVPL_NOTIFY_RECV_DATA:
        if (evpl_recv(evpl, bind, buf, 4, EVPL_RECV_FLAG_ALL_OR_NONE) == 4) {
            test_assert(memcmp(buf, "pong", 4) == 0);
            atomic_fetch_add(&client_got, 1);
            evpl_close(evpl, bind);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&client_disc, 1);
        break;
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
    const char                   *cert = "server", *ca = "ca.crt", *name = "localhost";
    int                           fails;

    mode = argc > 2 ? argv[2] : "ok";
    tls_make_certs();
    if (strcmp(mode, "wrongca") == 0) {
        ca = "other-ca.crt";
    } else if (strcmp(mode, "expired") == 0) {
        cert = "expired";
    } else if (strcmp(mode, "wronghost") == 0) {
        cert = "wronghost";
    } else if (strcmp(mode, "ipliteral") == 0) {
        name = "127.0.0.1";
    } else if (strcmp(mode, "autoname") == 0) {
        name = NULL;
    } else if (strcmp(mode, "autowrong") == 0) {
        name = NULL;
        cert = "wronghost";
    } else if (strcmp(mode, "ok") != 0) {
        test_fail("unknown mode %s", mode);
    }
    fails =
        strcmp(mode, "ok") != 0 && strcmp(mode, "ipliteral") != 0 && strcmp(mode, "autoname") != 0;

    tls_log_capture();
    config = evpl_test_config(argc, argv);
    char certfile[300], keyfile[300];
    snprintf(certfile, sizeof(certfile), "%s", tls_file(cert));
    strcat(certfile, ".crt");
    snprintf(keyfile, sizeof(keyfile), "%s", tls_file(cert));
    strcat(keyfile, ".key");
    evpl_global_config_set_tls_cert(config, certfile);
    evpl_global_config_set_tls_key(config, keyfile);
    evpl_global_config_set_tls_ca(config, tls_file(ca));
    evpl_global_config_set_tls_verify_peer(config, 1);
    evpl_init(config);

    evpl     = tls_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    tls_listen(listener, &endpoint);

    bind = evpl_connect(evpl, EVPL_STREAM_SOCKET_TLS, NULL, endpoint, client_notify, NULL, NULL);
    test_assert(bind != NULL);
    if (name) {
        test_assert_eq(evpl_tls_set_server_name(bind, name), 0);
    }
    evpl_send(evpl, bind, "ping", 4);

    tls_run_until(evpl, &client_disc, 1, 20);
    tls_run_until(evpl, &server_disc, 1, 20);

    if (!fails) {
        test_assert_eq(client_connected, 1);
        test_assert_eq(server_connected, 1);
        test_assert_eq(client_got, 1);
        test_assert_eq(tls_log_errors(), 0);
    } else {
        const char *why    = strcmp(mode, "wrongca") == 0     ? "unable to get local issuer"
                             : strcmp(mode, "expired") == 0   ? "expired"
                             : strcmp(mode, "autowrong") == 0 ? "IP address mismatch"
                                                              : "hostname mismatch";
        int         errors = tls_log_errors();

        test_assert_eq(client_connected, 0);
        test_assert_eq(server_connected, 0);
        test_assert_msg(errors >= 1 && errors <= 2, "%d error lines", errors);
        int found = 0;
        for (int i = 0; i < errors; i++) {
            found += tls_log_line_has(i, "certificate verify failed") && tls_log_line_has(i, why);
        }
        test_assert_msg(found == 1, "no single line names the failure (%s)", why);
    }

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
