/*
 * Memory: iovecs, buffer references and allocation.  Included through
 * <evpl/evpl.h> only.
 *
 * All payload memory is carved from large slabs (registered with every
 * DMA/RDMA-capable backend) divided into buffers of buffer_size bytes.  An
 * iovec is a (data, length) view into one buffer plus a pointer to that
 * buffer's reference header; many iovecs may share one buffer, which returns
 * to its pool when the last counted reference is dropped.
 *
 * Ownership rules (checked where it is cheap):
 *   - An iovec that holds a reference is disposed of exactly once: released
 *     (evpl_iovec_release), moved (evpl_iovec_move, a send with
 *     EVPL_SEND_FLAG_TAKE_REF, ...) or handed to an API that documents
 *     taking ownership.  Plain structure assignment does not add a reference.
 *   - References are created by evpl_iovec_alloc, _reserve, _clone, _clone_segment,
 *     _take_ref, evpl_recvv and RECV_MSG notifications.
 *   - Borrowed views (evpl_peekv results, clones of GLOBAL iovecs) are never
 *     released.
 *   - Local iovecs (flags 0) stay on the thread of the loop that allocated
 *     them; SHARED ones may be cloned and released on any thread.
 *
 * Releasing a count that is already zero aborts ("double release").
 */
#pragma once

#ifndef EVPL_INCLUDED
#error "Do not include evpl_memory.h directly, include evpl/evpl.h instead"
#endif

#if defined(EVPL_IOVEC_TRACE) || defined(EVPL_IOVEC_PROFILE)
#error "This libevpl build does not provide the EVPL_IOVEC_TRACE/EVPL_IOVEC_PROFILE variants"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* Reference flags, kept in evpl_iovec_ref.flags and chosen at allocation. */
#define EVPL_IOVEC_FLAG_SHARED 1 /* atomic count; any thread, any loop or NULL */
#define EVPL_IOVEC_FLAG_GLOBAL 2 /* with SHARED: whole buffer, user-managed lifetime */

struct evpl_slab; /* opaque: the slab a buffer belongs to */

/*
 * Reference header of one buffer (or of memory an application wraps itself:
 * count 1, its own release, slab NULL -- such memory is not registered and
 * must not be used with RDMA).  release() runs once, when the count drops to
 * zero, with the loop passed to the dropping call (which may be NULL).
 */
struct evpl_iovec_ref {
    union {
        unsigned int refcnt;        /* used when flags lacks SHARED */
        atomic_uint  refcnt_atomic; /* used when flags has SHARED */
    };
    unsigned int      flags; /* 0, SHARED, or SHARED|GLOBAL */
    struct evpl_slab *slab;  /* owning slab (NULL for foreign memory) */
    void (*release)(struct evpl *evpl, struct evpl_iovec_ref *ref);
};

/* A view of length bytes at data inside the buffer described by ref. */
struct evpl_iovec {
    void                  *data;
    unsigned int           length;
    unsigned int           pad; /* unused padding */
    struct evpl_iovec_ref *ref;
};

/* Abort (module "core") with a printf-style message when cond holds. */
#define evpl_memory_abort_if(cond, ...)                                                            \
    do {                                                                                           \
        if (cond) {                                                                                \
            evpl_abort("core", __FILE__, __LINE__, __VA_ARGS__);                                   \
        }                                                                                          \
    } while (0)

/*
 * Allocate length bytes of uninitialised buffer space for loop evpl,
 * described by at most max_iovecs iovecs written to r_iovec[], each holding
 * one reference the caller now owns.  alignment is 0 (none) or a power of
 * two no larger than buffer_size; every data pointer is aligned to it.
 * flags is 0 (local: owning thread only) or EVPL_IOVEC_FLAG_SHARED.  Small
 * requests are packed into the loop's current buffer; a request that does
 * not fit starts a fresh buffer; one larger than a buffer spans several.
 * Returns the number of iovecs used, 0 when length is 0, or -1 when more
 * than max_iovecs would be needed (nothing stays allocated then).
 * Owning thread only.  Aborts if the system is out of memory.
 */
int evpl_iovec_alloc(struct evpl *evpl, unsigned int length, unsigned int alignment,
                     unsigned int max_iovecs, unsigned int flags, struct evpl_iovec *r_iovec);

/*
 * Allocate one whole registered buffer as a single GLOBAL iovec (length ==
 * buffer_size, flags SHARED|GLOBAL).  Its lifetime is the caller's: library
 * reference operations and clones do not count on it, and the owner frees it
 * with exactly one evpl_iovec_release() once nothing uses it.  Clones are
 * borrows and are never released.  Do not subdivide it into separately owned
 * pieces.  Owning thread of evpl (evpl may be NULL: any thread).
 */
void evpl_iovec_alloc_global(struct evpl *evpl, struct evpl_iovec *r_iovec);

/*
 * Two-phase allocation.  evpl_iovec_reserve() is a local (flags 0)
 * evpl_iovec_alloc() of up to length bytes with the same return values and
 * owned references, except that the loop's current buffer does not yet count
 * the space as used.  The caller fills and trims the iovecs and calls
 * evpl_iovec_commit() with what it actually used: each owning buffer is then
 * marked used up to the end of the corresponding iovec (rounded up to
 * alignment) and the rest returns to the loop.  Commit does not change
 * references; the caller still owns them.  No other allocation may happen on
 * the loop in between.  Owning thread only.
 */
int  evpl_iovec_reserve(struct evpl *evpl, unsigned int length, unsigned int alignment,
                        unsigned int max_vec, struct evpl_iovec *r_iovec);
void evpl_iovec_commit(struct evpl *evpl, unsigned int alignment, struct evpl_iovec *iovecs,
                       int niovs);

/*
 * Slab size in bytes (default 1 GiB, never 0).  Thread-safe; initialises the
 * library implicitly.
 */
uint64_t evpl_get_slab_size(void);

/*
 * One extra whole slab of evpl_get_slab_size() bytes, registered with the
 * DMA/RDMA-capable backends but not carved into buffers, for an external
 * allocator.  Returns its base and stores an opaque handle in *slab_private.
 * The slab stays owned by the library and is unmapped at process exit.
 * Thread-safe; initialises the library implicitly; aborts when out of memory.
 */
void *evpl_slab_alloc(void **slab_private);

/*
 * Optional iovec profiler: in this build the hooks do nothing and
 * evpl_iovec_profile_dump() is an exported no-op.
 */
void evpl_iovec_profile_dump(const char *reason);

static inline void
evpl_iovec_profile_assign(struct evpl_iovec *iovec)
{
    (void) iovec;
}

static inline void
evpl_iovec_profile_release(struct evpl_iovec *iovec)
{
    (void) iovec;
}

static inline void
evpl_iovec_profile_move(struct evpl_iovec *dst, struct evpl_iovec *src)
{
    (void) dst;
    (void) src;
}

/*
 * Add one counted reference: relaxed atomic increment for SHARED, plain
 * increment for local (owning thread only), nothing for GLOBAL.
 */
static inline void
evpl_iovec_ref_incr(struct evpl_iovec_ref *ref)
{
    if (ref->flags & EVPL_IOVEC_FLAG_GLOBAL) {
        return;
    }
    if (ref->flags & EVPL_IOVEC_FLAG_SHARED) {
        atomic_fetch_add_explicit(&ref->refcnt_atomic, 1, memory_order_relaxed);
    } else {
        ref->refcnt++;
    }
}

/*
 * Drop one counted reference on a header; at zero ref->release(evpl, ref)
 * returns the buffer.  No-op for GLOBAL.  evpl is the caller's loop; NULL is
 * accepted for SHARED references (and for local ones during shutdown).
 */
static inline void
evpl_iovec_ref_release(struct evpl *evpl, struct evpl_iovec_ref *ref)
{
    if (ref->flags & EVPL_IOVEC_FLAG_GLOBAL) {
        return;
    }
    if (ref->flags & EVPL_IOVEC_FLAG_SHARED) {
        /* acq_rel: the thread that frees sees every write made under the
         * references dropped before it. */
        unsigned int prev = atomic_fetch_sub_explicit(&ref->refcnt_atomic, 1, memory_order_acq_rel);

        evpl_memory_abort_if(prev == 0, "double release of shared iovec reference %p",
                             (void *) ref);
        if (prev == 1) {
            ref->release(evpl, ref);
        }
    } else {
        evpl_memory_abort_if(ref->refcnt == 0, "double release of iovec reference %p",
                             (void *) ref);
        if (--ref->refcnt == 0) {
            ref->release(evpl, ref);
        }
    }
}

/* Drop an iovec's reference the way the library does: no-op for GLOBAL. */
static inline void
evpl_iovec_release_internal(struct evpl *evpl, struct evpl_iovec *iovec)
{
    evpl_iovec_profile_release(iovec);
    evpl_iovec_ref_release(evpl, iovec->ref);
}

/* evpl_iovec_release_internal() on each of niov iovecs. */
static inline void
evpl_iovecs_release_internal(struct evpl *evpl, struct evpl_iovec *iov, int niov)
{
    for (int i = 0; i < niov; i++) {
        evpl_iovec_release_internal(evpl, &iov[i]);
    }
}

/*
 * The application's release of a reference it owns.  For local and shared
 * iovecs it drops one count (the buffer is returned at zero).  For a GLOBAL
 * iovec it is the owner's single free: the count is reset, the buffer goes
 * back to the pool and iovec->data is set to NULL.  evpl should be the
 * calling thread's loop (NULL accepted as for evpl_iovec_ref_release()).
 */
static inline void
evpl_iovec_release(struct evpl *evpl, struct evpl_iovec *iovec)
{
    struct evpl_iovec_ref *ref = iovec->ref;

    if (ref->flags & EVPL_IOVEC_FLAG_GLOBAL) {
        evpl_iovec_profile_release(iovec);
        atomic_store_explicit(&ref->refcnt_atomic, 0, memory_order_release);
        ref->release(evpl, ref);
        iovec->data = NULL;
        return;
    }
    evpl_iovec_release_internal(evpl, iovec);
}

/* evpl_iovec_release() on each of niov iovecs. */
static inline void
evpl_iovecs_release(struct evpl *evpl, struct evpl_iovec *iov, int niov)
{
    for (int i = 0; i < niov; i++) {
        evpl_iovec_release(evpl, &iov[i]);
    }
}

/* The view's data pointer. */
static inline void *
evpl_iovec_data(const struct evpl_iovec *iovec)
{
    return iovec->data;
}

/* The view's length in bytes. */
static inline unsigned int
evpl_iovec_length(const struct evpl_iovec *iovec)
{
    return iovec->length;
}

/* Trim (or set) the view's length; references and the buffer are untouched. */
static inline void
evpl_iovec_set_length(struct evpl_iovec *iovec, unsigned int length)
{
    iovec->length = length;
}

/*
 * Make dst a view of all of src with its own counted reference (an uncounted
 * borrow for GLOBAL src).  src keeps its reference; both are disposed of
 * separately.
 */
static inline void
evpl_iovec_clone(struct evpl_iovec *dst, struct evpl_iovec *src)
{
    *dst = *src;
    evpl_iovec_ref_incr(src->ref);
    evpl_iovec_profile_assign(dst);
}

/*
 * Make dst a view of bytes [offset, offset + length) of src with its own
 * counted reference.  Aborts if the range exceeds src->length.
 */
static inline void
evpl_iovec_clone_segment(struct evpl_iovec *dst, const struct evpl_iovec *src, unsigned int offset,
                         unsigned int length)
{
    evpl_memory_abort_if((unsigned long long) offset + length > src->length,
                         "iovec clone segment [%u, +%u) exceeds length %u", offset, length,
                         src->length);
    dst->data   = (char *) src->data + offset;
    dst->length = length;
    dst->pad    = 0;
    dst->ref    = src->ref;
    evpl_iovec_ref_incr(src->ref);
    evpl_iovec_profile_assign(dst);
}

/*
 * Transfer src's reference to dst (the count is unchanged), then mark src
 * spent by setting src->data to NULL.  Aborts if either pointer is NULL.
 */
static inline void
evpl_iovec_move(struct evpl_iovec *dst, struct evpl_iovec *src)
{
    evpl_memory_abort_if(dst == NULL || src == NULL, "evpl_iovec_move with NULL iovec");
    evpl_iovec_profile_move(dst, src);
    *dst = *src;
    if (dst != src) {
        src->data = NULL;
    }
}

/*
 * Transfer src's reference to dst narrowed to [offset, offset + length) of
 * src (dst may be src).  Aborts when out of range.  src must not be used or
 * released afterwards.
 */
static inline void
evpl_iovec_move_segment(struct evpl_iovec *dst, struct evpl_iovec *src, unsigned int offset,
                        unsigned int length)
{
    evpl_memory_abort_if((unsigned long long) offset + length > src->length,
                         "iovec move segment [%u, +%u) exceeds length %u", offset, length,
                         src->length);
    evpl_iovec_profile_move(dst, src);

    void                  *data = (char *) src->data + offset;
    struct evpl_iovec_ref *ref  = src->ref;

    dst->data   = data;
    dst->length = length;
    dst->pad    = 0;
    dst->ref    = ref;
}

/*
 * Count one more reference on header src and point dst->ref at it;
 * dst->data and dst->length are left as they are.
 */
static inline void
evpl_iovec_take_ref(struct evpl_iovec *dst, struct evpl_iovec_ref *src)
{
    evpl_iovec_ref_incr(src);
    dst->ref = src;
    evpl_iovec_profile_assign(dst);
}

/* Point iovec->ref at ref without counting (adopting an existing reference). */
static inline void
evpl_iovec_set_ref(struct evpl_iovec *iovec, struct evpl_iovec_ref *ref)
{
    iovec->ref = ref;
}

/* The iovec's reference header. */
static inline struct evpl_iovec_ref *
evpl_iovec_get_ref(const struct evpl_iovec *iovec)
{
    return iovec->ref;
}

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
