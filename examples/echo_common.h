/*
 * Shared bits of the echo examples: option parsing and endpoint creation.
 * (Header-only so each example stays a single translation unit.)
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evpl/evpl.h>

struct echo_options {
    enum evpl_protocol_id protocol;
    const char           *address; /* host, AF_UNIX path or in-process name */
    int                   port;
    int                   message; /* 1: message variant (length-prefixed records) */
    int                   count;   /* client: messages to send; server: connections */
};

/*
 * Initialise the library.  The configuration must be complete before
 * evpl_init(): --insecure turns off TLS peer verification, which the
 * self-signed certificate a TLS listener generates by default needs.
 */
static inline void
echo_init(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_global_config_init();

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--insecure") == 0) {
            evpl_global_config_set_tls_verify_peer(config, 0);
        }
    }
    evpl_init(config); /* the library owns config from now on */
}

static inline int
echo_parse_options(int argc, char **argv, struct echo_options *o, const char *usage)
{
    const char *proto = "STREAM_SOCKET_TCP";

    o->address = "127.0.0.1";
    o->port    = 8000;
    o->message = 0;
    o->count   = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--message") == 0) {
            o->message = 1;
        } else if (strcmp(argv[i], "--insecure") == 0) {
            /* handled by echo_init() */
        } else if (i + 1 < argc && strcmp(argv[i], "--protocol") == 0) {
            proto = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--address") == 0) {
            o->address = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
            o->port = atoi(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--count") == 0) {
            o->count = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s %s\n", argv[0], usage);
            return -1;
        }
    }

    /* Protocol names are looked up after evpl_init(): lookup would otherwise
     * initialise the library implicitly with default settings. */
    if (evpl_protocol_lookup(&o->protocol, proto) != 0) {
        fprintf(stderr, "%s: protocol %s is not available\n", argv[0], proto);
        return -1;
    }
    return 0;
}

/* inet "host:port", AF_UNIX path (/... or @...) or in-process name. */
static inline struct evpl_endpoint *
echo_endpoint(const struct echo_options *o)
{
    if (evpl_protocol_is_inproc(o->protocol)) {
        return evpl_endpoint_create_inproc(o->address);
    }
    return evpl_endpoint_create(o->address, o->port);
}

/*
 * Message framing over byte streams: each record is a 4-byte big-endian
 * length followed by that many bytes.  The segment callback peeks at the
 * header and tells the library how long the next message is; the library
 * then delivers each record as one EVPL_NOTIFY_RECV_MSG.  (Message protocols
 * such as DATAGRAM_INPROC keep boundaries themselves and never call it.)
 */
static inline int
echo_segment(struct evpl *evpl, struct evpl_bind *bind, void *private_data)
{
    unsigned char hdr[4];

    (void) private_data;
    if (evpl_peek(evpl, bind, hdr, sizeof(hdr)) < (int) sizeof(hdr)) {
        return 0; /* header incomplete: wait for more bytes */
    }

    unsigned int len = (unsigned int) hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];

    if (len > (1u << 20)) {
        return -1; /* hostile length: the library closes the connection */
    }
    return (int) (sizeof(hdr) + len);
}
