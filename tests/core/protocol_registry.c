/*
 * Protocol registry queries (API §2.7, §19.1): names are exact and
 * case-sensitive, lookup succeeds iff the protocol is available, ids
 * round-trip, the predicates return exactly 0 or 1 (0 for anything
 * unavailable or out of range) and agree with the contract's table, and
 * disabling a backend in the global config makes its protocols unavailable.
 */
#include <limits.h>
#include <string.h>

#include "test.h"
#include "init_child.h"

static const struct {
    const char *name;
    int         stream, local, inproc;
} table[EVPL_NUM_PROTO] = {
    [EVPL_DATAGRAM_SOCKET_UDP] = {"DATAGRAM_SOCKET_UDP", 0, 0, 0},
    [EVPL_DATAGRAM_RDMACM_RC]  = {"DATAGRAM_RDMACM_RC", 0, 0, 0},
    [EVPL_DATAGRAM_RDMACM_UD]  = {"DATAGRAM_RDMACM_UD", 0, 0, 0},
    [EVPL_STREAM_SOCKET_TCP]   = {"STREAM_SOCKET_TCP", 1, 0, 0},
    [EVPL_STREAM_XLIO_TCP]     = {"STREAM_XLIO_TCP", 1, 0, 0},
    [EVPL_STREAM_IO_URING_TCP] = {"STREAM_IO_URING_TCP", 1, 0, 0},
    [EVPL_STREAM_RDMACM_RC]    = {"STREAM_RDMACM_RC", 1, 0, 0},
    [EVPL_STREAM_SOCKET_TLS]   = {"STREAM_SOCKET_TLS", 1, 0, 0},
    [EVPL_DATAGRAM_TCP_RDMA]   = {"DATAGRAM_TCP_RDMA", 0, 0, 0},
    [EVPL_STREAM_SOCKET_UNIX]  = {"STREAM_SOCKET_UNIX", 1, 1, 0},
    [EVPL_STREAM_INPROC]       = {"STREAM_INPROC", 1, 0, 1},
    [EVPL_DATAGRAM_INPROC]     = {"DATAGRAM_INPROC", 0, 0, 1},
};

static int
is_bool(int v)
{
    return v == 0 || v == 1;
}

static void
check_consistency(void)
{
    static const int   out_of_range[] = {-1,   EVPL_NUM_PROTO, EVPL_NUM_PROTO + 1,
                                         1000, INT_MAX,        INT_MIN};
    static const char *bad_names[]    = {"",
                                         "stream_socket_tcp",
                                         "STREAM_SOCKET_TCP ",
                                         " STREAM_SOCKET_TCP",
                                         "STREAM_SOCKET",
                                         "TCP",
                                         "EVPL_STREAM_SOCKET_TCP",
                                         "STREAM_SOCKET_TCPX"};
    int                navailable     = 0;

    for (int i = 0; i < EVPL_NUM_PROTO; i++) {
        enum evpl_protocol_id id        = (enum evpl_protocol_id) - 1;
        int                   available = evpl_protocol_available((enum evpl_protocol_id) i);
        int                   found     = evpl_protocol_lookup(&id, table[i].name);
        int                   stream    = evpl_protocol_is_stream((enum evpl_protocol_id) i);
        int                   local     = evpl_protocol_is_local((enum evpl_protocol_id) i);
        int                   inproc    = evpl_protocol_is_inproc((enum evpl_protocol_id) i);

        test_assert(is_bool(available) && is_bool(stream) && is_bool(local) && is_bool(inproc));
        test_assert_msg(found == 0 || found == -1, "lookup returned %d", found);
        test_assert_msg((found == 0) == available, "%s: lookup %d but available %d", table[i].name,
                        found, available);
        if (available) {
            navailable++;
            test_assert_eq(id, i);
            test_assert_eq(stream, table[i].stream);
            test_assert_eq(local, table[i].local);
            test_assert_eq(inproc, table[i].inproc);
        } else {
            test_assert_msg(stream == 0 && local == 0 && inproc == 0,
                            "%s unavailable but a predicate says 1", table[i].name);
        }
        fprintf(stderr, "%-20s %s\n", table[i].name, available ? "available" : "unavailable");
    }

    for (size_t i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++) {
        enum evpl_protocol_id id = (enum evpl_protocol_id) out_of_range[i];

        test_assert_eq(evpl_protocol_available(id), 0);
        test_assert_eq(evpl_protocol_is_stream(id), 0);
        test_assert_eq(evpl_protocol_is_local(id), 0);
        test_assert_eq(evpl_protocol_is_inproc(id), 0);
    }

    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        enum evpl_protocol_id id = EVPL_STREAM_SOCKET_TCP;

        test_assert_msg(evpl_protocol_lookup(&id, bad_names[i]) == -1, "'%s' was found",
                        bad_names[i]);
    }

    fprintf(stderr, "%d of %d protocols available\n", navailable, EVPL_NUM_PROTO);
}

/* With the optional backends switched off, their protocols are gone and
 * everything else still agrees with itself. */
static void
backends_disabled(void *arg)
{
    struct evpl_global_config *c = evpl_global_config_init();

    (void) arg;
    evpl_global_config_set_io_uring_enabled(c, 0);
    evpl_global_config_set_xlio_enabled(c, 0);
    evpl_global_config_set_rdmacm_enabled(c, 0);
    evpl_init(c);

    test_assert_eq(evpl_protocol_available(EVPL_STREAM_IO_URING_TCP), 0);
    test_assert_eq(evpl_protocol_available(EVPL_STREAM_XLIO_TCP), 0);
    test_assert_eq(evpl_protocol_available(EVPL_DATAGRAM_RDMACM_RC), 0);
    test_assert_eq(evpl_protocol_available(EVPL_DATAGRAM_RDMACM_UD), 0);
    test_assert_eq(evpl_protocol_available(EVPL_STREAM_RDMACM_RC), 0);
    check_consistency();
}

static int    g_argc;
static char **g_argv;

/* A program may call evpl_init(config) and only then look names up. */
static void
explicit_init(void *arg)
{
    (void) arg;
    evpl_test_init(g_argc, g_argv);
    check_consistency();
}

int
main(int argc, char **argv)
{
    struct child_result res;

    g_argc = argc;
    g_argv = argv;

    run_in_child(backends_disabled, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "registry with backends disabled");

    run_in_child(explicit_init, NULL, &res);
    child_expect(child_exited_ok(&res), &res, "registry after explicit evpl_init");

    /* Here the queries initialise the library implicitly. */
    check_consistency();
    return 0;
}
