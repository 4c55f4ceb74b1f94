/*
 * EVPL_BLOCK_PROTOCOL_IO_URING_NVME: NVMe passthrough (IORING_OP_URING_CMD
 * with NVME_URING_CMD_IO on the namespace's generic character device).
 *
 * Not implemented yet: this backend recognises the URI and refuses it with
 * a message that says why, so that a program asking for NVMe passthrough on
 * anything else (a regular file, another kind of device) gets NULL, as the
 * contract requires.  docs/block.md lists what the real backend needs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "block/block_internal.h"
#include "core/log.h"
#include "core/shared.h"

/* Non-zero when the sysfs node for (kind, dev) resolves to an nvme path
 * component named prefix* (ng0n1 for generic chardevs, nvme0n1 for blocks). */
static int
sysfs_is_nvme(const char *kind, dev_t dev, const char *prefix)
{
    char        path[128], target[PATH_MAX];
    const char *base;
    ssize_t     n;

    snprintf(path, sizeof(path), "/sys/dev/%s/%u:%u", kind, major(dev), minor(dev));
    n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0) {
        return 0;
    }
    target[n] = '\0';
    base      = strrchr(target, '/');
    base      = base ? base + 1 : target;
    return strncmp(base, prefix, strlen(prefix)) == 0 && strstr(target, "nvme") != NULL;
}

static int
nvme_open_device(struct evpl_block_device *dev, const char *uri)
{
    struct stat st;

    (void) dev;
    if (stat(uri, &st) < 0) {
        int err = errno;

        evpl_log_error("block", "IO_URING_NVME: cannot stat %s: %s", uri, strerror(err));
        return -err;
    }
    if (!(S_ISCHR(st.st_mode) && sysfs_is_nvme("char", st.st_rdev, "ng")) &&
        !(S_ISBLK(st.st_mode) && sysfs_is_nvme("block", st.st_rdev, "nvme"))) {
        evpl_log_error("block",
                       "IO_URING_NVME needs an NVMe namespace (/dev/ngXnY or /dev/nvmeXnY); "
                       "%s is %s; use EVPL_BLOCK_PROTOCOL_IO_URING for it",
                       uri,
                       S_ISREG(st.st_mode)   ? "a regular file"
                       : S_ISBLK(st.st_mode) ? "a block device that is not NVMe"
                       : S_ISCHR(st.st_mode) ? "a character device that is not NVMe"
                                             : "not a device");
        return -ENODEV;
    }
    evpl_log_error("block",
                   "IO_URING_NVME: %s is an NVMe namespace, but NVMe passthrough is not "
                   "implemented in this build; use EVPL_BLOCK_PROTOCOL_IO_URING on the block "
                   "device instead",
                   uri);
    return -EOPNOTSUPP;
}

static void
nvme_close_device(struct evpl_block_device *dev)
{
    (void) dev; /* no device ever opens */
}

static int
nvme_open_queue(struct evpl *evpl, struct evpl_block_queue *queue)
{
    (void) evpl;
    (void) queue;
    return -EOPNOTSUPP;
}

static void
nvme_close_queue(struct evpl *evpl, struct evpl_block_queue *queue)
{
    (void) evpl;
    (void) queue;
}

static void
nvme_submit(struct evpl *evpl, struct evpl_block_queue *queue, struct evpl_block_request *req)
{
    (void) queue;
    evpl_block_complete_later(evpl, req, -EOPNOTSUPP);
}

static int
nvme_enabled(const struct evpl_global_config *config)
{
    return config->io_uring_enabled;
}

const struct evpl_block_backend evpl_block_backend_io_uring_nvme = {
    .name         = "io_uring_nvme",
    .enabled      = nvme_enabled,
    .open_device  = nvme_open_device,
    .close_device = nvme_close_device,
    .open_queue   = nvme_open_queue,
    .close_queue  = nvme_close_queue,
    .submit       = nvme_submit,
};
