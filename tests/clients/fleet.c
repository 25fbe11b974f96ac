// One card's share of the fleet bench (scripts/fleet-bench.sh): the master leases each of the
// card's first N CRTCs (with a connector and its primary plane) to a forked child; every child
// lights its CRTC at 640x480 and flips two dumb buffers with NONBLOCK | PAGE_FLIP_EVENT for the
// given seconds, timing each flip event against the vblank it names.
// Prints one line: "card clients=N flips=F lat_us p50=… p99=… max=… late=L" where a flip is late
// when its event is read more than one frame period after its vblank; exit 1 on any error.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include <drm_fourcc.h>
#include "probe.h"

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t period_us;  // the child's mode's frame period
static int64_t *lat;
static size_t nlat, caplat;

static void on_flip(int fd, unsigned seq, unsigned sec, unsigned usec, unsigned crtc, void *data) {  // page_flip_handler2
    (void)fd; (void)seq; (void)crtc;
    int64_t l = now_us() - ((int64_t)sec * 1000000 + usec);
    if (nlat < caplat) lat[nlat++] = l;
    *(int *)data = 0;
}

static uint32_t make_fb(int fd, uint32_t w, uint32_t h, uint32_t color) {
    struct drm_mode_create_dumb c = {.width = w, .height = h, .bpp = 32};
    if (drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &c)) return 0;
    struct drm_mode_map_dumb m = {.handle = c.handle};
    if (drmIoctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &m)) return 0;
    uint32_t *px = mmap(0, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, m.offset);
    if (px == MAP_FAILED) return 0;
    for (size_t i = 0; i < c.size / 4; i++) px[i] = color;
    munmap(px, c.size);
    uint32_t handles[4] = {c.handle}, pitches[4] = {c.pitch}, offsets[4] = {0}, fb = 0;
    if (drmModeAddFB2(fd, w, h, DRM_FORMAT_XRGB8888, handles, pitches, offsets, &fb, 0)) return 0;
    return fb;
}

// The child: flips its leased CRTC until `seconds` pass, writes its latencies (µs) to `out`.
static int client(int fd, uint32_t crtc, uint32_t conn, uint32_t plane, double seconds, int out) {
    // A lessee is a file of its own: its client caps start unset.
    drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1);
    drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1);
    drmModeConnector *c = drmModeGetConnector(fd, conn);
    if (!c || c->count_modes == 0) { fprintf(stderr, "fleet: connector %u has no modes\n", conn); return 1; }
    drmModeModeInfo mode = c->modes[0];
    for (int i = 0; i < c->count_modes; i++)
        if (c->modes[i].hdisplay == 640 && c->modes[i].vdisplay == 480) { mode = c->modes[i]; break; }
    period_us = 1000000 / (mode.vrefresh ? mode.vrefresh : 60);
    uint32_t fbs[2] = {make_fb(fd, mode.hdisplay, mode.vdisplay, 0x00204080), make_fb(fd, mode.hdisplay, mode.vdisplay, 0x00804020)};
    if (!fbs[0] || !fbs[1]) { fprintf(stderr, "fleet: framebuffers: %s\n", strerror(errno)); return 1; }
    uint32_t blob = 0;
    if (drmModeCreatePropertyBlob(fd, &mode, sizeof mode, &blob)) { fprintf(stderr, "fleet: mode blob: %s\n", strerror(errno)); return 1; }
    uint32_t p_fb = prop_id(fd, plane, DRM_MODE_OBJECT_PLANE, "FB_ID"), p_crtc = prop_id(fd, plane, DRM_MODE_OBJECT_PLANE, "CRTC_ID");
    const char *rect[] = {"SRC_X", "SRC_Y", "SRC_W", "SRC_H", "CRTC_X", "CRTC_Y", "CRTC_W", "CRTC_H"};
    uint64_t rv[] = {0, 0, (uint64_t)mode.hdisplay << 16, (uint64_t)mode.vdisplay << 16, 0, 0, mode.hdisplay, mode.vdisplay};
    drmModeAtomicReq *req = drmModeAtomicAlloc();
    drmModeAtomicAddProperty(req, conn, prop_id(fd, conn, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID"), crtc);
    drmModeAtomicAddProperty(req, crtc, prop_id(fd, crtc, DRM_MODE_OBJECT_CRTC, "MODE_ID"), blob);
    drmModeAtomicAddProperty(req, crtc, prop_id(fd, crtc, DRM_MODE_OBJECT_CRTC, "ACTIVE"), 1);
    drmModeAtomicAddProperty(req, plane, p_fb, fbs[0]);
    drmModeAtomicAddProperty(req, plane, p_crtc, crtc);
    for (int i = 0; i < 8; i++) drmModeAtomicAddProperty(req, plane, prop_id(fd, plane, DRM_MODE_OBJECT_PLANE, rect[i]), rv[i]);
    if (drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_ALLOW_MODESET, NULL)) { fprintf(stderr, "fleet: modeset: %s\n", strerror(errno)); return 1; }
    drmModeAtomicFree(req);

    caplat = (size_t)(seconds * 1000000 / period_us) + 64;
    lat = calloc(caplat, sizeof *lat);
    drmEventContext ev = {.version = 3, .page_flip_handler2 = on_flip};
    int64_t end = now_us() + (int64_t)(seconds * 1e6);
    for (int k = 1; now_us() < end; k++) {
        req = drmModeAtomicAlloc();
        drmModeAtomicAddProperty(req, plane, p_fb, fbs[k & 1]);
        int pending = 1;
        if (drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, &pending)) {
            fprintf(stderr, "fleet: flip: %s\n", strerror(errno));
            return 1;
        }
        drmModeAtomicFree(req);
        while (pending) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 1000) != 1) { fprintf(stderr, "fleet: no flip event within 1 s\n"); return 1; }
            drmHandleEvent(fd, &ev);
        }
    }
    size_t bytes = nlat * sizeof *lat;
    return write(out, lat, bytes) == (ssize_t)bytes ? 0 : 1;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    (void)failures;  // probe.h's CHECK counter: this client reports figures, not checks
    int n = argc > 1 ? atoi(argv[1]) : 8;
    double seconds = argc > 2 ? atof(argv[2]) : 5;
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    if (fd < 0) { perror("fleet: open"); return 1; }
    drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1);
    drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1);
    drmModeRes *res = drmModeGetResources(fd);
    drmModePlaneRes *pres = drmModeGetPlaneResources(fd);
    if (!res || !pres || res->count_crtcs < n || res->count_connectors < n) {
        fprintf(stderr, "fleet: the card needs %d CRTCs and connectors\n", n);
        return 1;
    }
    int pipes[64][2];
    pid_t pids[64];
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++) {
        // The primary plane that can drive CRTC i.
        uint32_t plane = 0;
        for (uint32_t k = 0; k < pres->count_planes && !plane; k++) {
            drmModePlane *p = drmModeGetPlane(fd, pres->planes[k]);
            drmModeObjectProperties *props = drmModeObjectGetProperties(fd, pres->planes[k], DRM_MODE_OBJECT_PLANE);
            for (uint32_t j = 0; props && j < props->count_props; j++) {
                drmModePropertyRes *r = drmModeGetProperty(fd, props->props[j]);
                if (r && !strcmp(r->name, "type") && props->prop_values[j] == DRM_PLANE_TYPE_PRIMARY && p && (p->possible_crtcs & (1u << i)))
                    plane = pres->planes[k];
                drmModeFreeProperty(r);
            }
            drmModeFreeObjectProperties(props);
            drmModeFreePlane(p);
        }
        uint32_t objs[] = {res->crtcs[i], res->connectors[i], plane}, lessee = 0;
        int lfd = plane ? drmModeCreateLease(fd, objs, 3, O_CLOEXEC, &lessee) : -1;
        if (lfd < 0) { fprintf(stderr, "fleet: lease of CRTC %u: %s\n", res->crtcs[i], strerror(errno)); return 1; }
        if (pipe(pipes[i])) { perror("fleet: pipe"); return 1; }
        pids[i] = fork();
        if (pids[i] == 0) {
            close(pipes[i][0]);
            _exit(client(lfd, objs[0], objs[1], objs[2], seconds, pipes[i][1]));
        }
        // The lessee fd stays open here until the children end: through the preload library a
        // forked child shares the parent's connection, so a close here would end its lease.
        close(pipes[i][1]);
    }
    size_t cap = 1 << 16, count = 0;
    int64_t *all = malloc(cap * sizeof *all);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        int64_t buf[512];
        ssize_t got;
        while ((got = read(pipes[i][0], buf, sizeof buf)) > 0) {
            for (size_t k = 0; k < (size_t)got / sizeof *buf; k++) {
                if (count == cap) all = realloc(all, (cap *= 2) * sizeof *all);
                all[count++] = buf[k];
            }
        }
        int status = 0;
        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) failed++;
    }
    if (failed || count == 0) { fprintf(stderr, "fleet: %d of %d clients failed\n", failed, n); return 1; }
    qsort(all, count, sizeof *all, cmp);
    size_t late = 0;
    for (size_t k = 0; k < count; k++) late += all[k] > 1000000 / 60;
    printf("card clients=%d flips=%zu lat_us p50=%lld p99=%lld max=%lld late=%zu\n", n, count,
           (long long)all[count / 2], (long long)all[count * 99 / 100], (long long)all[count - 1], late);
    return 0;
}
