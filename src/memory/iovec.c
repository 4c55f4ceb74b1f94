/*
 * iovec allocation: packing requests into the loop's current buffers,
 * spanning buffers, global buffers and two-phase reserve/commit.
 */
#include <stddef.h>

#include "core/log.h"
#include "core/loop.h"
#include "memory/memory_internal.h"

/* The public layouts are part of the ABI (contract section 1). */
_Static_assert(sizeof(struct evpl_iovec) == 24, "struct evpl_iovec size");
_Static_assert(offsetof(struct evpl_iovec, data) == 0, "evpl_iovec.data");
_Static_assert(offsetof(struct evpl_iovec, length) == 8, "evpl_iovec.length");
_Static_assert(offsetof(struct evpl_iovec, pad) == 12, "evpl_iovec.pad");
_Static_assert(offsetof(struct evpl_iovec, ref) == 16, "evpl_iovec.ref");
_Static_assert(sizeof(struct evpl_iovec_ref) == 24, "struct evpl_iovec_ref size");
_Static_assert(offsetof(struct evpl_iovec_ref, refcnt) == 0, "evpl_iovec_ref.refcnt");
_Static_assert(offsetof(struct evpl_iovec_ref, refcnt_atomic) == 0, "evpl_iovec_ref.refcnt_atomic");
_Static_assert(offsetof(struct evpl_iovec_ref, flags) == 4, "evpl_iovec_ref.flags");
_Static_assert(offsetof(struct evpl_iovec_ref, slab) == 8, "evpl_iovec_ref.slab");
_Static_assert(offsetof(struct evpl_iovec_ref, release) == 16, "evpl_iovec_ref.release");
_Static_assert(offsetof(struct evpl_buffer, ref) == 0, "buffer header must begin with its ref");

static inline struct evpl_memory_loop *
evpl_iovec_loop(struct evpl *evpl)
{
    struct evpl_memory_loop *ml;

    evpl_abort_if(evpl == NULL || evpl->memory == NULL, "memory",
                  "iovec allocation needs a live loop (got %p)", (void *) evpl);
    ml = evpl->memory;
    /* the packing state is the owning thread's alone */
    evpl_abort_if(!pthread_equal(ml->owner, pthread_self()), "memory",
                  "iovec allocation on loop %p from a thread that does not own it", (void *) evpl);
    return ml;
}

/* Offset >= from at which buffer data is aligned to alignment. */
static inline uint64_t
evpl_align_offset(const struct evpl_buffer *buffer, uint64_t from, unsigned int alignment)
{
    uintptr_t base = (uintptr_t) buffer->data;
    uintptr_t addr = (base + from + alignment - 1) & ~((uintptr_t) alignment - 1);

    return addr - base;
}

static inline void
evpl_iovec_fill(struct evpl_iovec *iovec, struct evpl_buffer *buffer, uint64_t offset,
                uint64_t length)
{
    iovec->data   = (char *) buffer->data + offset;
    iovec->length = (unsigned int) length;
    iovec->pad    = 0;
    iovec->ref    = &buffer->ref;
    evpl_iovec_ref_incr(&buffer->ref);
}

/*
 * The allocation behind alloc and reserve.  With reserve set, the space is
 * handed out but the current buffer's fill mark is not advanced (commit
 * does that).  The loop holds one reference on each current buffer; every
 * iovec holds one more.
 */
static int
evpl_iovec_alloc_impl(struct evpl *evpl, unsigned int length, unsigned int alignment,
                      unsigned int max_iovecs, int kind, int reserve, struct evpl_iovec *r_iovec)
{
    struct evpl_memory_loop *ml;
    struct evpl_buffer      *current, *buffer;
    unsigned int             flags = kind == EVPL_CURRENT_SHARED ? EVPL_IOVEC_FLAG_SHARED : 0;
    uint64_t                 size, offset, left, chunk, end;
    unsigned int             niov = 0;

    if (length == 0) {
        return 0;
    }
    if (max_iovecs == 0) {
        return -1;
    }

    ml   = evpl_iovec_loop(evpl);
    size = ml->buffer_size;

    if (alignment == 0) {
        alignment = 1;
    }
    evpl_abort_if(alignment & (alignment - 1), "memory", "iovec alignment %u is not a power of two",
                  alignment);
    evpl_abort_if(alignment > size, "memory", "iovec alignment %u exceeds buffer_size %llu",
                  alignment, (unsigned long long) size);

    /* Common case: the request fits behind what is already packed. */
    current = ml->current[kind];
    if (current) {
        offset = evpl_align_offset(current, current->used, alignment);
        if (offset <= size && length <= size - offset) {
            evpl_iovec_fill(&r_iovec[0], current, offset, length);
            if (!reserve) {
                current->used = (unsigned int) (offset + length);
            }
            return 1;
        }
    }

    /* Fresh buffers from here on.  No number of buffers can do better than
     * this bound, so fail before touching anything. */
    if (((uint64_t) length + size - 1) / size > max_iovecs) {
        return -1;
    }

    left = length;
    for (;;) {
        if (niov == max_iovecs) {
            /* alignment padding made it one too many: undo everything */
            evpl_iovecs_release_internal(evpl, r_iovec, (int) niov);
            return -1;
        }
        buffer = evpl_buffer_take(evpl, flags); /* the loop's reference */
        offset = evpl_align_offset(buffer, 0, alignment);
        chunk  = left < size - offset ? left : size - offset;
        evpl_iovec_fill(&r_iovec[niov++], buffer, offset, chunk);
        left -= chunk;
        if (left == 0) {
            end = reserve ? offset : offset + chunk;
            break;
        }
        evpl_iovec_ref_release(evpl, &buffer->ref); /* full: the iovec keeps it alive */
    }

    /* Keep packing into whichever of the old and the last buffer has more
     * room; a full buffer is never kept, so it frees with its last iovec. */
    if (end < size && (current == NULL || size - end >= size - current->used)) {
        buffer->used      = (unsigned int) end;
        ml->current[kind] = buffer;
        if (current) {
            evpl_iovec_ref_release(evpl, &current->ref);
        }
    } else {
        evpl_iovec_ref_release(evpl, &buffer->ref);
    }
    current = ml->current[kind];
    if (current && current->used >= size) {
        ml->current[kind] = NULL;
        evpl_iovec_ref_release(evpl, &current->ref);
    }
    return (int) niov;
}

int
evpl_iovec_alloc(struct evpl *evpl, unsigned int length, unsigned int alignment,
                 unsigned int max_iovecs, unsigned int flags, struct evpl_iovec *r_iovec)
{
    int kind = (flags & EVPL_IOVEC_FLAG_SHARED) ? EVPL_CURRENT_SHARED : EVPL_CURRENT_LOCAL;

    return evpl_iovec_alloc_impl(evpl, length, alignment, max_iovecs, kind, 0, r_iovec);
}

void
evpl_iovec_alloc_global(struct evpl *evpl, struct evpl_iovec *r_iovec)
{
    struct evpl_buffer *buffer =
        evpl_buffer_take(evpl, EVPL_IOVEC_FLAG_SHARED | EVPL_IOVEC_FLAG_GLOBAL);

    r_iovec->data   = buffer->data;
    r_iovec->length = buffer->ref.slab->allocator->buffer_size;
    r_iovec->pad    = 0;
    r_iovec->ref    = &buffer->ref;
}

int
evpl_iovec_reserve(struct evpl *evpl, unsigned int length, unsigned int alignment,
                   unsigned int max_vec, struct evpl_iovec *r_iovec)
{
    return evpl_iovec_alloc_impl(evpl, length, alignment, max_vec, EVPL_CURRENT_LOCAL, 1, r_iovec);
}

void
evpl_iovec_commit(struct evpl *evpl, unsigned int alignment, struct evpl_iovec *iovecs, int niovs)
{
    struct evpl_memory_loop *ml      = evpl_iovec_loop(evpl);
    struct evpl_buffer      *current = ml->current[EVPL_CURRENT_LOCAL];

    if (alignment == 0) {
        alignment = 1;
    }
    if (current == NULL) {
        return;
    }

    /* Only the current buffer is packed further; the others were either
     * fully used or already abandoned by the loop. */
    for (int i = 0; i < niovs; i++) {
        uint64_t end;

        if (iovecs[i].ref != &current->ref) {
            continue;
        }
        end = (uint64_t) ((char *) iovecs[i].data - (char *) current->data) + iovecs[i].length;
        end = evpl_align_offset(current, end, alignment);
        if (end > ml->buffer_size) {
            end = ml->buffer_size;
        }
        if (end > current->used) {
            current->used = (unsigned int) end;
        }
    }
}

void
evpl_iovec_profile_dump(const char *reason)
{
    (void) reason;
}
