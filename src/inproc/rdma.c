/*
 * One-sided RDMA over DATAGRAM_INPROC: both loops share an address space, so
 * a read or write is a memcpy between the initiator's iovecs and the peer's
 * registered memory (validated through the emulated registration keys, so a
 * bad key or range fails instead of scribbling over the process).  The copy
 * happens inside the call, which trivially orders it before every message
 * sent afterwards; only the completion is deferred, to the initiator's next
 * delivery round (a later pass, never inside the call).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inproc/inproc.h"
#include "tcp_rdma/registration.h"

static void
completion_push(struct inproc_end *end, void (*callback)(int, void *), void *private_data,
                int status)
{
    struct inproc_completion *c;

    if (end->comp_head - end->comp_tail == end->comp_mask + 1 || end->comp == NULL) {
        unsigned int              count = end->comp_head - end->comp_tail;
        unsigned int              cap   = end->comp ? (end->comp_mask + 1) * 2 : 16;
        struct inproc_completion *fresh = malloc(cap * sizeof(*fresh));

        evpl_abort_if(fresh == NULL, "inproc", "out of memory queueing an RDMA completion");
        for (unsigned int i = 0; i < count; i++) {
            fresh[i] = end->comp[(end->comp_tail + i) & end->comp_mask];
        }
        free(end->comp);
        end->comp      = fresh;
        end->comp_mask = cap - 1;
        end->comp_tail = 0;
        end->comp_head = count;
    }
    c               = &end->comp[end->comp_head++ & end->comp_mask];
    c->callback     = callback;
    c->private_data = private_data;
    c->status       = status;

    pthread_mutex_lock(&end->lock);
    if (!end->closed && end->loop) {
        evpl_inproc_end_signal(end);
    }
    pthread_mutex_unlock(&end->lock);
}

void
evpl_inproc_run_completions(struct inproc_end *end)
{
    /* Only those queued before this round: completions queued by these
     * callbacks run on a later pass. */
    unsigned int count = end->comp_head - end->comp_tail;

    while (count--) {
        struct inproc_completion c = end->comp[end->comp_tail++ & end->comp_mask];

        c.callback(c.status, c.private_data);
    }
}

void
evpl_inproc_drop_completions(struct inproc_end *end)
{
    /* The copies are done; their owners still hear about them. */
    while (end->comp_head != end->comp_tail) {
        struct inproc_completion c = end->comp[end->comp_tail++ & end->comp_mask];

        c.callback(c.status, c.private_data);
    }
    free(end->comp);
    end->comp      = NULL;
    end->comp_mask = 0;
    end->comp_head = end->comp_tail = 0;
}

/* The peer's memory for the operation, or NULL with *status set. */
static char *
rdma_target(struct inproc_end *end, uint32_t key, uint64_t address, uint64_t length, int *status)
{
    struct inproc_end *peer = inproc_peer(end);
    int                gone;
    char              *mem;

    pthread_mutex_lock(&peer->lock);
    gone = peer->closed;
    pthread_mutex_unlock(&peer->lock);
    if (gone) {
        *status = ECONNRESET;
        return NULL;
    }
    mem = evpl_emu_rdma_resolve(key, address, length);
    if (mem == NULL) {
        evpl_inproc_debug("RDMA to key %u address 0x%llx length %llu is outside registered memory",
                          key, (unsigned long long) address, (unsigned long long) length);
        *status = EINVAL;
    }
    return mem;
}

static uint64_t
iov_total(const struct evpl_iovec *iov, int niov)
{
    uint64_t total = 0;

    for (int i = 0; i < niov; i++) {
        total += iov[i].length;
    }
    return total;
}

void
evpl_inproc_rdma_read(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                      uint64_t remote_address, struct evpl_iovec *iov, int niov,
                      void (*callback)(int status, void *private_data), void *private_data)
{
    struct inproc_end *end    = inproc_end_of(bind);
    int                status = 0;
    char              *src;

    (void) evpl;
    if (end == NULL) {
        /* A bind whose connect failed has no loop state to defer through. */
        callback(ENOTCONN, private_data);
        return;
    }
    src = rdma_target(end, remote_key, remote_address, iov_total(iov, niov), &status);
    if (src) {
        for (int i = 0; i < niov; i++) {
            memcpy(iov[i].data, src, iov[i].length);
            src += iov[i].length;
        }
    }
    completion_push(end, callback, private_data, status);
}

void
evpl_inproc_rdma_write(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                       uint64_t remote_address, struct evpl_iovec *iov, int niov,
                       unsigned int flags, void (*callback)(int status, void *private_data),
                       void        *private_data)
{
    struct inproc_end *end    = inproc_end_of(bind);
    int                status = 0;
    char              *dst;

    if (end == NULL) {
        if (flags & EVPL_RDMA_FLAG_TAKE_REF) {
            evpl_iovecs_release_internal(evpl, iov, niov);
        }
        callback(ENOTCONN, private_data);
        return;
    }
    dst = rdma_target(end, remote_key, remote_address, iov_total(iov, niov), &status);
    if (dst) {
        for (int i = 0; i < niov; i++) {
            memcpy(dst, iov[i].data, iov[i].length);
            dst += iov[i].length;
        }
    }
    if (flags & EVPL_RDMA_FLAG_TAKE_REF) {
        evpl_iovecs_release_internal(evpl, iov, niov);
    }
    completion_push(end, callback, private_data, status);
}

void
evpl_inproc_rdma_get_address(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovec,
                             uint32_t *r_key, uint64_t *r_address)
{
    (void) evpl;
    (void) bind;
    if (evpl_emu_rdma_address(iovec, r_key, r_address) < 0) {
        *r_key     = 0;
        *r_address = 0;
    }
}
