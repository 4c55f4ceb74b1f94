/*
 * echo_server: echoes everything it receives.
 *
 *   echo_server [--protocol NAME] [--address A] [--port P] [--message] [--insecure]
 *               [--count CONNECTIONS]
 *
 * Stream variant (default): bytes are echoed as they arrive (RECV_DATA),
 * moving the received buffers straight back into the send queue without a
 * copy.  Message variant (--message): each length-prefixed record (see
 * echo_common.h) arrives as one RECV_MSG and is echoed as one message.
 *
 * With --count N the server exits after N connections have come and gone;
 * otherwise it runs until killed.
 */
#include <signal.h>

#include "echo_common.h"

struct server {
    struct evpl *evpl;
    int          remaining; /* connections still to serve, 0 = forever */
};

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify,
              void *private_data)
{
    struct server *server = private_data;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_DATA: {
        struct evpl_iovec iov[16];
        int               niov, length;

        /* Zero-copy echo: evpl_recvv hands us references to the received
         * buffers; EVPL_SEND_FLAG_TAKE_REF gives them to the send queue. */
        while ((niov = evpl_recvv(evpl, bind, iov, 16, 1 << 20, &length)) > 0) {
            evpl_sendv(evpl, bind, iov, niov, length, EVPL_SEND_FLAG_TAKE_REF);
        }
        break;
    }
    case EVPL_NOTIFY_RECV_MSG:
        /* One whole record (header included); the iovec references are ours
         * and move to the send queue. */
        evpl_sendv(evpl, bind, notify->recv_msg.iovec, notify->recv_msg.niov,
                   notify->recv_msg.length, EVPL_SEND_FLAG_TAKE_REF);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        /* The bind is gone once this returns. */
        if (server->remaining > 0 && --server->remaining == 0) {
            evpl_stop(evpl);
        }
        break;
    default:
        break;
    }
}

/* Runs on the loop chosen for a new connection, before CONNECTED. */
static void
server_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    struct server *server = private_data;
    char           peer[EVPL_ADDRESS_STRLEN];

    (void) evpl;
    evpl_bind_get_remote_address(bind, peer, sizeof(peer));
    fprintf(stderr, "connection from %s\n", peer);

    *notify_callback   = server_notify;
    *segment_callback  = NULL;
    *conn_private_data = server;
}

static void
server_attach_message(struct evpl *evpl, struct evpl_bind *bind,
                      evpl_notify_callback_t  *notify_callback,
                      evpl_segment_callback_t *segment_callback, void **conn_private_data,
                      void *private_data)
{
    server_attach(evpl, bind, notify_callback, segment_callback, conn_private_data, private_data);
    *segment_callback = echo_segment; /* ignored by message protocols */
}

int
main(int argc, char **argv)
{
    struct echo_options o;
    struct server       server = {0};

    echo_init(argc, argv);
    if (echo_parse_options(argc, argv, &o,
                           "[--protocol NAME] [--address A] [--port P] [--message] [--insecure] "
                           "[--count CONNECTIONS]") != 0) {
        return 2;
    }

    struct evpl_endpoint *endpoint = echo_endpoint(&o);

    if (!endpoint) {
        fprintf(stderr, "invalid address '%s'\n", o.address);
        return 2;
    }

    server.evpl      = evpl_create(NULL);
    server.remaining = o.count;

    /* The listener owns the listening socket on its own thread and hands
     * accepted connections to the loops attached to it. */
    struct evpl_listener         *listener = evpl_listener_create();
    struct evpl_listener_binding *binding  = evpl_listener_attach(
         server.evpl, listener, o.message ? server_attach_message : server_attach, &server);

    if (evpl_listen(listener, o.protocol, endpoint) != 0) {
        fprintf(stderr, "cannot listen on %s\n", evpl_endpoint_address(endpoint));
        return 1;
    }
    fprintf(stderr, "listening on %s port %d\n", evpl_endpoint_address(endpoint),
            evpl_endpoint_port(endpoint));

    evpl_run(server.evpl);

    evpl_listener_detach(server.evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(server.evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
