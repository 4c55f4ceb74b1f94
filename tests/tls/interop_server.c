/*
 * Interoperability, `openssl s_client` against our server, for TLS 1.2 or
 * 1.3 (argv[2] = "1.2" / "1.3", forced on the s_client side).  The server
 * uses the test CA's certificate (s_client verifies the chain and the host
 * name "localhost" and fails otherwise), echoes every byte, and once it has
 * echoed the whole payload calls evpl_finish(): the echo must reach
 * s_client before our close_notify ends its session.  A writer thread feeds
 * 1 MiB of random printable data to s_client's stdin, a reader thread
 * collects its stdout, and the two must match byte for byte.  Skips (77)
 * without the openssl binary.
 */
#include "tls_test.h"

#define PAYLOAD (1u << 20)

static unsigned char *payload, *echoed;
static size_t         echoed_len;
static uint64_t       server_echoed;
static atomic_int     server_connected, server_disc, reader_done;
static const char    *want_version;
static int            to_client, from_client;

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    struct evpl_iovec iov[16];
    int               n, len;

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED: {
        const char *v = evpl_tls_get_version(bind);
        test_assert_msg(v && strcmp(v, want_version) == 0, "negotiated %s, wanted %s",
                        v ? v : "(null)", want_version);
        atomic_store(&server_connected, 1);
        break;
    }
    case EVPL_NOTIFY_RECV_DATA:
        /* Zero-copy echo: the received iovecs go straight back. */
        while ((n = evpl_recvv(evpl, bind, iov, 16, 1 << 20, &len)) > 0) {
            evpl_sendv(evpl, bind, iov, n, len, EVPL_SEND_FLAG_TAKE_REF);
            server_echoed += len;
        }
        if (server_echoed == PAYLOAD) {
            evpl_finish(evpl, bind);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&server_disc, 1);
        break;
    }
}

TEST_ATTACH_NOTIFY(server_attach, server_notify)

static void *
writer(void *arg)
{
    (void) arg;
    for (size_t off = 0; off < PAYLOAD;) {
        ssize_t rc = write(to_client, payload + off, PAYLOAD - off);
        test_assert(rc > 0);
        off += rc;
    }
    /* s_client -quiet ignores stdin EOF and waits for the server to close. */
    close(to_client);
    return NULL;
}

static void *
reader(void *arg)
{
    (void) arg;
    while (1) {
        ssize_t rc = read(from_client, echoed + echoed_len, PAYLOAD + 1 - echoed_len);
        if (rc <= 0) {
            break;
        }
        echoed_len += rc;
    }
    atomic_store(&reader_done, 1);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config    *config;
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl_endpoint         *endpoint;
    struct evpl                  *evpl;
    pthread_t                     wt, rt;
    char                          connect_arg[64];
    const char                   *version = argc > 2 ? argv[2] : "1.3";
    pid_t                         client;
    int                           port, status;

    signal(SIGPIPE, SIG_IGN);
    tls_make_certs();
    want_version = strcmp(version, "1.2") == 0 ? "TLSv1.2" : "TLSv1.3";

    tls_log_capture();
    config = evpl_test_config(argc, argv);
    evpl_global_config_set_tls_cert(config, tls_file("server.crt"));
    evpl_global_config_set_tls_key(config, tls_file("server.key"));
    evpl_global_config_set_tls_verify_peer(config, 0); /* s_client has no certificate */
    evpl_init(config);

    evpl     = tls_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    port     = tls_listen(listener, &endpoint);

    snprintf(connect_arg, sizeof(connect_arg), "127.0.0.1:%d", port);
    char *client_argv[] = {"openssl",
                           "s_client",
                           "-connect",
                           connect_arg,
                           "-quiet",
                           "-nocommands",
                           "-CAfile",
                           (char *) tls_file("ca.crt"),
                           "-verify_return_error",
                           "-verify_hostname",
                           "localhost",
                           strcmp(version, "1.2") == 0 ? "-tls1_2" : "-tls1_3",
                           NULL};

    payload = malloc(PAYLOAD);
    echoed  = malloc(PAYLOAD + 1);
    srand(7);
    for (size_t i = 0; i < PAYLOAD; i++) {
        payload[i] = i % 100 == 99 ? '\n' : ' ' + rand() % 95;
    }

    client = tls_spawn(client_argv, &to_client, &from_client);
    pthread_create(&wt, NULL, writer, NULL);
    pthread_create(&rt, NULL, reader, NULL);

    tls_run_until(evpl, &server_disc, 1, 60);
    test_assert(atomic_load(&server_connected));
    pthread_join(wt, NULL);
    pthread_join(rt, NULL);
    status = tls_reap(client);

    test_assert_eq(server_echoed, PAYLOAD);
    test_assert_eq(echoed_len, PAYLOAD);
    test_assert(memcmp(payload, echoed, PAYLOAD) == 0);
    test_assert_msg(status == 0, "s_client exited with %d", status);
    test_assert_eq(tls_log_errors(), 0);

    free(payload);
    free(echoed);
    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
