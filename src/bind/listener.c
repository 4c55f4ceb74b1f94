/*
 * Listeners (API §6.4): a service thread with its own loop owns the
 * listening sockets; accepted connections are steered to the attached
 * bindings and handed to their loops through a locked queue + doorbell
 * (bind_loop.c).
 *
 * Locking.  `relation_lock` (process-wide) guards the binding <-> listener
 * pointers against concurrent detach and destroy.  `listener->lock` guards
 * the binding array, the steering state and the request queue; a handoff is
 * pushed to the chosen loop while it is held, which is what makes detach
 * safe: once detach has removed the binding under this lock, nothing can be
 * queued to it any more, and detach then purges what was queued before.
 * Lock order: relation_lock -> listener->lock -> loop handoff lock.
 *
 * Binding lifetime.  A binding is reference-counted: one reference for the
 * attachment, one per accepted connection (from steering until the bind's
 * DISCONNECTED), so least-loaded counts stay valid after detach.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/shared.h"
#include "bind/bind_loop.h"
#include "topology/topology_internal.h"

#define evpl_bind_error(...) evpl_log_error("bind", __VA_ARGS__)

struct evpl_listener_binding {
    struct evpl           *evpl;
    struct evpl_listener  *listener; /* NULL once detached or the listener is gone */
    evpl_attach_callback_t attach_callback;
    void                  *private_data;
    atomic_int             refs;
    atomic_int             live;     /* connections steered here and not yet finalised */
    atomic_int             detached; /* handoffs still in flight are dropped */

    /* Where the loop runs, recorded at attach for INCOMING_CPU steering:
     * its thread's affinity mask, and the last-level cache and NUMA node
     * all its CPUs share (-1 when they span several, as unpinned loops do). */
    cpu_set_t cpus;
    int       ncpus;
    int       cache;
    int       node;
};

struct listen_request {
    const struct evpl_protocol *protocol;
    struct evpl_address        *address;
    int                         result;
    int                         done;
    struct listen_request      *next;
};

struct evpl_listener {
    pthread_t    thread;
    struct evpl *loop;

    pthread_mutex_t lock;
    pthread_cond_t  cond;
    int             ready;
    int             stopping;

    struct evpl_listener_binding **bindings; /* attachment order */
    int                            num_bindings;
    int                            max_bindings;
    unsigned int                   rr_next;

    struct listen_request *requests;
    struct evpl_doorbell   doorbell;

    struct evpl_listen_socket *sockets; /* service thread only */
};

static pthread_mutex_t relation_lock = PTHREAD_MUTEX_INITIALIZER;

static inline struct evpl_listener *
container_of_listener(struct evpl_doorbell *doorbell)
{
    return (struct evpl_listener *) ((char *) doorbell - offsetof(struct evpl_listener, doorbell));
}

static void
binding_put(struct evpl_listener_binding *binding)
{
    if (atomic_fetch_sub(&binding->refs, 1) == 1) {
        free(binding);
    }
}

/* ---- service thread ----------------------------------------------------- */

static void
service_doorbell_cb(struct evpl *evpl, struct evpl_doorbell *doorbell)
{
    struct evpl_listener  *listener = container_of_listener(doorbell);
    struct listen_request *req;
    int                    stopping;

    pthread_mutex_lock(&listener->lock);
    req                = listener->requests;
    listener->requests = NULL;
    stopping           = listener->stopping;
    pthread_mutex_unlock(&listener->lock);

    while (req) {
        struct listen_request     *next = req->next;
        struct evpl_listen_socket *ls   = calloc(1, sizeof(*ls));
        int                        rc;

        evpl_abort_if(ls == NULL, "bind", "out of memory creating a listen socket");
        ls->listener = listener;
        ls->loop     = evpl;
        ls->protocol = req->protocol;
        ls->address  = req->address;

        rc = req->protocol->ops->listen(ls);
        if (rc == 0) {
            ls->next          = listener->sockets;
            listener->sockets = ls;
        } else {
            evpl_address_release(ls->address);
            free(ls);
        }

        pthread_mutex_lock(&listener->lock);
        req->result = rc;
        req->done   = 1;
        pthread_cond_broadcast(&listener->cond);
        pthread_mutex_unlock(&listener->lock);
        req = next;
    }

    if (stopping) {
        evpl_stop(evpl);
    }
}

static void *
service_thread(void *arg)
{
    struct evpl_listener *listener = arg;

    listener->loop = evpl_create(NULL);
    evpl_add_doorbell(listener->loop, &listener->doorbell, service_doorbell_cb);

    pthread_mutex_lock(&listener->lock);
    listener->ready = 1;
    pthread_cond_broadcast(&listener->cond);
    pthread_mutex_unlock(&listener->lock);

    evpl_run(listener->loop);

    while (listener->sockets) {
        struct evpl_listen_socket *ls = listener->sockets;
        listener->sockets             = ls->next;
        ls->protocol->ops->listen_close(ls);
        evpl_address_release(ls->address);
        free(ls);
    }
    evpl_remove_doorbell(listener->loop, &listener->doorbell);
    evpl_destroy(listener->loop);
    return NULL;
}

struct evpl_listener *
evpl_listener_create(void)
{
    struct evpl_listener *listener;

    evpl_config();
    listener = calloc(1, sizeof(*listener));
    evpl_abort_if(listener == NULL, "bind", "out of memory creating a listener");
    pthread_mutex_init(&listener->lock, NULL);
    pthread_cond_init(&listener->cond, NULL);

    evpl_abort_if(pthread_create(&listener->thread, NULL, service_thread, listener) != 0, "bind",
                  "cannot start the listener thread");

    pthread_mutex_lock(&listener->lock);
    while (!listener->ready) {
        pthread_cond_wait(&listener->cond, &listener->lock);
    }
    pthread_mutex_unlock(&listener->lock);
    return listener;
}

void
evpl_listener_destroy(struct evpl_listener *listener)
{
    pthread_mutex_lock(&listener->lock);
    listener->stopping = 1;
    pthread_mutex_unlock(&listener->lock);
    evpl_ring_doorbell(&listener->doorbell);
    pthread_join(listener->thread, NULL);

    /* Bindings still attached become inert (A.18); their loops detach
     * them later. */
    pthread_mutex_lock(&relation_lock);
    pthread_mutex_lock(&listener->lock);
    for (int i = 0; i < listener->num_bindings; i++) {
        listener->bindings[i]->listener = NULL;
    }
    listener->num_bindings = 0;
    pthread_mutex_unlock(&listener->lock);
    pthread_mutex_unlock(&relation_lock);

    free(listener->bindings);
    pthread_cond_destroy(&listener->cond);
    pthread_mutex_destroy(&listener->lock);
    free(listener);
}

int
evpl_listen(struct evpl_listener *listener, enum evpl_protocol_id protocol_id,
            struct evpl_endpoint *endpoint)
{
    const struct evpl_protocol *protocol = evpl_protocol_get(protocol_id);
    struct listen_request       req      = {0};

    if (protocol == NULL || protocol->ops == NULL) {
        evpl_bind_error("evpl_listen: protocol %d is not available", (int) protocol_id);
        return -1;
    }
    if (!(protocol->flags & EVPL_PROTOCOL_CONNECTED) || protocol->ops->listen == NULL) {
        evpl_bind_error("evpl_listen: %s is not connection-oriented", protocol->name);
        return -1;
    }
    req.protocol = protocol;
    req.address  = evpl_bind_resolve_for(protocol, endpoint);
    if (req.address == NULL) {
        return -1;
    }

    pthread_mutex_lock(&listener->lock);
    req.next           = listener->requests;
    listener->requests = &req;
    pthread_mutex_unlock(&listener->lock);
    evpl_ring_doorbell(&listener->doorbell);

    pthread_mutex_lock(&listener->lock);
    while (!req.done) {
        pthread_cond_wait(&listener->cond, &listener->lock);
    }
    pthread_mutex_unlock(&listener->lock);

    if (req.result < 0) {
        evpl_bind_error("evpl_listen: %s on '%s' failed: %s", protocol->name,
                        evpl_endpoint_address(endpoint), strerror(-req.result));
        return -1;
    }
    return 0;
}

/* ---- bindings ----------------------------------------------------------- */

/* Runs on the binding's loop thread (attach is called there). */
static void
binding_locate(struct evpl_listener_binding *binding)
{
    const struct evpl_topology *topo = evpl_topology_machine();

    binding->cache = binding->node = -1;
    CPU_ZERO(&binding->cpus);
    if (sched_getaffinity(0, sizeof(binding->cpus), &binding->cpus) != 0) {
        binding->ncpus = 0;
        return;
    }
    binding->ncpus = CPU_COUNT(&binding->cpus);
    for (int cpu = 0, first = 1; cpu < CPU_SETSIZE; cpu++) {
        int cache, node;

        if (!CPU_ISSET(cpu, &binding->cpus)) {
            continue;
        }
        cache = evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_CACHE, cpu);
        node  = evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_NUMA, cpu);
        if (first) {
            binding->cache = cache;
            binding->node  = node;
            first          = 0;
        }
        if (cache != binding->cache) {
            binding->cache = -1;
        }
        if (node != binding->node) {
            binding->node = -1;
        }
    }
}

struct evpl_listener_binding *
evpl_listener_attach(struct evpl *evpl, struct evpl_listener *listener,
                     evpl_attach_callback_t attach_callback, void *private_data)
{
    struct evpl_listener_binding *binding = calloc(1, sizeof(*binding));

    evpl_abort_if(binding == NULL, "bind", "out of memory attaching to a listener");
    evpl_abort_if(attach_callback == NULL, "bind", "evpl_listener_attach: NULL attach callback");
    binding->evpl            = evpl;
    binding->listener        = listener;
    binding->attach_callback = attach_callback;
    binding->private_data    = private_data;
    atomic_init(&binding->refs, 1);
    binding_locate(binding);

    /* The doorbell must exist before the listener can steer to us. */
    evpl_bind_loop_binding_added(evpl);

    pthread_mutex_lock(&listener->lock);
    if (listener->num_bindings == listener->max_bindings) {
        int   max   = listener->max_bindings ? listener->max_bindings * 2 : 8;
        void *fresh = realloc(listener->bindings, max * sizeof(*listener->bindings));
        evpl_abort_if(fresh == NULL, "bind", "out of memory attaching to a listener");
        listener->bindings     = fresh;
        listener->max_bindings = max;
    }
    listener->bindings[listener->num_bindings++] = binding;
    pthread_mutex_unlock(&listener->lock);
    return binding;
}

void
evpl_listener_detach(struct evpl *evpl, struct evpl_listener_binding *binding)
{
    struct evpl_listener *listener;

    evpl_abort_if(binding == NULL, "bind", "evpl_listener_detach: NULL binding");

    pthread_mutex_lock(&relation_lock);
    listener = binding->listener;
    if (listener) {
        pthread_mutex_lock(&listener->lock);
        for (int i = 0; i < listener->num_bindings; i++) {
            if (listener->bindings[i] == binding) {
                memmove(&listener->bindings[i], &listener->bindings[i + 1],
                        (listener->num_bindings - i - 1) * sizeof(*listener->bindings));
                listener->num_bindings--;
                break;
            }
        }
        pthread_mutex_unlock(&listener->lock);
        binding->listener = NULL;
    }
    pthread_mutex_unlock(&relation_lock);

    atomic_store(&binding->detached, 1);
    evpl_bind_loop_binding_removed(evpl, binding);
    binding_put(binding);
}

/*
 * INCOMING_CPU: the CPU whose softirq processed the connection's packets
 * (for loopback, the CPU the connecting thread ran on).  Ranks the bindings:
 * a loop allowed on that CPU (the fewest CPUs first: a loop pinned there
 * beats an unpinned one), else one whose CPUs all share that CPU's cache,
 * else its node; least loaded within a rank.  Without a CPU (not a socket,
 * or the kernel does not say) every binding ranks the same: least loaded.
 */
static struct evpl_listener_binding *
steer_incoming_cpu(struct evpl_listener *listener, int fd)
{
    const struct evpl_topology   *topo = evpl_topology_machine();
    struct evpl_listener_binding *best = NULL;
    int                           cpu = -1, cache = -1, node = -1;
    int                           best_rank = 0, best_live = 0;
    socklen_t                     len = sizeof(cpu);

#ifdef SO_INCOMING_CPU
    if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) != 0) {
        cpu = -1;
    }
#else
    (void) fd;
    (void) len;
#endif
    if (cpu >= 0) {
        cache = evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_CACHE, cpu);
        node  = evpl_topology_cpu_domain(topo, EVPL_TOPOLOGY_NUMA, cpu);
    }

    for (int i = 0; i < listener->num_bindings; i++) {
        struct evpl_listener_binding *b    = listener->bindings[i];
        int                           live = atomic_load_explicit(&b->live, memory_order_relaxed);
        int                           rank = 4;

        if (cpu >= 0 && cpu < CPU_SETSIZE && b->ncpus > 0 && CPU_ISSET(cpu, &b->cpus)) {
            rank = 0;
        } else if (cache >= 0 && b->cache == cache) {
            rank = 2;
        } else if (node >= 0 && b->node == node) {
            rank = 3;
        }
        int better;

        if (best == NULL || rank != best_rank) {
            better = best == NULL || rank < best_rank;
        } else if (rank == 0 && b->ncpus != best->ncpus) {
            better = b->ncpus < best->ncpus;
        } else {
            better = live < best_live;
        }
        if (better) {
            best      = b;
            best_rank = rank;
            best_live = live;
        }
    }
    return best;
}

/* Pick a binding by the configured policy (listener->lock held). */
static struct evpl_listener_binding *
steer(struct evpl_listener *listener, int fd)
{
    struct evpl_listener_binding *best = NULL;

    if (listener->num_bindings == 0) {
        return NULL;
    }
    if (evpl_config()->listener_policy == EVPL_LISTENER_POLICY_INCOMING_CPU) {
        return steer_incoming_cpu(listener, fd);
    }
    if (evpl_config()->listener_policy == EVPL_LISTENER_POLICY_LEAST_LOADED) {
        int best_live = 0;
        for (int i = 0; i < listener->num_bindings; i++) {
            int live = atomic_load_explicit(&listener->bindings[i]->live, memory_order_relaxed);
            if (best == NULL || live < best_live) {
                best      = listener->bindings[i];
                best_live = live;
            }
        }
        return best;
    }
    return listener->bindings[listener->rr_next++ % listener->num_bindings];
}

struct evpl_handoff *
evpl_handoff_alloc(const struct evpl_protocol *protocol)
{
    struct evpl_handoff *handoff = calloc(1, sizeof(*handoff));

    evpl_abort_if(handoff == NULL, "bind", "out of memory handing over a connection");
    handoff->protocol = protocol;
    handoff->fd       = -1;
    return handoff;
}

/* Drop a handoff that reached no bind (its binding's counts included). */
void
evpl_handoff_discard(struct evpl_handoff *handoff)
{
    if (handoff->protocol->ops->handoff_discard) {
        handoff->protocol->ops->handoff_discard(handoff);
    }
    evpl_address_release(handoff->local);
    evpl_address_release(handoff->remote);
    if (handoff->binding) {
        evpl_listener_binding_conn_closed(handoff->binding);
    }
    free(handoff);
}

int
evpl_listener_handoff(struct evpl_listener *listener, struct evpl_handoff *handoff)
{
    struct evpl_listener_binding *binding;

    pthread_mutex_lock(&listener->lock);
    binding = steer(listener, handoff->fd);
    if (binding) {
        atomic_fetch_add(&binding->refs, 1);
        atomic_fetch_add(&binding->live, 1);
        handoff->binding = binding;
        evpl_bind_loop_handoff_push(binding->evpl, handoff);
    }
    pthread_mutex_unlock(&listener->lock);

    if (binding == NULL) {
        /* A.14: nobody to give it to; close rather than leak it. */
        evpl_log_debug("bind", "connection accepted with no binding attached: closed");
        evpl_handoff_discard(handoff);
        return -ENOTCONN;
    }
    return 0;
}

void
evpl_listener_binding_conn_closed(struct evpl_listener_binding *binding)
{
    atomic_fetch_sub(&binding->live, 1);
    binding_put(binding);
}

void
evpl_listener_accept_handoff(struct evpl *evpl, struct evpl_handoff *handoff)
{
    struct evpl_listener_binding *binding          = handoff->binding;
    evpl_notify_callback_t        notify_callback  = NULL;
    evpl_segment_callback_t       segment_callback = NULL;
    void                         *conn_private     = NULL;
    struct evpl_bind             *bind;
    int                           rc;

    if (atomic_load(&binding->detached)) {
        evpl_handoff_discard(handoff);
        return;
    }

    bind = evpl_bind_create(evpl, handoff->protocol, NULL, NULL, NULL);
    bind->flags |= EVPL_BIND_ACCEPTED;
    bind->local     = handoff->local;
    bind->remote    = handoff->remote;
    handoff->local  = NULL;
    handoff->remote = NULL;

    rc = bind->ops->attach(evpl, bind, handoff);
    if (rc < 0) {
        evpl_log_error("bind", "cannot set up an accepted %s connection: %s",
                       handoff->protocol->name, strerror(-rc));
        evpl_address_release(bind->local);
        evpl_address_release(bind->remote);
        evpl_bind_loop_discard(evpl, bind);
        evpl_listener_binding_conn_closed(binding);
        free(handoff);
        return;
    }
    bind->binding = binding; /* its connection reference moves to the bind */
    free(handoff);

    binding->attach_callback(evpl, bind, &notify_callback, &segment_callback, &conn_private,
                             binding->private_data);
    evpl_abort_if(notify_callback == NULL, "bind",
                  "attach callback did not provide a notify callback");
    evpl_bind_set_callbacks(bind, notify_callback, segment_callback, conn_private);

    if (rc == 0) {
        evpl_bind_connected(evpl, bind);
    }
}
