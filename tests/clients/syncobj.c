// Syncobjs for clients of a fake card, on drm_syncobj.c's terms: SYNCOBJ_EVENTFD signalling
// the caller's eventfd when a timeline point (fed by a sw_sync fence) is submitted or signals,
// and the errnos IGT's syncobj suites probe (an unknown handle is ENOENT for the array ioctls,
// a closed fd is EINVAL for FD_TO_HANDLE, ...).
// Build: cc -O2 -Wall -o syncobj syncobj.c $(pkg-config --cflags --libs libdrm) -lpthread
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>
#include "probe.h"

// Linux 6.6's uAPI; Debian 12's libdrm 2.4.114 headers predate it.
struct syncobj_eventfd { uint32_t handle, flags; uint64_t point; int32_t fd; uint32_t pad; };
#define IOCTL_SYNCOBJ_EVENTFD DRM_IOWR(0xCF, struct syncobj_eventfd)
#define WAIT_AVAILABLE 4

static int sync_eventfd(int drm, uint32_t handle, uint32_t flags, uint64_t point, int fd, uint32_t pad) {
    struct syncobj_eventfd a = {handle, flags, point, fd, pad};
    return ioctl(drm, IOCTL_SYNCOBJ_EVENTFD, &a) ? errno : 0;
}

static void eventfd_checks(int drm) {
    uint32_t h = 0;
    CHECK(drmSyncobjCreate(drm, 0, &h) == 0, "SYNCOBJ_CREATE");
    int tl = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), avail = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    CHECK(sync_eventfd(drm, h, 0, 1, efd, 0) == 0, "SYNCOBJ_EVENTFD for point 1 before it exists");
    CHECK(sync_eventfd(drm, h, WAIT_AVAILABLE, 1, avail, 0) == 0, "SYNCOBJ_EVENTFD WAIT_AVAILABLE for point 1");
    CHECK(!readable(efd, 50) && !readable(avail, 0), "neither eventfd is readable before the point is submitted");
    int fence = create_fence(tl, 1, "probe");
    // Submit point 1: the sw_sync fence at timeline point 1 (TRANSFER from a binary syncobj).
    uint32_t bin = 0;
    drmSyncobjCreate(drm, 0, &bin);
    CHECK(drmSyncobjImportSyncFile(drm, bin, fence) == 0, "IMPORT_SYNC_FILE of a sw_sync fence");
    CHECK(drmSyncobjTransfer(drm, h, 1, bin, 0, 0) == 0, "TRANSFER it to point 1");
    CHECK(readable(avail, 1000), "WAIT_AVAILABLE eventfd readable at submission");
    CHECK(!readable(efd, 100), "the other stays unreadable while the fence is unsignalled (100 ms)");
    CHECK(inc(tl, 1) == 0 && readable(efd, 1000), "INC: the eventfd becomes readable");
    uint64_t v = 0;
    CHECK(read(efd, &v, 8) == 8 && v == 1, "its counter is 1 (%llu)", (unsigned long long)v);
    // An already signalled point fires at once.
    CHECK(sync_eventfd(drm, h, 0, 1, efd, 0) == 0 && readable(efd, 1000), "a signalled point fires at once");
    close(fence);
    close(tl);
    close(efd);
    close(avail);
    drmSyncobjDestroy(drm, bin);
    drmSyncobjDestroy(drm, h);
}

static void eventfd_errnos(int drm) {
    uint32_t h = 0;
    drmSyncobjCreate(drm, 0, &h);
    int efd = eventfd(0, EFD_CLOEXEC), p[2];
    CHECK(pipe(p) == 0, "pipe");
    int e;
    CHECK((e = sync_eventfd(drm, h, 1, 0, efd, 0)) == EINVAL, "flags WAIT_ALL: EINVAL (%d)", e);
    CHECK((e = sync_eventfd(drm, h, 0, 0, efd, 1)) == EINVAL, "pad: EINVAL (%d)", e);
    CHECK((e = sync_eventfd(drm, h + 100, 0, 0, efd, 0)) == ENOENT, "unknown handle: ENOENT (%d)", e);
    CHECK((e = sync_eventfd(drm, h, 0, 0, -1, 0)) == EBADF, "fd -1: EBADF (%d)", e);
    CHECK((e = sync_eventfd(drm, h, 0, 0, p[0], 0)) == EINVAL, "a pipe: EINVAL (%d)", e);
    CHECK((e = sync_eventfd(drm, h, 0, 0, drm, 0)) == EINVAL, "the card fd itself: EINVAL (%d)", e);
    close(p[0]);
    close(p[1]);
    close(efd);
    drmSyncobjDestroy(drm, h);
}

// The probes IGT's syncobj suites start with (has_syncobj_wait, syncobj_basic).
static void syncobj_errnos(int drm) {
    uint32_t zero = 0, h = 0;
    int r = drmIoctl(drm, DRM_IOCTL_SYNCOBJ_WAIT, &(struct drm_syncobj_wait){.handles = (uintptr_t)&zero, .count_handles = 1});
    CHECK(r == -1 && errno == ENOENT, "SYNCOBJ_WAIT on handle 0: ENOENT (%d)", r ? errno : 0);
    struct drm_syncobj_handle a = {.fd = -1};
    r = drmIoctl(drm, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &a);
    CHECK(r == -1 && errno == EINVAL, "FD_TO_HANDLE of fd -1: EINVAL (%d)", r ? errno : 0);
    a = (struct drm_syncobj_handle){.handle = 4242};
    r = drmIoctl(drm, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a);
    CHECK(r == -1 && errno == EINVAL, "HANDLE_TO_FD of an unknown handle: EINVAL (%d)", r ? errno : 0);
    a = (struct drm_syncobj_handle){.handle = 4242, .flags = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE};
    r = drmIoctl(drm, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &a);
    CHECK(r == -1 && errno == ENOENT, "HANDLE_TO_FD EXPORT_SYNC_FILE of an unknown handle: ENOENT (%d)", r ? errno : 0);
    drmSyncobjCreate(drm, 0, &h);
    r = drmIoctl(drm, DRM_IOCTL_SYNCOBJ_RESET, &(struct drm_syncobj_array){.handles = (uintptr_t)&zero, .count_handles = 1});
    CHECK(r == -1 && errno == ENOENT, "RESET of handle 0: ENOENT (%d)", r ? errno : 0);
    drmSyncobjDestroy(drm, h);
}

static int64_t abs_timeout(int64_t ns) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec + ns;
}

struct snapshot_wait { int drm; uint32_t handles[2]; int result; };

static void *snapshot_waiter(void *p) {
    struct snapshot_wait *w = p;
    struct drm_syncobj_wait a = {.handles = (uintptr_t)w->handles, .count_handles = 2,
                                 .timeout_nsec = abs_timeout(2000000000), .flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL};
    w->result = drmIoctl(w->drm, DRM_IOCTL_SYNCOBJ_WAIT, &a) ? errno : 0;
    return NULL;
}

// What IGT's syncobj_wait and syncobj_timeline found: a wait takes each syncobj's fence once
// (a reset and a new never-signalled fence afterwards do not change it), WAIT_AVAILABLE may
// wait for an unsubmitted point (ETIME, not EINVAL), a NULL points array means point 0.
static void wait_semantics(int drm) {
    uint32_t h[2];
    drmSyncobjCreate(drm, 0, &h[0]);
    drmSyncobjCreate(drm, 0, &h[1]);
    int tl0 = open("/dev/sw_sync", O_RDWR | O_CLOEXEC), tl1 = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
    int tl2 = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
    int f0 = create_fence(tl0, 1, "probe"), f1 = create_fence(tl1, 1, "probe"), never = create_fence(tl2, 1, "probe");
    drmSyncobjImportSyncFile(drm, h[0], f0);
    drmSyncobjImportSyncFile(drm, h[1], f1);
    struct snapshot_wait w = {.drm = drm, .handles = {h[0], h[1]}, .result = -1};
    pthread_t t;
    pthread_create(&t, NULL, snapshot_waiter, &w);
    usleep(50000);
    inc(tl0, 1);                                   // the first fence the wait took signals
    usleep(50000);
    drmSyncobjReset(drm, &h[0], 1);             // then the syncobj is reset ...
    drmSyncobjImportSyncFile(drm, h[0], never); // ... and given a fence that never signals
    usleep(50000);
    inc(tl1, 1);
    pthread_join(t, NULL);
    CHECK(w.result == 0, "WAIT_ALL keeps the fences it took: reset + a new fence do not make it time out (%d)", w.result);

    uint64_t point = 5;
    uint32_t first = 0;
    int r = drmSyncobjTimelineWait(drm, &h[1], &point, 1, abs_timeout(20000000), DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE, &first);
    CHECK(r == -ETIME, "TIMELINE_WAIT WAIT_AVAILABLE on an unsubmitted point: ETIME after the timeout (%d)", r);
    struct drm_syncobj_wait bw = {.handles = (uintptr_t)&h[1], .count_handles = 1, .flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE};
    r = drmIoctl(drm, DRM_IOCTL_SYNCOBJ_WAIT, &bw);
    CHECK(r == -1 && errno == EINVAL, "plain SYNCOBJ_WAIT refuses WAIT_AVAILABLE (TIMELINE_WAIT's flag): EINVAL (%d)", r ? errno : 0);
    uint32_t zero = 0;
    struct drm_syncobj_timeline_wait tw = {.handles = (uintptr_t)&zero, .count_handles = 1};
    r = drmIoctl(drm, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &tw);
    CHECK(r == -1 && errno == ENOENT, "TIMELINE_WAIT of handle 0 without points: ENOENT (%d)", r ? errno : 0);
    struct drm_syncobj_timeline_array ts = {.handles = (uintptr_t)&h[1], .count_handles = 1};
    CHECK(drmIoctl(drm, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &ts) == 0, "TIMELINE_SIGNAL without points signals point 0");
    close(f0); close(f1); close(never); close(tl0); close(tl1); close(tl2);
    drmSyncobjDestroy(drm, h[0]);
    drmSyncobjDestroy(drm, h[1]);
}

int main(void) {
    int drm = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    uint64_t cap = 0;
    CHECK(drm >= 0 && drmGetCap(drm, DRM_CAP_SYNCOBJ_TIMELINE, &cap) == 0 && cap == 1, "DRM_CAP_SYNCOBJ_TIMELINE 1");
    eventfd_checks(drm);
    eventfd_errnos(drm);
    syncobj_errnos(drm);
    wait_semantics(drm);
    close(drm);
    printf("%d failed\n", failures);
    return failures != 0;
}
