/*
 * echo_demo: the library's demonstration.  For every protocol this build
 * offers, start an echo server and a client on one event loop, send a batch
 * of messages, wait for every byte to come back, and print what happened.
 *
 *   make demo          (or: build/examples/echo_demo [messages])
 *
 * It exits 1 if any protocol this build offers fails (ctest runs it).
 *
 * TLS: with no certificate configured, a TLS server uses a self-signed
 * certificate the library generates, and peer verification -- on by default
 * -- rightly rejects it.  A demo has no certificate authority, so it turns
 * verification off and says so; an application configures a certificate,
 * key and CA and keeps verification on (docs/tls.md).
 *
 * The same client and server code runs over every transport: only the
 * endpoint differs (inet, AF_UNIX path, or in-process name).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <evpl/evpl.h>

#define MSG_SIZE 64

static const char *const protocol_names[EVPL_NUM_PROTO] = {
    "DATAGRAM_SOCKET_UDP", "DATAGRAM_RDMACM_RC",  "DATAGRAM_RDMACM_UD", "STREAM_SOCKET_TCP",
    "STREAM_XLIO_TCP",     "STREAM_IO_URING_TCP", "STREAM_RDMACM_RC",   "STREAM_SOCKET_TLS",
    "DATAGRAM_TCP_RDMA",   "STREAM_SOCKET_UNIX",  "STREAM_INPROC",      "DATAGRAM_INPROC",
};

struct demo {
    int      messages; /* to send */
    int      sent;
    uint64_t echoed_bytes; /* received back by the client */
    uint64_t expected_bytes;
    int      connected;
    int      disconnected; /* client binds that delivered DISCONNECTED */
    int      server_conns;
    int      server_closed; /* server binds that delivered DISCONNECTED */
    double   echo_s;        /* from the first send until every byte was back */
    int      failed;
};

/* ---- server: echo everything back ------------------------------------- */

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *p)
{
    struct demo *demo = p;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        demo->server_conns++;
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        demo->server_closed++;
        break;
    case EVPL_NOTIFY_RECV_DATA: {
        struct evpl_iovec iov[8];
        int               n, len;

        /* Zero-copy echo: the received buffers are sent back as they are. */
        while ((n = evpl_recvv(evpl, bind, iov, 8, 1 << 20, &len)) > 0) {
            evpl_sendv(evpl, bind, iov, n, len, EVPL_SEND_FLAG_TAKE_REF);
        }
        break;
    }
    case EVPL_NOTIFY_RECV_MSG:
        /* Datagram binds reply to the sender; connected ones to the peer. */
        evpl_sendtov(evpl, bind, notify->recv_msg.addr, notify->recv_msg.iovec,
                     notify->recv_msg.niov, notify->recv_msg.length, EVPL_SEND_FLAG_TAKE_REF);
        break;
    default:
        break;
    }
}

static void
server_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_cb,
              evpl_segment_callback_t *segment_cb, void **conn_private, void *private_data)
{
    (void) evpl;
    (void) bind;
    *notify_cb    = server_notify;
    *segment_cb   = NULL;
    *conn_private = private_data;
}

/* ---- client ------------------------------------------------------------ */

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *p)
{
    struct demo *demo = p;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        demo->connected = 1;
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        demo->disconnected++;
        break;
    case EVPL_NOTIFY_RECV_DATA: {
        char buf[4096];
        int  n;

        while ((n = evpl_recv(evpl, bind, buf, sizeof(buf), 0)) > 0) {
            demo->echoed_bytes += n;
        }
        break;
    }
    case EVPL_NOTIFY_RECV_MSG:
        demo->echoed_bytes += notify->recv_msg.length;
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        break;
    default:
        break;
    }
}

/* A port nothing uses right now (the kernel's pick), so that the demo can
 * run beside anything else, tests included. */
static int
free_port(int type)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          len = sizeof(sin);
    int                fd  = socket(AF_INET, type, 0);
    int                port;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *) &sin, &len) != 0) {
        port = 20000 + (getpid() % 20000);
    } else {
        port = ntohs(sin.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static struct evpl_endpoint *
demo_endpoint(enum evpl_protocol_id proto, char *path, size_t pathlen)
{
    if (evpl_protocol_is_local(proto)) {
        snprintf(path, pathlen, "/tmp/evpl-demo-%d.sock", (int) getpid());
        unlink(path);
        return evpl_endpoint_create_local(path);
    }
    if (evpl_protocol_is_inproc(proto)) {
        snprintf(path, pathlen, "demo-%d", (int) proto);
        return evpl_endpoint_create_inproc(path);
    }
    path[0] = '\0';
    return evpl_endpoint_create("127.0.0.1", free_port(SOCK_STREAM));
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
run_connected(struct evpl *evpl, enum evpl_protocol_id proto, struct evpl_endpoint *ep,
              struct demo *demo)
{
    struct evpl_listener         *listener = evpl_listener_create();
    struct evpl_listener_binding *binding =
        evpl_listener_attach(evpl, listener, server_attach, demo);

    if (evpl_listen(listener, proto, ep) != 0) {
        evpl_listener_detach(evpl, binding);
        evpl_listener_destroy(listener);
        return -1;
    }

    struct evpl_bind *client = evpl_connect(evpl, proto, NULL, ep, client_notify, NULL, demo);

    if (!client) {
        evpl_listener_detach(evpl, binding);
        evpl_listener_destroy(listener);
        return -1;
    }

    char msg[MSG_SIZE];

    /* Queued before CONNECTED: delivered once the connection is up. */
    for (int i = 0; i < demo->messages; i++) {
        memset(msg, 'a' + i % 26, sizeof(msg));
        evpl_send(evpl, client, msg, sizeof(msg));
        demo->expected_bytes += sizeof(msg);
    }

    double start = now_s(), deadline = start + 10;

    while (demo->echoed_bytes < demo->expected_bytes && !demo->disconnected && now_s() < deadline) {
        evpl_continue(evpl);
    }
    demo->echo_s = now_s() - start;
    if (!demo->disconnected) {
        evpl_finish(evpl, client);
        while (!demo->disconnected && now_s() < deadline) {
            evpl_continue(evpl);
        }
    }
    /* The accepted side ends too: its notifications use demo, which lives
     * only as long as this protocol's run. */
    while (demo->server_closed < demo->server_conns && now_s() < deadline + 1) {
        evpl_continue(evpl);
    }

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    return demo->echoed_bytes == demo->expected_bytes ? 0 : -1;
}

static int
run_datagram(struct evpl *evpl, enum evpl_protocol_id proto, struct demo *demo)
{
    struct evpl_endpoint *server_ep = evpl_endpoint_create("127.0.0.1", free_port(SOCK_DGRAM));
    struct evpl_endpoint *client_ep = evpl_endpoint_create("127.0.0.1", free_port(SOCK_DGRAM));
    struct evpl_bind     *server    = evpl_bind(evpl, proto, server_ep, server_notify, demo);
    struct evpl_bind     *client    = evpl_bind(evpl, proto, client_ep, client_notify, demo);

    if (!server || !client) {
        if (server) {
            evpl_close(evpl, server);
        }
        if (client) {
            evpl_close(evpl, client);
        }
        for (int i = 0; i < 4; i++) {
            evpl_continue(evpl);
        }
        evpl_endpoint_close(server_ep);
        evpl_endpoint_close(client_ep);
        return -1;
    }

    char msg[MSG_SIZE];

    for (int i = 0; i < demo->messages; i++) {
        memset(msg, 'a' + i % 26, sizeof(msg));
        evpl_sendtoep(evpl, client, server_ep, msg, sizeof(msg));
        demo->expected_bytes += sizeof(msg);
    }

    double start = now_s(), deadline = start + 5;

    while (demo->echoed_bytes < demo->expected_bytes && now_s() < deadline) {
        evpl_continue(evpl);
    }
    demo->echo_s    = now_s() - start;
    demo->connected = 1;

    evpl_close(evpl, server);
    evpl_close(evpl, client);
    /* Wait for both DISCONNECTED notifications rather than for a fixed
     * number of passes: once they are in, a pass has nothing left to do and
     * sleeps wait_ms in the core wait (that was 2 x 100 ms per run). */
    while ((demo->disconnected < 1 || demo->server_closed < 1) && now_s() < deadline + 1) {
        evpl_continue(evpl);
    }
    evpl_endpoint_close(server_ep);
    evpl_endpoint_close(client_ep);
    return demo->echoed_bytes == demo->expected_bytes ? 0 : -1;
}

int
main(int argc, char **argv)
{
    int messages = argc > 1 ? atoi(argv[1]) : 100;
    int failures = 0, tried = 0;

    if (messages <= 0) {
        fprintf(stderr, "usage: %s [messages]\n", argv[0]);
        return 2;
    }

    /* What a demo needs and a deployment must not copy: the TLS server
     * below uses the library's generated self-signed certificate, which
     * no certificate authority vouches for, so peer verification is off. */
    struct evpl_global_config *global = evpl_global_config_init();

    evpl_global_config_set_tls_verify_peer(global, 0);
    evpl_init(global);

    struct evpl_thread_config *tc = evpl_thread_config_init();

    evpl_thread_config_set_wait_ms(tc, 100);
    struct evpl *evpl = evpl_create(tc);

    printf("libevpl echo demo: %d messages of %d bytes per protocol\n", messages, MSG_SIZE);
    printf("TLS: the server uses a generated self-signed certificate, so this demo turns peer\n"
           "     verification off (evpl_global_config_set_tls_verify_peer(config, 0)); with a\n"
           "     real certificate keep it on, the default (docs/tls.md)\n\n");
    printf("%-22s %-10s %10s %12s %10s %10s\n", "protocol", "result", "bytes", "msgs/s", "echo ms",
           "total ms");

    for (int proto = 0; proto < EVPL_NUM_PROTO; proto++) {
        if (!evpl_protocol_available(proto)) {
            printf("%-22s %-10s\n", protocol_names[proto], "n/a");
            continue;
        }

        struct demo demo = {.messages = messages};
        char        path[128];
        double      t0 = now_s();
        int         rc;

        tried++;
        /* UDP and RDMA CM UD are bound (evpl_bind); the rest connect. */
        if (proto != EVPL_DATAGRAM_SOCKET_UDP && proto != EVPL_DATAGRAM_RDMACM_UD) {
            struct evpl_endpoint *ep = demo_endpoint(proto, path, sizeof(path));

            rc = ep ? run_connected(evpl, proto, ep, &demo) : -1;
            if (ep) {
                evpl_endpoint_close(ep);
            }
            if (evpl_protocol_is_local(proto)) {
                unlink(path);
            }
        } else {
            rc = run_datagram(evpl, proto, &demo);
        }

        double dt = now_s() - t0;

        printf("%-22s %-10s %10llu %12.0f %10.1f %10.1f\n", protocol_names[proto],
               rc == 0 ? "ok" : "FAILED", (unsigned long long) demo.echoed_bytes,
               demo.echo_s > 0 ? messages / demo.echo_s : 0.0, demo.echo_s * 1000, dt * 1000);
        if (rc != 0) {
            failures++;
        }
    }

    evpl_destroy(evpl);
    printf("\necho ms: from the first send until every byte was back; total ms adds the\n"
           "listener, connection setup and teardown (the first TLS run includes creating\n"
           "the TLS contexts and the certificate; the first io_uring run, setting up the\n"
           "loop's ring and its registered buffers)\n");
    printf("\n%d protocols exercised, %d failed\n", tried, failures);
    return failures ? 1 : 0;
}
