/*
 * Shim that lets the protocol-parameterised stream tests of tests/socket and
 * tests/inproc run over STREAM_SOCKET_TLS unchanged: tests/tls/CMakeLists.txt
 * compiles them with -Devpl_test_init=evpl_tls_test_init, so their
 * initialisation lands here and adds what API §19.2 expects of such
 * programs: the listener's generated self-signed certificate, verification
 * disabled.
 */
#include "test.h"

void evpl_tls_test_init(int argc, char **argv);

void
evpl_tls_test_init(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_test_config(argc, argv);

    evpl_global_config_set_tls_verify_peer(config, 0);
    evpl_init(config);
}
