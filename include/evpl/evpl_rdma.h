/*
 * One-sided RDMA reads and writes of a peer's registered memory over a
 * connected, RDMA-capable bind (evpl_bind_is_rdma()): natively over RDMA CM
 * where available, emulated over TCP (DATAGRAM_TCP_RDMA, the peer's library
 * services the requests) and as memory copies between loops of one process
 * (DATAGRAM_INPROC).  Included through <evpl/evpl.h> only.  Owning thread of
 * the bind's loop; completion callbacks run there too.
 *
 * Ordering.  On every RDMA-capable transport an operation is ordered before
 * the messages sent after it on the same bind, so a "done" message sent from
 * a completion callback (or simply after the call) is received after a write
 * has landed or a read has taken its data.  On the emulated transports the
 * completions of one bind run in submission order.
 *
 * Extension, DATAGRAM_TCP_RDMA: messages and operations of one bind execute
 * in exactly the order they were submitted, in both directions.  A message
 * sent before an operation is delivered to the peer's application before the
 * write is applied or the read takes its data (so a read sees what earlier
 * messages made the peer write, and a write never changes memory under a
 * message sent before it), and a read is not affected by messages or writes
 * submitted after it.  (DATAGRAM_INPROC performs the copy inside the call, so
 * there an operation may overtake messages queued earlier in the same pass
 * that the peer has not received yet.)
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_rdma.h directly, include evpl/evpl.h instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define EVPL_RDMA_FLAG_TAKE_REF 0x01

/*
 * Store in *r_key / *r_address the key and address under which the peer of
 * bind can reach the memory of iovec (library-allocated memory only).  Both
 * are set to 0 on a bind that is not RDMA-capable or for unregistered memory.
 * Callable from the attach callback.
 */
void evpl_rdma_get_address(struct evpl *evpl, struct evpl_bind *bind, struct evpl_iovec *iovec,
                           uint32_t *r_key, uint64_t *r_address);

/*
 * Read sum(iov[i].length) bytes of the peer's memory at remote_address (key
 * remote_key) into iov[0..niov-1], in order.  The iovecs are borrowed: the
 * caller keeps its references and must not touch the memory until
 * callback(status, private_data) runs on the bind's loop (status 0 on
 * success).  Ordered with the bind's messages as described above.  On a bind
 * that is not RDMA-capable the callback runs before this call returns, with
 * ENOTSUP.
 */
void evpl_rdma_read(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                    uint64_t remote_address, struct evpl_iovec *iov, int niov,
                    void (*callback)(int status, void *private_data), void *private_data);

/*
 * Write iov[0..niov-1], in order, into the peer's memory at remote_address.
 * flags 0: the library takes its own references; EVPL_RDMA_FLAG_TAKE_REF: the
 * caller's references pass to the library.  callback(status, private_data)
 * runs on the bind's loop once the write completed at the initiator (status 0
 * on success); messages sent afterwards on the bind arrive after the data
 * (and, on DATAGRAM_TCP_RDMA, messages sent before it arrive before the data
 * is applied).  On a bind that is not RDMA-capable the callback runs before
 * this call returns, with ENOTSUP.  niov == 0 does nothing (no callback).
 */
void evpl_rdma_write(struct evpl *evpl, struct evpl_bind *bind, uint32_t remote_key,
                     uint64_t remote_address, struct evpl_iovec *iov, int niov, unsigned int flags,
                     void (*callback)(int status, void *private_data), void *private_data);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
