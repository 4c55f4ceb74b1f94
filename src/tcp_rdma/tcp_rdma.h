/*
 * DATAGRAM_TCP_RDMA: messages and emulated one-sided RDMA over kernel TCP
 * (tcp_rdma.c; wire format in wire.h, memory keys in registration.h).
 */
#pragma once

/* Registration, called from evpl_backends_register(). */
void evpl_tcp_rdma_register(void);
