/*
 * The in-process name space: which listener holds which name, shared by
 * STREAM_INPROC and DATAGRAM_INPROC (a name held by either cannot be listened
 * on again by either until its listener releases it), and the process-wide
 * serial that names connecting ends ("inproc:<name>#<serial>", API §5.2).
 *
 * One mutex guards the table and the serial counter.  Connects look a name up
 * and hand the connection to its listener while holding it: listen_close()
 * needs the same mutex, so a listener cannot finish tearing down under a
 * connect in progress.  Lock order: registry -> listener (bind layer).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inproc/inproc.h"

#define REGISTRY_BUCKETS 64

struct inproc_name {
    struct inproc_name        *next;
    struct evpl_listen_socket *ls;
    enum evpl_protocol_id      protocol;
    char                       name[EVPL_INPROC_NAME_MAX + 1];
};

/* What a listening socket keeps (ls->backend_private). */
struct inproc_listen {
    struct inproc_name *entry;
};

_Static_assert(sizeof(struct inproc_listen) <= EVPL_LISTEN_PRIVATE_SIZE,
               "inproc listen state too large");

static pthread_mutex_t     registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct inproc_name *registry[REGISTRY_BUCKETS];
static uint64_t            registry_serial; /* last serial handed out */

static unsigned int
name_hash(const char *name)
{
    unsigned int h = 2166136261u; /* FNV-1a */

    for (; *name; name++) {
        h = (h ^ (unsigned char) *name) * 16777619u;
    }
    return h % REGISTRY_BUCKETS;
}

/* The entry for name (registry_lock held), or NULL. */
static struct inproc_name *
name_find(const char *name)
{
    for (struct inproc_name *e = registry[name_hash(name)]; e; e = e->next) {
        if (strcmp(e->name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

int
evpl_inproc_listen(struct evpl_listen_socket *ls)
{
    struct inproc_listen *il   = (struct inproc_listen *) ls->backend_private;
    const char           *name = ls->address->inproc.name;
    struct inproc_name   *e;

    if (evpl_address_family(ls->address) != EVPL_AF_INPROC) {
        return -EINVAL;
    }

    pthread_mutex_lock(&registry_lock);
    if (name_find(name)) {
        pthread_mutex_unlock(&registry_lock);
        evpl_inproc_error("in-process name '%s' is already being listened on", name);
        return -EADDRINUSE;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        pthread_mutex_unlock(&registry_lock);
        return -ENOMEM;
    }
    e->ls       = ls;
    e->protocol = ls->protocol->id;
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->next                   = registry[name_hash(name)];
    registry[name_hash(name)] = e;
    il->entry                 = e;
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

void
evpl_inproc_listen_close(struct evpl_listen_socket *ls)
{
    struct inproc_listen *il = (struct inproc_listen *) ls->backend_private;
    struct inproc_name  **pp;

    if (il->entry == NULL) {
        return;
    }
    pthread_mutex_lock(&registry_lock);
    for (pp = &registry[name_hash(il->entry->name)]; *pp; pp = &(*pp)->next) {
        if (*pp == il->entry) {
            *pp = il->entry->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    free(il->entry);
    il->entry = NULL;
}

int
evpl_inproc_lookup(const char *name, enum evpl_protocol_id protocol,
                   int (*fn)(struct evpl_listener *listener, uint64_t serial, void *arg), void *arg)
{
    struct inproc_name *e;
    int                 rc;

    pthread_mutex_lock(&registry_lock);
    e = name_find(name);
    if (e == NULL || e->protocol != protocol) {
        /* A name held by the other in-process protocol is not a listener
         * for this one: the connect is refused like an unknown name. */
        pthread_mutex_unlock(&registry_lock);
        return -ECONNREFUSED;
    }
    rc = fn(e->ls->listener, ++registry_serial, arg);
    pthread_mutex_unlock(&registry_lock);
    return rc;
}
