/*
 * The one place backends are registered: adding a backend means adding its
 * folder and one line here.
 */
#include "core/protocol.h"
#include "socket/socket.h"
#include "inproc/inproc.h"
#include "tcp_rdma/tcp_rdma.h"
#include "tls/tls.h"
#include "io_uring/uring.h"

void evpl_endpoints_shutdown(void);

void
evpl_backends_register(const struct evpl_global_config *config)
{
    (void) config;

    /* Endpoints left open by the application are closed at exit. */
    evpl_at_shutdown(evpl_endpoints_shutdown);

    evpl_socket_tcp_register();
    evpl_socket_unix_register();
    evpl_socket_udp_register();
    evpl_inproc_register();
    evpl_tcp_rdma_register();
    evpl_tls_register();
    evpl_io_uring_register(config);
}
