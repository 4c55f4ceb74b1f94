/*
 * The boundary between the two halves of rpc2_gen_interop: gen_interop.c
 * sees only the xdrzcc-generated mount header, gen_interop_tirpc.c only the
 * rpcgen one (both define the same type names).
 */
#pragma once

/* A libtirpc svc_run server of MOUNT v1 on 127.0.0.1; returns its port. */
int tirpc_mount_server_start(void);
/* UMNT calls the libtirpc server saw; the last path in buf (size n). */
int tirpc_mount_umnt_calls(char *buf, int n);

/* An rpcgen client exercising our server on 127.0.0.1:port (blocking). */
void tirpc_mount_client_run(int port);
