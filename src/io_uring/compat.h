/*
 * What liburing 2.3 (Debian 12) lacks and this backend uses.  Everything
 * here is either a kernel ABI constant newer than the installed
 * <liburing/io_uring.h> or a helper later liburing releases provide; each is
 * guarded so a newer liburing wins.
 */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <liburing.h>

/* Kernel 6.12: buffer-ring entries may be consumed in pieces; a completion
 * that leaves part of its buffer to the kernel carries IORING_CQE_F_BUF_MORE. */
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif

/*
 * io_uring_setup_buf_ring() appeared in liburing 2.4.  Maps and registers a
 * provided-buffer ring of `entries` (a power of two) for group bgid with the
 * given registration flags; returns the ring or NULL with *err set to a
 * negative errno.  io_uring_buf_reg's `flags` is `pad` in 2.3's header.
 */
static inline struct io_uring_buf_ring *
evpl_uring_setup_buf_ring(struct io_uring *ring, unsigned int entries, int bgid, unsigned int flags,
                          int *err)
{
    struct io_uring_buf_reg   reg;
    struct io_uring_buf_ring *br;
    size_t                    size = (size_t) entries * sizeof(struct io_uring_buf);
    int                       rc;

    br = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (br == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr    = (uint64_t) (uintptr_t) br;
    reg.ring_entries = entries;
    reg.bgid         = (uint16_t) bgid;
    reg.pad          = (uint16_t) flags;
    rc               = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc < 0) {
        munmap(br, size);
        *err = rc;
        return NULL;
    }
    io_uring_buf_ring_init(br);
    return br;
}

static inline void
evpl_uring_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br, unsigned int entries,
                         int bgid, int registered)
{
    if (registered) {
        io_uring_unregister_buf_ring(ring, bgid);
    }
    munmap(br, (size_t) entries * sizeof(struct io_uring_buf));
}
