/*
 * The iovec type generated XDR code uses in RPC2 mode (XDR.md 1.3):
 * xdr_iovec is struct evpl_iovec.  Pass
 * -DXDR_CUSTOM_IOVEC=<libevpl>/src/rpc2/xdr_iovec.h to the generated code.
 */
#pragma once

#include <evpl/evpl.h>

typedef struct evpl_iovec xdr_iovec;

#define xdr_iovec_data(iov)             ((iov)->data)
#define xdr_iovec_len(iov)              ((iov)->length)
#define xdr_iovec_set_data(iov, ptr)    ((iov)->data = (ptr))
#define xdr_iovec_set_len(iov, len)     ((iov)->length = (len))
#define xdr_iovec_copy_private(out, in) evpl_iovec_clone((out), (in))
#define xdr_iovec_move_private(out, in) evpl_iovec_move((out), (in))
