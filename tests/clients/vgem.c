// A card that answers as vgem (tests/clients/vgem.yaml): vgem_fence.c's FENCE_ATTACH and
// FENCE_SIGNAL with their errnos in the kernel's order, and what the fences do to the buffer's
// dma-buf: poll (POLLIN waits for writers, POLLOUT for every fence, as dma_buf_poll) and
// EXPORT_SYNC_FILE, which snapshots the fences present when it is called. The last checks:
// a closed file signals its fences, an unsignalled fence signals itself after 10 s and
// FENCE_SIGNAL then answers ETIMEDOUT.
// Build: cc -O2 -Wall -o vgem vgem.c $(pkg-config --cflags --libs libdrm)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <xf86drm.h>
#include "probe.h"

// include/uapi/drm/vgem_drm.h (not in Debian 12's libdrm-dev), declared from its text.
struct vgem_fence_attach { uint32_t handle, flags, out_fence, pad; };
struct vgem_fence_signal { uint32_t fence, flags; };
#define VGEM_FENCE_WRITE 0x1
#define IOCTL_VGEM_FENCE_ATTACH DRM_IOWR(DRM_COMMAND_BASE + 0x1, struct vgem_fence_attach)
#define IOCTL_VGEM_FENCE_SIGNAL DRM_IOW(DRM_COMMAND_BASE + 0x2, struct vgem_fence_signal)

static int attach(int fd, uint32_t handle, uint32_t flags, uint32_t pad, uint32_t *out) {
    struct vgem_fence_attach a = {.handle = handle, .flags = flags, .pad = pad};
    int r = ioctl(fd, IOCTL_VGEM_FENCE_ATTACH, &a) ? errno : 0;
    if (out) *out = a.out_fence;
    return r;
}

static int signal_fence(int fd, uint32_t fence, uint32_t flags) {
    struct vgem_fence_signal s = {.fence = fence, .flags = flags};
    return ioctl(fd, IOCTL_VGEM_FENCE_SIGNAL, &s) ? errno : 0;
}

// dma_buf_poll's view: 1 when poll reports the buffer not ready for that access.
static int poll_busy(int buf, short ev) {
    struct pollfd p = {.fd = buf, .events = ev};
    return poll(&p, 1, 0) == 0;
}

static int export_sync(int buf, uint32_t flags) {
    struct dma_buf_export_sync_file a = {.flags = flags, .fd = -1};
    return ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &a) ? -1 : a.fd;
}

static int new_buffer(int fd, uint32_t *handle) {
    struct drm_mode_create_dumb c = {.width = 1, .height = 1, .bpp = 32};
    int buf = -1;
    if (drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &c) || drmPrimeHandleToFD(fd, c.handle, DRM_CLOEXEC | DRM_RDWR, &buf)) return -1;
    *handle = c.handle;
    return buf;
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(void) {
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    drmVersionPtr v = fd >= 0 ? drmGetVersion(fd) : NULL;
    CHECK(v && !strcmp(v->name, "vgem"), "the card answers as vgem (%s)", v ? v->name : "no card");
    if (v) drmFreeVersion(v);
    uint32_t h, f1, f2, f3;
    int buf = new_buffer(fd, &h), e;
    CHECK(buf >= 0, "dumb buffer exported as a dma-buf");

    // vgem_fence_attach_ioctl: flags, then pad, then the handle.
    CHECK((e = attach(fd, h, 0x2, 0, NULL)) == EINVAL, "ATTACH flags 0x2 -> EINVAL (%d)", e);
    CHECK((e = attach(fd, 999, 0x2, 0, NULL)) == EINVAL, "ATTACH bad flags checked before the handle -> EINVAL (%d)", e);
    CHECK((e = attach(fd, h, 0, 1, NULL)) == EINVAL, "ATTACH pad 1 -> EINVAL (%d)", e);
    CHECK((e = attach(fd, 999, 0, 0, NULL)) == ENOENT, "ATTACH unknown handle -> ENOENT (%d)", e);
    CHECK((e = signal_fence(fd, 1, 1)) == EINVAL, "SIGNAL flags 1 -> EINVAL (%d)", e);
    CHECK((e = signal_fence(fd, 77, 0)) == ENOENT, "SIGNAL unknown fence -> ENOENT (%d)", e);

    CHECK(!poll_busy(buf, POLLIN) && !poll_busy(buf, POLLOUT), "idle buffer: poll ready for POLLIN and POLLOUT");
    // A reader: writes wait, reads do not.
    CHECK((e = attach(fd, h, 0, 0, &f1)) == 0 && f1 == 1, "ATTACH read fence: id %u (%d)", f1, e);
    CHECK(!poll_busy(buf, POLLIN) && poll_busy(buf, POLLOUT), "read fence: POLLIN ready, POLLOUT busy");
    CHECK((e = attach(fd, h, VGEM_FENCE_WRITE, 0, NULL)) == EBUSY, "ATTACH write over an unsignalled reader -> EBUSY (%d)", e);
    int rfd = export_sync(buf, DMA_BUF_SYNC_READ), wfd = export_sync(buf, DMA_BUF_SYNC_WRITE);
    CHECK(rfd >= 0 && wfd >= 0 && readable(rfd, 0) && !readable(wfd, 0), "EXPORT_SYNC_FILE: READ signalled, WRITE pending");
    CHECK((e = signal_fence(fd, f1, 0)) == 0, "SIGNAL the reader (%d)", e);
    CHECK(readable(wfd, 0) && !poll_busy(buf, POLLOUT), "after SIGNAL: the WRITE sync file and POLLOUT are ready");
    CHECK((e = signal_fence(fd, f1, 0)) == ENOENT, "SIGNAL the same fence again -> ENOENT (%d)", e);
    close(rfd);
    close(wfd);

    // A writer: both accesses wait; a reader cannot be attached over it.
    CHECK((e = attach(fd, h, VGEM_FENCE_WRITE, 0, &f2)) == 0 && f2 == 2, "ATTACH write fence: id %u, ids not reused (%d)", f2, e);
    CHECK(poll_busy(buf, POLLIN) && poll_busy(buf, POLLOUT), "write fence: POLLIN and POLLOUT busy");
    CHECK((e = attach(fd, h, 0, 0, NULL)) == EBUSY, "ATTACH read over an unsignalled writer -> EBUSY (%d)", e);
    struct pollfd two[2] = {{.fd = buf, .events = POLLIN | POLLOUT}, {.fd = buf, .events = POLLIN}};
    int64_t t0 = now_ms();
    CHECK(poll(two, 2, 50) == 0 && now_ms() - t0 >= 45, "poll with a timeout on a busy buffer times out (%lld ms)", (long long)(now_ms() - t0));
    rfd = export_sync(buf, DMA_BUF_SYNC_READ);
    CHECK((e = signal_fence(fd, f2, 0)) == 0 && readable(rfd, 0), "SIGNAL the writer: the sync file exported before it is ready (%d)", e);
    two[0].revents = two[1].revents = 0;
    CHECK(poll(two, 2, 0) == 2 && two[0].revents == (POLLIN | POLLOUT) && two[1].revents == POLLIN,
          "poll of an idle buffer: revents 0x%x and 0x%x", two[0].revents, two[1].revents);
    close(rfd);

    // A sync file is a snapshot: fences attached after the export do not hold it.
    CHECK(attach(fd, h, 0, 0, &f1) == 0 && attach(fd, h, 0, 0, &f2) == 0, "two readers attached");
    wfd = export_sync(buf, DMA_BUF_SYNC_WRITE);
    CHECK(attach(fd, h, 0, 0, &f3) == 0, "a third reader after the export");
    signal_fence(fd, f1, 0);
    CHECK(!readable(wfd, 0), "one of the two earlier readers signalled: the sync file still waits");
    signal_fence(fd, f2, 0);
    CHECK(readable(wfd, 0) && poll_busy(buf, POLLOUT), "both signalled: the sync file is ready, the buffer still busy (third reader)");
    signal_fence(fd, f3, 0);
    close(wfd);

    // vgem_fence_close: the file's fences signal when it closes.
    int fd2 = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    uint32_t h2;
    int buf2 = new_buffer(fd2, &h2);
    CHECK(buf2 >= 0 && attach(fd2, h2, VGEM_FENCE_WRITE, 0, NULL) == 0 && poll_busy(buf2, POLLIN), "second file: a writer on its buffer");
    close(fd2);
    struct pollfd p2 = {.fd = buf2, .events = POLLIN};
    CHECK(poll(&p2, 1, 2000) == 1, "the file closed: its fence signalled, the buffer ready");

    // VGEM_FENCE_TIMEOUT: an unsignalled fence signals by itself after 10 s.
    CHECK(attach(fd, h, VGEM_FENCE_WRITE, 0, &f1) == 0, "a writer left unsignalled");
    t0 = now_ms();
    struct pollfd p = {.fd = buf, .events = POLLOUT};
    int r = poll(&p, 1, 15000);
    int64_t waited = now_ms() - t0;
    CHECK(r == 1 && waited >= 9500 && waited < 14000, "it signalled by itself after %lld ms (10 s timeout)", (long long)waited);
    CHECK((e = signal_fence(fd, f1, 0)) == ETIMEDOUT, "SIGNAL after the timeout -> ETIMEDOUT (%d)", e);
    return failures ? 1 : 0;
}
