/*
 * Block workload (see block.h).  Buffers come from the library allocator,
 * 4096-aligned, one per request slot, so the O_DIRECT backends transfer
 * straight into them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <evpl/evpl.h>

#include "block.h"
#include "evpl_bench.h"

static struct evpl_block_device *device;
static uint64_t                  device_blocks; /* device size / request size */

struct block_slot {
    struct block_worker *bw;
    struct evpl_iovec    iov;
    uint64_t             start;
};

struct block_worker {
    struct bench_worker     *w;
    struct evpl             *evpl;
    struct evpl_block_queue *queue;
    struct block_slot       *slots;
    struct evpl_timer        timer;
    unsigned int             inflight;
    uint64_t                 rng;
    int                      failed;
};

static enum evpl_block_protocol_id
backend_id(const char *name)
{
    if (strcmp(name, "LIBAIO") == 0) {
        return EVPL_BLOCK_PROTOCOL_LIBAIO;
    }
    if (strcmp(name, "IO_URING_NVME") == 0) {
        return EVPL_BLOCK_PROTOCOL_IO_URING_NVME;
    }
    if (strcmp(name, "VFIO") == 0) {
        return EVPL_BLOCK_PROTOCOL_VFIO;
    }
    return EVPL_BLOCK_PROTOCOL_IO_URING;
}

int
evpl_bench_block_prepare(struct bench_options *opt, char *err, size_t errlen)
{
    struct stat st;
    uint64_t    size;

    if (stat(opt->file, &st) != 0) {
        int fd = open(opt->file, O_CREAT | O_RDWR, 0644);

        if (fd < 0 || ftruncate(fd, (off_t) opt->file_size) != 0) {
            snprintf(err, errlen, "cannot create %s: %s", opt->file, strerror(errno));
            if (fd >= 0) {
                close(fd);
            }
            return -1;
        }
        close(fd);
    }
    evpl_bench_log_capture(1);
    device = evpl_block_open_device(backend_id(opt->backend), opt->file);
    evpl_bench_log_capture(0);
    if (!device) {
        snprintf(err, errlen, "block backend %s is unavailable for %s: %s", opt->backend, opt->file,
                 evpl_bench_log_last());
        return -2;
    }
    size = evpl_block_size(device);
    if (opt->size > evpl_block_max_request_size(device)) {
        snprintf(err, errlen, "--size exceeds the backend's largest request (%llu bytes)",
                 (unsigned long long) evpl_block_max_request_size(device));
        return -1;
    }
    device_blocks = size / opt->size;
    if (device_blocks == 0) {
        snprintf(err, errlen, "%s is smaller than --size", opt->file);
        return -1;
    }
    return 0;
}

static uint64_t
next_random(struct block_worker *bw)
{
    /* xorshift64*: fast, and plenty random for picking offsets. */
    bw->rng ^= bw->rng >> 12;
    bw->rng ^= bw->rng << 25;
    bw->rng ^= bw->rng >> 27;
    return bw->rng * UINT64_C(2685821657736338717);
}

static void block_done(struct evpl *evpl, int status, void *private_data);

static void
block_submit(struct block_slot *slot)
{
    struct block_worker        *bw  = slot->bw;
    const struct bench_options *opt = bw->w->opt;
    uint64_t                    r   = next_random(bw);
    uint64_t                    off = (r % device_blocks) * opt->size;
    int                         write;

    write       = opt->rw == BENCH_RW_WRITE || (opt->rw == BENCH_RW_RANDRW && (r >> 63));
    slot->start = bench_now_ns();
    bw->inflight++;
    if (write) {
        evpl_block_write(bw->evpl, bw->queue, &slot->iov, 1, off, 0, block_done, slot);
    } else {
        evpl_block_read(bw->evpl, bw->queue, &slot->iov, 1, off, block_done, slot);
    }
}

static void
block_done(struct evpl *evpl, int status, void *private_data)
{
    struct block_slot   *slot = private_data;
    struct block_worker *bw   = slot->bw;

    (void) evpl;
    bw->inflight--;
    if (status != 0) {
        if (!bw->failed) {
            snprintf(bw->w->error, sizeof(bw->w->error), "block I/O failed: %s",
                     strerror(status > 0 ? status : -status));
        }
        bw->failed = 1;
        return;
    }
    bench_record(bw->w, slot->start, bench_now_ns(), bw->w->opt->size);
    if (!bench_stopping() && !bw->failed) {
        block_submit(slot);
    }
}

static void
block_tick(struct evpl *evpl, struct evpl_timer *timer)
{
    (void) evpl;
    (void) timer;
}

int
evpl_bench_block_run(struct bench_worker *w)
{
    const struct bench_options *opt = w->opt;
    struct block_worker         bw  = {.w = w, .rng = 0x9e3779b97f4a7c15ull * (w->index + 1)};

    bw.evpl  = evpl_create(NULL);
    bw.queue = evpl_block_open_queue(bw.evpl, device);
    bw.slots = calloc(opt->depth, sizeof(*bw.slots));
    if (!bw.queue || !bw.slots) {
        snprintf(w->error, sizeof(w->error), "cannot open a block queue");
        evpl_destroy(bw.evpl);
        return -1;
    }
    for (unsigned int i = 0; i < opt->depth; i++) {
        bw.slots[i].bw = &bw;
        if (evpl_iovec_alloc(bw.evpl, (unsigned int) opt->size, 4096, 1, 0, &bw.slots[i].iov) !=
            1) {
            snprintf(w->error, sizeof(w->error), "cannot allocate a %llu-byte block buffer",
                     (unsigned long long) opt->size);
            return -1;
        }
        memset(bw.slots[i].iov.data, 0x5a, bw.slots[i].iov.length);
    }
    /* A periodic timer bounds each wait, so the loop notices the end of
     * the run even with nothing in flight. */
    evpl_add_timer(bw.evpl, &bw.timer, block_tick, 10000);
    for (unsigned int i = 0; i < opt->depth; i++) {
        block_submit(&bw.slots[i]);
    }
    while (bw.inflight > 0 || (!bench_stopping() && !bw.failed)) {
        evpl_continue(bw.evpl);
    }
    evpl_remove_timer(bw.evpl, &bw.timer);
    for (unsigned int i = 0; i < opt->depth; i++) {
        evpl_iovec_release(bw.evpl, &bw.slots[i].iov);
    }
    evpl_block_close_queue(bw.evpl, bw.queue);
    evpl_destroy(bw.evpl);
    free(bw.slots);
    return bw.failed ? -1 : 0;
}
