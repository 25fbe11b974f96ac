// Per-ioctl latency on a DRM node: median and p99 in µs of GET_CAP, GETRESOURCES (filled:
// arrays sized from a first call, as drmModeGetResources' second pass), and an atomic
// TEST_ONLY modeset (connector → CRTC with a mode blob, primary plane with a dumb fb).
//   cuse-bench CARD [iterations]        → "name median p99" lines
//   cuse-bench --echo NODE [iterations] → the same GET_CAP-shaped request and an _IO request
//   cuse-bench --echo-in-place NODE [iterations] → requests of those sizes that cuse-echo
//     --in-place answers with as many copies in and out as fakedrm makes for each row
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include <drm_fourcc.h>

static double now_us(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static void report(const char *name, double *v, int n) {
    qsort(v, n, sizeof *v, cmp);
    printf("%-28s %9.1f %9.1f\n", name, v[n / 2], v[(int)(n * 0.99)]);
}
#define MEASURE(name, n, stmt) do { double *v = malloc(sizeof(double) * (n)); \
    for (int i_ = 0; i_ < (n); i_++) { double t0 = now_us(); if ((stmt) != 0) { fprintf(stderr, "%s failed: %s\n", name, strerror(errno)); exit(1); } v[i_] = now_us() - t0; } \
    report(name, v, n); free(v); } while (0)

static uint32_t prop_id(int fd, uint32_t obj, uint32_t type, const char *name) {
    drmModeObjectProperties *p = drmModeObjectGetProperties(fd, obj, type);
    uint32_t id = 0;
    for (uint32_t i = 0; p && i < p->count_props; i++) {
        drmModePropertyRes *r = drmModeGetProperty(fd, p->props[i]);
        if (r && !strcmp(r->name, name)) id = r->prop_id;
        drmModeFreeProperty(r);
    }
    drmModeFreeObjectProperties(p);
    if (!id) { fprintf(stderr, "no property %s\n", name); exit(1); }
    return id;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: cuse-bench [--echo] NODE [iterations]\n"); return 2; }
    int in_place = !strcmp(argv[1], "--echo-in-place");
    int echo = in_place || !strcmp(argv[1], "--echo");
    const char *path = argv[1 + echo];
    int n = argc > 2 + echo ? atoi(argv[2 + echo]) : 2000;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) { perror(path); return 1; }
    struct drm_get_cap cap = { .capability = DRM_CAP_DUMB_BUFFER };
    if (in_place) {
        // 0x80 | copies in << 4 | copies out (cuse-echo.c): GET_CAP copies its struct in and
        // out; GETRESOURCES filled the struct in, then the CRTC, connector and encoder arrays
        // and the struct out; atomic the struct, objs, count_props, props and values in, the
        // struct out.
        struct drm_mode_card_res r = {0};
        struct drm_mode_atomic a = {0};
        MEASURE("echo in place 16 B (1 in, 1 out)", n, ioctl(fd, DRM_IOWR(0x91, struct drm_get_cap), &cap));
        MEASURE("echo in place 64 B (1 in, 4 out)", n, ioctl(fd, DRM_IOWR(0x94, struct drm_mode_card_res), &r));
        MEASURE("echo in place 56 B (5 in, 1 out)", n, ioctl(fd, DRM_IOWR(0xD1, struct drm_mode_atomic), &a));
        return 0;
    }
    if (echo) {
        MEASURE("echo _IOWR 16 B (1 retry)", n, ioctl(fd, DRM_IOCTL_GET_CAP, &cap));
        MEASURE("echo _IO (no retry)", n, ioctl(fd, DRM_IOCTL_DROP_MASTER, 0));
        // The same struct sizes as GETRESOURCES (64 B) and ATOMIC (56 B), with fakedrm's retries.
        struct drm_mode_card_res r = {0};
        struct drm_mode_atomic a = {0};
        MEASURE("echo _IOWR 64 B (2 retries)", n, ioctl(fd, DRM_IOWR(0xE2, struct drm_mode_card_res), &r));
        MEASURE("echo _IOWR 56 B (3 retries)", n, ioctl(fd, DRM_IOWR(0xE3, struct drm_mode_atomic), &a));
        return 0;
    }
    MEASURE("GET_CAP", n, ioctl(fd, DRM_IOCTL_GET_CAP, &cap));

    struct drm_mode_card_res res = {0};
    if (ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res)) { perror("GETRESOURCES"); return 1; }
    uint32_t fbs[64], crtcs[64], conns[64], encs[64];
    struct drm_mode_card_res filled = res;
    filled.fb_id_ptr = (uintptr_t)fbs; filled.crtc_id_ptr = (uintptr_t)crtcs;
    filled.connector_id_ptr = (uintptr_t)conns; filled.encoder_id_ptr = (uintptr_t)encs;
    struct drm_mode_card_res r2;
    MEASURE("GETRESOURCES (filled)", n, (r2 = filled, ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &r2)));

    drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1);
    if (drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1)) { perror("ATOMIC cap"); return 1; }
    drmModeRes *mr = drmModeGetResources(fd);
    drmModeConnector *c = drmModeGetConnector(fd, mr->connectors[0]);
    drmModeModeInfo mode = c->modes[0];
    uint32_t crtc = mr->crtcs[0], plane = 0;
    drmModePlaneRes *pr = drmModeGetPlaneResources(fd);
    for (uint32_t i = 0; i < pr->count_planes && !plane; i++) {
        drmModeObjectProperties *p = drmModeObjectGetProperties(fd, pr->planes[i], DRM_MODE_OBJECT_PLANE);
        for (uint32_t j = 0; j < p->count_props; j++) {
            drmModePropertyRes *r = drmModeGetProperty(fd, p->props[j]);
            if (!strcmp(r->name, "type") && p->prop_values[j] == DRM_PLANE_TYPE_PRIMARY) plane = pr->planes[i];
            drmModeFreeProperty(r);
        }
        drmModeFreeObjectProperties(p);
    }
    struct drm_mode_create_dumb dumb = { .width = mode.hdisplay, .height = mode.vdisplay, .bpp = 32 };
    if (ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &dumb)) { perror("CREATE_DUMB"); return 1; }
    uint32_t handles[4] = { dumb.handle }, pitches[4] = { dumb.pitch }, offsets[4] = {0}, fb;
    if (drmModeAddFB2(fd, mode.hdisplay, mode.vdisplay, DRM_FORMAT_XRGB8888, handles, pitches, offsets, &fb, 0)) { perror("ADDFB2"); return 1; }
    uint32_t blob;
    if (drmModeCreatePropertyBlob(fd, &mode, sizeof mode, &blob)) { perror("blob"); return 1; }
    drmModeAtomicReq *req = drmModeAtomicAlloc();
    drmModeAtomicAddProperty(req, c->connector_id, prop_id(fd, c->connector_id, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID"), crtc);
    drmModeAtomicAddProperty(req, crtc, prop_id(fd, crtc, DRM_MODE_OBJECT_CRTC, "MODE_ID"), blob);
    drmModeAtomicAddProperty(req, crtc, prop_id(fd, crtc, DRM_MODE_OBJECT_CRTC, "ACTIVE"), 1);
    const char *pn[] = { "FB_ID", "CRTC_ID", "SRC_X", "SRC_Y", "SRC_W", "SRC_H", "CRTC_X", "CRTC_Y", "CRTC_W", "CRTC_H" };
    uint64_t pv[] = { fb, crtc, 0, 0, (uint64_t)mode.hdisplay << 16, (uint64_t)mode.vdisplay << 16, 0, 0, mode.hdisplay, mode.vdisplay };
    for (int i = 0; i < 10; i++) drmModeAtomicAddProperty(req, plane, prop_id(fd, plane, DRM_MODE_OBJECT_PLANE, pn[i]), pv[i]);
    MEASURE("atomic TEST_ONLY modeset", n, drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_ATOMIC_ALLOW_MODESET, NULL));
    return 0;
}
