/*
 * Random reads and writes at queue depth 128 over a 1 GiB sparse file,
 * verified against a shadow: every 4 KiB block remembers the seed of the
 * last completed write (0: never written, reads back zeros).  Requests are
 * 4..32 KiB, never overlap one in flight, and come in four memory shapes so
 * that every submission path runs: one aligned iovec (fixed buffers on
 * io_uring), three aligned iovecs (vectored), one misaligned iovec and two
 * iovecs with an odd split (both bounced under O_DIRECT).  A tenth of the
 * writes are sync (FUA).  argv[2]: backend; argv[3]: MiB to move (64).
 */
#include "block_test.h"

#define GIB      (1024ull * 1024 * 1024)
#define BLK      4096u
#define NBLOCKS  (GIB / BLK)
#define QD       128
#define MAX_BLKS 8
#define RECENT   4096

struct slot {
    struct evpl_iovec mem; /* owns the memory; views below borrow it */
    struct evpl_iovec view[3];
    int               nview;
    char             *data; /* logical contiguous start of the transfer */
    uint64_t          block;
    unsigned int      nblk;
    int               write;
    uint32_t          seed;
    int               busy;
};

static struct slot              slots[QD];
static uint32_t                *seeds;
static uint8_t                 *busy;
static uint64_t                 rng = 0x243F6A8885A308D3ull;
static uint64_t                 recent[RECENT];
static unsigned int             nrecent;
static int                      completed, submitted, inflight;
static uint64_t                 moved, target;
static struct evpl_block_queue *queue;
static int                      shape_count[4];

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void submit_one(struct evpl *evpl, struct slot *s);

static void
verify_read(struct slot *s)
{
    for (unsigned int b = 0; b < s->nblk; b++) {
        uint64_t blk = s->block + b;
        int64_t  bad = blk_pattern_check(s->data + (uint64_t) b * BLK, BLK, blk * BLK, seeds[blk]);

        test_assert_msg(bad < 0, "block %llu (seed %u) differs at word %lld",
                        (unsigned long long) blk, seeds[blk], (long long) bad);
    }
}

static void
done_cb(struct evpl *evpl, int status, void *private_data)
{
    struct slot *s = private_data;

    test_assert_msg(status == 0, "%s of %u blocks at block %llu failed: %d",
                    s->write ? "write" : "read", s->nblk, (unsigned long long) s->block, status);
    if (s->write) {
        for (unsigned int b = 0; b < s->nblk; b++) {
            seeds[s->block + b] = s->seed;
        }
        recent[nrecent++ % RECENT] = s->block;
    } else {
        verify_read(s);
    }
    for (unsigned int b = 0; b < s->nblk; b++) {
        busy[s->block + b] = 0;
    }
    s->busy = 0;
    completed++;
    inflight--;
    moved += (uint64_t) s->nblk * BLK;
    if (moved < target) {
        submit_one(evpl, s);
    }
}

static int
range_free(uint64_t block, unsigned int nblk)
{
    for (unsigned int b = 0; b < nblk; b++) {
        if (busy[block + b]) {
            return 0;
        }
    }
    return 1;
}

static void
submit_one(struct evpl *evpl, struct slot *s)
{
    uint64_t     len;
    unsigned int shape = next_rand() % 4;
    char        *base  = s->mem.data;

    s->write = next_rand() % 2;
    s->nblk  = 1 + next_rand() % MAX_BLKS;
    do {
        if (!s->write && nrecent && next_rand() % 4 != 0) {
            s->block = recent[next_rand() % (nrecent < RECENT ? nrecent : RECENT)];
        } else {
            s->block = next_rand() % (NBLOCKS - MAX_BLKS);
        }
    } while (!range_free(s->block, s->nblk));
    for (unsigned int b = 0; b < s->nblk; b++) {
        busy[s->block + b] = 1;
    }

    len     = (uint64_t) s->nblk * BLK;
    s->data = base + ((shape == 2 || shape == 3) ? 8 : 0);
    for (int i = 0; i < 3; i++) {
        s->view[i] = s->mem; /* borrowed views: same ref, never released */
    }
    switch (shape) {
    case 0: /* one aligned iovec */
        s->view[0].data   = s->data;
        s->view[0].length = (unsigned int) len;
        s->nview          = 1;
        break;
    case 1: /* three aligned iovecs (a middle of 0 is not allowed: use 1 block) */
        if (s->nblk < 3) {
            s->view[0].data   = s->data;
            s->view[0].length = (unsigned int) len;
            s->nview          = 1;
        } else {
            s->view[0].data   = s->data;
            s->view[0].length = BLK;
            s->view[1].data   = s->data + BLK;
            s->view[1].length = (unsigned int) (len - 2 * BLK);
            s->view[2].data   = s->data + len - BLK;
            s->view[2].length = BLK;
            s->nview          = 3;
        }
        break;
    case 2: /* one misaligned iovec */
        s->view[0].data   = s->data;
        s->view[0].length = (unsigned int) len;
        s->nview          = 1;
        break;
    default: /* odd split */
        s->view[0].data   = s->data;
        s->view[0].length = 1000;
        s->view[1].data   = s->data + 1000;
        s->view[1].length = (unsigned int) (len - 1000);
        s->nview          = 2;
        break;
    }
    shape_count[shape]++;

    s->busy = 1;
    submitted++;
    inflight++;
    if (s->write) {
        s->seed = (uint32_t) (next_rand() % 0xFFFFFFF0u) + 1;
        for (unsigned int b = 0; b < s->nblk; b++) {
            blk_pattern_fill(s->data + (uint64_t) b * BLK, BLK, (s->block + b) * BLK, s->seed);
        }
        evpl_block_write(evpl, queue, s->view, s->nview, s->block * BLK, next_rand() % 10 == 0,
                         done_cb, s);
    } else {
        memset(s->data, 0xEE, len);
        evpl_block_read(evpl, queue, s->view, s->nview, s->block * BLK, done_cb, s);
    }
}

int
main(int argc, char **argv)
{
    enum evpl_block_protocol_id proto = blk_protocol(argc, argv);
    struct evpl_block_device   *dev;
    struct evpl                *evpl;
    const char                 *path;
    uint64_t                    t0, verified = 0;

    target = (argc > 3 ? strtoull(argv[3], NULL, 0) : 64) << 20;
    evpl_test_init(argc, argv);
    path  = blk_sparse_file(blk_scratch_dir(NULL), "random", GIB);
    seeds = calloc(NBLOCKS, sizeof(*seeds));
    busy  = calloc(NBLOCKS, 1);
    test_assert(seeds && busy);

    dev = evpl_block_open_device(proto, path);
    test_assert(dev != NULL);
    evpl  = evpl_create(NULL);
    queue = evpl_block_open_queue(evpl, dev);
    test_assert(queue != NULL);

    for (int i = 0; i < QD; i++) {
        test_assert_eq(evpl_iovec_alloc(evpl, MAX_BLKS * BLK + BLK, BLK, 1, 0, &slots[i].mem), 1);
    }

    t0 = blk_now_ms();
    for (int i = 0; i < QD; i++) {
        submit_one(evpl, &slots[i]);
    }
    test_assert_eq(completed, 0);
    while (inflight > 0) {
        evpl_continue(evpl);
        test_assert_msg(blk_now_ms() - t0 < 240000, "timed out with %d in flight", inflight);
    }
    fprintf(stderr, "%d requests, %llu MiB in %llu ms; shapes %d/%d/%d/%d\n", completed,
            (unsigned long long) (moved >> 20), (unsigned long long) (blk_now_ms() - t0),
            shape_count[0], shape_count[1], shape_count[2], shape_count[3]);

    /* Final pass: every written block reads back its last pattern. */
    for (uint64_t blk = 0; blk < NBLOCKS; blk++) {
        if (seeds[blk] == 0) {
            continue;
        }
        slots[0].view[0]        = slots[0].mem;
        slots[0].view[0].length = BLK;
        slots[0].data           = slots[0].mem.data;
        slots[0].block          = blk;
        slots[0].nblk           = 1;
        test_assert_eq(blk_read_sync(evpl, queue, slots[0].view, 1, blk * BLK), 0);
        verify_read(&slots[0]);
        verified++;
    }
    fprintf(stderr, "verified %llu written blocks\n", (unsigned long long) verified);
    test_assert(verified > 0);

    for (int i = 0; i < QD; i++) {
        evpl_iovec_release(evpl, &slots[i].mem);
    }
    evpl_block_close_queue(evpl, queue);
    evpl_destroy(evpl);
    evpl_block_close_device(dev);
    free(seeds);
    free(busy);
    return 0;
}
