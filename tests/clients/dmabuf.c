// dma-buf fences on buffers a fake card exports (drivers/dma-buf/dma-buf.c's ioctls on a
// PRIME fd): DMA_BUF_IOCTL_SYNC's flag checks and its wait for imported writers (signalled by
// sw_sync from another thread), SET_NAME, EXPORT_SYNC_FILE of a buffer the card scans out
// (signalled once it is off the screen), IMPORT_SYNC_FILE holding a flip of that buffer until
// the fence signals (implicit sync, drm_gem_plane_helper_prepare_fb).
// Build: cc -O2 -Wall -o dmabuf dmabuf.c $(pkg-config --cflags --libs libdrm) -lpthread
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include "probe.h"

static int sync_ioctl(int buf, uint64_t flags) {
    struct dma_buf_sync s = {flags};
    return ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) ? errno : 0;
}

static int export_sync(int buf, uint32_t flags, int *fd) {
    struct dma_buf_export_sync_file a = {.flags = flags, .fd = -1};
    int r = ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &a) ? errno : 0;
    *fd = a.fd;
    return r;
}

static int import_sync(int buf, uint32_t flags, int fd) {
    struct dma_buf_import_sync_file a = {.flags = flags, .fd = fd};
    return ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &a) ? errno : 0;
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct waiter { int buf; int result; int64_t done_ms; };

static void *sync_start_read(void *p) {
    struct waiter *w = p;
    w->result = sync_ioctl(w->buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    w->done_ms = now_ms();
    return NULL;
}

int main(void) {
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    struct scene sc;
    if (!scene_light(fd, &sc)) { printf("FAIL - resources\n"); return 1; }
    uint32_t crtc = sc.crtc, primary = sc.primary, *fbs = sc.fbs, *handles = sc.handles;
    int buf = -1;
    CHECK(drmPrimeHandleToFD(fd, handles[1], DRM_CLOEXEC | DRM_RDWR, &buf) == 0, "PRIME export of the second buffer");

    // SYNC: the kernel's flag checks; nothing attached, so START returns at once.
    int e;
    CHECK((e = sync_ioctl(buf, 0)) == EINVAL, "SYNC flags 0 (neither READ nor WRITE): EINVAL (%d)", e);
    CHECK((e = sync_ioctl(buf, DMA_BUF_SYNC_RW | 8)) == EINVAL, "SYNC unknown flag: EINVAL (%d)", e);
    CHECK((e = sync_ioctl(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW)) == 0, "SYNC START|RW (%d)", e);
    CHECK((e = sync_ioctl(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW)) == 0, "SYNC END|RW (%d)", e);
    // SET_NAME takes the string itself.
    CHECK(ioctl(buf, DMA_BUF_SET_NAME_B, "fakedrm-probe") == 0, "SET_NAME");
    CHECK(ioctl(buf, DMA_BUF_SET_NAME_B, "a name much longer than thirty-two bytes") == -1 && errno == EINVAL, "SET_NAME of 40 bytes: EINVAL");
    CHECK(ioctl(buf, DMA_BUF_SET_NAME_B, (void *)8) == -1 && errno == EFAULT, "SET_NAME at a bad address: EFAULT");
    CHECK(ioctl(buf, _IOW('b', 9, uint64_t), &(uint64_t){0}) == -1 && errno == ENOTTY, "unknown 'b' ioctl: ENOTTY");
    int sf = -1;
    CHECK((e = export_sync(buf, 0, &sf)) == EINVAL, "EXPORT_SYNC_FILE flags 0: EINVAL (%d)", e);
    CHECK((e = export_sync(buf, DMA_BUF_SYNC_WRITE, &sf)) == 0 && readable(sf, 0), "EXPORT_SYNC_FILE of an idle buffer: a signalled sync file");
    close(sf);
    CHECK((e = import_sync(buf, DMA_BUF_SYNC_WRITE, -1)) == EINVAL, "IMPORT_SYNC_FILE of fd -1: EINVAL (%d)", e);
    CHECK((e = import_sync(buf, DMA_BUF_SYNC_WRITE, fd)) == EINVAL, "IMPORT_SYNC_FILE of a card fd: EINVAL (%d)", e);

    // A writer from sw_sync: SYNC START|READ waits for it (INC comes from this thread while
    // another is blocked in the ioctl), EXPORT for READ carries it.
    int tl = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
    int fence = create_fence(tl, 1, "probe");
    CHECK((e = import_sync(buf, 0, fence)) == EINVAL, "IMPORT_SYNC_FILE flags 0: EINVAL (%d)", e);
    CHECK((e = import_sync(buf, DMA_BUF_SYNC_WRITE, fence)) == 0, "IMPORT_SYNC_FILE WRITE of a sw_sync fence (%d)", e);
    CHECK(export_sync(buf, DMA_BUF_SYNC_READ, &sf) == 0 && !readable(sf, 0), "EXPORT_SYNC_FILE READ now carries the unsignalled writer");

    // Implicit sync: a flip to the buffer waits for its writer.
    drmModeAtomicReq *req = drmModeAtomicAlloc();
    drmModeAtomicAddProperty(req, primary, prop_id(fd, primary, DRM_MODE_OBJECT_PLANE, "FB_ID"), fbs[1]);
    int r = drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, NULL);
    drmModeAtomicFree(req);
    CHECK(r == 0, "nonblocking flip to the fenced buffer (%d)", r);
    CHECK(!readable(fd, 200), "no flip event while the imported writer is unsignalled (200 ms)");

    struct waiter w = {.buf = buf, .result = -1};
    pthread_t t;
    pthread_create(&t, NULL, sync_start_read, &w);
    usleep(100000);
    int64_t inc_ms = now_ms();
    CHECK(w.done_ms == 0, "SYNC START|READ blocks while the writer is unsignalled (100 ms)");
    CHECK(inc(tl, 1) == 0, "INC the timeline from another thread");
    pthread_join(t, NULL);
    CHECK(w.result == 0 && w.done_ms >= inc_ms, "SYNC START|READ returns 0 after the INC (%d)", w.result);
    CHECK(readable(sf, 1000), "the exported READ sync file signals");
    close(sf);
    CHECK(readable(fd, 1000), "the flip completes once the writer signalled");
    char ev[64];
    CHECK(read(fd, ev, sizeof(ev)) == 32 && ((struct drm_event *)ev)->type == DRM_EVENT_FLIP_COMPLETE, "the event is FLIP_COMPLETE");

    // The buffer is on screen: an export for writing waits until the card is done with it.
    CHECK(export_sync(buf, DMA_BUF_SYNC_READ, &sf) == 0 && readable(sf, 0), "EXPORT_SYNC_FILE READ of the scanned-out buffer: signalled (the card only reads)");
    close(sf);
    CHECK(export_sync(buf, DMA_BUF_SYNC_WRITE, &sf) == 0 && !readable(sf, 100), "EXPORT_SYNC_FILE WRITE of the scanned-out buffer: busy while on screen (100 ms)");
    CHECK(drmModePageFlip(fd, crtc, fbs[0], DRM_MODE_PAGE_FLIP_EVENT, NULL) == 0, "flip back to the first buffer");
    CHECK(readable(sf, 1000), "the WRITE sync file signals once the buffer is off the screen");
    close(sf);

    close(fence);
    close(tl);
    close(buf);
    scene_dark(fd, &sc);
    close(fd);
    printf("%d failed\n", failures);
    return failures != 0;
}
