/*
 * STREAM_SOCKET_UNIX: AF_UNIX stream sockets on filesystem paths or Linux
 * abstract names.  What differs from TCP is listening: a path that already
 * exists is probed with a real connect() to tell a live server (refuse to
 * listen) from a stale socket file (replace it), and the file this listener
 * created is unlinked when it stops -- but only if it is still the same file.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socket/socket.h"

static int
is_pathname(const struct evpl_address *address)
{
    return address->addrlen > offsetof(struct sockaddr_un, sun_path) &&
           address->sun.sun_path[0] != '\0';
}

/* 1 if something accepts connections on the path, 0 if refused (stale),
 * negative errno for anything else. */
static int
probe_live(const struct evpl_address *address)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc;

    if (fd < 0) {
        return -errno;
    }
    rc = connect(fd, &address->sa, address->addrlen);
    if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {
        rc = 1; /* accepted, or its backlog is full: alive either way */
    } else if (errno == ECONNREFUSED) {
        rc = 0;
    } else {
        rc = -errno;
    }
    close(fd);
    return rc;
}

static int
unix_listen(struct evpl_listen_socket *ls)
{
    struct evpl_socket_listen *sl      = (struct evpl_socket_listen *) ls->backend_private;
    const struct evpl_address *address = ls->address;
    const char                *path    = address->sun.sun_path;
    int                        fd, rc, tries = 0;

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    while (bind(fd, &address->sa, address->addrlen) < 0) {
        struct stat st;

        rc = -errno;
        if (rc != -EADDRINUSE || !is_pathname(address) || tries++ > 0) {
            goto fail;
        }
        if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
            goto fail; /* never remove something that is not a socket */
        }
        rc = probe_live(address);
        if (rc != 0) {
            if (rc > 0) {
                evpl_socket_error("%s: a live server is listening there", path);
                rc = -EADDRINUSE;
            }
            goto fail;
        }
        evpl_socket_info("%s: removing stale socket file", path);
        unlink(path);
    }

    if (is_pathname(address)) {
        struct stat st;
        if (stat(path, &st) == 0) {
            sl->unlink_path = 1;
            sl->dev         = st.st_dev;
            sl->ino         = st.st_ino;
        }
    }
    rc = evpl_socket_listen_start(ls, fd);
    if (rc < 0) {
        if (sl->unlink_path) {
            unlink(path);
            sl->unlink_path = 0;
        }
        goto fail;
    }
    return 0;

fail:
    close(fd);
    return rc;
}

static void
unix_listen_close(struct evpl_listen_socket *ls)
{
    struct evpl_socket_listen *sl = (struct evpl_socket_listen *) ls->backend_private;
    struct stat                st;

    evpl_socket_listen_stop(ls);
    if (sl->unlink_path) {
        const char *path = ls->address->sun.sun_path;
        if (lstat(path, &st) == 0 && st.st_dev == sl->dev && st.st_ino == sl->ino) {
            unlink(path);
        }
    }
}

static const struct evpl_protocol_ops unix_ops = {
    .connect         = evpl_socket_stream_connect,
    .attach          = evpl_socket_stream_attach,
    .handoff_discard = evpl_socket_handoff_discard,
    .listen          = unix_listen,
    .listen_close    = unix_listen_close,
    .flush           = evpl_socket_stream_flush,
    .close           = evpl_socket_stream_close,
    .recv_resume     = evpl_socket_stream_recv_resume,
};

static const struct evpl_protocol unix_protocol = {
    .id    = EVPL_STREAM_SOCKET_UNIX,
    .name  = "STREAM_SOCKET_UNIX",
    .flags = EVPL_PROTOCOL_STREAM | EVPL_PROTOCOL_CONNECTED | EVPL_PROTOCOL_LOCAL,
    .ops   = &unix_ops,
};

void
evpl_socket_unix_register(void)
{
    evpl_protocol_register(&unix_protocol);
}
