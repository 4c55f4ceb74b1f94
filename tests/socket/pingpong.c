/*
 * Ping-pong: 10,000 round trips of a 64-byte record between a client thread
 * and the server loop.  Plain streams read records with
 * EVPL_RECV_FLAG_ALL_OR_NONE; with argv[3] == "segment" both ends install a
 * segment callback returning the record size and must see exactly one
 * RECV_MSG per record.  Every record carries its sequence number.
 *
 * With argv[3] == "sleep" both loops run with poll mode off, so every
 * record is noticed by a loop asleep in its core wait: SLEEP_ROUNDS round
 * trips must take under SLEEP_LIMIT_S (a wakeup that comes late -- 15-40 ms
 * each for io_uring rings with DEFER_TASKRUN, whose eventfd signal the
 * kernel may defer to an RCU callback -- takes far longer).
 */
#include "net_test.h"

#define RECORD        64
#define ROUNDS        10000
#define SLEEP_ROUNDS  400
#define SLEEP_LIMIT_S 4.0

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static int                   use_segment;
static int                   use_sleep;
static unsigned int          rounds = ROUNDS;
static atomic_int            server_done, client_done;
static unsigned int          client_seq, server_seq;

static int
record_segment(struct evpl *evpl, struct evpl_bind *bind, void *data)
{
    (void) evpl;
    (void) bind;
    (void) data;
    return RECORD;
}

static void
fill(unsigned char *rec, unsigned int seq)
{
    for (int i = 0; i < RECORD; i++) {
        rec[i] = (unsigned char) (seq * 31 + i);
    }
    memcpy(rec, &seq, sizeof(seq));
}

/* Collect a record from either kind of notification; 1 if one was taken. */
static int
take_record(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify,
            unsigned char *rec)
{
    if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
        unsigned int off = 0;
        test_assert_eq(notify->recv_msg.length, RECORD);
        for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
            memcpy(rec + off, notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
            off += notify->recv_msg.iovec[i].length;
        }
        test_assert_eq(off, RECORD);
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        return 1;
    }
    return evpl_recv(evpl, bind, rec, RECORD, EVPL_RECV_FLAG_ALL_OR_NONE) == RECORD;
}

static void
check(const unsigned char *rec, unsigned int seq)
{
    unsigned char want[RECORD];

    fill(want, seq);
    test_assert_msg(memcmp(rec, want, RECORD) == 0, "record %u corrupted", seq);
}

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    unsigned char rec[RECORD];

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_MSG: {
        unsigned char     probe[8];
        struct evpl_iovec iov[2];
        int               length = 5;

        test_assert(use_segment);
        /* A bind with a segment callback refuses evpl_recv/evpl_recvv
         * (-1, *length 0) but allows evpl_peek (API 6.7). */
        test_assert_eq(evpl_recv(evpl, bind, probe, sizeof(probe), 0), -1);
        test_assert_eq(evpl_recvv(evpl, bind, iov, 2, 8, &length), -1);
        test_assert_eq(length, 0);
        test_assert(evpl_peek(evpl, bind, probe, sizeof(probe)) >= 0);
    }
        /* fallthrough */
    case EVPL_NOTIFY_RECV_DATA:
        test_assert(notify->notify_type == EVPL_NOTIFY_RECV_MSG || !use_segment);
        while (take_record(evpl, bind, notify, rec)) {
            /* In order and intact: the next sequence number, not the one the
             * record claims. */
            check(rec, server_seq);
            server_seq++;
            evpl_send(evpl, bind, rec, RECORD);
            if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
                break;
            }
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_store(&server_done, 1);
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
    if (use_segment) {
        *segment_callback = record_segment;
    }
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    unsigned char rec[RECORD];

    (void) data;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_RECV_MSG:
    case EVPL_NOTIFY_RECV_DATA:
        test_assert(use_segment == (notify->notify_type == EVPL_NOTIFY_RECV_MSG));
        while (take_record(evpl, bind, notify, rec)) {
            check(rec, client_seq);
            client_seq++;
            if (client_seq == rounds) {
                evpl_close(evpl, bind);
            } else {
                fill(rec, client_seq);
                evpl_send(evpl, bind, rec, RECORD);
            }
            if (notify->notify_type == EVPL_NOTIFY_RECV_MSG) {
                break;
            }
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        test_assert_eq(client_seq, rounds);
        atomic_store(&client_done, 1);
        break;
    }
}

/* A test loop; in sleep mode it never spins, so it sleeps in every wait. */
static struct evpl *
loop_create(void)
{
    struct evpl_thread_config *config;

    if (!use_sleep) {
        return net_loop_create();
    }
    config = evpl_thread_config_init();
    evpl_thread_config_set_wait_ms(config, 50);
    evpl_thread_config_set_poll_mode(config, 0);
    return evpl_create(config);
}

static double
seconds_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void *
client_thread(void *arg)
{
    struct evpl      *evpl = loop_create();
    struct evpl_bind *bind;
    unsigned char     rec[RECORD];
    double            start;

    (void) arg;
    bind = evpl_connect(evpl, protocol, NULL, endpoint, client_notify,
                        use_segment ? record_segment : NULL, NULL);
    test_assert(bind != NULL);
    fill(rec, 0);
    start = seconds_now();
    evpl_send(evpl, bind, rec, RECORD);
    net_run_until(evpl, &client_done, 50);
    if (use_sleep) {
        double took = seconds_now() - start;

        test_assert_msg(took < SLEEP_LIMIT_S,
                        "%u round trips between sleeping loops took %.2f s (%.1f ms each): "
                        "wakeups come late",
                        rounds, took, took * 1000.0 / rounds);
    }
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

    evpl_test_init(argc, argv);
    protocol    = net_protocol(argc, argv);
    use_segment = argc > 3 && strcmp(argv[3], "segment") == 0;
    use_sleep   = argc > 3 && strcmp(argv[3], "sleep") == 0;
    if (use_sleep) {
        rounds = SLEEP_ROUNDS;
    }
    endpoint = net_endpoint(protocol, "pingpong");

    evpl     = loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);

    pthread_create(&thread, NULL, client_thread, NULL);
    net_run_until(evpl, &server_done, 50);
    pthread_join(thread, NULL);
    test_assert_eq(server_seq, rounds);

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    evpl_destroy(evpl);
    return 0;
}
