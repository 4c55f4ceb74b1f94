/*
 * File and block device opening for the file backends.  See block/file.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block_internal.h"
#include "block/file.h"
#include "core/log.h"

/* EOPNOTSUPP and ENOTTY/EINVAL from an ioctl all mean "this device can't". */
static int
range_errno(int err)
{
    return (err == ENOTTY || err == EOPNOTSUPP || err == ENOTSUP) ? -EOPNOTSUPP : -err;
}

int
evpl_block_file_open(struct evpl_block_device *dev, const char *uri)
{
    struct stat st;
    int         fd, err;

    fd = open(uri, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0 && errno == EINVAL) {
        /* The file system has no O_DIRECT (tmpfs, some FUSE): go buffered.
         * Requests then need no alignment, and sync writes still use
         * RWF_DSYNC. */
        fd = open(uri, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            evpl_log_info("block", "%s: file system refuses O_DIRECT; using buffered I/O", uri);
        }
    } else if (fd >= 0) {
        dev->flags |= EVPL_BLOCK_DEV_DIRECT;
    }
    if (fd < 0) {
        err = errno;
        evpl_log_error("block", "cannot open %s: %s", uri, strerror(err));
        return -err;
    }

    if (fstat(fd, &st) < 0) {
        err = errno;
        evpl_log_error("block", "cannot stat %s: %s", uri, strerror(err));
        close(fd);
        return -err;
    }

    if (S_ISBLK(st.st_mode)) {
        uint64_t bytes = 0;
        int      lbs   = 512;

        if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
            err = errno;
            evpl_log_error("block", "%s: BLKGETSIZE64 failed: %s", uri, strerror(err));
            close(fd);
            return -err;
        }
        if (ioctl(fd, BLKSSZGET, &lbs) < 0 || lbs <= 0) {
            lbs = 512;
        }
        dev->flags |= EVPL_BLOCK_DEV_BLOCKDEV;
        dev->size       = bytes;
        dev->block_size = (uint64_t) lbs;
    } else if (S_ISREG(st.st_mode)) {
        dev->size = (uint64_t) st.st_size;
        /* Buffered I/O takes any offset.  Under O_DIRECT the device below
         * decides: the kernel says (statx DIOALIGN, 6.1+), else assume 512. */
        dev->block_size = (dev->flags & EVPL_BLOCK_DEV_DIRECT) ? 512 : 1;
#ifdef STATX_DIOALIGN
        {
            struct statx sx;

            if ((dev->flags & EVPL_BLOCK_DEV_DIRECT) &&
                statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
                (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align != 0 &&
                (sx.stx_dio_offset_align & (sx.stx_dio_offset_align - 1)) == 0) {
                dev->block_size = sx.stx_dio_offset_align;
            }
        }
#endif
    } else {
        evpl_log_error("block", "%s is neither a regular file nor a block device", uri);
        close(fd);
        return -ENODEV;
    }

    dev->fd               = fd;
    dev->max_request_size = EVPL_BLOCK_MAX_REQUEST;
    return 0;
}

void
evpl_block_file_close(struct evpl_block_device *dev)
{
    if (dev->fd >= 0) {
        close(dev->fd);
        dev->fd = -1;
    }
}

int
evpl_block_file_discard(struct evpl_block_device *dev, uint64_t offset, uint64_t length)
{
    if (dev->flags & EVPL_BLOCK_DEV_BLOCKDEV) {
        uint64_t range[2] = {offset, length};

        return ioctl(dev->fd, BLKDISCARD, range) < 0 ? range_errno(errno) : 0;
    }
    if (fallocate(dev->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) offset,
                  (off_t) length) < 0) {
        return range_errno(errno);
    }
    return 0;
}

int
evpl_block_file_write_zeroes(struct evpl_block_device *dev, uint64_t offset, uint64_t length)
{
    if (dev->flags & EVPL_BLOCK_DEV_BLOCKDEV) {
        uint64_t range[2] = {offset, length};

        return ioctl(dev->fd, BLKZEROOUT, range) < 0 ? range_errno(errno) : 0;
    }
    if (fallocate(dev->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t) offset,
                  (off_t) length) < 0) {
        return range_errno(errno);
    }
    return 0;
}
