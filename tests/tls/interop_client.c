/*
 * Interoperability, our client against `openssl s_server -rev` (a line
 * reverser) for TLS 1.2 or 1.3 (argv[2] = "1.2" / "1.3", forced on the
 * s_server side).  The client verifies the server (test CA, host name
 * "localhost" via evpl_tls_set_server_name), checks the negotiated version
 * in CONNECTED, sends 2,000 lines of random text (about 200 KB, queued
 * before CONNECTED and in bursts) and checks that every line comes back
 * reversed, byte for byte.  Skips (77) without the openssl binary.
 */
#include "tls_test.h"

#define LINES 2000

static char       *expected; /* the reversed lines, concatenated */
static size_t      expected_len, received_len;
static atomic_int  connected, done, disconnected;
static const char *want_version;

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char buf[65536];
    int  n;

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED: {
        const char *v = evpl_tls_get_version(bind);
        test_assert_msg(v && strcmp(v, want_version) == 0, "negotiated %s, wanted %s",
                        v ? v : "(null)", want_version);
        test_assert(evpl_tls_get_cipher(bind) != NULL);
        atomic_store(&connected, 1);
        break;
    }
    case EVPL_NOTIFY_RECV_DATA:
        while ((n = evpl_recv(evpl, bind, buf, sizeof(buf), 0)) > 0) {
            test_assert(received_len + n <= expected_len);
            test_assert_msg(memcmp(buf, expected + received_len, n) == 0, "mismatch at byte %zu",
                            received_len);
            received_len += n;
        }
        if (received_len == expected_len) {
            atomic_store(&done, 1);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_store(&disconnected, 1);
        break;
    }
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config;
    struct evpl_endpoint      *endpoint;
    struct evpl_bind          *bind;
    struct evpl               *evpl;
    char                       port_arg[32], *line = NULL;
    int                        port, from_server;
    pid_t                      server;
    const char                *version = argc > 2 ? argv[2] : "1.3";
    FILE                      *out;
    size_t                     cap = 0;

    tls_make_certs();
    want_version = strcmp(version, "1.2") == 0 ? "TLSv1.2" : "TLSv1.3";

    tls_log_capture();
    config = evpl_test_config(argc, argv);
    evpl_global_config_set_tls_ca(config, tls_file("ca.crt"));
    evpl_global_config_set_tls_verify_peer(config, 1);
    evpl_init(config);

    port = tls_free_port();
    snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%d", port);
    char *server_argv[] = {"openssl", "s_server",
                           "-accept", port_arg,
                           "-cert",   (char *) tls_file("server.crt"),
                           "-key",    (char *) tls_file("server.key"),
                           "-rev",    "-naccept",
                           "1",       strcmp(version, "1.2") == 0 ? "-tls1_2" : "-tls1_3",
                           NULL};
    server              = tls_spawn(server_argv, NULL, &from_server);
    out                 = fdopen(from_server, "r");
    test_assert(out != NULL);
    /* s_server prints ACCEPT once it listens. */
    while (getline(&line, &cap, out) > 0 && strncmp(line, "ACCEPT", 6) != 0) {
    }
    test_assert_msg(line && strncmp(line, "ACCEPT", 6) == 0, "s_server did not start");

    evpl     = tls_loop_create();
    endpoint = evpl_endpoint_create("127.0.0.1", port);
    bind = evpl_connect(evpl, EVPL_STREAM_SOCKET_TLS, NULL, endpoint, client_notify, NULL, NULL);
    test_assert(bind != NULL);
    test_assert_eq(evpl_tls_set_server_name(bind, "localhost"), 0);

    /* Random printable lines, each sent as typed plus the reversed copy
     * expected back. */
    expected = malloc(LINES * 202);
    srand(42);
    for (int i = 0; i < LINES; i++) {
        char text[202];
        int  len = 1 + rand() % 200;
        for (int j = 0; j < len; j++) {
            text[j] = 'A' + rand() % 58;
            if (text[j] > 'Z' && text[j] < 'a') {
                text[j] = '-';
            }
        }
        for (int j = 0; j < len; j++) {
            expected[expected_len + j] = text[len - 1 - j];
        }
        expected[expected_len + len] = '\n';
        expected_len += len + 1;
        text[len] = '\n';
        evpl_send(evpl, bind, text, len + 1);
        if (i % 500 == 499) {
            /* Let the transport take a burst before queueing more. */
            for (int k = 0; k < 5; k++) {
                evpl_continue(evpl);
            }
        }
    }

    tls_run_until(evpl, &done, 1, 30);
    test_assert(atomic_load(&connected));
    evpl_close(evpl, bind);
    tls_run_until(evpl, &disconnected, 1, 10);
    test_assert_eq(tls_log_errors(), 0);

    kill(server, SIGTERM);
    tls_reap(server);
    fclose(out);
    free(line);
    free(expected);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
