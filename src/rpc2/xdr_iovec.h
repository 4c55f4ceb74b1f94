/*
 * The iovec type of xdrzcc-generated code inside libevpl (XDR.md 1.3).
 *
 * Compile generated files with -DXDR_CUSTOM_IOVEC=<libevpl>/src/rpc2/xdr_iovec.h
 * and their xdr_iovec is struct evpl_iovec: decoded zcopaque payloads are
 * counted references into the receive buffers, encoded ones are moved into
 * the send list.  -r output defaults to these definitions when the macro is
 * not given.
 *
 * xdr_iovec_release_private is an addition to the contract's six macros: the
 * encoder drops zcopaque iovecs left over after `length` is covered, and a
 * failed decode drops the clones it made (XDR.md 6.1, 6.4).  It uses the
 * library's internal release, which is a no-op for GLOBAL borrows, with a
 * NULL loop (accepted for every kind of reference).
 */
#pragma once

#include <evpl/evpl.h>

typedef struct evpl_iovec xdr_iovec;

#define xdr_iovec_data(iov)             ((iov)->data)
#define xdr_iovec_len(iov)              ((iov)->length)
#define xdr_iovec_set_data(iov, ptr)    ((iov)->data = (void *) (ptr))
#define xdr_iovec_set_len(iov, len)     ((iov)->length = (len))
#define xdr_iovec_copy_private(out, in) evpl_iovec_clone((out), (in))
#define xdr_iovec_move_private(out, in) evpl_iovec_move((out), (in))
#define xdr_iovec_release_private(iov)  evpl_iovec_release_internal(NULL, (iov))
