/*
 * A poll added while the loop already spins for the library's own reasons
 * (here: the traffic poll a UDP bind brings, src/core/traffic.c) is entered
 * before its first poll callback, and its exit callback only follows that
 * enter (contract 11.1, 11.2; issue 12).  Scenario: UDP bind, pin,
 * evpl_activity(), add a poll with enter/poll/exit callbacks, unpin, run
 * until it leaves poll mode.  Virtual clock: no timing involved.
 */
#include "../socket/net_test.h"

#define SPIN_NS 100000ULL

static char   log_buf[4096];
static size_t log_len;

static void
note(char c)
{
    test_assert(log_len < sizeof(log_buf) - 1);
    log_buf[log_len++] = c;
}

static void
enter_cb(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
    note('E');
}

static void
exit_cb(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
    note('X');
}

static void
poll_cb(struct evpl *evpl, void *p)
{
    (void) evpl;
    (void) p;
    note('P');
}

static void
udp_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *p)
{
    (void) bind;
    (void) p;
    if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
    }
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config = evpl_test_config(argc, argv);

    evpl_global_config_set_virtual_clock(config, 1);
    evpl_global_config_set_spin_ns(config, SPIN_NS);
    evpl_init(config);

    struct evpl_thread_config *tc = evpl_thread_config_init();

    evpl_thread_config_set_poll_iterations(tc, 3);

    struct evpl          *evpl = evpl_create(tc);
    struct evpl_endpoint *ep;
    struct evpl_bind     *udp = net_udp_bind(evpl, "127.0.0.1", udp_notify, NULL, &ep, NULL);

    /* The UDP bind's traffic poll makes the loop spin from here on. */
    for (int i = 0; i < 10; i++) {
        evpl_continue(evpl);
    }

    evpl_poll_pin(evpl);
    evpl_activity(evpl);

    struct evpl_poll *poll = evpl_add_poll(evpl, enter_cb, exit_cb, poll_cb, NULL);

    test_assert_eq(log_len, 0); /* nothing runs inside evpl_add_poll */
    evpl_poll_unpin(evpl);

    for (int i = 0; i < 10; i++) {
        evpl_continue(evpl);
    }
    log_buf[log_len] = '\0';
    test_assert_msg(log_len >= 2 && log_buf[0] == 'E' && log_buf[1] == 'P',
                    "first callbacks were \"%s\", expected enter then poll", log_buf);

    /* No activity for longer than spin_ns: the poll is exited once. */
    evpl_virtual_clock_advance(2 * SPIN_NS);
    for (int i = 0; i < 10; i++) {
        evpl_continue(evpl);
    }
    log_buf[log_len] = '\0';
    test_assert_msg(log_buf[log_len - 1] == 'X', "sequence \"%s\" does not end with exit", log_buf);
    for (size_t i = 1; i + 1 < log_len; i++) {
        test_assert_msg(log_buf[i] == 'P', "sequence \"%s\": expected E P... X", log_buf);
    }

    /* The library side still spinning or not, the application's poll stays
     * quiet until the application reports activity again. */
    size_t before = log_len;

    for (int i = 0; i < 20; i++) {
        evpl_continue(evpl);
    }
    test_assert_eq(log_len, before);

    evpl_remove_poll(evpl, poll);
    evpl_close(evpl, udp);
    evpl_destroy(evpl);
    evpl_endpoint_close(ep);
    return 0;
}
