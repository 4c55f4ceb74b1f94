/*
 * In-process endpoints (API §5, §5.2, §6.4, §19.2): name limits, the
 * inproc:// round trip, one namespace for both in-process protocols (a second
 * listen on a held name fails for either), connects to unregistered names
 * (DISCONNECTED without CONNECTED, no serial consumed), the renderings
 * "inproc:<name>" and "inproc:<name>#<serial>" with serials 1, 2 in
 * connection order, safe truncation, and the name's release when its
 * listener is destroyed.
 */
#include "transport_test.h"

struct conn {
    atomic_int connected;
    atomic_int disconnected;
    char       local[EVPL_ADDRESS_STRLEN];
    char       remote[EVPL_ADDRESS_STRLEN];
};

static struct conn servers[2];
static int         nservers;

static void
conn_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct conn *c = arg;

    (void) evpl;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        test_assert(!atomic_load(&c->connected));
        test_assert(!evpl_bind_is_closing(bind));
        evpl_bind_get_local_address(bind, c->local, sizeof(c->local));
        evpl_bind_get_remote_address(bind, c->remote, sizeof(c->remote));
        atomic_store(&c->connected, 1);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&c->disconnected, 1);
        break;
    default:
        test_fail("unexpected notification %u", notify->notify_type);
    }
}

static void
attach_cb(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
          evpl_segment_callback_t *segment_callback, void **conn_private, void *private_data)
{
    struct conn *c = &servers[nservers++];

    (void) evpl;
    (void) segment_callback;
    (void) private_data;
    test_assert(nservers <= 2);
    /* Addresses answer inside the attach callback already. */
    evpl_bind_get_local_address(bind, c->local, sizeof(c->local));
    *notify_callback = conn_notify;
    *conn_private    = c;
}

int
main(int argc, char **argv)
{
    char                          name[160], want[200], big[120], buf[8];
    struct evpl_endpoint         *ep, *ep_other, *ep_none;
    struct evpl_listener         *listener, *listener2;
    struct evpl_listener_binding *binding;
    struct evpl                  *evpl;
    struct evpl_bind             *bind;
    struct conn                   clients[2] = {0}, lost = {0}, wrong = {0};
    /* Invalid endpoint names are refused with an error log. */
    evpl_test_log_expect("invalid local endpoint");
    evpl_test_log_expect("invalid in-process name");
    evpl_test_log_expect("cannot use endpoint");
    evpl_test_log_expect("is already being listened on");
    evpl_test_log_expect("failed: Address already in use");

    evpl_test_init(argc, argv);

    /* Names: 1..107 bytes. */
    test_assert(evpl_endpoint_create_inproc(NULL) == NULL);
    test_assert(evpl_endpoint_create_inproc("") == NULL);
    memset(big, 'n', sizeof(big));
    big[108] = '\0';
    test_assert(evpl_endpoint_create_inproc(big) == NULL);
    big[107] = '\0';
    ep       = evpl_endpoint_create_inproc(big);
    test_assert(ep != NULL);
    evpl_endpoint_close(ep);

    snprintf(name, sizeof(name), "ep-%d", (int) getpid());
    snprintf(want, sizeof(want), "inproc://%s", name);
    ep = evpl_endpoint_create(want, 0);
    test_assert(ep != NULL);
    test_assert(evpl_endpoint_is_inproc(ep));
    test_assert(!evpl_endpoint_is_local(ep));
    test_assert(strcmp(evpl_endpoint_address(ep), want) == 0);
    test_assert_eq(evpl_endpoint_port(ep), 0);

    test_assert(evpl_protocol_is_inproc(EVPL_STREAM_INPROC));
    test_assert(evpl_protocol_is_inproc(EVPL_DATAGRAM_INPROC));
    test_assert(evpl_protocol_is_stream(EVPL_STREAM_INPROC));
    test_assert(!evpl_protocol_is_stream(EVPL_DATAGRAM_INPROC));
    test_assert(!evpl_protocol_is_local(EVPL_STREAM_INPROC));

    evpl = tt_loop_create();

    /* A connect to a name nobody holds: DISCONNECTED, never CONNECTED, and
     * no serial is consumed. */
    ep_none = evpl_endpoint_create_inproc("nobody-listens-here");
    bind    = evpl_connect(evpl, EVPL_STREAM_INPROC, NULL, ep_none, conn_notify, NULL, &lost);
    test_assert(bind != NULL);
    evpl_send(evpl, bind, "x", 1);
    tt_run_until(evpl, &lost.disconnected, 10);
    test_assert(!atomic_load(&lost.connected));

    /* An inet endpoint does not fit an in-process protocol. */
    ep_other = evpl_endpoint_create("127.0.0.1", 8000);
    test_assert(evpl_connect(evpl, EVPL_STREAM_INPROC, NULL, ep_other, conn_notify, NULL, &wrong) ==
                NULL);

    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, attach_cb, NULL);
    test_assert_eq(evpl_listen(listener, EVPL_STREAM_INPROC, ep), 0);
    test_assert_eq(evpl_listen(listener, EVPL_STREAM_INPROC, ep), -1);
    test_assert_eq(evpl_listen(listener, EVPL_DATAGRAM_INPROC, ep), -1);
    test_assert_eq(evpl_listen(listener, EVPL_STREAM_INPROC, ep_other), -1);
    listener2 = evpl_listener_create();
    test_assert_eq(evpl_listen(listener2, EVPL_STREAM_INPROC, ep), -1);
    test_assert_eq(evpl_listen(listener2, EVPL_DATAGRAM_INPROC, ep), -1);

    /* The name is held by STREAM_INPROC: a DATAGRAM_INPROC connect finds no
     * listener for its protocol. */
    bind = evpl_connect(evpl, EVPL_DATAGRAM_INPROC, NULL, ep, conn_notify, NULL, &wrong);
    test_assert(bind != NULL);
    test_assert(evpl_bind_is_rdma(bind));
    tt_run_until(evpl, &wrong.disconnected, 10);
    test_assert(!atomic_load(&wrong.connected));

    /* Two connections, in order: serials 1 and 2. */
    for (int i = 0; i < 2; i++) {
        bind = evpl_connect(evpl, EVPL_STREAM_INPROC, NULL, ep, conn_notify, NULL, &clients[i]);
        test_assert(bind != NULL);
        test_assert(!evpl_bind_is_rdma(bind));
        tt_run_until(evpl, &clients[i].connected, 10);
        tt_run_until(evpl, &servers[i].connected, 10);

        snprintf(want, sizeof(want), "inproc:%s#%d", name, i + 1);
        test_assert_msg(strcmp(clients[i].local, want) == 0, "client local %s, want %s",
                        clients[i].local, want);
        test_assert_msg(strcmp(servers[i].remote, want) == 0, "server remote %s, want %s",
                        servers[i].remote, want);
        snprintf(want, sizeof(want), "inproc:%s", name);
        test_assert_msg(strcmp(clients[i].remote, want) == 0, "client remote %s",
                        clients[i].remote);
        test_assert_msg(strcmp(servers[i].local, want) == 0, "server local %s", servers[i].local);

        /* Truncation: 7 characters and a NUL, nothing past the buffer. */
        memset(buf, 'Z', sizeof(buf));
        evpl_bind_get_remote_address(bind, buf, sizeof(buf));
        test_assert_eq(strlen(buf), 7);
        test_assert(memcmp(buf, "inproc:", 7) == 0);
        evpl_close(evpl, bind);
    }
    for (int i = 0; i < 2; i++) {
        tt_run_until(evpl, &clients[i].disconnected, 10);
        tt_run_until(evpl, &servers[i].disconnected, 10);
        test_assert_eq(atomic_load(&clients[i].disconnected), 1);
        test_assert_eq(atomic_load(&servers[i].disconnected), 1);
    }

    /* Destroying the listener releases the name, for either protocol. */
    evpl_listener_destroy(listener);
    evpl_listener_detach(evpl, binding);
    test_assert_eq(evpl_listen(listener2, EVPL_DATAGRAM_INPROC, ep), 0);

    /* A listener nobody is attached to drops the connection: DISCONNECTED
     * without CONNECTED (the handoff is discarded on the connecting thread). */
    memset(&lost, 0, sizeof(lost));
    bind = evpl_connect(evpl, EVPL_DATAGRAM_INPROC, NULL, ep, conn_notify, NULL, &lost);
    test_assert(bind != NULL);
    evpl_send(evpl, bind, "x", 1);
    tt_run_until(evpl, &lost.disconnected, 10);
    test_assert(!atomic_load(&lost.connected));
    evpl_listener_destroy(listener2);

    evpl_destroy(evpl);
    evpl_endpoint_close(ep);
    evpl_endpoint_close(ep_none);
    evpl_endpoint_close(ep_other);
    return 0;
}
