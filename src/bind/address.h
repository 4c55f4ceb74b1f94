/*
 * Addresses and the internal side of endpoints.
 *
 * struct evpl_address is a resolved peer/local name: a kernel socket address
 * (AF_INET, AF_INET6, AF_UNIX) or an in-process name (family
 * EVPL_AF_INPROC, optionally with the connecting side's serial).  Addresses
 * are immutable once created and reference-counted atomically, so one
 * address may be shared by endpoints, binds and queued datagrams on several
 * threads.  Whoever holds a pointer from one of the functions below owns one
 * reference and drops it with evpl_address_release().
 */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "evpl/evpl.h"

/* Family of in-process addresses (outside every AF_* the kernel knows). */
#define EVPL_AF_INPROC 0x7e11

/* Longest in-process name (same bound as sun_path - 1). */
#define EVPL_INPROC_NAME_MAX 107

struct evpl_address {
    atomic_uint refcnt;
    socklen_t   addrlen; /* bytes of sa that are meaningful (socket families) */
    union {
        struct sockaddr         sa;
        struct sockaddr_in      sin;
        struct sockaddr_in6     sin6;
        struct sockaddr_un      sun;
        struct sockaddr_storage ss;
        struct {
            sa_family_t family; /* EVPL_AF_INPROC */
            uint64_t    serial; /* 0: listening/accepting name; else connecting side */
            char        name[EVPL_INPROC_NAME_MAX + 1];
        } inproc;
    };
};

/* A new address (refcount 1) copying a kernel socket address. */
struct evpl_address *evpl_address_create(const struct sockaddr *sa, socklen_t addrlen);

/* A new in-process address for name with serial (0 for the listening name). */
struct evpl_address *evpl_address_create_inproc(const char *name, uint64_t serial);

/* Take one more reference; returns address.  Thread-safe. */
static inline struct evpl_address *
evpl_address_ref(struct evpl_address *address)
{
    atomic_fetch_add_explicit(&address->refcnt, 1, memory_order_relaxed);
    return address;
}

/* Drop one reference (NULL ignored); frees at zero.  Thread-safe. */
void evpl_address_release(struct evpl_address *address);

/*
 * A per-bind cache of recent datagram senders, so that a bound datagram
 * socket hands the application one shared address object per peer instead of
 * allocating one per datagram (API: recv_msg.addr is borrowed for the
 * callback; a send to it takes its own reference).  It holds one reference
 * on each cached address; lookups compare the peer (family, port, host; for
 * IPv6 also the scope, not the flow label) against the EVPL_ADDRESS_CACHE_SLOTS
 * most recent distinct senders, starting with the last hit.  A miss replaces
 * the oldest entry: if nobody but the cache references it, that object is
 * rewritten in place (no allocation even when peers churn); otherwise the
 * cache drops its reference -- whoever kept the address (a queued datagram)
 * keeps a valid, unchanged object -- and allocates a new one.  Owning thread
 * of the bind only; the addresses themselves stay thread-safe.
 */
#define EVPL_ADDRESS_CACHE_SLOTS 16

struct evpl_address_cache {
    struct evpl_address *slot[EVPL_ADDRESS_CACHE_SLOTS]; /* one reference each, or NULL */
    uint32_t             hash[EVPL_ADDRESS_CACHE_SLOTS];
    unsigned int         last; /* slot of the last hit */
    unsigned int         next; /* slot a miss replaces (oldest insertion) */
};

/* An empty cache (all slots NULL). */
void evpl_address_cache_init(struct evpl_address_cache *cache);

/* Drop every cached reference; the cache is empty afterwards. */
void evpl_address_cache_clear(struct evpl_address_cache *cache);

/*
 * The cached address of the sender sa (addrlen bytes), creating it on a miss.
 * The result is borrowed: it stays valid until the next lookup or clear;
 * take a reference (evpl_address_ref) to keep it longer.
 */
struct evpl_address *evpl_address_cache_lookup(struct evpl_address_cache *cache,
                                               const struct sockaddr *sa, socklen_t addrlen);

/* The address family (AF_INET, AF_INET6, AF_UNIX or EVPL_AF_INPROC). */
static inline int
evpl_address_family(const struct evpl_address *address)
{
    return address->sa.sa_family;
}

/* Render address per the contract's formats into str (snprintf semantics,
 * nothing written when len <= 0); NULL renders "(NULL)". */
void evpl_address_render(const struct evpl_address *address, char *str, int len);

/* ---- endpoints ---------------------------------------------------------- */

enum evpl_endpoint_kind {
    EVPL_ENDPOINT_INET   = 0,
    EVPL_ENDPOINT_LOCAL  = 1,
    EVPL_ENDPOINT_INPROC = 2,
};

enum evpl_endpoint_kind evpl_endpoint_kind(const struct evpl_endpoint *endpoint);

/*
 * The endpoint's address with a new reference, resolving an inet name when
 * the cached result is missing or older than resolve_timeout_ms (in the
 * calling thread, under the endpoint lock, so concurrent users wait for one
 * lookup instead of each doing their own).  Returns NULL, with an error log,
 * when the name cannot be resolved.  Thread-safe.
 */
struct evpl_address *evpl_endpoint_resolve(struct evpl_endpoint *endpoint);

/* The in-process name of an inproc endpoint (without "inproc://"). */
const char *evpl_endpoint_inproc_name(const struct evpl_endpoint *endpoint);
