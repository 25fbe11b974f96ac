// sw_sync for clients of a fake card (drivers/dma-buf/sw_sync.c's ioctls, no root, no
// debugfs mount): timelines from /dev/sw_sync and <debugfs>/sync/sw_sync, fences as sync files
// that signal on INC, the timeline's close failing what is pending with ENOENT, and a fence fed
// to a commit as IN_FENCE_FD holding the flip until the timeline reaches it.
// Build: cc -O2 -Wall -o swsync swsync.c $(pkg-config --cflags --libs libdrm)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/sync_file.h>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include "probe.h"

// SYNC_IOC_FILE_INFO: the file's status and its one fence's driver/timeline names and status.
static int info(int fd, char *name, char *driver, int *fence_status) {
    struct sync_fence_info fi = {0};
    struct sync_file_info i = {.num_fences = 1, .sync_fence_info = (uint64_t)(uintptr_t)&fi};
    if (ioctl(fd, SYNC_IOC_FILE_INFO, &i)) return -1000 - errno;
    if (name) snprintf(name, 32, "%s", i.name);
    if (driver) snprintf(driver, 32, "%s", fi.driver_name);
    if (fence_status) *fence_status = fi.status;
    return i.status;
}


static void timeline_checks(void) {
    CHECK(access("/dev/sw_sync", R_OK | W_OK) == 0, "access(/dev/sw_sync, R_OK|W_OK)");
    int tl = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
    CHECK(tl >= 0, "open /dev/sw_sync: a timeline");
    int f2 = create_fence(tl, 2, "two"), f1 = create_fence(tl, 1, "one");
    CHECK(f1 >= 0 && f2 >= 0, "CREATE_FENCE at points 1 and 2");
    char name[32] = "", driver[32] = "";
    int fs = 9;
    CHECK(info(f2, name, driver, &fs) == 0 && !strcmp(name, "two") && !strcmp(driver, "sw_sync") && fs == 0,
          "an unsignalled fence: status 0, name 'two', driver '%s'", driver);
    CHECK(!readable(f1, 0) && !readable(f2, 0), "neither is readable before INC");
    CHECK(inc(tl, 1) == 0 && readable(f1, 100) && !readable(f2, 0), "INC 1 signals point 1 only");
    CHECK(inc(tl, 1) == 0 && readable(f2, 100) && info(f2, NULL, NULL, &fs) == 1 && fs == 1, "INC 1 more signals point 2 (status 1)");
    int past = create_fence(tl, 1, "past");
    CHECK(past >= 0 && readable(past, 0), "a fence at a point already reached is signalled at once");
    int pending = create_fence(tl, 10, "ten");
    close(tl);
    // Already when close() returns (IGT's timeline_closed polls with a zero timeout).
    CHECK(readable(pending, 0) && info(pending, NULL, NULL, &fs) == -ENOENT && fs == -ENOENT,
          "closing the timeline has signalled its pending fence with -ENOENT (status %d)", fs);
    CHECK(ioctl(pending, SW_SYNC_IOC_INC, &(uint32_t){1}) == -1 && errno == ENOTTY, "sw_sync ioctls on a sync file -> ENOTTY");
    close(f1); close(f2); close(past); close(pending);

    int dbg = open("/sys/kernel/debug/sync/sw_sync", O_RDWR);
    CHECK(dbg >= 0 && create_fence(dbg, 1, "d") >= 0, "<debugfs>/sync/sw_sync is a timeline too");
    if (dbg >= 0) close(dbg);
}

// A commit whose plane waits for a sw_sync fence flips only once the timeline reaches it.
static void in_fence_checks(void) {
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    struct scene sc;
    CHECK(scene_light(fd, &sc), "SetCrtc");
    int tl = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
    int fence = create_fence(tl, 1, "gate");
    drmModeAtomicReq *req = drmModeAtomicAlloc();
    drmModeAtomicAddProperty(req, sc.primary, prop_id(fd, sc.primary, DRM_MODE_OBJECT_PLANE, "FB_ID"), sc.fbs[1]);
    drmModeAtomicAddProperty(req, sc.primary, prop_id(fd, sc.primary, DRM_MODE_OBJECT_PLANE, "IN_FENCE_FD"), (uint64_t)fence);
    int r = drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, NULL);
    drmModeAtomicFree(req);
    CHECK(r == 0, "nonblocking commit with a sw_sync fence as IN_FENCE_FD (%d)", r);
    CHECK(!readable(fd, 200), "no flip event while the fence is unsignalled (200 ms, 12 frames)");
    drmModeCrtc *c = drmModeGetCrtc(fd, sc.crtc);
    CHECK(c && c->buffer_id == sc.fbs[1], "the commit is in the software state already (GETCRTC fb %u)", c ? c->buffer_id : 0);
    drmModeFreeCrtc(c);
    CHECK(inc(tl, 1) == 0 && readable(fd, 1000), "INC: the flip completes and its event arrives");
    char ev[64];
    CHECK(read(fd, ev, sizeof(ev)) == 32 && ((struct drm_event *)ev)->type == DRM_EVENT_FLIP_COMPLETE, "the event is FLIP_COMPLETE");
    close(fence);
    close(tl);
    scene_dark(fd, &sc);
    close(fd);
}

static void send_fd(int sock, int fd) {
    char c = 'x', ctl[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec io = {&c, 1};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    sendmsg(sock, &m, 0);
}

static int recv_fd(int sock) {
    char c, ctl[CMSG_SPACE(sizeof(int))];
    struct iovec io = {&c, 1};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    if (recvmsg(sock, &m, 0) <= 0) return -1;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    int fd = -1;
    if (cm && cm->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    return fd;
}

// IGT's sync_busy_fork_unixsocket: a timeline fd sent to a forked child over SCM_RIGHTS is a
// new fd number there; the child's INC must reach the same timeline, and the child's exit must
// not close the timeline the parent still holds. A sync file sent the same way is one too.
static void passed_fd_checks(void) {
    int tl = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
    int fence = create_fence(tl, 1, "passed");
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        // Closing the inherited copy must not close the parent's timeline (last close only).
        close(tl);
        int t = recv_fd(sv[1]), f = recv_fd(sv[1]);
        int ok = t >= 0 && inc(t, 1) == 0 && f >= 0 && info(f, NULL, NULL, NULL) == 1;
        _exit(ok ? 0 : 1);
    }
    close(sv[1]);
    send_fd(sv[0], tl);
    send_fd(sv[0], fence);
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child INCs the timeline through the fd it received and reads the passed sync file signalled");
    CHECK(readable(fence, 1000) && info(fence, NULL, NULL, NULL) == 1, "the parent's fence signalled from the child's INC");
    int second = create_fence(tl, 2, "after");
    CHECK(second >= 0 && !readable(second, 0) && inc(tl, 1) == 0 && readable(second, 1000),
          "the timeline outlives the child's copies (inherited one closed, received one dropped at exit): a new fence, INC, signalled");
    close(second);
    close(fence);
    close(sv[0]);
    close(tl);
}

int main(void) {
    timeline_checks();
    in_fence_checks();
    passed_fd_checks();
    printf("%d failed\n", failures);
    return failures != 0;
}
