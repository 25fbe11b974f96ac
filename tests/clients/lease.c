// DRM leases through the preload library: the lessor leases CRTC 0, its connector and primary
// plane; the lessee fd sees only those, lights them and flips; revocation takes them away.
// Prints "ok ..." / "FAIL ..." lines; exit status 1 on any failure.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include <drm_fourcc.h>

static int failures;
#define CHECK(cond, ...) do { if (cond) { printf("ok   - "); } else { printf("FAIL - "); failures++; } printf(__VA_ARGS__); printf("\n"); } while (0)

static uint32_t prop_id(int fd, uint32_t obj, uint32_t type, const char *name) {
    drmModeObjectProperties *p = drmModeObjectGetProperties(fd, obj, type);
    uint32_t id = 0;
    for (uint32_t i = 0; p && i < p->count_props && !id; i++) {
        drmModePropertyRes *r = drmModeGetProperty(fd, p->props[i]);
        if (r && !strcmp(r->name, name)) id = r->prop_id;
        drmModeFreeProperty(r);
    }
    drmModeFreeObjectProperties(p);
    return id;
}

int main(void) {
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 1; }
    drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1);
    drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1);
    drmModeRes *res = drmModeGetResources(fd);
    drmModePlaneRes *pres = drmModeGetPlaneResources(fd);
    if (!res || !pres) { printf("FAIL - resources\n"); return 1; }
    uint32_t crtc = res->crtcs[0], conn = res->connectors[0], primary = 0, overlay = 0;
    for (uint32_t i = 0; i < pres->count_planes; i++) {
        drmModeObjectProperties *p = drmModeObjectGetProperties(fd, pres->planes[i], DRM_MODE_OBJECT_PLANE);
        for (uint32_t k = 0; p && k < p->count_props; k++) {
            drmModePropertyRes *r = drmModeGetProperty(fd, p->props[k]);
            if (r && !strcmp(r->name, "type")) {
                if (p->prop_values[k] == DRM_PLANE_TYPE_PRIMARY && !primary) primary = pres->planes[i];
                if (p->prop_values[k] == DRM_PLANE_TYPE_OVERLAY && !overlay) overlay = pres->planes[i];
            }
            drmModeFreeProperty(r);
        }
        drmModeFreeObjectProperties(p);
    }

    uint32_t lessee_id = 0, bad[] = {primary};
    int r = drmModeCreateLease(fd, bad, 1, O_CLOEXEC, &lessee_id);
    CHECK(r < 0 && errno == EINVAL, "a lease without CRTC and connector: EINVAL (got %d, %s)", r, strerror(errno));
    uint32_t missing[] = {crtc, conn, 0xdead};
    r = drmModeCreateLease(fd, missing, 3, O_CLOEXEC, &lessee_id);
    CHECK(r < 0 && errno == ENOENT, "a lease naming no object: ENOENT (%s)", strerror(errno));

    uint32_t objs[] = {crtc, conn, primary};
    int lfd = drmModeCreateLease(fd, objs, 3, O_CLOEXEC, &lessee_id);
    CHECK(lfd >= 0 && lessee_id > 0, "CREATE_LEASE of CRTC %u, connector %u, plane %u: fd %d, lessee %u", crtc, conn, primary, lfd, lessee_id);
    if (lfd < 0) return 1;
    r = drmModeCreateLease(fd, objs, 3, O_CLOEXEC, &(uint32_t){0});
    CHECK(r < 0 && errno == EBUSY, "the same objects again: EBUSY (%s)", strerror(errno));
    drmModeLesseeListPtr ll = drmModeListLessees(fd);
    CHECK(ll && ll->count == 1 && ll->lessees[0] == lessee_id, "LIST_LESSEES: [%u]", ll && ll->count ? ll->lessees[0] : 0);
    free(ll);

    drmSetClientCap(lfd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1);
    drmSetClientCap(lfd, DRM_CLIENT_CAP_ATOMIC, 1);
    drmModeRes *lres = drmModeGetResources(lfd);
    CHECK(lres && lres->count_crtcs == 1 && lres->crtcs[0] == crtc && lres->count_connectors == 1, "the lessee sees %d CRTC(s), %d connector(s)",
          lres ? lres->count_crtcs : -1, lres ? lres->count_connectors : -1);
    drmModeObjectListPtr lo = drmModeGetLease(lfd);
    CHECK(lo && lo->count == 3, "GET_LEASE on the lessee: %u objects", lo ? lo->count : 0);
    free(lo);
    drmModePlane *op = overlay ? drmModeGetPlane(lfd, overlay) : NULL;
    CHECK(overlay && !op && errno == ENOENT, "an unleased plane is ENOENT to the lessee");
    drmModeFreePlane(op);
    CHECK(drmIsMaster(lfd), "the lessee is master of its lease");

    // Light the leased CRTC from the lessee and wait for the flip event.
    struct drm_mode_create_dumb cd = {.width = 1024, .height = 768, .bpp = 32};
    r = drmIoctl(lfd, DRM_IOCTL_MODE_CREATE_DUMB, &cd);
    uint32_t fb = 0;
    uint32_t handles[4] = {cd.handle}, pitches[4] = {cd.pitch}, offsets[4] = {0};
    if (!r) r = drmModeAddFB2(lfd, 1024, 768, DRM_FORMAT_XRGB8888, handles, pitches, offsets, &fb, 0);
    drmModeConnector *c = drmModeGetConnector(lfd, conn);
    uint32_t blob = 0;
    if (!r && c && c->count_modes) r = drmModeCreatePropertyBlob(lfd, &c->modes[0], sizeof(c->modes[0]), &blob);
    drmModeAtomicReq *req = drmModeAtomicAlloc();
    drmModeAtomicAddProperty(req, conn, prop_id(lfd, conn, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID"), crtc);
    drmModeAtomicAddProperty(req, crtc, prop_id(lfd, crtc, DRM_MODE_OBJECT_CRTC, "MODE_ID"), blob);
    drmModeAtomicAddProperty(req, crtc, prop_id(lfd, crtc, DRM_MODE_OBJECT_CRTC, "ACTIVE"), 1);
    const char *pp[] = {"FB_ID", "CRTC_ID", "SRC_W", "SRC_H", "CRTC_W", "CRTC_H"};
    uint64_t pv[] = {fb, crtc, 1024ull << 16, 768ull << 16, 1024, 768};
    for (int i = 0; i < 6; i++) drmModeAtomicAddProperty(req, primary, prop_id(lfd, primary, DRM_MODE_OBJECT_PLANE, pp[i]), pv[i]);
    if (!r) r = drmModeAtomicCommit(lfd, req, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_PAGE_FLIP_EVENT | DRM_MODE_ATOMIC_NONBLOCK, NULL);
    drmModeAtomicFree(req);
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    int ev = r == 0 && poll(&pfd, 1, 2000) == 1;
    char buf[256];
    ssize_t n = ev ? read(lfd, buf, sizeof(buf)) : -1;
    CHECK(r == 0 && n == 32 && ((struct drm_event *)buf)->type == DRM_EVENT_FLIP_COMPLETE,
          "the lessee lights its CRTC with an atomic modeset and gets the flip event (r=%d, read %zd)", r, n);
    drmModeCrtc *seen = drmModeGetCrtc(fd, crtc);
    CHECK(seen && seen->buffer_id == fb && seen->mode_valid, "the lessor sees the lessee's fb %u on CRTC %u", fb, crtc);
    drmModeFreeCrtc(seen);

    r = drmModeRevokeLease(fd, lessee_id);
    CHECK(r == 0, "REVOKE_LEASE: %d", r);
    drmModeRes *after = drmModeGetResources(lfd);
    CHECK(after && after->count_crtcs == 0 && after->count_connectors == 0, "after revocation the lessee sees %d CRTCs", after ? after->count_crtcs : -1);
    r = drmModeRevokeLease(fd, lessee_id);
    CHECK(r < 0 && errno == ENOENT, "revoking it again: ENOENT (%s)", strerror(errno));
    drmModeFreeResources(after);
    drmModeFreeResources(lres);
    drmModeFreeConnector(c);
    close(lfd);
    drmModeFreePlaneResources(pres);
    drmModeFreeResources(res);
    close(fd);
    return failures ? 1 : 0;
}
