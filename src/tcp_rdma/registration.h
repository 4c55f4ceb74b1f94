/*
 * Memory registration for the emulated RDMA transports (DATAGRAM_TCP_RDMA
 * and DATAGRAM_INPROC).
 *
 * Real RDMA hands out a key per registered region and the NIC refuses any
 * access outside it.  The emulation does the same in software: every slab
 * of the allocator (the only memory evpl_rdma_get_address() accepts, API
 * §7.6) gets a small positive key through the allocator's registration hook,
 * and a remote request for (key, address, length) is served only when the
 * whole range lies inside the slab with that key.  A peer therefore can
 * neither crash us nor read memory we never exposed, whatever it sends.
 *
 * Slabs stay mapped until the allocator is torn down at exit, so a resolved
 * pointer stays valid for as long as any loop runs.  All functions are
 * thread-safe; lookups take no lock.
 */
#pragma once

#include <stdint.h>

#include "evpl/evpl.h"

/*
 * The key and address under which the peer may reach iovec's memory, or
 * -1 (outputs untouched) when the iovec does not lie in library memory.
 */
int evpl_emu_rdma_address(const struct evpl_iovec *iovec, uint32_t *r_key, uint64_t *r_address);

/*
 * The local pointer for [address, address + length) in the region named by
 * key, or NULL when the key is unknown or the range leaves the region.
 */
void *evpl_emu_rdma_resolve(uint32_t key, uint64_t address, uint64_t length);
