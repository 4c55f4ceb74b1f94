/*
 * Connection lifecycle and fault cases, one scenario per test (argv[3]):
 *   refused        connect to an address nobody listens on: DISCONNECTED
 *                  without CONNECTED;
 *   destroy        a client loop destroyed while connected: the server gets
 *                  DISCONNECTED (and the client its own, inside destroy);
 *   segment_error  the server's segment callback returns -1: both ends
 *                  DISCONNECTED, no RECV_MSG;
 *   reset          a raw peer sends half a message and resets (then another
 *                  closes cleanly half-way): DISCONNECTED, no RECV_MSG, and
 *                  the listener keeps serving others;
 *   rdma           RDMA calls on a non-RDMA bind: ENOTSUP synchronously,
 *                  get_address 0/0.
 */
#include <errno.h>
#include <sys/un.h>
#include "net_test.h"

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static const char           *scenario;
static atomic_int            server_disconnects, server_msgs, server_connects, server_bytes;
static atomic_int            client_connected, client_done;

static int
header_segment(struct evpl *evpl, struct evpl_bind *bind, void *data)
{
    uint32_t len;

    (void) data;
    if (strcmp(scenario, "segment_error") == 0) {
        return -1;
    }
    if (evpl_peek(evpl, bind, &len, sizeof(len)) < (int) sizeof(len)) {
        return 0;
    }
    return len;
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        atomic_fetch_add(&server_connects, 1);
        break;
    case EVPL_NOTIFY_RECV_DATA: {
        char buf[256];
        int  n;
        while ((n = evpl_recv(evpl, bind, buf, sizeof(buf), 0)) > 0) {
            atomic_fetch_add(&server_bytes, n);
        }
        break;
    }
    case EVPL_NOTIFY_RECV_MSG:
        atomic_fetch_add(&server_msgs, 1);
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&server_disconnects, 1);
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
    (void) conn_private_data;
    (void) private_data;
    *notify_callback = server_notify;
    if (strcmp(scenario, "destroy") != 0) {
        *segment_callback = header_segment;
    }
}

static int rdma_status;

static void
rdma_done(int status, void *data)
{
    (void) data;
    rdma_status = status;
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    (void) data;
    test_assert_msg(atomic_load(&client_done) == 0, "client: notification %u after DISCONNECTED",
                    notify->notify_type);
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        test_assert(strcmp(scenario, "refused") != 0);
        atomic_store(&client_connected, 1);
        if (strcmp(scenario, "rdma") == 0) {
            struct evpl_iovec iov;
            uint32_t          key  = 7;
            uint64_t          addr = 7;
            test_assert_eq(evpl_bind_is_rdma(bind), 0);
            test_assert_eq(evpl_iovec_alloc(evpl, 4096, 0, 1, 0, &iov), 1);
            evpl_rdma_get_address(evpl, bind, &iov, &key, &addr);
            test_assert(key == 0 && addr == 0);
            rdma_status = -1;
            evpl_rdma_read(evpl, bind, 1, 2, &iov, 1, rdma_done, NULL);
            test_assert_eq(rdma_status, ENOTSUP);
            rdma_status = -1;
            evpl_rdma_write(evpl, bind, 1, 2, &iov, 1, 0, rdma_done, NULL);
            test_assert_eq(rdma_status, ENOTSUP);
            evpl_iovec_release(evpl, &iov);
            evpl_close(evpl, bind);
        }
        break;
    case EVPL_NOTIFY_RECV_DATA:
    case EVPL_NOTIFY_RECV_MSG:
        test_fail("client received data");
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_add(&client_done, 1); /* exactly once, checked in main */
        break;
    }
}

/* A raw (non-library) client: connect, send bytes, then reset or close. */
static void
raw_client(const void *data, size_t len, int reset)
{
    struct sockaddr_storage ss;
    socklen_t               sslen;
    char                    addr[EVPL_ADDRESS_STRLEN];
    int                     fd;

    memset(&ss, 0, sizeof(ss));
    if (evpl_protocol_is_local(protocol)) {
        struct sockaddr_un *sun = (struct sockaddr_un *) &ss;
        sun->sun_family         = AF_UNIX;
        snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", evpl_endpoint_address(endpoint));
        sslen = sizeof(*sun);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        sin->sin_family         = AF_INET;
        sin->sin_port           = htons(evpl_endpoint_port(endpoint));
        inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
        sslen = sizeof(*sin);
    }
    (void) addr;
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    test_assert(fd >= 0);
    test_assert(connect(fd, (struct sockaddr *) &ss, sslen) == 0);
    test_assert(write(fd, data, len) == (ssize_t) len);
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(fd);
}

static void *
client_thread(void *arg)
{
    struct evpl      *evpl = net_loop_create();
    struct evpl_bind *bind;
    uint32_t          header[4] = {16, 1, 2, 3};

    (void) arg;
    bind = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, NULL);
    test_assert(bind != NULL);
    evpl_send(evpl, bind, header, sizeof(header));

    if (strcmp(scenario, "destroy") == 0) {
        /* wait until the server has the bytes, then drop the whole loop */
        while (atomic_load(&server_bytes) < (int) sizeof(header)) {
            evpl_continue(evpl);
        }
        test_assert(!atomic_load(&client_done));
        evpl_destroy(evpl);
        test_assert(atomic_load(&client_done)); /* delivered inside destroy */
        return NULL;
    }
    net_run_until(evpl, &client_done, 20);
    evpl_destroy(evpl);
    return NULL;
}

static void
wait_for(struct evpl *evpl, atomic_int *counter, int value)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(counter) < value) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        test_assert_msg(now.tv_sec - start.tv_sec < 20, "timed out");
    }
}

int
main(int argc, char **argv)
{
    struct evpl_listener         *listener = NULL;
    struct evpl_listener_binding *binding  = NULL;
    struct evpl                  *evpl;
    pthread_t                     thread;

    evpl_test_init(argc, argv);
    protocol = net_protocol(argc, argv);
    scenario = argc > 3 ? argv[3] : "refused";
    endpoint = net_endpoint(protocol, scenario);
    evpl     = net_loop_create();

    if (strcmp(scenario, "refused") == 0) {
        struct evpl_bind *bind =
            evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, NULL);
        test_assert(bind != NULL);
        net_run_until(evpl, &client_done, 20);
        test_assert(!atomic_load(&client_connected));
        evpl_destroy(evpl);
        test_assert_eq(atomic_load(&client_done), 1);
        return 0;
    }

    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);

    if (strcmp(scenario, "reset") == 0) {
        uint32_t half[13] = {100}; /* announces 100 bytes, sends 52 */
        uint32_t whole[4] = {16, 1, 2, 3};
        raw_client(half, sizeof(half), 1); /* reset mid-message */
        wait_for(evpl, &server_disconnects, 1);
        test_assert_eq(server_msgs, 0);
        raw_client(half, sizeof(half), 0); /* orderly close mid-message */
        wait_for(evpl, &server_disconnects, 2);
        test_assert_eq(server_msgs, 0);
        raw_client(whole, sizeof(whole), 0);
        wait_for(evpl, &server_disconnects, 3);
        test_assert_eq(server_msgs, 1);
    } else {
        pthread_create(&thread, NULL, client_thread, NULL);
        wait_for(evpl, &server_disconnects, 1);
        pthread_join(thread, NULL);
        test_assert(atomic_load(&client_done));
        if (strcmp(scenario, "segment_error") == 0) {
            test_assert_eq(server_msgs, 0);
        }
    }

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    /* DISCONNECTED exactly once per bind, teardown included. */
    test_assert_eq(atomic_load(&server_disconnects), strcmp(scenario, "reset") == 0 ? 3 : 1);
    if (strcmp(scenario, "reset") != 0) {
        test_assert_eq(atomic_load(&client_done), 1);
    }
    return 0;
}
