/*
 * Hello world over a connected protocol: the listener lives on the main
 * thread's loop, the client on its own thread and loop.  The client sends
 * "hello" right after evpl_connect (before CONNECTED), the server replies
 * "world" from its RECV callback and calls evpl_finish; the client must see
 * CONNECTED, the reply, then DISCONNECTED, and the server its own
 * DISCONNECTED.  Addresses must render non-empty inside CONNECTED.  A clean
 * exchange logs no error, teardown included (the io_uring SQPOLL variant
 * once logged an operation left in flight after a 2 s wait).
 */
#include <stdarg.h>

#include "net_test.h"

static atomic_int logged_errors;

/* Count the errors (the harness sink prints them). */
static void
log_sink(const char *level, const char *module, const char *srcfile, int lineno, const char *fmt,
         va_list argp)
{
    (void) module;
    (void) srcfile;
    (void) lineno;
    (void) fmt;
    (void) argp;
    if (strcmp(level, "error") == 0 || strcmp(level, "fatal") == 0) {
        atomic_fetch_add(&logged_errors, 1);
    }
}

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static atomic_int            server_done, client_done;
static int                   client_state; /* 0 start, 1 connected, 2 got reply */

static void
check_addresses(struct evpl_bind *bind)
{
    char local[EVPL_ADDRESS_STRLEN], remote[EVPL_ADDRESS_STRLEN];

    evpl_bind_get_local_address(bind, local, sizeof(local));
    evpl_bind_get_remote_address(bind, remote, sizeof(remote));
    test_assert(local[0] != '\0' && remote[0] != '\0');
    test_assert(strcmp(local, "(NULL)") != 0 && strcmp(remote, "(NULL)") != 0);
}

/* Pull one whole 5-byte word from a stream or a message notification. */
static int
take_word(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, char *word)
{
    if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
        int off = 0;
        test_assert_eq(notify->recv_msg.length, 5);
        for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
            memcpy(word + off, notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
            off += notify->recv_msg.iovec[i].length;
        }
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        return 1;
    }
    return evpl_recv(evpl, bind, word, 5, EVPL_RECV_FLAG_ALL_OR_NONE) == 5;
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char word[6] = {0};

    (void) data;
    test_assert_msg(atomic_load(&server_done) == 0, "server: notification %u after DISCONNECTED",
                    notify->notify_type);
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        check_addresses(bind);
        test_assert(!evpl_bind_is_closing(bind));
        break;
    case EVPL_NOTIFY_RECV_DATA:
    case EVPL_NOTIFY_RECV_MSG:
        if (take_word(evpl, bind, notify, word)) {
            test_assert(strcmp(word, "hello") == 0);
            evpl_send(evpl, bind, "world", 5);
            evpl_finish(evpl, bind);
            test_assert(evpl_bind_is_closing(bind));
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&server_done, 1); /* exactly once, checked at the end */
        break;
    }
}

static void
server_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    (void) evpl;
    (void) bind;
    (void) segment_callback;
    (void) conn_private_data;
    (void) private_data;
    test_assert_eq(evpl_bind_get_protocol(bind), protocol);
    *notify_callback = server_notify;
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    char word[6] = {0};

    (void) data;
    test_assert_msg(atomic_load(&client_done) == 0, "client: notification %u after DISCONNECTED",
                    notify->notify_type);
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        test_assert_eq(client_state, 0);
        check_addresses(bind);
        client_state = 1;
        break;
    case EVPL_NOTIFY_RECV_DATA:
    case EVPL_NOTIFY_RECV_MSG:
        test_assert_eq(client_state, 1);
        if (take_word(evpl, bind, notify, word)) {
            test_assert(strcmp(word, "world") == 0);
            client_state = 2;
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        test_assert_eq(client_state, 2);
        atomic_fetch_add(&client_done, 1);
        break;
    }
}

static void *
client_thread(void *arg)
{
    struct evpl      *evpl = net_loop_create();
    struct evpl_bind *bind;

    (void) arg;
    bind = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, NULL);
    test_assert(bind != NULL);
    evpl_send(evpl, bind, "hello", 5);
    net_run_until(evpl, &client_done, 20);
    evpl_destroy(evpl);
    return NULL;
}

int
main(int argc, char **argv)
{
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl                  *evpl;
    pthread_t                     thread;

    evpl_test_log_observe(log_sink);
    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    endpoint = net_endpoint(protocol, "hello");

    evpl     = net_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);

    pthread_create(&thread, NULL, client_thread, NULL);
    net_run_until(evpl, &server_done, 20);
    pthread_join(thread, NULL);

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    test_assert_eq(atomic_load(&logged_errors), 0);
    /* DISCONNECTED exactly once per end, teardown included. */
    test_assert_eq(atomic_load(&server_done), 1);
    test_assert_eq(atomic_load(&client_done), 1);
    return 0;
}
