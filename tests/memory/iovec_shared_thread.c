/*
 * SHARED iovecs cross threads: the main loop allocates payloads, clones
 * them to worker threads and drops its own references at once.  Workers
 * check the payload, take further clones and segments, and release on
 * their own loop (buffers land in that loop's cache) or with a NULL loop
 * (straight to the global pool), while the main loop keeps allocating from
 * recycled buffers.  A payload overwritten while still referenced shows up
 * as a pattern mismatch.  Meant for TSan as well.
 */
#include <pthread.h>
#include "memory_test.h"

#define NWORKERS 4
#define NMSGS    20000
#define QSIZE    256

struct item {
    struct evpl_iovec iov;
    unsigned char     pattern;
};

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    struct item     items[QSIZE];
    int             head, tail, count, done;
};

struct worker {
    pthread_t    thread;
    struct queue queue;
    int          use_loop;
    long         checked;
};

static void
queue_push(struct queue *q, const struct item *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == QSIZE) {
        pthread_cond_wait(&q->cond, &q->lock);
    }
    q->items[q->tail] = *item;
    q->tail           = (q->tail + 1) % QSIZE;
    q->count++;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

static int
queue_pop(struct queue *q, struct item *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->done) {
        pthread_cond_wait(&q->cond, &q->lock);
    }
    if (q->count == 0) {
        pthread_mutex_unlock(&q->lock);
        return 0;
    }
    *item   = q->items[q->head];
    q->head = (q->head + 1) % QSIZE;
    q->count--;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return 1;
}

static void *
worker_main(void *arg)
{
    struct worker *w    = arg;
    struct evpl   *evpl = w->use_loop ? evpl_create(NULL) : NULL;
    struct item    item;

    while (queue_pop(&w->queue, &item)) {
        struct evpl_iovec clone, seg;

        test_assert_msg(memory_test_check(&item.iov, item.pattern),
                        "payload changed while referenced");
        evpl_iovec_clone(&clone, &item.iov);
        if (item.iov.length > 2) {
            evpl_iovec_clone_segment(&seg, &item.iov, 1, item.iov.length - 2);
            evpl_iovec_release(evpl, &seg);
        }
        evpl_iovec_release(evpl, &item.iov);
        test_assert(memory_test_check(&clone, item.pattern));
        evpl_iovec_release(evpl, &clone);
        w->checked++;
    }

    if (evpl) {
        evpl_destroy(evpl);
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    static struct worker workers[NWORKERS];
    struct evpl         *evpl;
    unsigned int         seed  = 42;
    long                 total = 0, sent = 0;

    memory_test_init(argc, argv);
    evpl = evpl_create(NULL);

    for (int i = 0; i < NWORKERS; i++) {
        pthread_mutex_init(&workers[i].queue.lock, NULL);
        pthread_cond_init(&workers[i].queue.cond, NULL);
        workers[i].use_loop = i % 2;
        test_assert(pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) == 0);
    }

    for (int m = 0; m < NMSGS; m++) {
        struct evpl_iovec iov[4];
        unsigned int      length;
        int               n;

        seed   = seed * 1103515245 + 12345;
        length = 1 + (seed >> 8) % (m % 100 == 0 ? 100000 : 3000);
        n      = evpl_iovec_alloc(evpl, length, 0, 4, EVPL_IOVEC_FLAG_SHARED, iov);
        test_assert(n >= 1);

        for (int i = 0; i < n; i++) {
            struct item item = {.pattern = (unsigned char) (m + i)};

            memory_test_fill(&iov[i], item.pattern);
            evpl_iovec_clone(&item.iov, &iov[i]);
            queue_push(&workers[(m + i) % NWORKERS].queue, &item);
            sent++;
        }
        evpl_iovecs_release(evpl, iov, n);
    }

    for (int i = 0; i < NWORKERS; i++) {
        pthread_mutex_lock(&workers[i].queue.lock);
        workers[i].queue.done = 1;
        pthread_cond_broadcast(&workers[i].queue.cond);
        pthread_mutex_unlock(&workers[i].queue.lock);
    }
    for (int i = 0; i < NWORKERS; i++) {
        pthread_join(workers[i].thread, NULL);
        total += workers[i].checked;
        pthread_cond_destroy(&workers[i].queue.cond);
        pthread_mutex_destroy(&workers[i].queue.lock);
    }
    test_assert_eq(total, sent);

    evpl_destroy(evpl);
    test_assert_eq(memory_test_leaks(), 0);
    return 0;
}
