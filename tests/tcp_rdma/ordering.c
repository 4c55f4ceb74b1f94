/*
 * DATAGRAM_TCP_RDMA: messages and RDMA operations submitted on one bind
 * execute in submission order (evpl_rdma.h).  The server registers a REGION
 * and sends its key; the server's application changes the region only when a
 * SET message tells it to, and CHECK messages assert what the region holds
 * when they are delivered.  The client submits bursts that interleave
 * messages, rdma_write (fill the region with a value) and rdma_read in one
 * callback, tracking the value the region must hold at each point of the
 * submission order:
 *   - a CHECK sees every earlier write applied and no later one (a write
 *     never overtakes a message queued before it, nor a message a write);
 *   - a read returns the value of the last SET or write submitted before it,
 *     even when a later SET message or write reaches the server in the same
 *     read as the request (the read is not affected by what comes after it);
 *   - completions run in submission order.
 * The first burst is a fixed, readable sequence; the others are random
 * (fixed seed), with region-sized (64 KiB) payloads so that frames are
 * written partially and queue up behind a full socket.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "../inproc/transport_test.h"

#define REGION      (64 * 1024)
#define BURSTS      24
#define MAX_OPS     64
#define CMD_KEY     1 /* server -> client: key, address */
#define CMD_SET     2 /* fill the region with value */
#define CMD_CHECK   3 /* assert the region holds value */
#define CMD_END     4 /* end of burst; the server answers CMD_ACK */
#define CMD_ACK     5
#define OP_MSG_SET  0
#define OP_MSG_CHK  1
#define OP_WRITE    2
#define OP_READ     3
#define FIRST_VALUE 'I'

struct cmd {
    uint32_t type;
    uint32_t value;
    uint32_t key;
    uint32_t burst;
    uint64_t address;
};

struct op {
    int               index;
    int               kind;
    unsigned char     value; /* written, or expected by a read */
    int               done;
    struct evpl_iovec iov; /* read destination */
};

static struct evpl_endpoint *endpoint;
static struct evpl          *evpl;

/* server */
static struct evpl_iovec region;
static int               region_allocated, checks_passed, server_gone;

/* client */
static uint32_t      r_key;
static uint64_t      r_address;
static struct op     ops[MAX_OPS];
static int           nops, completed, next_completion, acked, burst;
static unsigned char model = FIRST_VALUE;
static int           client_gone;

static struct cmd
cmd_get(struct evpl_notify *notify)
{
    struct cmd   c;
    unsigned int off = 0;

    test_assert_eq(notify->recv_msg.length, sizeof(c));
    for (unsigned int i = 0; i < notify->recv_msg.niov; i++) {
        memcpy((char *) &c + off, notify->recv_msg.iovec[i].data, notify->recv_msg.iovec[i].length);
        off += notify->recv_msg.iovec[i].length;
    }
    evpl_iovecs_release(evpl, notify->recv_msg.iovec, notify->recv_msg.niov);
    return c;
}

static int
filled_with(const void *data, unsigned int length, unsigned char value)
{
    const unsigned char *p = data;

    for (unsigned int i = 0; i < length; i++) {
        if (p[i] != value) {
            return 0;
        }
    }
    return 1;
}

/* ---- server ---------------------------------------------------------------- */

static void
server_notify(struct evpl *loop, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct cmd c;

    (void) arg;
    if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        server_gone = 1;
        return;
    }
    if (notify->notify_type != EVPL_NOTIFY_RECV_MSG) {
        return;
    }
    c = cmd_get(notify);
    switch (c.type) {
    case CMD_SET:
        memset(region.data, (int) c.value, REGION);
        break;
    case CMD_CHECK:
        test_assert_msg(filled_with(region.data, REGION, (unsigned char) c.value),
                        "burst %u: a message saw region '%c', expected '%c'", c.burst,
                        ((unsigned char *) region.data)[0], (int) c.value);
        checks_passed++;
        break;
    case CMD_END:
        c.type = CMD_ACK;
        evpl_send(loop, bind, &c, sizeof(c));
        break;
    default:
        test_fail("server: unexpected command %u", c.type);
    }
}

static void
server_attach(struct evpl *loop, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private, void *private_data)
{
    struct cmd c = {.type = CMD_KEY};

    (void) segment_callback;
    (void) conn_private;
    (void) private_data;
    *notify_callback = server_notify;
    test_assert_eq(evpl_iovec_alloc(loop, REGION, 0, 1, 0, &region), 1);
    region_allocated = 1;
    memset(region.data, FIRST_VALUE, REGION);
    evpl_rdma_get_address(loop, bind, &region, &c.key, &c.address);
    test_assert(c.address != 0);
    evpl_send(loop, bind, &c, sizeof(c));
}

/* ---- client ---------------------------------------------------------------- */

static void maybe_end_burst(void);

static void
op_done(int status, void *private_data)
{
    struct op *op = private_data;

    test_assert_eq(status, 0);
    test_assert_msg(op->index == next_completion, "burst %d: op %d completed before op %d", burst,
                    op->index, next_completion);
    next_completion = op->index + 1;
    /* Messages between operations have no completion: skip them. */
    while (next_completion < nops && ops[next_completion].kind <= OP_MSG_CHK) {
        next_completion++;
    }
    if (op->kind == OP_READ) {
        test_assert_msg(filled_with(op->iov.data, REGION, op->value),
                        "burst %d: read (op %d) returned '%c', expected '%c'", burst, op->index,
                        ((unsigned char *) op->iov.data)[0], op->value);
        evpl_iovec_release(evpl, &op->iov);
    }
    op->done = 1;
    completed++;
    maybe_end_burst();
}

static void
client_msg(struct evpl_bind *bind, uint32_t type, uint32_t value)
{
    struct cmd c = {.type = type, .value = value, .burst = (uint32_t) burst};

    evpl_send(evpl, bind, &c, sizeof(c));
}

/* Submit op kind with value (SET, write) in submission order. */
static void
submit(struct evpl_bind *bind, int kind, unsigned char value)
{
    struct op *op = &ops[nops];

    test_assert(nops < MAX_OPS);
    memset(op, 0, sizeof(*op));
    op->index = nops++;
    op->kind  = kind;
    switch (kind) {
    case OP_MSG_SET:
        model = value;
        client_msg(bind, CMD_SET, value);
        break;
    case OP_MSG_CHK:
        client_msg(bind, CMD_CHECK, model);
        break;
    case OP_WRITE: {
        struct evpl_iovec src;

        test_assert_eq(evpl_iovec_alloc(evpl, REGION, 0, 1, 0, &src), 1);
        memset(src.data, value, REGION);
        model     = value;
        op->value = value;
        evpl_rdma_write(evpl, bind, r_key, r_address, &src, 1, EVPL_RDMA_FLAG_TAKE_REF, op_done,
                        op);
        break;
    }
    case OP_READ:
        test_assert_eq(evpl_iovec_alloc(evpl, REGION, 0, 1, 0, &op->iov), 1);
        memset(op->iov.data, 0, REGION);
        op->value = model;
        evpl_rdma_read(evpl, bind, r_key, r_address, &op->iov, 1, op_done, op);
        break;
    }
}

static struct evpl_bind *client_bind;

static void
start_burst(void)
{
    struct evpl_bind *bind = client_bind;

    nops = completed = acked = 0;
    if (burst == 0) {
        /* m1 sees the initial value; W1 lands after it and before m2; the
         * reads see the SETs submitted before them but not the SET or write
         * submitted right after them. */
        submit(bind, OP_MSG_CHK, 0);
        submit(bind, OP_WRITE, 'A');
        submit(bind, OP_MSG_CHK, 0);
        submit(bind, OP_MSG_SET, 'S');
        submit(bind, OP_READ, 0);
        submit(bind, OP_MSG_SET, 'T');
        submit(bind, OP_READ, 0);
        submit(bind, OP_WRITE, 'B');
        submit(bind, OP_READ, 0);
        submit(bind, OP_WRITE, 'C');
        submit(bind, OP_MSG_CHK, 0);
    } else {
        int count = 8 + rand() % (MAX_OPS - 8);

        for (int i = 0; i < count; i++) {
            int           kind  = rand() % 4;
            unsigned char value = (unsigned char) ('a' + rand() % 26);

            submit(bind, kind, value);
        }
    }
    next_completion = 0;
    while (next_completion < nops && ops[next_completion].kind <= OP_MSG_CHK) {
        next_completion++;
    }
    client_msg(bind, CMD_END, 0);
}

static void
maybe_end_burst(void)
{
    int rdma_ops = 0;

    for (int i = 0; i < nops; i++) {
        rdma_ops += ops[i].kind >= OP_WRITE;
    }
    if (!acked || completed < rdma_ops) {
        return;
    }
    if (++burst == BURSTS) {
        evpl_close(evpl, client_bind);
        return;
    }
    start_burst();
}

static void
client_notify(struct evpl *loop, struct evpl_bind *bind, struct evpl_notify *notify, void *arg)
{
    struct cmd c;

    (void) loop;
    (void) arg;
    if (notify->notify_type == EVPL_NOTIFY_DISCONNECTED) {
        client_gone = 1;
        return;
    }
    if (notify->notify_type != EVPL_NOTIFY_RECV_MSG) {
        return;
    }
    c = cmd_get(notify);
    if (c.type == CMD_KEY) {
        r_key       = c.key;
        r_address   = c.address;
        client_bind = bind;
        start_burst();
    } else {
        test_assert_eq(c.type, CMD_ACK);
        test_assert_eq(c.burst, burst);
        acked = 1;
        maybe_end_burst();
    }
}

int
main(int argc, char **argv)
{
    struct evpl_listener         *listener;
    struct evpl_listener_binding *binding;
    struct evpl_bind             *bind;

    evpl_test_init(argc, argv);
    srand(20261123);
    evpl     = tt_loop_create();
    listener = evpl_listener_create();
    binding  = evpl_listener_attach(evpl, listener, server_attach, NULL);
    endpoint = tt_listen(listener, EVPL_DATAGRAM_TCP_RDMA, "ordering");

    bind = evpl_connect(evpl, EVPL_DATAGRAM_TCP_RDMA, NULL, endpoint, client_notify, NULL, NULL);
    test_assert(bind != NULL);

    {
        double start = tt_now();

        while (!(client_gone && server_gone)) {
            evpl_continue(evpl);
            test_assert_msg(tt_now() - start < 60, "stalled in burst %d (%d/%d ops complete)",
                            burst, completed, nops);
        }
    }
    test_assert_eq(burst, BURSTS);
    test_assert(checks_passed >= 3);

    evpl_listener_detach(evpl, binding);
    evpl_listener_destroy(listener);
    if (region_allocated) {
        evpl_iovec_release(evpl, &region);
    }
    evpl_destroy(evpl);
    evpl_endpoint_close(endpoint);
    return 0;
}
