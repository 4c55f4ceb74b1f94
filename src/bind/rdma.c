/*
 * One-sided RDMA entry points (API §15): dispatched to the bind's transport
 * when it supports them, answered with ENOTSUP / 0,0 otherwise (§19.1).
 */
#include <errno.h>

#include "bind/backend.h"

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
    bind->ops->rdma_write(evpl, bind, remote_key, remote_address, iov, niov, flags, callback,
                          private_data);
}
