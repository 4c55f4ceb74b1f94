/*
 * EVPL_BLOCK_PROTOCOL_VFIO: a user-space NVMe driver over VFIO (the
 * controller is bound to vfio-pci; queues are mapped into the process and
 * polled).
 *
 * Not implemented yet: this backend checks what a real one would need --
 * a PCI address, /dev/vfio/vfio, the device bound to vfio-pci -- and
 * reports the first thing missing, then refuses.  docs/block.md lists what
 * the real backend needs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "block/block_internal.h"
#include "core/log.h"
#include "core/shared.h"

/* DDDD:BB:DD.F, lower-case hex, as sysfs names PCI functions. */
static int
pci_address_valid(const char *s)
{
    unsigned int domain, bus, slot, func;
    char         tail;

    return strlen(s) == 12 &&
           sscanf(s, "%4x:%2x:%2x.%1x%c", &domain, &bus, &slot, &func, &tail) == 4 && slot < 32 &&
           func < 8;
}

static int
vfio_open_device(struct evpl_block_device *dev, const char *uri)
{
    char    path[128], target[PATH_MAX];
    ssize_t n;

    (void) dev;
    if (!pci_address_valid(uri)) {
        evpl_log_error("block", "VFIO needs a PCI address like 0000:01:00.0, not '%s'", uri);
        return -EINVAL;
    }
    if (access("/dev/vfio/vfio", R_OK | W_OK) != 0) {
        evpl_log_error("block",
                       "VFIO: /dev/vfio/vfio is missing or inaccessible (load vfio-pci, "
                       "enable the IOMMU); cannot open %s",
                       uri);
        return -ENODEV;
    }
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", uri);
    n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0) {
        evpl_log_error("block", "VFIO: no PCI device %s, or it has no driver bound", uri);
        return -ENODEV;
    }
    target[n] = '\0';
    if (strstr(target, "vfio-pci") == NULL) {
        evpl_log_error("block", "VFIO: %s is not bound to vfio-pci (driver %s)", uri,
                       strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
        return -ENODEV;
    }
    evpl_log_error("block",
                   "VFIO: %s is bound to vfio-pci, but the user-space NVMe driver is "
                   "not implemented in this build",
                   uri);
    return -EOPNOTSUPP;
}

static void
vfio_close_device(struct evpl_block_device *dev)
{
    (void) dev;
}

static int
vfio_open_queue(struct evpl *evpl, struct evpl_block_queue *queue)
{
    (void) evpl;
    (void) queue;
    return -EOPNOTSUPP;
}

static void
vfio_close_queue(struct evpl *evpl, struct evpl_block_queue *queue)
{
    (void) evpl;
    (void) queue;
}

static void
vfio_submit(struct evpl *evpl, struct evpl_block_queue *queue, struct evpl_block_request *req)
{
    (void) queue;
    evpl_block_complete_later(evpl, req, -EOPNOTSUPP);
}

static int
vfio_enabled(const struct evpl_global_config *config)
{
    return config->vfio_enabled;
}

const struct evpl_block_backend evpl_block_backend_vfio = {
    .name         = "vfio",
    .enabled      = vfio_enabled,
    .open_device  = vfio_open_device,
    .close_device = vfio_close_device,
    .open_queue   = vfio_open_queue,
    .close_queue  = vfio_close_queue,
    .submit       = vfio_submit,
};
