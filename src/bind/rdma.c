/*
 * One-sided RDMA entry points (API §15): dispatched to the bind's transport
 * when it supports them, answered with ENOTSUP / 0,0 otherwise (§19.1).
 */
#include <errno.h>
#include <stdlib.h>

#include "bind/backend.h"
#include "core/log.h"

/*
 * An operation on a bind that is going away fails with ENOTCONN, but never
 * inside the call: the completion runs from a deferral at the end of the
 * pass, like any transport completion would.  (Rare path: one small
 * allocation per refused operation.)
 */
struct rdma_refusal {
    struct evpl_deferral deferral;
    void (*callback)(int status, void *private_data);
    void *private_data;
};

static void
rdma_refusal_run(struct evpl *evpl, void *private_data)
{
    struct rdma_refusal *r = private_data;

    (void) evpl;
    r->callback(ENOTCONN, r->private_data);
    free(r);
}

static void
rdma_refuse(struct evpl *evpl, void (*callback)(int status, void *private_data), void *private_data)
{
    struct rdma_refusal *r = malloc(sizeof(*r));

    evpl_abort_if(r == NULL, "bind", "out of memory refusing an RDMA operation");
    r->callback     = callback;
    r->private_data = private_data;
    evpl_deferral_init(&r->deferral, rdma_refusal_run, r);
    evpl_defer(evpl, &r->deferral);
}

/* Closed, or closing without a graceful finish: no transport to use. */
static inline int
rdma_bind_gone(const struct evpl_bind *bind)
{
    return (bind->flags & EVPL_BIND_CLOSED) ||
           ((bind->flags & EVPL_BIND_CLOSING) && !(bind->flags & EVPL_BIND_FINISHING));
}

static inline int
rdma_capable(const struct evpl_bind *bind)
{
    return (bind->protocol->flags & EVPL_PROTOCOL_RDMA) != 0;
}

void
evpl_rdma_get_address(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovec,
                      uint32_t *r_key, uint64_t *r_address)
{
    *r_key     = 0;
    *r_address = 0;
    if (rdma_capable(bind) && bind->ops->rdma_get_address) {
        bind->ops->rdma_get_address(evpl, bind, iovec, r_key, r_address);
    }
}

void
evpl_rdma_read(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
               uint64_t remote_address, struct evpl_iovec *iov, int niov,
               void (*callback)(int status, void *private_data), void *private_data)
{
    if (!rdma_capable(bind) || bind->ops->rdma_read == NULL) {
        callback(ENOTSUP, private_data);
        return;
    }
    if (rdma_bind_gone(bind)) {
        rdma_refuse(evpl, callback, private_data);
        return;
    }
    bind->ops->rdma_read(evpl, bind, remote_key, remote_address, iov, niov, callback, private_data);
}

void
evpl_rdma_write(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                uint64_t remote_address, struct evpl_iovec *iov, int niov, unsigned int flags,
                void (*callback)(int status, void *private_data), void *private_data)
{
    if (!rdma_capable(bind) || bind->ops->rdma_write == NULL) {
        callback(ENOTSUP, private_data);
        return;
    }
    if (niov == 0) {
        return; /* nothing to write, no completion (A.16) */
    }
    if (rdma_bind_gone(bind)) {
        if (flags & EVPL_RDMA_FLAG_TAKE_REF) {
            evpl_iovecs_release_internal(evpl, iov, niov); /* ours now: drop them */
        }
        rdma_refuse(evpl, callback, private_data);
        return;
    }
    bind->ops->rdma_write(evpl, bind, remote_key, remote_address, iov, niov, flags, callback,
                          private_data);
}
