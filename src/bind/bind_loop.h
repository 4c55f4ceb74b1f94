/*
 * Per-loop state of the bind layer (evpl->binds), shared by the files of
 * src/bind/.  Created on first use by a loop; owning thread only, except the
 * handoff queue, which listeners fill from their service threads.
 */
#pragma once

#include <pthread.h>
#include <sys/uio.h>

#include "core/loop.h"
#include "core/doorbell.h"
#include "bind/backend.h"

struct evpl_bind_loop {
    struct evpl_bind *live;   /* binds not yet closed by their backend */
    struct evpl_bind *closed; /* ops->close ran; DISCONNECTED pending (step 6) */
    struct evpl_bind *spare;  /* recycled storage (singly linked by next) */
    int               nspare;

    /* shared receive buffer: every socket of the loop reads into its tail */
    struct evpl_iovec_ref *cur_ref;
    char                  *cur_data;
    unsigned int           cur_size;
    unsigned int           cur_used;
    struct evpl_iovec_ref *spare_ref;
    char                  *spare_data;
    unsigned int           spare_size;

    unsigned int       max_iov;
    struct iovec      *scratch_iov;
    struct evpl_iovec *scratch_evpl_iov;

    /* connections handed over by listeners (any thread -> this loop) */
    pthread_mutex_t      handoff_lock;
    struct evpl_handoff *handoff_head;
    struct evpl_handoff *handoff_tail;
    struct evpl_doorbell handoff_doorbell;
    int                  num_bindings; /* doorbell registered while > 0 */
};

/* The loop's state, created on first call. */
struct evpl_bind_loop *evpl_bind_loop_get(struct evpl *evpl);

/* Bind storage: a zeroed bind on the live list / back to the spare list. */
struct evpl_bind *evpl_bind_loop_alloc(struct evpl *evpl);
void              evpl_bind_loop_discard(struct evpl *evpl, struct evpl_bind *bind);

/* ops->close ran: move bind from the live to the closed list. */
void evpl_bind_loop_mark_closed(struct evpl *evpl, struct evpl_bind *bind);

/* Listener bindings on this loop (registers the handoff doorbell). */
void evpl_bind_loop_binding_added(struct evpl *evpl);
void evpl_bind_loop_binding_removed(struct evpl *evpl, struct evpl_listener_binding *binding);

/* Queue a handoff (any thread); binding->evpl's doorbell is rung. */
void evpl_bind_loop_handoff_push(struct evpl *evpl, struct evpl_handoff *handoff);

/* listener.c: set up an accepted bind on its loop (doorbell callback). */
void evpl_listener_accept_handoff(struct evpl *evpl, struct evpl_handoff *handoff);
/* listener.c: a bind accepted through binding was finalised. */
void evpl_listener_binding_conn_closed(struct evpl_listener_binding *binding);
/* listener.c: drop a handoff that will not be attached. */
void evpl_handoff_discard(struct evpl_handoff *handoff);

/* bind.c: finalise (DISCONNECTED + recycle) one closed bind. */
void evpl_bind_finalize_one(struct evpl *evpl, struct evpl_bind *bind);
/* bind.c: start closing (ops->close) right now. */
void evpl_bind_close_now(struct evpl *evpl, struct evpl_bind *bind);
