/*
 * Helpers shared by the block I/O tests: backend selection from argv[2],
 * a scratch directory that is removed at exit, sparse files, and a
 * completion record with a bounded wait.
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

/* Backend named by argv[2]: "io_uring" (default) or "libaio". */
static inline enum evpl_block_protocol_id
blk_protocol(int argc, char **argv)
{
    const char *name = argc > 2 ? argv[2] : "io_uring";

    if (strcmp(name, "io_uring") == 0) {
        return EVPL_BLOCK_PROTOCOL_IO_URING;
    }
    if (strcmp(name, "libaio") == 0) {
        return EVPL_BLOCK_PROTOCOL_LIBAIO;
    }
    test_fail("unknown block backend '%s'", name);
}

static char blk_dir[PATH_MAX];

static void
blk_dir_remove(void)
{
    DIR           *d;
    struct dirent *e;
    char           path[PATH_MAX + 256];

    if (blk_dir[0] == '\0' || (d = opendir(blk_dir)) == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", blk_dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(blk_dir);
}

/*
 * A fresh scratch directory under base (the working directory when NULL),
 * removed with its files at exit.
 */
static inline const char *
blk_scratch_dir(const char *base)
{
    snprintf(blk_dir, sizeof(blk_dir), "%s/evpl-block-XXXXXX", base ? base : ".");
    test_assert_msg(mkdtemp(blk_dir) != NULL, "mkdtemp(%s): %s", blk_dir, strerror(errno));
    atexit(blk_dir_remove);
    return blk_dir;
}

/* Create dir/name as a sparse file of size bytes; returns the path (static). */
static inline const char *
blk_sparse_file(const char *dir, const char *name, uint64_t size)
{
    static char path[PATH_MAX + 64];
    int         fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    test_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
    test_assert_msg(ftruncate(fd, (off_t) size) == 0, "ftruncate: %s", strerror(errno));
    close(fd);
    return path;
}

struct blk_done {
    int done;
    int status;
};

static inline void
blk_done_cb(struct evpl *evpl, int status, void *private_data)
{
    struct blk_done *d = private_data;

    (void) evpl;
    d->done++;
    d->status = status;
}

static inline uint64_t
blk_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Run the loop until *counter >= target (fails after 30 s). */
static inline void
blk_wait(struct evpl *evpl, const int *counter, int target)
{
    uint64_t deadline = blk_now_ms() + 30000;

    while (*counter < target) {
        evpl_continue(evpl);
        test_assert_msg(blk_now_ms() < deadline, "timed out waiting for %d completions (have %d)",
                        target, *counter);
    }
}

/* Submit-and-wait wrappers: the status of one request. */
static inline int
blk_read_sync(struct evpl *evpl, struct evpl_block_queue *q, struct evpl_iovec *iov, int niov,
              uint64_t offset)
{
    struct blk_done d = {0, -1};

    evpl_block_read(evpl, q, iov, niov, offset, blk_done_cb, &d);
    test_assert_msg(d.done == 0, "read completed inside the submitting call");
    blk_wait(evpl, &d.done, 1);
    return d.status;
}

static inline int
blk_write_sync(struct evpl *evpl, struct evpl_block_queue *q, struct evpl_iovec *iov, int niov,
               uint64_t offset, int sync)
{
    struct blk_done d = {0, -1};

    evpl_block_write(evpl, q, iov, niov, offset, sync, blk_done_cb, &d);
    test_assert_msg(d.done == 0, "write completed inside the submitting call");
    blk_wait(evpl, &d.done, 1);
    return d.status;
}

static inline int
blk_flush_sync(struct evpl *evpl, struct evpl_block_queue *q)
{
    struct blk_done d = {0, -1};

    evpl_block_flush(evpl, q, blk_done_cb, &d);
    blk_wait(evpl, &d.done, 1);
    return d.status;
}

static inline int
blk_discard_sync(struct evpl *evpl, struct evpl_block_queue *q, uint64_t offset, uint64_t len)
{
    struct blk_done d = {0, -1};

    evpl_block_discard(evpl, q, offset, len, blk_done_cb, &d);
    blk_wait(evpl, &d.done, 1);
    return d.status;
}

static inline int
blk_zeroes_sync(struct evpl *evpl, struct evpl_block_queue *q, uint64_t offset, uint64_t len)
{
    struct blk_done d = {0, -1};

    evpl_block_write_zeroes(evpl, q, offset, len, blk_done_cb, &d);
    blk_wait(evpl, &d.done, 1);
    return d.status;
}

/* Fill p with a pattern derived from (offset, seed), 8 bytes at a time. */
static inline uint64_t
blk_pattern_word(uint64_t offset, uint64_t seed)
{
    uint64_t x = offset * 0x9E3779B97F4A7C15ull ^ (seed + 0x632BE59BD9B4E019ull);

    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return x | 1; /* never zero: zeros mean "unwritten" */
}

static inline void
blk_pattern_fill(void *p, uint64_t len, uint64_t offset, uint64_t seed)
{
    uint64_t *w = p;

    for (uint64_t i = 0; i < len / 8; i++) {
        w[i] = blk_pattern_word(offset + i * 8, seed);
    }
}

/* Index of the first 8-byte word that differs, or -1. */
static inline int64_t
blk_pattern_check(const void *p, uint64_t len, uint64_t offset, uint64_t seed)
{
    const uint64_t *w = p;

    for (uint64_t i = 0; i < len / 8; i++) {
        if (w[i] != (seed ? blk_pattern_word(offset + i * 8, seed) : 0)) {
            return (int64_t) i;
        }
    }
    return -1;
}
