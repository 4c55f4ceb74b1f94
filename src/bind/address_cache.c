/*
 * The per-bind cache of recent datagram senders (address.h): one shared,
 * reference-counted address per peer instead of one allocation per datagram.
 */
#include <string.h>

#include "bind/address.h"

#define SLOT_MASK (EVPL_ADDRESS_CACHE_SLOTS - 1)

_Static_assert((EVPL_ADDRESS_CACHE_SLOTS & SLOT_MASK) == 0, "cache slots: a power of two");

/*
 * What identifies a peer.  IPv6 leaves out the flow label: it may change from
 * datagram to datagram of one peer and plays no part in replying to it.
 */
static uint32_t
peer_hash(const struct sockaddr *sa, socklen_t len)
{
    uint64_t h = sa->sa_family;

    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;

        h ^= ((uint64_t) sin->sin_addr.s_addr << 16) ^ ((uint64_t) sin->sin_port << 48);
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;
        uint64_t                   hi, lo;

        memcpy(&hi, &sin6->sin6_addr, 8);
        memcpy(&lo, (const char *) &sin6->sin6_addr + 8, 8);
        h ^= hi ^ (lo * 0xff51afd7ed558ccdull) ^ ((uint64_t) sin6->sin6_port << 16) ^
             ((uint64_t) sin6->sin6_scope_id << 32);
    } else {
        /* Anything else: FNV-1a over the bytes. */
        const unsigned char *p = (const unsigned char *) sa;

        h = 0xcbf29ce484222325ull;
        for (socklen_t i = 0; i < len; i++) {
            h = (h ^ p[i]) * 0x100000001b3ull;
        }
    }
    h *= 0x9e3779b97f4a7c15ull;
    return (uint32_t) (h >> 32);
}

static int
peer_equal(const struct evpl_address *a, const struct sockaddr *sa, socklen_t len)
{
    if (a->sa.sa_family != sa->sa_family) {
        return 0;
    }
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;

        return a->sin.sin_port == sin->sin_port && a->sin.sin_addr.s_addr == sin->sin_addr.s_addr;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;

        return a->sin6.sin6_port == sin6->sin6_port &&
               a->sin6.sin6_scope_id == sin6->sin6_scope_id &&
               memcmp(&a->sin6.sin6_addr, &sin6->sin6_addr, sizeof(sin6->sin6_addr)) == 0;
    }
    return a->addrlen == len && memcmp(&a->ss, sa, len) == 0;
}

void
evpl_address_cache_init(struct evpl_address_cache *cache)
{
    memset(cache, 0, sizeof(*cache));
}

void
evpl_address_cache_clear(struct evpl_address_cache *cache)
{
    for (unsigned int i = 0; i < EVPL_ADDRESS_CACHE_SLOTS; i++) {
        evpl_address_release(cache->slot[i]);
    }
    evpl_address_cache_init(cache);
}

struct evpl_address *
evpl_address_cache_lookup(struct evpl_address_cache *cache, const struct sockaddr *sa,
                          socklen_t addrlen)
{
    uint32_t             h = peer_hash(sa, addrlen);
    unsigned int         i = cache->last;
    struct evpl_address *a;

    /* From the last hit on: one peer talking costs one comparison. */
    for (unsigned int n = 0; n < EVPL_ADDRESS_CACHE_SLOTS; n++, i = (i + 1) & SLOT_MASK) {
        a = cache->slot[i];
        if (a && cache->hash[i] == h && peer_equal(a, sa, addrlen)) {
            cache->last = i;
            return a;
        }
    }

    i           = cache->next;
    cache->next = (i + 1) & SLOT_MASK;
    a           = cache->slot[i];
    /*
     * Only the cache references the oldest entry: nobody can observe it, so
     * it is rewritten for the new peer.  (The acquire pairs with the release
     * of the last other holder, whose reads of the old contents come first.)
     * Otherwise somebody kept it -- a queued datagram, say -- and it must
     * stay as it is: the cache lets go of it and starts a new one.
     */
    if (a && addrlen <= sizeof(a->ss) &&
        atomic_load_explicit(&a->refcnt, memory_order_acquire) == 1) {
        memset(&a->ss, 0, sizeof(a->ss));
        memcpy(&a->ss, sa, addrlen);
        a->addrlen = addrlen;
    } else {
        evpl_address_release(a);
        a = evpl_address_create(sa, addrlen);
    }
    cache->slot[i] = a;
    cache->hash[i] = h;
    cache->last    = i;
    return a;
}
