/*
 * STREAM_SOCKET_TCP: kernel TCP over IPv4 or IPv6, TCP_NODELAY on.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "socket/socket.h"

static int
tcp_listen(struct evpl_listen_socket *ls)
{
    int one = 1, fd, rc;

    fd = socket(evpl_address_family(ls->address), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, &ls->address->sa, ls->address->addrlen) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    rc = evpl_socket_listen_start(ls, fd);
    if (rc < 0) {
        close(fd);
    }
    return rc;
}

static const struct evpl_protocol_ops tcp_ops = {
    .connect         = evpl_socket_stream_connect,
    .attach          = evpl_socket_stream_attach,
    .handoff_discard = evpl_socket_handoff_discard,
    .listen          = tcp_listen,
    .listen_close    = evpl_socket_listen_stop,
    .flush           = evpl_socket_stream_flush,
    .close           = evpl_socket_stream_close,
    .recv_resume     = evpl_socket_stream_recv_resume,
};

static const struct evpl_protocol tcp_protocol = {
    .id    = EVPL_STREAM_SOCKET_TCP,
    .name  = "STREAM_SOCKET_TCP",
    .flags = EVPL_PROTOCOL_STREAM | EVPL_PROTOCOL_CONNECTED,
    .ops   = &tcp_ops,
};

void
evpl_socket_tcp_register(void)
{
    evpl_protocol_register(&tcp_protocol);
}
