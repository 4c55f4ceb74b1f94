/*
 * Listener steering (contract 6.4 + listener_policy extension): four loop
 * threads attach to one listener.
 *   round_robin (default): 400 connections land exactly 100 per thread, in
 *                          attachment order.
 *   least_loaded:          200 connections spread 50 per thread; the clients
 *                          of thread 0 then disconnect; 200 more connections
 *                          must refill thread 0 first, ending with live
 *                          counts within one of each other (round robin would
 *                          leave thread 0 at 50 and the others at 100).
 * A detached binding receives nothing further; connections accepted with no
 * binding attached are closed (the client sees DISCONNECTED).
 */
#include "net_test.h"

#define NTHREADS 4

struct server {
    pthread_t                     thread;
    struct evpl                  *evpl;
    struct evpl_listener_binding *binding;
    atomic_int                    ready;
    atomic_int                    stop;
    atomic_int                    accepted;
    atomic_int                    live;
    int                           index;
};

static enum evpl_protocol_id protocol;
static struct evpl_endpoint *endpoint;
static struct evpl_listener *listener;
static struct server         servers[NTHREADS];
static int                   least_loaded;

/* client side bookkeeping (main thread only) */
#define MAX_CONNS 400
static struct evpl_bind *conns[MAX_CONNS];
static int               conn_server[MAX_CONNS];
static int               nconns, client_connected, client_disconnected;

static void
server_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    struct server *s = data;
    char           buf[16];

    (void) evpl;
    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED: {
        /* tell the client which thread it landed on */
        unsigned char idx = s->index;
        evpl_send(evpl, bind, &idx, 1);
        break;
    }
    case EVPL_NOTIFY_RECV_DATA:
        while (evpl_recv(evpl, bind, buf, sizeof(buf), 0) > 0) {
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        atomic_fetch_sub(&s->live, 1);
        break;
    }
}

static void
server_attach(struct evpl *evpl, struct evpl_bind *bind, evpl_notify_callback_t *notify_callback,
              evpl_segment_callback_t *segment_callback, void **conn_private_data,
              void *private_data)
{
    struct server *s = private_data;

    (void) evpl;
    (void) bind;
    (void) segment_callback;
    atomic_fetch_add(&s->accepted, 1);
    atomic_fetch_add(&s->live, 1);
    *notify_callback   = server_notify;
    *conn_private_data = s;
}

static void *
server_thread(void *arg)
{
    struct server *s = arg;

    s->evpl    = net_loop_create();
    s->binding = evpl_listener_attach(s->evpl, listener, server_attach, s);
    atomic_store(&s->ready, 1);
    while (!atomic_load(&s->stop)) {
        evpl_continue(s->evpl);
    }
    evpl_listener_detach(s->evpl, s->binding);
    evpl_destroy(s->evpl);
    return NULL;
}

static void
client_notify(struct evpl *evpl, struct evpl_bind *bind, struct evpl_notify *notify, void *data)
{
    int           i = (int) (intptr_t) data;
    unsigned char idx;

    switch (notify->notify_type) {
    case EVPL_NOTIFY_CONNECTED:
        client_connected++;
        break;
    case EVPL_NOTIFY_RECV_DATA:
        if (evpl_recv(evpl, bind, &idx, 1, 0) == 1) {
            conn_server[i] = idx;
        }
        break;
    case EVPL_NOTIFY_DISCONNECTED:
        conns[i] = NULL;
        client_disconnected++;
        break;
    }
}

static void
pump_until(struct evpl *evpl, int (*cond)(void))
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!cond()) {
        evpl_continue(evpl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        test_assert_msg(now.tv_sec - start.tv_sec < 30, "timed out (%d connected, %d known)",
                        client_connected, nconns);
    }
}

static int
all_identified(void)
{
    for (int i = 0; i < nconns; i++) {
        if (conns[i] && conn_server[i] < 0) {
            return 0;
        }
    }
    return 1;
}

static void
open_conns(struct evpl *evpl, int n)
{
    for (int k = 0; k < n; k++) {
        int i          = nconns++;
        conn_server[i] = -1;
        conns[i]       = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL,
                                      (void *) (intptr_t) i);
        test_assert(conns[i] != NULL);
        /* one at a time, so the steering order is observable */
        pump_until(evpl, all_identified);
    }
}

static int target_disconnects;
static int
enough_disconnects(void)
{
    return client_disconnected >= target_disconnects;
}

int
main(int argc, char **argv)
{
    struct evpl_global_config *config;
    struct evpl               *evpl;
    int                        counts[NTHREADS] = {0};

    config       = evpl_test_config(argc, argv);
    least_loaded = argc > 3 && strcmp(argv[3], "least_loaded") == 0;
    if (least_loaded) {
        evpl_global_config_set_listener_policy(config, EVPL_LISTENER_POLICY_LEAST_LOADED);
    }
    evpl_global_config_set_max_pending(config, 512);
    evpl_init(config);
    protocol = net_protocol(argc, argv);
    endpoint = net_endpoint(protocol, "spread");
    evpl     = net_loop_create();
    listener = evpl_listener_create();

    /* no binding yet: an accepted connection is closed (A.14) */
    test_assert_eq(evpl_listen(listener, protocol, endpoint), 0);
    conns[0]       = evpl_connect(evpl, protocol, NULL, endpoint, client_notify, NULL, (void *) 0);
    conn_server[0] = -1;
    nconns         = 1;
    target_disconnects = 1;
    pump_until(evpl, enough_disconnects);
    test_assert(conn_server[0] == -1);
    nconns           = 0;
    client_connected = client_disconnected = 0;

    for (int i = 0; i < NTHREADS; i++) {
        servers[i].index = i;
        pthread_create(&servers[i].thread, NULL, server_thread, &servers[i]);
        while (!atomic_load(&servers[i].ready)) {
            usleep(1000);
        }
    }

    if (!least_loaded) {
        open_conns(evpl, 400);
        for (int i = 0; i < nconns; i++) {
            test_assert_eq(conn_server[i], i % NTHREADS); /* attachment order */
            counts[conn_server[i]]++;
        }
        for (int t = 0; t < NTHREADS; t++) {
            test_assert_eq(counts[t], 100);
            test_assert_eq(atomic_load(&servers[t].accepted), 100);
        }
    } else {
        open_conns(evpl, 200);
        for (int i = 0; i < nconns; i++) {
            counts[conn_server[i]]++;
        }
        for (int t = 0; t < NTHREADS; t++) {
            test_assert_eq(counts[t], 50);
        }
        /* thread 0's clients leave */
        for (int i = 0; i < nconns; i++) {
            if (conn_server[i] == 0) {
                evpl_close(evpl, conns[i]);
            }
        }
        target_disconnects = 50;
        pump_until(evpl, enough_disconnects);
        while (atomic_load(&servers[0].live) != 0) {
            evpl_continue(evpl);
        }
        int first = nconns;
        open_conns(evpl, 200);
        /* the first 50 new connections all go to the empty thread */
        for (int i = first; i < first + 50; i++) {
            test_assert_eq(conn_server[i], 0);
        }
        int lo = 1 << 30, hi = 0;
        for (int t = 0; t < NTHREADS; t++) {
            int live = atomic_load(&servers[t].live);
            lo       = live < lo ? live : lo;
            hi       = live > hi ? live : hi;
        }
        test_assert_msg(hi - lo <= 1, "live counts spread %d..%d", lo, hi);
    }

    /* detached bindings get nothing more */
    atomic_store(&servers[3].stop, 1);
    pthread_join(servers[3].thread, NULL);
    int before = atomic_load(&servers[3].accepted);
    nconns     = 0;
    memset(conns, 0, sizeof(conns));
    client_disconnected = 0;
    open_conns(evpl, 12);
    for (int i = 0; i < 12; i++) {
        test_assert(conn_server[i] != 3);
    }
    test_assert_eq(atomic_load(&servers[3].accepted), before);

    evpl_destroy(evpl); /* closes every client connection */
    for (int i = 0; i < NTHREADS - 1; i++) {
        while (atomic_load(&servers[i].live) > 0) {
            usleep(1000);
        }
        atomic_store(&servers[i].stop, 1);
        pthread_join(servers[i].thread, NULL);
    }
    evpl_listener_destroy(listener);
    evpl_endpoint_close(endpoint);
    return 0;
}
