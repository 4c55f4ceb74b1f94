/*
 * STREAM_SOCKET_TCP: kernel TCP over IPv4 or IPv6, TCP_NODELAY on, and the
 * TCP socket options shared by every TCP-based transport.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "core/shared.h"
#include "socket/socket.h"

static void
tcp_setopt(int fd, int level, int name, int value, const char *what)
{
    if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) {
        evpl_socket_debug("setsockopt %s=%d: %s", what, value, strerror(errno));
    }
}

void
evpl_socket_tcp_setup(int fd)
{
    const struct evpl_global_config *config = evpl_config();
    unsigned int                     idle   = config->tcp_keepalive_idle_s;

    /* Latency first: the library batches sends per pass itself. */
    tcp_setopt(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");

    tcp_setopt(fd, SOL_SOCKET, SO_KEEPALIVE, idle != 0, "SO_KEEPALIVE");
    if (idle) {
#ifdef TCP_KEEPIDLE
        tcp_setopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int) idle, "TCP_KEEPIDLE");
#endif
#ifdef TCP_KEEPINTVL
        tcp_setopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int) config->tcp_keepalive_interval_s,
                   "TCP_KEEPINTVL");
#endif
#ifdef TCP_KEEPCNT
        tcp_setopt(fd, IPPROTO_TCP, TCP_KEEPCNT, (int) config->tcp_keepalive_count, "TCP_KEEPCNT");
#endif
    }
#ifdef TCP_USER_TIMEOUT
    /* Set even when 0 (the kernel default), so that every socket carries
     * exactly the configured value whatever it may have inherited. */
    tcp_setopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int) evpl_config_tcp_user_timeout_ms(config),
               "TCP_USER_TIMEOUT");
#endif
}

int
evpl_socket_tcp_bind(const struct evpl_address *address, int type_flags)
{
    int one = 1, fd, rc;

    fd = socket(evpl_address_family(address), SOCK_STREAM | type_flags, 0);
    if (fd < 0) {
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, &address->sa, address->addrlen) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int
evpl_socket_tcp_listen(struct evpl_listen_socket *ls)
{
    int fd = evpl_socket_tcp_bind(ls->address, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int rc;

    if (fd < 0) {
        return fd;
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
    .listen          = evpl_socket_tcp_listen,
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
