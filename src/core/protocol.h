/*
 * Protocol registry.  Backends register one struct evpl_protocol per protocol
 * id they implement during evpl_init(); an id with no registration is
 * unavailable.  The core only reads id, name and flags; ops and framework
 * belong to the bind layer (src/bind/).
 */
#pragma once

#include "evpl/evpl.h"

#define EVPL_PROTOCOL_STREAM    0x01u /* byte stream */
#define EVPL_PROTOCOL_CONNECTED 0x02u /* evpl_connect/evpl_listen; else evpl_bind */
#define EVPL_PROTOCOL_LOCAL     0x04u /* AF_UNIX endpoints */
#define EVPL_PROTOCOL_INPROC    0x08u /* in-process endpoints */
#define EVPL_PROTOCOL_RDMA      0x10u /* one-sided RDMA operations */

struct evpl_protocol_ops;
struct evpl_framework;

struct evpl_protocol {
    enum evpl_protocol_id           id;
    const char                     *name;
    unsigned int                    flags;
    const struct evpl_protocol_ops *ops;
    struct evpl_framework          *framework;
};

/* Called by backends from evpl_backends_register() (init lock held). */
void evpl_protocol_register(const struct evpl_protocol *protocol);

/* The registered protocol, or NULL when unavailable / out of range. */
const struct evpl_protocol *evpl_protocol_get(enum evpl_protocol_id id);

/*
 * Defined by the bind layer (src/bind/backends.c): registers every backend
 * built into the library, honouring the *_enabled settings of config.
 */
struct evpl_global_config;
void evpl_backends_register(const struct evpl_global_config *config);

/* Module shutdown hooks run (in reverse order of registration) by the exit
 * handler, before the allocator is destroyed. */
void evpl_at_shutdown(void (*fn)(void));
