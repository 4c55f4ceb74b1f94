/*
 * echo_client: sends --count messages to an echo server and checks that
 * every byte comes back intact and in order.
 *
 *   echo_client [--protocol NAME] [--address A] [--port P] [--message] [--insecure]
 *               [--count MESSAGES]
 *
 * Stream variant: the echoed bytes arrive as RECV_DATA in whatever pieces
 * the transport produces and are compared against what was sent.  Message
 * variant: each record comes back as exactly one RECV_MSG.
 * Exit status 0 when everything came back, 1 otherwise.
 */
#include "echo_common.h"

#define PAYLOAD 100

struct client {
    int      messages; /* to send */
    uint64_t expected; /* bytes that must come back */
    uint64_t received;
    int      records; /* message variant: RECV_MSG count */
    int      corrupt;
    int      connected;
    int      done; /* DISCONNECTED seen */
};

/* Message i is a 4-byte length header and PAYLOAD bytes of (i + j) & 0xff. */
static void
make_message(int i, unsigned char *buf)
{
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = 0;
    buf[3] = PAYLOAD;
    for (int j = 0; j < PAYLOAD; j++) {
        buf[4 + j] = (unsigned char) (i + j);
    }
}

/* Byte number `pos` of the whole echoed stream. */
static unsigned char
expected_byte(uint64_t pos)
{
    unsigned char msg[4 + PAYLOAD];

    make_message((int) (pos / sizeof(msg)), msg);
    return msg[pos % sizeof(msg)];
}

static void
check(struct client *c, const unsigned char *data, unsigned int length)
{
    for (unsigned int i = 0; i < length; i++) {
        if (data[i] != expected_byte(c->received + i)) {
            c->corrupt = 1;
        }
    }
    c->received += length;
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify,
              void *private_data)
{
    struct client *c = private_data;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        c->connected = 1;
        break;
    case EVPL_NOTIFY_RECV_DATA: {
        unsigned char buf[4096];
        int           n;

        /* Drain: RECV_DATA fires once per arrival, not per buffered byte. */
        while ((n = evpl_recv(evpl, bind, buf, sizeof(buf), 0)) > 0) {
            check(c, buf, n);
        }
        break;
    }
    case EVPL_NOTIFY_RECV_MSG:
        c->records++;
        for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
            check(c, notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
        }
        /* The references are ours: release them. */
        evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        if (!c->connected) {
            /* The cause is not reported (API: notify_status is 0). */
            fprintf(stderr, "the connection could not be established (refused, or no server)\n");
        }
        c->done = 1;
        break;
    default:
        break;
    }

    /* Everything is back: close gracefully (DISCONNECTED follows). */
    if (!c->done && c->received == c->expected && !evpl_bind_is_closing(bind)) {
        evpl_finish(evpl, bind);
    }
}

int
main(int argc, char **argv)
{
    struct echo_options o;
    struct client       c = {0};

    echo_init(argc, argv);
    if (echo_parse_options(argc, argv, &o,
                           "[--protocol NAME] [--address A] [--port P] [--message] [--insecure] "
                           "[--count MESSAGES]") != 0) {
        return 2;
    }
    c.messages = o.count > 0 ? o.count : 1000;

    struct evpl_endpoint *endpoint = echo_endpoint(&o);

    if (!endpoint) {
        fprintf(stderr, "invalid address '%s'\n", o.address);
        return 2;
    }

    struct evpl      *evpl = evpl_create(NULL);
    struct evpl_bind *bind = evpl_connect(evpl, o.protocol, NULL, endpoint, client_notify,
                                          o.message ? echo_segment : NULL, &c);

    if (!bind) {
        fprintf(stderr, "cannot connect to %s\n", evpl_endpoint_address(endpoint));
        return 1;
    }

    /* Sends may be queued before CONNECTED; they go out once it is up.
     * Each evpl_send is one message on message binds. */
    unsigned char msg[4 + PAYLOAD];

    for (int i = 0; i < c.messages; i++) {
        make_message(i, msg);
        evpl_send(evpl, bind, msg, sizeof(msg));
        c.expected += sizeof(msg);
    }

    while (!c.done) {
        evpl_continue(evpl);
    }

    int ok = c.connected && !c.corrupt && c.received == c.expected &&
             (!o.message || c.records == c.messages);

    printf("%s: %llu of %llu bytes echoed%s%s\n", ok ? "ok" : "FAILED",
           (unsigned long long) c.received, (unsigned long long) c.expected,
           c.corrupt ? ", corrupted" : "", o.message ? " (message variant)" : "");

    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return ok ? 0 : 1;
}
