/*
 * Helpers shared by the socket/bind tests: protocol selection from argv[2],
 * endpoints that do not collide between concurrently running tests, and a
 * loop thread.
 */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

/* The protocol named by argv[2] (default STREAM_SOCKET_TCP). */
static inline enum evpl_protocol_id
net_protocol(int argc, char **argv)
{
    enum evpl_protocol_id id;
    const char           *name = argc > 2 ? argv[2] : "STREAM_SOCKET_TCP";

    if (evpl_protocol_lookup(&id, name) != 0) {
        evpl_test_unavailable(name, "is not available (protocol lookup failed)");
    }
    return id;
}

/* A port nothing listens on right now (the kernel's pick). */
static inline int
net_free_port(int type)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          len = sizeof(sin);
    int                fd  = socket(AF_INET, type, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(fd >= 0);
    test_assert(bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    test_assert(getsockname(fd, (struct sockaddr *) &sin, &len) == 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/* An endpoint for protocol, unique to this process and tag. */
static inline struct evpl_endpoint *
net_endpoint(enum evpl_protocol_id protocol, const char *tag)
{
    char name[128];

    if (evpl_protocol_is_local(protocol)) {
        snprintf(name, sizeof(name), "/tmp/evpl-test-%d-%s.sock", (int) getpid(), tag);
        unlink(name);
        return evpl_endpoint_create_local(name);
    }
    if (evpl_protocol_is_inproc(protocol)) {
        snprintf(name, sizeof(name), "test-%d-%s", (int) getpid(), tag);
        return evpl_endpoint_create_inproc(name);
    }
    /* EVPL_TEST_INET_HOST runs the same test over another address: "::1"
     * (IPv6) or "localhost" (a host name resolved through the cache). */
    const char *host = getenv("EVPL_TEST_INET_HOST");

    return evpl_endpoint_create(
        host ? host : "127.0.0.1",
        net_free_port(evpl_protocol_is_stream(protocol) || protocol != EVPL_DATAGRAM_SOCKET_UDP
                          ? SOCK_STREAM
                          : SOCK_DGRAM));
}

/*
 * A UDP bind on a port net_free_port() found for host.  The probe closes its
 * socket, so a test running beside this one (or a second call here) may take
 * the same number first: retry with fresh ports before failing.  *ep gets
 * the endpoint (the caller closes it), *port (if not NULL) its port.
 */
static inline struct evpl_bind *
net_udp_bind(struct evpl *evpl, const char *host, evpl_notify_callback_t notify, void *private_data,
             struct evpl_endpoint **ep, int *port)
{
    for (int tries = 0; tries < 10; tries++) {
        struct evpl_bind *bind;
        int               p = net_free_port(SOCK_DGRAM);

        *ep  = evpl_endpoint_create(host, p);
        bind = evpl_bind(evpl, EVPL_DATAGRAM_SOCKET_UDP, *ep, notify, private_data);
        if (bind) {
            if (port) {
                *port = p;
            }
            return bind;
        }
        evpl_endpoint_close(*ep);
    }
    test_fail("no UDP port could be bound on %s", host);
}

/* Pump loop until *flag becomes non-zero, failing after timeout_s seconds. */
static inline void
net_run_until(struct evpl *evpl, atomic_int *flag, int timeout_s)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!atomic_load(flag)) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > timeout_s) {
            test_fail("timed out after %d s", timeout_s);
        }
    }
}

/* A loop that wakes at least every 50 ms (so timeouts are noticed). */
static inline struct evpl *
net_loop_create(void)
{
    struct evpl_thread_config *config = evpl_thread_config_init();

    evpl_thread_config_set_wait_ms(config, 50);
    return evpl_create(config);
}
