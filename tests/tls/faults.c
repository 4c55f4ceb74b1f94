/*
 * Bad input and faults on TLS connections (issue 7).  One server loop (main
 * thread) serves a healthy, long-lived TLS connection from our own client
 * while hostile peers come and go; after every case the healthy connection
 * must still echo a 1000-byte message exactly.  Each case must end its
 * connection with DISCONNECTED (never CONNECTED for handshake faults) and
 * exactly one new error line from module "tls" naming the reason:
 *
 * against our server (raw or half-TLS clients run on a helper thread):
 *   http            an HTTP request to the TLS port          "http request"
 *   plaintext       a line of text                           any TLS error
 *   mid_handshake   half a ClientHello, then close            "during the handshake"
 *   truncated       handshake, then half a record and close  "truncated record"
 *   reset_mid_record handshake, half a record, then RST       "truncated record"
 *   bad_mac         handshake, then a record of random bytes "bad record mac|decrypt"
 *   garbage         handshake, then bytes that are no record any TLS error
 *   silent          connect and close without a byte         no error line (info)
 * against our client (a raw server on a helper thread):
 *   server_text     the server greets in plain text          any TLS error
 *   server_close    the server reads the hello and closes    "during the handshake"
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls_test.h"

#define HEALTHY_MSG 1000

static struct evpl      *evpl;
static int               port;
static atomic_int        attached, server_connected, server_disc, helper_done;
static atomic_int        healthy_echoed, client_disc, healthy_closing, healthy_disc;
static struct evpl_bind *healthy;
static unsigned char     healthy_buf[HEALTHY_MSG];
static int               healthy_have;

/* ---- server side: echo ----------------------------------------------------- */

static void
server_notify(struct evpl *evpl_, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    struct evpl_iovec iov[8];
    int               n, len;

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        atomic_fetch_add(&server_connected, 1);
        break;
    case EVPL_NOTIFY_RECV_DATA:
        while ((n = evpl_recvv(evpl_, bind, iov, 8, 1 << 20, &len)) > 0) {
            evpl_sendv(evpl_, bind, iov, n, len, EVPL_SEND_FLAG_TAKE_REF);
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&server_disc, 1);
        break;
    }
}

static void
server_attach(struct evpl *evpl_, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    (void) evpl_;
    (void) bind;
    (void) segment_callback;
    (void) conn_private_data;
    (void) private_data;
    atomic_fetch_add(&attached, 1);
    *notify_callback = server_notify;
}

/* ---- the healthy client ---------------------------------------------------- */

static void
healthy_notify(struct evpl *evpl_, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    int n;

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_DATA:
        while ((n = evpl_recv(evpl_, bind, healthy_buf + healthy_have, HEALTHY_MSG - healthy_have,
                              0)) > 0) {
            healthy_have += n;
            if (healthy_have == HEALTHY_MSG) {
                for (int i = 0; i < HEALTHY_MSG; i++) {
                    test_assert_eq(healthy_buf[i], (unsigned char) (i * 7 + healthy_echoed));
                }
                healthy_have = 0;
                atomic_fetch_add(&healthy_echoed, 1);
            }
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        test_assert_msg(atomic_load(&healthy_closing), "the healthy connection was disconnected");
        atomic_store(&healthy_disc, 1);
        break;
    }
}

static void
healthy_check(void)
{
    unsigned char msg[HEALTHY_MSG];
    int           want = atomic_load(&healthy_echoed) + 1;

    for (int i = 0; i < HEALTHY_MSG; i++) {
        msg[i] = (unsigned char) (i * 7 + want - 1);
    }
    evpl_send(evpl, healthy, msg, sizeof(msg));
    tls_run_until(evpl, &healthy_echoed, want, 10);
}

/* ---- hostile peers ----------------------------------------------------------- */

static int
raw_connect(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval     tv  = {.tv_sec = 10};
    int                fd  = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    test_assert(fd >= 0);
    test_assert(connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Read until the peer closes (it must, within the receive timeout). */
static void
wait_closed(int fd)
{
    char buf[4096];

    while (1) {
        ssize_t rc = read(fd, buf, sizeof(buf));
        if (rc == 0 || (rc < 0 && errno == ECONNRESET)) {
            return;
        }
        test_assert_msg(rc > 0, "peer did not close: %s", strerror(errno));
    }
}

static void
write_all(int fd, const void *data, size_t len)
{
    test_assert(write(fd, data, len) == (ssize_t) len);
}

/* A blocking OpenSSL client completing a handshake on fd (no verification). */
static SSL *
evil_handshake(int fd)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL     *ssl;

    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* ssl keeps its own reference */
    SSL_set_fd(ssl, fd);
    test_assert_msg(SSL_connect(ssl) == 1, "evil handshake failed");
    return ssl;
}

/* The first bytes a TLS client sends: a ClientHello. */
static size_t
client_hello(unsigned char *buf, size_t len)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL     *ssl = SSL_new(ctx);
    BIO     *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    int      n;

    SSL_set_bio(ssl, rb, wb);
    test_assert(SSL_connect(ssl) == -1);
    n = BIO_read(wb, buf, len);
    test_assert(n > 0);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return n;
}

static const char *server_case;
static int         raw_server_fd;

static void *
helper(void *arg)
{
    const char   *c = arg;
    unsigned char buf[2048];
    int           fd;

    if (strcmp(c, "server_text") == 0 || strcmp(c, "server_close") == 0) {
        fd = accept(raw_server_fd, NULL, NULL);
        test_assert(fd >= 0);
        if (strcmp(c, "server_text") == 0) {
            const char *greet = "220 mail.example.com ESMTP ready\r\n";
            write_all(fd, greet, strlen(greet));
        } else {
            test_assert(read(fd, buf, sizeof(buf)) > 0);
        }
        close(fd);
        atomic_store(&helper_done, 1);
        return NULL;
    }

    fd = raw_connect();
    if (strcmp(c, "http") == 0) {
        const char *req = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
        write_all(fd, req, strlen(req));
        wait_closed(fd);
    } else if (strcmp(c, "plaintext") == 0) {
        const char *text = "hello, this is not TLS at all\n";
        write_all(fd, text, strlen(text));
        wait_closed(fd);
    } else if (strcmp(c, "mid_handshake") == 0) {
        size_t n = client_hello(buf, sizeof(buf));
        write_all(fd, buf, n / 2);
    } else if (strcmp(c, "silent") == 0) {
        /* nothing */
    } else {
        SSL          *ssl = evil_handshake(fd);
        unsigned char rec[5 + 48];

        rec[0] = 0x17; /* application data */
        rec[1] = 0x03;
        rec[2] = 0x03;
        rec[3] = 0x00;
        rec[4] = 48;
        for (int i = 5; i < (int) sizeof(rec); i++) {
            rec[i] = (unsigned char) rand();
        }
        if (strcmp(c, "truncated") == 0 || strcmp(c, "reset_mid_record") == 0) {
            write_all(fd, rec, 5 + 20); /* the header promises 48 */
            usleep(100000);             /* let the server parse the partial record */
            if (strcmp(c, "reset_mid_record") == 0) {
                struct linger lg = {.l_onoff = 1, .l_linger = 0};
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            } else {
                shutdown(fd, SHUT_WR);
                wait_closed(fd);
            }
        } else if (strcmp(c, "bad_mac") == 0) {
            write_all(fd, rec, sizeof(rec));
            wait_closed(fd);
        } else if (strcmp(c, "garbage") == 0) {
            memset(rec, 0xee, sizeof(rec));
            write_all(fd, rec, sizeof(rec));
            wait_closed(fd);
        } else {
            test_fail("unknown case %s", c);
        }
        SSL_free(ssl);
    }
    close(fd);
    ERR_clear_error();
    OPENSSL_thread_stop();
    atomic_store(&helper_done, 1);
    return NULL;
}

static void
client_side_notify(struct evpl *evpl_, struct evpl_bind *bind, struct evpl_notify *notify,
                   void *data)
{
    (void) evpl_;
    (void) bind;
    (void) data;
    test_assert(notify->notify_type != EVPL_NOTIFY_CONNECTED);
    if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        atomic_fetch_add(&client_disc, 1);
    }
}

/* Run one case; words: expected reason ('|' alternatives), "" for any,
 * NULL for no error line at all. */
static void
run_case(const char *c, const char *words)
{
    int errors_before = tls_log_errors();
    int server_side   = strncmp(c, "server_", 7) != 0;
    int disc_before   = server_side ? atomic_load(&server_disc) : atomic_load(&client_disc);
    int conn_before   = atomic_load(&server_connected);
    int handshake     = !strcmp(c, "truncated") || !strcmp(c, "reset_mid_record") ||
                    !strcmp(c, "bad_mac") || !strcmp(c, "garbage");
    pthread_t thread;

    fprintf(stderr, "--- case %s\n", c);
    atomic_store(&helper_done, 0);
    server_case = c;
    pthread_create(&thread, NULL, helper, (void *) c);
    if (!server_side) {
        struct evpl_endpoint *ep;
        struct sockaddr_in    sin = {.sin_family = AF_INET};
        socklen_t             len = sizeof(sin);

        test_assert(getsockname(raw_server_fd, (struct sockaddr *) &sin, &len) == 0);
        ep = evpl_endpoint_create("127.0.0.1", ntohs(sin.sin_port));
        test_assert(evpl_connect(evpl, EVPL_STREAM_SOCKET_TLS, NULL, ep, client_side_notify, NULL,
                                 NULL) != NULL);
        tls_run_until(evpl, &client_disc, disc_before + 1, 10);
        evpl_endpoint_close(ep);
    } else {
        tls_run_until(evpl, &server_disc, disc_before + 1, 10);
    }
    tls_run_until(evpl, &helper_done, 1, 10);
    pthread_join(thread, NULL);

    if (server_side) {
        test_assert_eq(atomic_load(&server_connected), conn_before + handshake);
    }
    int errors = tls_log_errors() - errors_before;
    if (words == NULL) {
        test_assert_msg(errors == 0, "case %s: %d error lines", c, errors);
    } else {
        test_assert_msg(errors == 1, "case %s: %d error lines, wanted 1", c, errors);
        if (words[0]) {
            test_assert_msg(tls_log_line_has(errors_before, words),
                            "case %s: the error line does not name '%s'", c, words);
        }
    }
    healthy_check();
}

int
main(int argc, char **argv)
{
    struct evpl_global_config    *config;
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl_endpoint         *endpoint;
    struct sockaddr_in            sin = {.sin_family = AF_INET};

    signal(SIGPIPE, SIG_IGN);
    tls_log_capture();
    evpl_test_log_expect("TLS stream from");
    evpl_test_log_expect("TLS record from");
    config = evpl_test_config(argc, argv);
    evpl_global_config_set_tls_verify_peer(config, 0); /* self-signed server */
    evpl_init(config);

    evpl     = tls_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    port     = tls_listen(listener, &endpoint);

    healthy =
        evpl_connect(evpl, EVPL_STREAM_SOCKET_TLS, NULL, endpoint, healthy_notify, NULL, NULL);
    test_assert(healthy != NULL);
    healthy_check();

    raw_server_fd       = socket(AF_INET, SOCK_STREAM, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(bind(raw_server_fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    test_assert(listen(raw_server_fd, 4) == 0);

    run_case("http", "http request");
    run_case("plaintext", "");
    run_case("mid_handshake", "during the handshake");
    run_case("silent", NULL);
    run_case("truncated", "truncated record");
    run_case("reset_mid_record", "truncated record");
    run_case("bad_mac", "bad record mac|decrypt");
    run_case("garbage", "");
    run_case("server_text", "");
    run_case("server_close", "during the handshake");

    test_assert_eq(atomic_load(&attached), 9); /* 8 hostile + the healthy one */
    close(raw_server_fd);

    int disc_before = atomic_load(&server_disc);
    atomic_store(&healthy_closing, 1);
    evpl_close(evpl, healthy);
    tls_run_until(evpl, &healthy_disc, 1, 10);
    tls_run_until(evpl, &server_disc, disc_before + 1, 10);
    test_assert_eq(tls_log_errors(), 9); /* one per case except "silent" */

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
