// What the C probes under tests/clients share: one "ok"/"FAIL" line per check, the sw_sync
// uAPI (sw_sync.c's, not in the kernel headers), poll readiness, property lookup, and a CRTC
// lit with two dumb framebuffers. Header-only: each probe is one file for cc.
#ifndef FAKEDRM_PROBE_H
#define FAKEDRM_PROBE_H
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

static int failures;
#define CHECK(cond, ...) do { if (cond) { printf("ok   - "); } else { printf("FAIL - "); failures++; } printf(__VA_ARGS__); printf("\n"); } while (0)

struct sw_sync_create_fence_data { uint32_t value; char name[32]; int32_t fence; };
#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC _IOW('W', 1, uint32_t)

// A sync file for point `value` of timeline `tl`, or -errno.
static inline int create_fence(int tl, uint32_t value, const char *name) {
    struct sw_sync_create_fence_data d = {.value = value};
    snprintf(d.name, sizeof(d.name), "%s", name);
    return ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &d) ? -errno : d.fence;
}

static inline int inc(int tl, uint32_t n) { return ioctl(tl, SW_SYNC_IOC_INC, &n); }

static inline int readable(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static inline uint32_t prop_id(int fd, uint32_t obj, uint32_t type, const char *name) {
    drmModeObjectProperties *props = drmModeObjectGetProperties(fd, obj, type);
    uint32_t id = 0;
    for (uint32_t i = 0; props && i < props->count_props; i++) {
        drmModePropertyRes *p = drmModeGetProperty(fd, props->props[i]);
        if (p && !strcmp(p->name, name)) id = p->prop_id;
        drmModeFreeProperty(p);
    }
    drmModeFreeObjectProperties(props);
    return id;
}

// CRTC 0 showing fbs[0] on its primary plane through the first connector's first mode, with
// a second buffer fbs[1] of the same size to flip to. Atomic client cap set.
struct scene {
    uint32_t crtc, connector, primary, fbs[2], handles[2];
    drmModeModeInfo mode;
};

static inline int scene_light(int fd, struct scene *s) {
    memset(s, 0, sizeof(*s));
    drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1);
    drmModeRes *res = drmModeGetResources(fd);
    drmModeConnector *conn = res ? drmModeGetConnector(fd, res->connectors[0]) : NULL;
    drmModePlaneRes *pres = drmModeGetPlaneResources(fd);
    int ok = conn && pres && conn->count_modes > 0;
    if (ok) {
        s->mode = conn->modes[0];
        s->crtc = res->crtcs[0];
        s->connector = conn->connector_id;
        for (uint32_t i = 0; i < pres->count_planes && !s->primary; i++) {
            drmModePlane *p = drmModeGetPlane(fd, pres->planes[i]);
            if (p && p->possible_crtcs & 1) s->primary = p->plane_id; // the primary comes first
            drmModeFreePlane(p);
        }
        for (int i = 0; i < 2; i++) {
            uint32_t pitch;
            uint64_t size;
            drmModeCreateDumbBuffer(fd, s->mode.hdisplay, s->mode.vdisplay, 32, 0, &s->handles[i], &pitch, &size);
            drmModeAddFB(fd, s->mode.hdisplay, s->mode.vdisplay, 24, 32, pitch, s->handles[i], &s->fbs[i]);
        }
        ok = drmModeSetCrtc(fd, s->crtc, s->fbs[0], 0, 0, &s->connector, 1, &s->mode) == 0;
    }
    drmModeFreePlaneResources(pres);
    drmModeFreeConnector(conn);
    drmModeFreeResources(res);
    return ok;
}

static inline void scene_dark(int fd, const struct scene *s) { drmModeSetCrtc(fd, s->crtc, 0, 0, 0, NULL, 0, NULL); }
#endif
