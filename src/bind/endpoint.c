/*
 * Endpoints and addresses (API §5).
 *
 * Every endpoint lives on one process-wide list so the exit handler can close
 * those the application left open.  An endpoint's resolved address is cached
 * under its own mutex; see evpl_endpoint_resolve() for the policy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/shared.h"
#include "bind/address.h"

#define evpl_bind_error(...) evpl_log_error("bind", __VA_ARGS__)
#define evpl_bind_debug(...) evpl_log_debug("bind", __VA_ARGS__)

#define INPROC_PREFIX "inproc://"

struct evpl_endpoint {
    pthread_mutex_t         lock;
    enum evpl_endpoint_kind kind;
    int                     port;
    int                     numeric;     /* inet literal: the cache never expires */
    char                   *name;        /* as returned by evpl_endpoint_address() */
    struct evpl_address    *resolved;    /* cached, one reference */
    uint64_t                resolved_ns; /* loop clock at resolution */
    struct evpl_endpoint   *prev, *next; /* all open endpoints */
};

static pthread_mutex_t       endpoints_lock = PTHREAD_MUTEX_INITIALIZER;
static struct evpl_endpoint *endpoints;

/* ---- addresses ---------------------------------------------------------- */

struct evpl_address *
evpl_address_create(const struct sockaddr *sa, socklen_t addrlen)
{
    struct evpl_address *address = calloc(1, sizeof(*address));

    evpl_abort_if(address == NULL, "bind", "out of memory allocating an address");
    evpl_abort_if(addrlen > sizeof(address->ss), "bind", "address length %u too large",
                  (unsigned) addrlen);
    atomic_init(&address->refcnt, 1);
    memcpy(&address->ss, sa, addrlen);
    address->addrlen = addrlen;
    return address;
}

struct evpl_address *
evpl_address_create_inproc(const char *name, uint64_t serial)
{
    struct evpl_address *address = calloc(1, sizeof(*address));

    evpl_abort_if(address == NULL, "bind", "out of memory allocating an address");
    atomic_init(&address->refcnt, 1);
    address->inproc.family = EVPL_AF_INPROC;
    address->inproc.serial = serial;
    snprintf(address->inproc.name, sizeof(address->inproc.name), "%s", name);
    return address;
}

void
evpl_address_release(struct evpl_address *address)
{
    if (address && atomic_fetch_sub_explicit(&address->refcnt, 1, memory_order_acq_rel) == 1) {
        free(address);
    }
}

void
evpl_address_render(const struct evpl_address *address, char *str, int len)
{
    char text[INET6_ADDRSTRLEN];

    if (str == NULL || len <= 0) {
        return;
    }
    if (address == NULL) {
        snprintf(str, len, "(NULL)");
        return;
    }

    switch (evpl_address_family(address)) {
    case AF_INET:
        inet_ntop(AF_INET, &address->sin.sin_addr, text, sizeof(text));
        snprintf(str, len, "%s:%u", text, ntohs(address->sin.sin_port));
        break;
    case AF_INET6:
        inet_ntop(AF_INET6, &address->sin6.sin6_addr, text, sizeof(text));
        snprintf(str, len, "[%s]:%u", text, ntohs(address->sin6.sin6_port));
        break;
    case AF_UNIX: {
        /* addrlen tells the three AF_UNIX forms apart: nothing past the
         * family is unnamed, a leading NUL is abstract (no terminator). */
        size_t pathlen = address->addrlen > offsetof(struct sockaddr_un, sun_path)
                             ? address->addrlen - offsetof(struct sockaddr_un, sun_path)
                             : 0;
        if (pathlen == 0) {
            snprintf(str, len, "unix:*");
        } else if (address->sun.sun_path[0] == '\0') {
            snprintf(str, len, "unix:@%.*s", (int) (pathlen - 1), address->sun.sun_path + 1);
        } else {
            snprintf(str, len, "unix:%.*s", (int) strnlen(address->sun.sun_path, pathlen),
                     address->sun.sun_path);
        }
        break;
    }
    case EVPL_AF_INPROC:
        if (address->inproc.serial) {
            snprintf(str, len, "inproc:%s#%llu", address->inproc.name,
                     (unsigned long long) address->inproc.serial);
        } else {
            snprintf(str, len, "inproc:%s", address->inproc.name);
        }
        break;
    default:
        snprintf(str, len, "(family %d)", evpl_address_family(address));
        break;
    }
}

/* ---- endpoints ---------------------------------------------------------- */

static struct evpl_endpoint *
endpoint_new(enum evpl_endpoint_kind kind, const char *name, int port)
{
    struct evpl_endpoint *ep = calloc(1, sizeof(*ep));

    evpl_abort_if(ep == NULL, "bind", "out of memory allocating an endpoint");
    pthread_mutex_init(&ep->lock, NULL);
    ep->kind = kind;
    ep->port = port;
    ep->name = strdup(name);
    evpl_abort_if(ep->name == NULL, "bind", "out of memory allocating an endpoint");

    pthread_mutex_lock(&endpoints_lock);
    ep->next = endpoints;
    if (endpoints) {
        endpoints->prev = ep;
    }
    endpoints = ep;
    pthread_mutex_unlock(&endpoints_lock);
    return ep;
}

/* Exit handler (registered from evpl_backends_register). */
void
evpl_endpoints_shutdown(void)
{
    while (1) {
        struct evpl_endpoint *ep;

        pthread_mutex_lock(&endpoints_lock);
        ep = endpoints;
        pthread_mutex_unlock(&endpoints_lock);
        if (ep == NULL) {
            break;
        }
        evpl_endpoint_close(ep);
    }
}

struct evpl_endpoint *
evpl_endpoint_create_local(const char *path)
{
    struct sockaddr_un    sun;
    struct evpl_endpoint *ep;
    size_t                len;
    socklen_t             addrlen;

    evpl_config();

    if (path == NULL) {
        return NULL;
    }
    len = strlen(path);
    if (len < 2 || (path[0] != '/' && path[0] != '@')) {
        evpl_bind_error("invalid local endpoint '%s': need '/path' or '@name'", path);
        return NULL;
    }

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;

    if (path[0] == '@') {
        /* "@name" fits when the name fills at most sun_path after the
         * leading NUL, i.e. the whole string is <= sizeof(sun_path). */
        if (len > sizeof(sun.sun_path)) {
            evpl_bind_error("abstract socket name '%s' too long", path);
            return NULL;
        }
        sun.sun_path[0] = '\0';
        memcpy(sun.sun_path + 1, path + 1, len - 1);
        addrlen = offsetof(struct sockaddr_un, sun_path) + len;
    } else {
        if (len > sizeof(sun.sun_path) - 1) {
            evpl_bind_error("socket path '%s' too long", path);
            return NULL;
        }
        memcpy(sun.sun_path, path, len + 1);
        addrlen = offsetof(struct sockaddr_un, sun_path) + len + 1;
    }

    ep           = endpoint_new(EVPL_ENDPOINT_LOCAL, path, 0);
    ep->resolved = evpl_address_create((struct sockaddr *) &sun, addrlen);
    ep->numeric  = 1;
    return ep;
}

struct evpl_endpoint *
evpl_endpoint_create_inproc(const char *name)
{
    struct evpl_endpoint *ep;
    char                  full[sizeof(INPROC_PREFIX) + EVPL_INPROC_NAME_MAX];
    size_t                len;

    evpl_config();

    if (name == NULL) {
        return NULL;
    }
    len = strlen(name);
    if (len < 1 || len > EVPL_INPROC_NAME_MAX) {
        evpl_bind_error("invalid in-process name of %zu bytes (1 to %d)", len,
                        EVPL_INPROC_NAME_MAX);
        return NULL;
    }

    snprintf(full, sizeof(full), INPROC_PREFIX "%s", name);
    ep           = endpoint_new(EVPL_ENDPOINT_INPROC, full, 0);
    ep->resolved = evpl_address_create_inproc(name, 0);
    ep->numeric  = 1;
    return ep;
}

struct evpl_endpoint *
evpl_endpoint_create(const char *address, int port)
{
    struct evpl_endpoint *ep;
    struct in6_addr       a6;
    struct in_addr        a4;

    evpl_config();

    if (address == NULL) {
        evpl_bind_error("evpl_endpoint_create: NULL address");
        return NULL;
    }
    if (address[0] == '/' || address[0] == '@') {
        return evpl_endpoint_create_local(address);
    }
    if (strncmp(address, INPROC_PREFIX, strlen(INPROC_PREFIX)) == 0) {
        return evpl_endpoint_create_inproc(address + strlen(INPROC_PREFIX));
    }

    ep = endpoint_new(EVPL_ENDPOINT_INET, address, port);

    /* Literals are parsed once here and never looked up again. */
    if (inet_pton(AF_INET, address, &a4) == 1) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = a4};
        ep->resolved           = evpl_address_create((struct sockaddr *) &sin, sizeof(sin));
        ep->numeric            = 1;
    } else if (inet_pton(AF_INET6, address, &a6) == 1) {
        struct sockaddr_in6 sin6 = {
            .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = a6};
        ep->resolved = evpl_address_create((struct sockaddr *) &sin6, sizeof(sin6));
        ep->numeric  = 1;
    }
    return ep;
}

void
evpl_endpoint_close(struct evpl_endpoint *ep)
{
    if (ep == NULL) {
        return;
    }
    pthread_mutex_lock(&endpoints_lock);
    if (ep->prev) {
        ep->prev->next = ep->next;
    } else {
        endpoints = ep->next;
    }
    if (ep->next) {
        ep->next->prev = ep->prev;
    }
    pthread_mutex_unlock(&endpoints_lock);

    evpl_address_release(ep->resolved);
    pthread_mutex_destroy(&ep->lock);
    free(ep->name);
    free(ep);
}

int
evpl_endpoint_is_local(const struct evpl_endpoint *ep)
{
    return ep && ep->kind == EVPL_ENDPOINT_LOCAL;
}

int
evpl_endpoint_is_inproc(const struct evpl_endpoint *ep)
{
    return ep && ep->kind == EVPL_ENDPOINT_INPROC;
}

const char *
evpl_endpoint_address(const struct evpl_endpoint *ep)
{
    return ep->name;
}

int
evpl_endpoint_port(const struct evpl_endpoint *ep)
{
    return ep->kind == EVPL_ENDPOINT_INET ? ep->port : 0;
}

enum evpl_endpoint_kind
evpl_endpoint_kind(const struct evpl_endpoint *ep)
{
    return ep->kind;
}

const char *
evpl_endpoint_inproc_name(const struct evpl_endpoint *ep)
{
    return ep->name + strlen(INPROC_PREFIX);
}

/*
 * Look the name up.  IPv4 results are preferred (a server listening on
 * 0.0.0.0 is then reachable through "localhost"); among the preferred family
 * one is picked at random, spreading clients over a name's addresses.
 */
static struct evpl_address *
endpoint_lookup(struct evpl_endpoint *ep)
{
    struct addrinfo      hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo     *res, *ai, *pick = NULL;
    struct evpl_address *address;
    int                  rc, n4 = 0, n6 = 0, want;
    char                 port[16];

    snprintf(port, sizeof(port), "%d", ep->port);
    rc = getaddrinfo(ep->name, port, &hints, &res);
    if (rc != 0) {
        evpl_bind_error("cannot resolve '%s': %s", ep->name, gai_strerror(rc));
        return NULL;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        n4 += ai->ai_family == AF_INET;
        n6 += ai->ai_family == AF_INET6;
    }
    want = n4 ? AF_INET : AF_INET6;
    if (n4 + n6 > 0) {
        int target = rand() % (n4 ? n4 : n6);
        for (ai = res; ai; ai = ai->ai_next) {
            if (ai->ai_family == want && target-- == 0) {
                pick = ai;
                break;
            }
        }
    }
    if (pick == NULL) {
        evpl_bind_error("'%s' has no IPv4 or IPv6 address", ep->name);
        freeaddrinfo(res);
        return NULL;
    }
    address = evpl_address_create(pick->ai_addr, pick->ai_addrlen);
    freeaddrinfo(res);
    return address;
}

struct evpl_address *
evpl_endpoint_resolve(struct evpl_endpoint *ep)
{
    struct evpl_address *address = NULL;
    uint64_t             now, timeout_ns;

    pthread_mutex_lock(&ep->lock);
    if (ep->numeric) {
        address = evpl_address_ref(ep->resolved);
    } else {
        now        = evpl_loop_clock_ns();
        timeout_ns = (uint64_t) evpl_config()->resolve_timeout_ms * 1000000ull;
        if (ep->resolved == NULL || now - ep->resolved_ns >= timeout_ns) {
            struct evpl_address *fresh = endpoint_lookup(ep);
            if (fresh) {
                evpl_address_release(ep->resolved);
                ep->resolved    = fresh;
                ep->resolved_ns = now;
            }
        }
        if (ep->resolved) {
            address = evpl_address_ref(ep->resolved);
        }
    }
    pthread_mutex_unlock(&ep->lock);
    return address;
}
