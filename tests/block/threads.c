/*
 * One device, two loops on two threads, each with its own queue, while a
 * third thread scrapes the metrics: each thread writes and reads back its
 * own half of the file at queue depth 32.  Meant for TSan.
 * argv[2]: backend.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "block_test.h"

#define MIB     (1024ull * 1024)
#define THREADS 2
#define QD      32
#define OPS     2000

static struct evpl_block_device *dev;
static atomic_int                finished;

struct worker;

struct slot {
    struct worker    *w;
    struct evpl_iovec iov;
    uint64_t          off;
};

struct worker {
    int                      id;
    struct evpl             *evpl;
    struct evpl_block_queue *q;
    struct slot              slot[QD];
    int                      done, issued, limit, reading;
};

static void submit(struct slot *s);

static void
done_cb(struct evpl *evpl, int status, void *private_data)
{
    struct slot   *s = private_data;
    struct worker *w = s->w;

    (void) evpl;
    test_assert_eq(status, 0);
    if (w->reading) {
        test_assert(blk_pattern_check(s->iov.data, 4096, s->off, (uint64_t) w->id + 1) < 0);
    }
    w->done++;
    if (w->issued < w->limit) {
        submit(s);
    }
}

/* Offsets: 64 distinct 4 KiB blocks per worker, worker i in its own MiB. */
static void
submit(struct slot *s)
{
    struct worker *w = s->w;
    int            n = w->issued++;

    s->off = (uint64_t) w->id * MIB + (uint64_t) (n % 64) * 4096;
    if (!w->reading) {
        blk_pattern_fill(s->iov.data, 4096, s->off, (uint64_t) w->id + 1);
        evpl_block_write(w->evpl, w->q, &s->iov, 1, s->off, 0, done_cb, s);
    } else {
        memset(s->iov.data, 0, 4096);
        evpl_block_read(w->evpl, w->q, &s->iov, 1, s->off, done_cb, s);
    }
}

static void
run_phase(struct worker *w, int reading)
{
    w->reading = reading;
    w->issued  = 0;
    w->done    = 0;
    w->limit   = OPS / 2;
    for (int i = 0; i < QD; i++) {
        submit(&w->slot[i]);
    }
    blk_wait(w->evpl, &w->done, OPS / 2);
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;

    w->evpl = evpl_create(NULL);
    w->q    = evpl_block_open_queue(w->evpl, dev);
    test_assert(w->q != NULL);
    for (int i = 0; i < QD; i++) {
        w->slot[i].w = w;
        test_assert_eq(evpl_iovec_alloc(w->evpl, 4096, 4096, 1, 0, &w->slot[i].iov), 1);
    }
    run_phase(w, 0); /* every write completes before any read starts */
    run_phase(w, 1);
    for (int i = 0; i < QD; i++) {
        evpl_iovec_release(w->evpl, &w->slot[i].iov);
    }
    evpl_block_close_queue(w->evpl, w->q);
    evpl_destroy(w->evpl);
    atomic_fetch_add(&finished, 1);
    return NULL;
}

int
main(int argc, char **argv)
{
    enum evpl_block_protocol_id proto = blk_protocol(argc, argv);
    struct worker               workers[THREADS];
    pthread_t                   tid[THREADS];
    static char                 scrape[1 << 17];
    int                         scrapes = 0;

    evpl_test_init(argc, argv);
    dev =
        evpl_block_open_device(proto, blk_sparse_file(blk_scratch_dir(NULL), "threads", 64 * MIB));
    test_assert(dev != NULL);

    memset(workers, 0, sizeof(workers));
    for (int i = 0; i < THREADS; i++) {
        workers[i].id = i;
        test_assert_eq(pthread_create(&tid[i], NULL, worker_main, &workers[i]), 0);
    }
    while (atomic_load(&finished) < THREADS) {
        test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) > 0);
        test_assert(strstr(scrape, "evpl_block_queue_depth{") != NULL);
        scrapes++;
        usleep(1000);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);
    }
    test_assert(evpl_metrics_scrape(scrape, sizeof(scrape)) > 0);
    test_assert(strstr(scrape, "op=\"read\"} 2000\n") != NULL); /* both threads' reads, summed */
    fprintf(stderr, "%d scrapes while running\n", scrapes);
    evpl_block_close_device(dev);
    return 0;
}
