/*
 * Protocol registry: which protocol ids have a backend in this process, and
 * the public queries over them (API §2.7).
 *
 * The contract fixes each protocol's name and properties, so they live in a
 * table here; a backend's registration must agree with it (a mismatch is a
 * programming error and aborts at initialisation).  Availability is simply
 * "registered".  Registration happens during evpl_init() before the library
 * is published, so the queries, which all go through evpl_config() first,
 * read a table that no longer changes.
 */
#include <string.h>

#include "core/log.h"
#include "core/protocol.h"
#include "core/shared.h"

struct protocol_info {
    const char  *name;
    unsigned int flags;
};

#define S  EVPL_PROTOCOL_STREAM
#define C  EVPL_PROTOCOL_CONNECTED
#define L  EVPL_PROTOCOL_LOCAL
#define IP EVPL_PROTOCOL_INPROC
#define R  EVPL_PROTOCOL_RDMA

static const struct protocol_info protocol_table[EVPL_NUM_PROTO] = {
    [EVPL_DATAGRAM_SOCKET_UDP] = {"DATAGRAM_SOCKET_UDP", 0},
    [EVPL_DATAGRAM_RDMACM_RC]  = {"DATAGRAM_RDMACM_RC", C | R},
    [EVPL_DATAGRAM_RDMACM_UD]  = {"DATAGRAM_RDMACM_UD", 0},
    [EVPL_STREAM_SOCKET_TCP]   = {"STREAM_SOCKET_TCP", S | C},
    [EVPL_STREAM_XLIO_TCP]     = {"STREAM_XLIO_TCP", S | C},
    [EVPL_STREAM_IO_URING_TCP] = {"STREAM_IO_URING_TCP", S | C},
    [EVPL_STREAM_RDMACM_RC]    = {"STREAM_RDMACM_RC", S | C | R},
    [EVPL_STREAM_SOCKET_TLS]   = {"STREAM_SOCKET_TLS", S | C},
    [EVPL_DATAGRAM_TCP_RDMA]   = {"DATAGRAM_TCP_RDMA", C | R},
    [EVPL_STREAM_SOCKET_UNIX]  = {"STREAM_SOCKET_UNIX", S | C | L},
    [EVPL_STREAM_INPROC]       = {"STREAM_INPROC", S | C | IP},
    [EVPL_DATAGRAM_INPROC]     = {"DATAGRAM_INPROC", C | IP | R},
};

#undef S
#undef C
#undef L
#undef IP
#undef R

/* The flags the table pins down; anything else is the backend's own. */
#define CONTRACT_FLAGS                                                                             \
    (EVPL_PROTOCOL_STREAM | EVPL_PROTOCOL_CONNECTED | EVPL_PROTOCOL_LOCAL | EVPL_PROTOCOL_INPROC | \
     EVPL_PROTOCOL_RDMA)

static const struct evpl_protocol *registry[EVPL_NUM_PROTO];

void
evpl_protocol_register(const struct evpl_protocol *protocol)
{
    const struct protocol_info *info;

    evpl_core_abort_if(protocol == NULL, "evpl_protocol_register: NULL protocol");
    evpl_core_abort_if((unsigned int) protocol->id >= EVPL_NUM_PROTO,
                       "evpl_protocol_register: protocol id %d out of range", (int) protocol->id);

    info = &protocol_table[protocol->id];

    evpl_core_abort_if(protocol->name == NULL || strcmp(protocol->name, info->name) != 0,
                       "protocol id %d registered as '%s', expected '%s'", (int) protocol->id,
                       protocol->name ? protocol->name : "(null)", info->name);
    evpl_core_abort_if((protocol->flags & CONTRACT_FLAGS) != info->flags,
                       "protocol %s registered with flags 0x%x, the contract requires 0x%x",
                       info->name, protocol->flags & CONTRACT_FLAGS, info->flags);
    evpl_core_abort_if(__atomic_load_n(&registry[protocol->id], __ATOMIC_RELAXED) != NULL,
                       "protocol %s registered twice", info->name);

    __atomic_store_n(&registry[protocol->id], protocol, __ATOMIC_RELEASE);
    evpl_core_debug("protocol %s registered", info->name);
}

const struct evpl_protocol *
evpl_protocol_get(enum evpl_protocol_id id)
{
    if ((unsigned int) id >= EVPL_NUM_PROTO) {
        return NULL;
    }
    return __atomic_load_n(&registry[id], __ATOMIC_ACQUIRE);
}

/* Registered protocol with the given id, initialising the library first
 * (every public query is an implicit-initialisation trigger). */
static const struct evpl_protocol *
protocol_query(int id)
{
    (void) evpl_config();
    return evpl_protocol_get((enum evpl_protocol_id) id);
}

int
evpl_protocol_lookup(enum evpl_protocol_id *id, const char *name)
{
    (void) evpl_config();

    if (name == NULL) {
        return -1;
    }
    for (int i = 0; i < EVPL_NUM_PROTO; i++) {
        if (strcmp(protocol_table[i].name, name) == 0) {
            /* A well-known but unavailable name is not found. */
            if (evpl_protocol_get((enum evpl_protocol_id) i) == NULL) {
                return -1;
            }
            if (id != NULL) {
                *id = (enum evpl_protocol_id) i;
            }
            return 0;
        }
    }
    return -1;
}

int
evpl_protocol_available(enum evpl_protocol_id protocol)
{
    return protocol_query((int) protocol) != NULL;
}

int
evpl_protocol_is_stream(enum evpl_protocol_id protocol)
{
    const struct evpl_protocol *p = protocol_query((int) protocol);

    return p != NULL && (p->flags & EVPL_PROTOCOL_STREAM) != 0;
}

int
evpl_protocol_is_local(enum evpl_protocol_id protocol)
{
    const struct evpl_protocol *p = protocol_query((int) protocol);

    return p != NULL && (p->flags & EVPL_PROTOCOL_LOCAL) != 0;
}

int
evpl_protocol_is_inproc(enum evpl_protocol_id protocol)
{
    const struct evpl_protocol *p = protocol_query((int) protocol);

    return p != NULL && (p->flags & EVPL_PROTOCOL_INPROC) != 0;
}
