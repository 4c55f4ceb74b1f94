/*
 * Helpers for the in-process and DATAGRAM_TCP_RDMA tests: protocol from
 * argv[2], endpoints that do not collide between tests running at the same
 * time, a loop that notices timeouts, and a bounded run loop.
 */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

/* The protocol named by argv[index] (or def). */
static inline enum evpl_protocol_id
tt_protocol(int argc, char **argv, int index, const char *def)
{
    enum evpl_protocol_id id;
    const char           *name = argc > index ? argv[index] : def;

    if (evpl_protocol_lookup(&id, name) != 0) {
        evpl_test_unavailable(name, "is not available (protocol lookup failed)");
    }
    return id;
}

/* argv[index] compared with word (absent: def). */
static inline int
tt_arg_is(int argc, char **argv, int index, const char *word, int def)
{
    return argc > index ? strcmp(argv[index], word) == 0 : def;
}

static inline int
tt_free_tcp_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          len = sizeof(sin);
    int                fd  = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    test_assert(fd >= 0);
    test_assert(bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    test_assert(getsockname(fd, (struct sockaddr *) &sin, &len) == 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/* An endpoint for protocol, unique to this process and tag. */
static inline struct evpl_endpoint *
tt_endpoint(enum evpl_protocol_id protocol, const char *tag)
{
    char name[128];

    if (evpl_protocol_is_inproc(protocol)) {
        snprintf(name, sizeof(name), "tt-%d-%s", (int) getpid(), tag);
        return evpl_endpoint_create_inproc(name);
    }
    return evpl_endpoint_create("127.0.0.1", tt_free_tcp_port());
}

/* Listen, retrying with a fresh port if another process grabbed ours. */
static inline struct evpl_endpoint *
tt_listen(struct evpl_listener *listener, enum evpl_protocol_id protocol, const char *tag)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        struct evpl_endpoint *ep = tt_endpoint(protocol, tag);

        test_assert(ep != NULL);
        if (evpl_listen(listener, protocol, ep) == 0) {
            return ep;
        }
        evpl_endpoint_close(ep);
        if (evpl_protocol_is_inproc(protocol)) {
            break;
        }
    }
    test_fail("cannot listen");
    return NULL;
}

static inline double
tt_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Pump loop until *flag becomes non-zero, failing after timeout_s seconds. */
static inline void
tt_run_until(struct evpl *evpl, atomic_int *flag, int timeout_s)
{
    double start = tt_now();

    while (!atomic_load(flag)) {
        evpl_continue(evpl);
        if (tt_now() - start > timeout_s) {
            test_fail("timed out after %d s", timeout_s);
        }
    }
}

/* A loop that wakes at least every 50 ms (so timeouts are noticed). */
static inline struct evpl *
tt_loop_create(void)
{
    struct evpl_thread_config *config = evpl_thread_config_init();

    evpl_thread_config_set_wait_ms(config, 50);
    return evpl_create(config);
}

/* Byte number pos of a test stream (a cheap pattern that catches reordering,
 * duplication and loss). */
static inline unsigned char
tt_pattern(uint64_t pos, unsigned int seed)
{
    uint64_t x = pos * 0x9E3779B97F4A7C15ull + seed;

    return (unsigned char) (x >> 56) ^ (unsigned char) (pos >> 12);
}
