// kmsprobe: a small libdrm client that prints machine-readable observations (`key=value`
// words, one observation per line) so test scripts (scripts/fault-tests.sh, scripts/soak.sh)
// can assert what a KMS client sees, including under injected faults (docs/faults.md).
//
// Build:  cc -O2 -Wall -o kmsprobe tests/clients/kmsprobe.c $(pkg-config --cflags --libs libdrm)
// Usage:  kmsprobe [global options] COMMAND [ARGS] [command options]
//   flip N [--out-fence] [--release-fence] [--in-fence] [--blocking] [--same-fb]
//                         atomic modeset, then N page flips (NONBLOCK|PAGE_FLIP_EVENT unless
//                         --blocking) alternating two XRGB8888 dumb-buffer fbs (--same-fb: the
//                         modeset's fb every time, a flip that replaces nothing)
//   vblank N [--no-modeset] [--event]
//                         WAIT_VBLANK relative +1, N times; sequence and timestamp deltas
//   ioctl-loop NAME N [--sleep-ms S]
//                         NAME: GETRESOURCES GETCONNECTOR ATOMIC_TEST VERSION GET_CAP;
//                         prints results=0,EBUSY,...
//   master [--wait-file PATH]
//                         master-only check (empty TEST_ONLY atomic commit) before and after
//                         a line on stdin (or PATH appearing)
//   hotplug-watch SECONDS [--interval-ms I]
//                         polls GETCONNECTOR, counts status/mode/EDID changes
//   info                  connectors (status, modes, EDID blob) and CRTCs
//   soak                  flips forever with out/in/release fences when master, otherwise
//                         non-master work (resources, dumb buffers, fbs, blobs, vblank events)
// Global options (anywhere): --device PATH (default /dev/dri/card0), --timeout-ms T (event
// wait, default 2000), --fence-timeout-ms T (fence wait, default 1000).
// Exit status: 0 when the command ran to its end (faults are observations, not failures),
// 1 on a setup failure, 2 on usage, 3 when a blocking wait timed out (watchdog).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/sync_file.h>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include <drm_fourcc.h>

static const char *g_dev = "/dev/dri/card0";
static int g_timeout_ms = 2000;
static int g_fence_timeout_ms = 1000;
static int g_fd = -1;

static const char *ename(int e) {
    static char buf[8][16];
    static int k;
    if (e == 0) return "0";
    const char *n = strerrorname_np(e);
    if (n) return n;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof(buf[k]), "E%d", e);
    return buf[k];
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

// One failure line per failed call: `error op=NAME errno=ENAME msg="..."`.
static void report_err(const char *op, int e) {
    printf("error op=%s errno=%s msg=\"%s\"\n", op, ename(e), strerror(e));
}

// Raw ioctl (no drmIoctl EINTR/EAGAIN retry loop: an injected EINTR must be seen, not retried).
static int xioctl(int fd, unsigned long req, void *arg) {
    return ioctl(fd, req, arg) == 0 ? 0 : errno;
}

// --- error tallies ------------------------------------------------------------------------------
struct tally { int err[256]; int other; };
static void tally_add(struct tally *t, int e) {
    if (e > 0 && e < 256) t->err[e]++; else t->other++;
}
static void tally_print(const struct tally *t) {
    int any = 0;
    printf("errors=");
    for (int e = 1; e < 256; e++)
        if (t->err[e]) { printf("%s%s:%d", any ? "," : "", ename(e), t->err[e]); any = 1; }
    if (t->other) { printf("%sother:%d", any ? "," : "", t->other); any = 1; }
    if (!any) printf("none");
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}
static int64_t median(int64_t *v, int n) {
    if (n <= 0) return -1;
    int64_t *c = malloc(sizeof(*c) * n);
    memcpy(c, v, sizeof(*c) * n);
    qsort(c, n, sizeof(*c), cmp_i64);
    int64_t m = c[n / 2];
    free(c);
    return m;
}

// --- open -----------------------------------------------------------------------------------
static int open_card(void) {
    int fd = open(g_dev, O_RDWR | O_CLOEXEC);
    if (fd < 0) { report_err("open", errno); return -1; }
    g_fd = fd;
    return fd;
}

// --- properties -------------------------------------------------------------------------------
static uint32_t find_prop(int fd, uint32_t obj, uint32_t type, const char *name, uint64_t *value) {
    drmModeObjectProperties *props = drmModeObjectGetProperties(fd, obj, type);
    if (!props) { report_err("OBJ_GETPROPERTIES", errno); return 0; }
    uint32_t id = 0;
    for (uint32_t i = 0; i < props->count_props && !id; i++) {
        drmModePropertyRes *p = drmModeGetProperty(fd, props->props[i]);
        if (!p) continue;
        if (!strcmp(p->name, name)) {
            id = p->prop_id;
            if (value) *value = props->prop_values[i];
        }
        drmModeFreeProperty(p);
    }
    drmModeFreeObjectProperties(props);
    return id;
}

// --- a minimal atomic request builder (raw ioctl, so errnos are the daemon's) ---------------------
struct areq {
    uint32_t objs[8], cnt[8], props[64];
    uint64_t vals[64];
    int nobj, nprop;
};
static void aadd(struct areq *r, uint32_t obj, uint32_t prop, uint64_t val) {
    if (!prop || r->nprop >= 64) return;
    if (r->nobj == 0 || r->objs[r->nobj - 1] != obj) {
        if (r->nobj >= 8) return;
        r->objs[r->nobj] = obj;
        r->cnt[r->nobj++] = 0;
    }
    r->cnt[r->nobj - 1]++;
    r->props[r->nprop] = prop;
    r->vals[r->nprop++] = val;
}
static int acommit(int fd, struct areq *r, uint32_t flags, uint64_t user_data) {
    struct drm_mode_atomic a = {
        .flags = flags,
        .count_objs = r->nobj,
        .objs_ptr = (uintptr_t)r->objs,
        .count_props_ptr = (uintptr_t)r->cnt,
        .props_ptr = (uintptr_t)r->props,
        .prop_values_ptr = (uintptr_t)r->vals,
        .user_data = user_data,
    };
    return xioctl(fd, DRM_IOCTL_MODE_ATOMIC, &a);
}
// An empty TEST_ONLY commit: 0 for the master, EACCES for anyone else (MODE_ATOMIC is DRM_MASTER).
static int master_check(int fd) {
    struct areq r = {0};
    return acommit(fd, &r, DRM_MODE_ATOMIC_TEST_ONLY, 0);
}

// --- KMS setup ----------------------------------------------------------------------------------
struct buf { uint32_t handle, pitch, fb; uint64_t size; };
struct kms {
    uint32_t conn_id, crtc_id, plane_id, crtc_index;
    drmModeModeInfo mode;
    uint32_t blob_id;
    uint32_t p_conn_crtc, p_mode_id, p_active, p_out_fence, p_release_fence;
    uint32_t p_fb, p_crtc, p_src_x, p_src_y, p_src_w, p_src_h, p_crtc_x, p_crtc_y, p_crtc_w, p_crtc_h, p_in_fence;
    struct buf b[2];
    int64_t period_us;
};

static int create_fb(int fd, uint32_t w, uint32_t h, uint32_t colour, struct buf *b, int fill) {
    struct drm_mode_create_dumb c = {.width = w, .height = h, .bpp = 32};
    int e = xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &c);
    if (e) { report_err("MODE_CREATE_DUMB", e); return e; }
    b->handle = c.handle; b->pitch = c.pitch; b->size = c.size;
    if (fill) {
        struct drm_mode_map_dumb m = {.handle = c.handle};
        e = xioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &m);
        if (e) { report_err("MODE_MAP_DUMB", e); return e; }
        uint32_t *p = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, m.offset);
        if (p == MAP_FAILED) { report_err("mmap", errno); return errno; }
        for (uint64_t i = 0; i < c.size / 4; i++) p[i] = colour;
        munmap(p, c.size);
    }
    uint32_t handles[4] = {c.handle}, pitches[4] = {c.pitch}, offsets[4] = {0};
    if (drmModeAddFB2(fd, w, h, DRM_FORMAT_XRGB8888, handles, pitches, offsets, &b->fb, 0)) {
        e = errno;
        report_err("MODE_ADDFB2", e);
        return e;
    }
    return 0;
}

static void destroy_buf(int fd, struct buf *b) {
    if (b->fb) drmModeRmFB(fd, b->fb);
    if (b->handle) {
        struct drm_mode_destroy_dumb d = {.handle = b->handle};
        xioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, &d);
    }
    memset(b, 0, sizeof(*b));
}

// Finds connector/CRTC/primary plane and their property ids, makes a mode blob and two fbs.
// Returns 0 or an errno (already reported).
static int setup_kms(int fd, struct kms *k, int fill) {
    memset(k, 0, sizeof(*k));
    int e;
    if (drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1)) { e = errno; report_err("SET_CLIENT_CAP(UNIVERSAL_PLANES)", e); return e; }
    if (drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1)) { e = errno; report_err("SET_CLIENT_CAP(ATOMIC)", e); return e; }
    drmModeRes *res = drmModeGetResources(fd);
    if (!res) { e = errno; report_err("MODE_GETRESOURCES", e); return e; }
    drmModeConnector *conn = NULL;
    for (int i = 0; i < res->count_connectors && !conn; i++) {
        drmModeConnector *c = drmModeGetConnector(fd, res->connectors[i]);
        if (!c) { report_err("MODE_GETCONNECTOR", errno); continue; }
        if (c->connection == DRM_MODE_CONNECTED && c->count_modes > 0) conn = c;
        else drmModeFreeConnector(c);
    }
    if (!conn) { printf("error op=find-connector errno=ENODEV msg=\"no connected connector with modes\"\n"); drmModeFreeResources(res); return ENODEV; }
    k->conn_id = conn->connector_id;
    k->mode = conn->modes[0];
    for (int i = 0; i < conn->count_modes; i++)
        if (conn->modes[i].type & DRM_MODE_TYPE_PREFERRED) { k->mode = conn->modes[i]; break; }
    uint32_t possible = 0;
    for (int i = 0; i < conn->count_encoders; i++) {
        drmModeEncoder *enc = drmModeGetEncoder(fd, conn->encoders[i]);
        if (enc) { possible |= enc->possible_crtcs; drmModeFreeEncoder(enc); }
    }
    drmModeFreeConnector(conn);
    if (!possible) possible = 1;
    for (int i = 0; i < res->count_crtcs; i++)
        if (possible & (1u << i)) { k->crtc_index = i; k->crtc_id = res->crtcs[i]; break; }
    drmModeFreeResources(res);
    if (!k->crtc_id) { printf("error op=find-crtc errno=ENODEV\n"); return ENODEV; }

    drmModePlaneRes *pr = drmModeGetPlaneResources(fd);
    if (!pr) { e = errno; report_err("MODE_GETPLANERESOURCES", e); return e; }
    for (uint32_t i = 0; i < pr->count_planes && !k->plane_id; i++) {
        drmModePlane *pl = drmModeGetPlane(fd, pr->planes[i]);
        if (!pl) continue;
        uint64_t type = 99;
        if ((pl->possible_crtcs & (1u << k->crtc_index)) &&
            find_prop(fd, pl->plane_id, DRM_MODE_OBJECT_PLANE, "type", &type) && type == DRM_PLANE_TYPE_PRIMARY)
            k->plane_id = pl->plane_id;
        drmModeFreePlane(pl);
    }
    drmModeFreePlaneResources(pr);
    if (!k->plane_id) { printf("error op=find-plane errno=ENODEV\n"); return ENODEV; }

    k->p_conn_crtc = find_prop(fd, k->conn_id, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID", NULL);
    k->p_mode_id = find_prop(fd, k->crtc_id, DRM_MODE_OBJECT_CRTC, "MODE_ID", NULL);
    k->p_active = find_prop(fd, k->crtc_id, DRM_MODE_OBJECT_CRTC, "ACTIVE", NULL);
    k->p_out_fence = find_prop(fd, k->crtc_id, DRM_MODE_OBJECT_CRTC, "OUT_FENCE_PTR", NULL);
    k->p_release_fence = find_prop(fd, k->crtc_id, DRM_MODE_OBJECT_CRTC, "RELEASE_FENCE_PTR", NULL);
    uint32_t pl = k->plane_id;
    k->p_fb = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "FB_ID", NULL);
    k->p_crtc = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "CRTC_ID", NULL);
    k->p_src_x = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "SRC_X", NULL);
    k->p_src_y = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "SRC_Y", NULL);
    k->p_src_w = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "SRC_W", NULL);
    k->p_src_h = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "SRC_H", NULL);
    k->p_crtc_x = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "CRTC_X", NULL);
    k->p_crtc_y = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "CRTC_Y", NULL);
    k->p_crtc_w = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "CRTC_W", NULL);
    k->p_crtc_h = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "CRTC_H", NULL);
    k->p_in_fence = find_prop(fd, pl, DRM_MODE_OBJECT_PLANE, "IN_FENCE_FD", NULL);
    if (!k->p_conn_crtc || !k->p_mode_id || !k->p_active || !k->p_fb || !k->p_crtc) {
        printf("error op=find-properties errno=ENOENT\n");
        return ENOENT;
    }
    const drmModeModeInfo *m = &k->mode;
    k->period_us = m->clock ? (int64_t)m->htotal * m->vtotal * 1000 / m->clock : 16667;
    if (drmModeCreatePropertyBlob(fd, &k->mode, sizeof(k->mode), &k->blob_id)) {
        e = errno; report_err("MODE_CREATEPROPBLOB", e); return e;
    }
    for (int i = 0; i < 2; i++)
        if ((e = create_fb(fd, m->hdisplay, m->vdisplay, i ? 0x00336699 : 0x00996633, &k->b[i], fill))) return e;
    printf("setup conn=%u crtc=%u plane=%u mode=%ux%u@%u period_us=%lld fbs=%u,%u out_fence_prop=%u release_fence_prop=%u in_fence_prop=%u\n",
           k->conn_id, k->crtc_id, k->plane_id, m->hdisplay, m->vdisplay, m->vrefresh,
           (long long)k->period_us, k->b[0].fb, k->b[1].fb, k->p_out_fence, k->p_release_fence, k->p_in_fence);
    return 0;
}

static void add_plane(struct areq *r, struct kms *k, uint32_t fb) {
    const drmModeModeInfo *m = &k->mode;
    aadd(r, k->plane_id, k->p_fb, fb);
    aadd(r, k->plane_id, k->p_crtc, k->crtc_id);
    aadd(r, k->plane_id, k->p_src_x, 0);
    aadd(r, k->plane_id, k->p_src_y, 0);
    aadd(r, k->plane_id, k->p_src_w, (uint64_t)m->hdisplay << 16);
    aadd(r, k->plane_id, k->p_src_h, (uint64_t)m->vdisplay << 16);
    aadd(r, k->plane_id, k->p_crtc_x, 0);
    aadd(r, k->plane_id, k->p_crtc_y, 0);
    aadd(r, k->plane_id, k->p_crtc_w, m->hdisplay);
    aadd(r, k->plane_id, k->p_crtc_h, m->vdisplay);
}

// --- events -------------------------------------------------------------------------------------
struct evstate { int got; unsigned seq; int64_t ts_us; uint32_t crtc; int vblank; };
static struct evstate g_ev;
static void on_flip(int fd, unsigned seq, unsigned sec, unsigned usec, unsigned crtc, void *data) {
    (void)fd; (void)data;
    g_ev.got++; g_ev.seq = seq; g_ev.ts_us = (int64_t)sec * 1000000 + usec; g_ev.crtc = crtc; g_ev.vblank = 0;
}
static void on_vblank(int fd, unsigned seq, unsigned sec, unsigned usec, void *data) {
    (void)fd; (void)data;
    g_ev.got++; g_ev.seq = seq; g_ev.ts_us = (int64_t)sec * 1000000 + usec; g_ev.vblank = 1;
}
// Waits up to timeout_ms for one event; 1 = got one, 0 = timeout, -errno on failure.
static int wait_event(int fd, int timeout_ms) {
    drmEventContext ctx = {.version = 3, .vblank_handler = on_vblank, .page_flip_handler2 = on_flip};
    int64_t deadline = now_us() + (int64_t)timeout_ms * 1000;
    int before = g_ev.got;
    while (g_ev.got == before) {
        int64_t left = (deadline - now_us()) / 1000;
        if (left < 0) return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n < 0) { if (errno == EINTR) continue; return -errno; }
        if (n == 0) return 0;
        if (drmHandleEvent(fd, &ctx)) { int e = errno ? errno : EIO; if (e == EAGAIN) continue; return -e; }
    }
    return 1;
}

// --- sync files ------------------------------------------------------------------------------------
// SYNC_IOC_FILE_INFO status: 1 signalled, 0 active, <0 error. Sets *err on ioctl failure.
static int fence_status(int fd, int *err) {
    struct sync_file_info info;
    memset(&info, 0, sizeof(info));
    *err = xioctl(fd, SYNC_IOC_FILE_INFO, &info);
    return *err ? 0 : info.status;
}
// Waits for the sync file to become readable; returns the microseconds it took, -1 on timeout.
static int64_t fence_wait(int fd, int timeout_ms) {
    int64_t t0 = now_us();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        return now_us() - t0;
    }
}
// Formats "P_status=S [P_err=E] [P_lat_us=L | P_wait=timeout]" for the sync file fd (P = out/release).
static void fmt_status(char *out, size_t n, const char *p, int fd, int timeout_ms, int64_t since_us, int *status_out) {
    if (fd < 0) { snprintf(out, n, "%s_status=none", p); *status_out = 2; return; }
    int64_t w = fence_wait(fd, timeout_ms);
    int err;
    int st = fence_status(fd, &err);
    *status_out = err ? 3 : st;
    if (err) snprintf(out, n, "%s_status=ioctl-%s", p, ename(err));
    else if (w < 0) snprintf(out, n, "%s_status=%d %s_wait=timeout", p, st, p);
    else if (st < 0) snprintf(out, n, "%s_status=%d %s_err=%s %s_lat_us=%lld", p, st, p, ename(-st), p, (long long)(now_us() - since_us));
    else snprintf(out, n, "%s_status=%d %s_lat_us=%lld", p, st, p, (long long)(now_us() - since_us));
}

// --- flip ------------------------------------------------------------------------------------------
static int modeset(int fd, struct kms *k, int with_event, int32_t *out_fd) {
    struct areq r = {0};
    aadd(&r, k->conn_id, k->p_conn_crtc, k->crtc_id);
    aadd(&r, k->crtc_id, k->p_mode_id, k->blob_id);
    aadd(&r, k->crtc_id, k->p_active, 1);
    if (out_fd && k->p_out_fence) { *out_fd = -1; aadd(&r, k->crtc_id, k->p_out_fence, (uintptr_t)out_fd); }
    add_plane(&r, k, k->b[0].fb);
    uint32_t flags = DRM_MODE_ATOMIC_ALLOW_MODESET | (with_event ? DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT : 0);
    int e = acommit(fd, &r, flags, 0);
    int ev = -1;
    if (!e && with_event) ev = wait_event(fd, g_timeout_ms);
    printf("modeset ret=%d errno=%s event=%s\n", e ? -1 : 0, ename(e),
           ev == 1 ? "ok" : ev == 0 ? "timeout" : ev < 0 && with_event && !e ? ename(-ev) : "none");
    return e;
}

static int cmd_flip(int n, int want_out, int want_release, int want_in, int blocking, int same_fb) {
    int fd = open_card();
    if (fd < 0) return 1;
    struct kms k;
    if (setup_kms(fd, &k, 1)) return 1;
    if (want_release && !k.p_release_fence) printf("note release_fence_ptr=missing\n");
    int32_t prev_out = -1;
    if (modeset(fd, &k, 1, want_in ? &prev_out : NULL)) return 1;
    struct tally t = {0};
    int64_t *intervals = calloc(n + 1, sizeof(int64_t));
    int nint = 0, ok = 0, timeouts = 0, out_err = 0, out_sig = 0, out_pend = 0, rel_err = 0, rel_sig = 0, rel_pend = 0;
    int64_t last_ts = -1;
    unsigned last_seq = 0;
    int32_t prev_release = -1;
    for (int i = 0; i < n; i++) {
        struct areq r = {0};
        int32_t out_fd = -1, rel_fd = -1;
        if ((want_out || want_in) && k.p_out_fence) aadd(&r, k.crtc_id, k.p_out_fence, (uintptr_t)&out_fd);
        if (want_release && k.p_release_fence) aadd(&r, k.crtc_id, k.p_release_fence, (uintptr_t)&rel_fd);
        aadd(&r, k.plane_id, k.p_fb, k.b[same_fb ? 0 : (i + 1) % 2].fb);
        if (want_in && prev_out >= 0) aadd(&r, k.plane_id, k.p_in_fence, (uint64_t)prev_out);
        uint32_t flags = DRM_MODE_PAGE_FLIP_EVENT | (blocking ? 0 : DRM_MODE_ATOMIC_NONBLOCK);
        int64_t t0 = now_us();
        int e = acommit(fd, &r, flags, (uint64_t)i);
        int64_t commit_us = now_us() - t0;
        if (prev_out >= 0) { close(prev_out); prev_out = -1; }
        char outs[128] = "out_status=none", rels[128] = "release_status=none";
        if (e) {
            tally_add(&t, e);
            printf("flip i=%d ret=-1 errno=%s commit_us=%lld event=none out_status=none release_status=none\n",
                   i, ename(e), (long long)commit_us);
            if (out_fd >= 0) close(out_fd);
            if (rel_fd >= 0) close(rel_fd);
            usleep(2000);
            continue;
        }
        int ev = wait_event(fd, g_timeout_ms);
        int64_t ev_us = now_us() - t0;
        int st;
        if (want_out || want_in) {
            fmt_status(outs, sizeof(outs), "out", out_fd, ev == 1 ? g_fence_timeout_ms : 0, t0, &st);
            if (out_fd >= 0) { if (st == 1) out_sig++; else if (st < 0) out_err++; else out_pend++; }
        }
        if (want_release) {
            // The release fence of commit i-1 signals once this flip (i) has completed.
            fmt_status(rels, sizeof(rels), "release", prev_release, ev == 1 ? g_fence_timeout_ms : 0, t0, &st);
            if (prev_release >= 0) { if (st == 1) rel_sig++; else if (st < 0) rel_err++; else rel_pend++; close(prev_release); }
            prev_release = rel_fd;
        }
        if (want_in) prev_out = out_fd; else if (out_fd >= 0) close(out_fd);
        if (ev == 1) {
            ok++;
            int64_t interval = last_ts >= 0 ? g_ev.ts_us - last_ts : -1;
            if (interval >= 0) intervals[nint++] = interval;
            printf("flip i=%d ret=0 errno=0 commit_us=%lld event=ok seq=%u dseq=%d ts_us=%lld interval_us=%lld lat_us=%lld %s %s\n",
                   i, (long long)commit_us, g_ev.seq, last_ts >= 0 ? (int)(g_ev.seq - last_seq) : 0, (long long)g_ev.ts_us,
                   (long long)interval, (long long)ev_us, outs, rels);
            last_ts = g_ev.ts_us;
            last_seq = g_ev.seq;
        } else {
            if (ev == 0) timeouts++; else tally_add(&t, -ev);
            printf("flip i=%d ret=0 errno=0 commit_us=%lld event=%s %s %s\n",
                   i, (long long)commit_us, ev == 0 ? "timeout" : ename(-ev), outs, rels);
        }
    }
    if (prev_release >= 0) close(prev_release);
    if (prev_out >= 0) close(prev_out);
    printf("summary flips=%d flips_ok=%d timeouts=%d ", n, ok, timeouts);
    tally_print(&t);
    printf(" median_interval_us=%lld out_signalled=%d out_error=%d out_pending=%d release_signalled=%d release_error=%d release_pending=%d\n",
           (long long)median(intervals, nint), out_sig, out_err, out_pend, rel_sig, rel_err, rel_pend);
    free(intervals);
    close(fd);
    return 0;
}

// --- vblank ----------------------------------------------------------------------------------------
static volatile int g_wd_index;
static const char *g_wd_what = "vblank";
static void watchdog(int sig) {
    (void)sig;
    char b[96];
    int n = snprintf(b, sizeof(b), "%s i=%d ret=-1 errno=timeout\nsummary watchdog=timeout\n", g_wd_what, g_wd_index);
    write(1, b, n);
    _exit(3);
}
static void arm_watchdog(int ms) {
    struct itimerval it = {.it_value = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static int cmd_vblank(int n, int no_modeset, int use_event) {
    int fd = open_card();
    if (fd < 0) return 1;
    struct kms k = {0};
    uint32_t crtc_index = 0;
    int64_t period = 16667;
    if (!no_modeset) {
        if (setup_kms(fd, &k, 0) || modeset(fd, &k, 1, NULL)) return 1;
        crtc_index = k.crtc_index;
        period = k.period_us;
    }
    signal(SIGALRM, watchdog);
    struct tally t = {0};
    int64_t *dts = calloc(n + 1, sizeof(int64_t));
    int nd = 0, okc = 0, jumps = 0, backwards = 0, max_dseq = 0;
    int64_t max_dts = -1, min_dts = -1, max_wait = 0, max_dev = 0, last_ts = -1;
    unsigned last_seq = 0;
    uint32_t hi = crtc_index > 1 ? (crtc_index << DRM_VBLANK_HIGH_CRTC_SHIFT) & DRM_VBLANK_HIGH_CRTC_MASK
                                 : crtc_index == 1 ? DRM_VBLANK_SECONDARY : 0;
    for (int i = 0; i < n; i++) {
        g_wd_index = i;
        drmVBlank v;
        memset(&v, 0, sizeof(v));
        v.request.type = DRM_VBLANK_RELATIVE | hi | (use_event ? DRM_VBLANK_EVENT : 0);
        v.request.sequence = 1;
        int64_t t0 = now_us();
        arm_watchdog(g_timeout_ms);
        int e = xioctl(fd, DRM_IOCTL_WAIT_VBLANK, &v);
        unsigned seq = v.reply.sequence;
        int64_t ts = (int64_t)v.reply.tval_sec * 1000000 + v.reply.tval_usec;
        if (!e && use_event) {
            int r = wait_event(fd, g_timeout_ms);
            if (r != 1) e = r == 0 ? ETIMEDOUT : -r;
            seq = g_ev.seq; ts = g_ev.ts_us;
        }
        arm_watchdog(0);
        int64_t wait = now_us() - t0;
        if (e) {
            tally_add(&t, e);
            printf("vblank i=%d ret=-1 errno=%s wait_us=%lld\n", i, ename(e), (long long)wait);
            usleep(5000);
            continue;
        }
        okc++;
        if (wait > max_wait) max_wait = wait;
        int dseq = last_ts >= 0 ? (int)(seq - last_seq) : 0;
        int64_t d = last_ts >= 0 ? ts - last_ts : -1;
        if (last_ts >= 0) {
            dts[nd++] = d;
            if (dseq > 1) jumps++;
            if (dseq > max_dseq) max_dseq = dseq;
            if (d < 0) backwards++;
            if (max_dts < 0 || d > max_dts) max_dts = d;
            if (min_dts < 0 || d < min_dts) min_dts = d;
            int64_t dev = d - (int64_t)dseq * period;
            if (dev < 0) dev = -dev;
            if (dev > max_dev) max_dev = dev;
        }
        printf("vblank i=%d ret=0 errno=0 seq=%u dseq=%d ts_us=%lld dts_us=%lld wait_us=%lld\n", i, seq, dseq,
               (long long)ts, (long long)d, (long long)wait);
        last_ts = ts;
        last_seq = seq;
    }
    printf("summary vblanks=%d vblanks_ok=%d ", n, okc);
    tally_print(&t);
    printf(" seq_jumps=%d max_dseq=%d period_us=%lld median_dts_us=%lld min_dts_us=%lld max_dts_us=%lld max_dev_us=%lld max_wait_us=%lld ts_backwards=%d\n",
           jumps, max_dseq, (long long)period, (long long)median(dts, nd), (long long)min_dts, (long long)max_dts,
           (long long)max_dev, (long long)max_wait, backwards);
    free(dts);
    close(fd);
    return 0;
}

// --- ioctl-loop ------------------------------------------------------------------------------------
static int cmd_ioctl_loop(const char *name, int n, int sleep_ms) {
    int fd = open_card();
    if (fd < 0) return 1;
    uint32_t conn = 0;
    int kind;
    if (!strcmp(name, "GETRESOURCES") || !strcmp(name, "MODE_GETRESOURCES")) kind = 0;
    else if (!strcmp(name, "GETCONNECTOR") || !strcmp(name, "MODE_GETCONNECTOR")) kind = 1;
    else if (!strcmp(name, "ATOMIC_TEST") || !strcmp(name, "MODE_ATOMIC")) kind = 2;
    else if (!strcmp(name, "VERSION")) kind = 3;
    else if (!strcmp(name, "GET_CAP")) kind = 4;
    else { fprintf(stderr, "ioctl-loop: unknown NAME %s\n", name); return 2; }
    if (kind == 1) {
        uint32_t ids[16];
        struct drm_mode_card_res r = {.connector_id_ptr = (uintptr_t)ids, .count_connectors = 16};
        int e = xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &r);
        if (e || r.count_connectors == 0) { report_err("MODE_GETRESOURCES", e ? e : ENOENT); return 1; }
        conn = ids[0];
    }
    if (kind == 2) {
        int e = xioctl(fd, DRM_IOCTL_SET_CLIENT_CAP, &(struct drm_set_client_cap){DRM_CLIENT_CAP_ATOMIC, 1});
        if (e) { report_err("SET_CLIENT_CAP(ATOMIC)", e); return 1; }
    }
    struct tally t = {0};
    int okc = 0;
    char *res = malloc((size_t)n * 16 + 16);
    size_t len = 0;
    res[0] = 0;
    for (int i = 0; i < n; i++) {
        int e = 0;
        switch (kind) {
        case 0: { struct drm_mode_card_res r; memset(&r, 0, sizeof(r)); e = xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &r); break; }
        case 1: { struct drm_mode_get_connector c; memset(&c, 0, sizeof(c)); c.connector_id = conn; e = xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c); break; }
        case 2: e = master_check(fd); break;
        case 3: { struct drm_version v; memset(&v, 0, sizeof(v)); e = xioctl(fd, DRM_IOCTL_VERSION, &v); break; }
        case 4: { struct drm_get_cap c = {.capability = DRM_CAP_DUMB_BUFFER}; e = xioctl(fd, DRM_IOCTL_GET_CAP, &c); break; }
        }
        if (e) tally_add(&t, e); else okc++;
        len += sprintf(res + len, "%s%s", i ? "," : "", ename(e));
        if (sleep_ms) usleep(sleep_ms * 1000);
    }
    printf("ioctl=%s n=%d ok=%d ", name, n, okc);
    tally_print(&t);
    printf("\nresults=%s\n", res);
    free(res);
    close(fd);
    return 0;
}

// --- master ----------------------------------------------------------------------------------------
static int wait_trigger(const char *wait_file) {
    if (wait_file) {
        int64_t deadline = now_us() + 60 * 1000000LL;
        struct stat st;
        while (stat(wait_file, &st) != 0) {
            if (now_us() > deadline) { printf("error op=wait-file errno=ETIMEDOUT\n"); return -1; }
            usleep(10000);
        }
        return 0;
    }
    char line[256];
    if (!fgets(line, sizeof(line), stdin)) { /* EOF counts as the signal */ }
    return 0;
}

static int cmd_master(const char *wait_file) {
    int fd = open_card();
    if (fd < 0) return 1;
    int e = xioctl(fd, DRM_IOCTL_SET_CLIENT_CAP, &(struct drm_set_client_cap){DRM_CLIENT_CAP_ATOMIC, 1});
    if (e) report_err("SET_CLIENT_CAP(ATOMIC)", e);
    int sm = xioctl(fd, DRM_IOCTL_SET_MASTER, NULL);
    int before = master_check(fd);
    printf("set_master=%s master_before=%s\n", ename(sm), ename(before));
    printf("ready\n");
    fflush(stdout);
    if (wait_trigger(wait_file)) return 1;
    int after = master_check(fd);
    int sm2 = xioctl(fd, DRM_IOCTL_SET_MASTER, NULL);
    int final = master_check(fd);
    printf("master_after=%s set_master_again=%s master_final=%s\n", ename(after), ename(sm2), ename(final));
    close(fd);
    return 0;
}

// --- connectors --------------------------------------------------------------------------------------
struct connobs { uint32_t id; int status; int nmodes; uint32_t edid_blob; uint32_t modes_hash; };
static int observe_connectors(int fd, struct connobs *o, int max, int verbose) {
    drmModeRes *res = drmModeGetResources(fd);
    if (!res) { report_err("MODE_GETRESOURCES", errno); return -1; }
    int n = 0;
    for (int i = 0; i < res->count_connectors && n < max; i++) {
        drmModeConnector *c = drmModeGetConnector(fd, res->connectors[i]);
        if (!c) { report_err("MODE_GETCONNECTOR", errno); continue; }
        struct connobs *x = &o[n++];
        x->id = c->connector_id;
        x->status = c->connection;
        x->nmodes = c->count_modes;
        x->edid_blob = 0;
        x->modes_hash = 2166136261u;
        for (int m = 0; m < c->count_modes; m++) {
            const drmModeModeInfo *mi = &c->modes[m];
            uint32_t v[3] = {mi->hdisplay, mi->vdisplay, mi->vrefresh};
            for (int j = 0; j < 3; j++) x->modes_hash = (x->modes_hash ^ v[j]) * 16777619u;
        }
        for (int p = 0; p < c->count_props; p++) {
            drmModePropertyRes *pr = drmModeGetProperty(fd, c->props[p]);
            if (pr && !strcmp(pr->name, "EDID")) x->edid_blob = (uint32_t)c->prop_values[p];
            drmModeFreeProperty(pr);
        }
        if (verbose) {
            const char *st = c->connection == DRM_MODE_CONNECTED ? "connected" : c->connection == DRM_MODE_DISCONNECTED ? "disconnected" : "unknown";
            printf("connector id=%u name=%s-%u status=%s nmodes=%d modes=", c->connector_id,
                   drmModeGetConnectorTypeName(c->connector_type) ?: "?", c->connector_type_id, st, c->count_modes);
            for (int m = 0; m < c->count_modes; m++)
                printf("%s%ux%u@%u%s", m ? "," : "", c->modes[m].hdisplay, c->modes[m].vdisplay, c->modes[m].vrefresh,
                       c->modes[m].type & DRM_MODE_TYPE_PREFERRED ? "*" : "");
            if (!c->count_modes) printf("none");
            uint32_t len = 0, sum = 0;
            if (x->edid_blob) {
                drmModePropertyBlobRes *b = drmModeGetPropertyBlob(fd, x->edid_blob);
                if (b) {
                    len = b->length;
                    for (uint32_t j = 0; j < b->length; j++) sum = sum * 31 + ((uint8_t *)b->data)[j];
                    drmModeFreePropertyBlob(b);
                } else report_err("MODE_GETPROPBLOB", errno);
            }
            printf(" edid_blob=%u edid_len=%u edid_sum=0x%08x\n", x->edid_blob, len, sum);
        }
        drmModeFreeConnector(c);
    }
    if (verbose)
        for (int i = 0; i < res->count_crtcs; i++) {
            drmModeCrtc *c = drmModeGetCrtc(fd, res->crtcs[i]);
            if (!c) { report_err("MODE_GETCRTC", errno); continue; }
            printf("crtc id=%u mode_valid=%d mode=%ux%u fb=%u\n", c->crtc_id, c->mode_valid, c->mode.hdisplay, c->mode.vdisplay, c->buffer_id);
            drmModeFreeCrtc(c);
        }
    drmModeFreeResources(res);
    return n;
}

static int cmd_info(void) {
    int fd = open_card();
    if (fd < 0) return 1;
    struct connobs o[16];
    int n = observe_connectors(fd, o, 16, 1);
    close(fd);
    return n < 0;
}

static int cmd_hotplug_watch(double seconds, int interval_ms) {
    int fd = open_card();
    if (fd < 0) return 1;
    struct connobs prev[16], cur[16];
    int np = observe_connectors(fd, prev, 16, 0);
    if (np < 0) return 1;
    int status_changes = 0, mode_changes = 0, edid_changes = 0, polls = 0, errs = 0, disconnected_seen = 0;
    int64_t end = now_us() + (int64_t)(seconds * 1e6), t0 = now_us();
    while (now_us() < end) {
        usleep(interval_ms * 1000);
        int n = observe_connectors(fd, cur, 16, 0);
        polls++;
        if (n < 0) { errs++; continue; }
        for (int i = 0; i < n && i < np; i++) {
            if (cur[i].status != prev[i].status) {
                status_changes++;
                if (cur[i].status != DRM_MODE_CONNECTED) disconnected_seen++;
                if (status_changes <= 20)
                    printf("change t_ms=%lld conn=%u status=%d\n", (long long)(now_us() - t0) / 1000, cur[i].id, cur[i].status);
            }
            if (cur[i].nmodes != prev[i].nmodes || cur[i].modes_hash != prev[i].modes_hash) mode_changes++;
            if (cur[i].edid_blob != prev[i].edid_blob) edid_changes++;
        }
        memcpy(prev, cur, sizeof(cur));
        np = n;
    }
    printf("status_changes=%d mode_changes=%d edid_changes=%d disconnects_seen=%d polls=%d poll_errors=%d final_status=%d\n",
           status_changes, mode_changes, edid_changes, disconnected_seen, polls, errs, np > 0 ? prev[0].status : -1);
    close(fd);
    return 0;
}

// --- soak --------------------------------------------------------------------------------------------
// Runs until killed. The master flips continuously (out fence, in fence = previous out fence,
// release fence); the others do non-master work, keeping a few objects alive at any moment so
// that a SIGKILL always leaves something for the daemon to clean up.
static int cmd_soak(void) {
    int fd = open_card();
    if (fd < 0) return 1;
    struct kms k;
    // Under faults (CREATE_DUMB/ADDFB2 errors) setup may fail half way: try again, leaving the
    // half-made objects on the file for the daemon to clean up when this client is killed.
    while (setup_kms(fd, &k, 0)) usleep(5000);
    srand(getpid() ^ (unsigned)now_us());
    long iter = 0, flips = 0;
    int32_t prev_out = -1, prev_rel = -1;
    struct buf extra[4] = {{0}};
    uint32_t blobs[4] = {0};
    int master = modeset(fd, &k, 1, NULL) == 0;
    printf("soak pid=%d master=%d\n", getpid(), master);
    for (;;) {
        iter++;
        if (master) {
            struct areq r = {0};
            int32_t out_fd = -1, rel_fd = -1;
            if (k.p_out_fence) aadd(&r, k.crtc_id, k.p_out_fence, (uintptr_t)&out_fd);
            if (k.p_release_fence) aadd(&r, k.crtc_id, k.p_release_fence, (uintptr_t)&rel_fd);
            aadd(&r, k.plane_id, k.p_fb, k.b[iter % 2].fb);
            if (prev_out >= 0) aadd(&r, k.plane_id, k.p_in_fence, (uint64_t)prev_out);
            int e = acommit(fd, &r, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, iter);
            if (prev_out >= 0) { close(prev_out); prev_out = -1; }
            if (e) {
                if (e == EACCES) { master = 0; printf("soak lost master\n"); }
                else if (e == EINVAL) { master = modeset(fd, &k, 1, NULL) == 0; }   // e.g. CRTC switched off
                usleep(2000);
                continue;
            }
            prev_out = out_fd;
            if (prev_rel >= 0) close(prev_rel);
            prev_rel = rel_fd;
            if (wait_event(fd, 500) == 1) flips++;
            if (flips % 200 == 0) printf("soak flips=%ld\n", flips);
        } else {
            struct drm_mode_card_res cr;
            memset(&cr, 0, sizeof(cr));
            xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &cr);
            struct drm_mode_get_connector gc;
            memset(&gc, 0, sizeof(gc));
            gc.connector_id = k.conn_id;
            xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &gc);
            int slot = iter % 4;
            destroy_buf(fd, &extra[slot]);
            create_fb(fd, 64 + rand() % 256, 64 + rand() % 256, 0, &extra[slot], 0);
            if (blobs[slot]) drmModeDestroyPropertyBlob(fd, blobs[slot]);
            blobs[slot] = 0;
            drmModeCreatePropertyBlob(fd, &k.mode, sizeof(k.mode), &blobs[slot]);
            // A vblank event request left queued (the CRTC may be off: EINVAL is fine).
            drmVBlank v;
            memset(&v, 0, sizeof(v));
            v.request.type = DRM_VBLANK_RELATIVE | DRM_VBLANK_EVENT;
            v.request.sequence = 1 + rand() % 3;
            xioctl(fd, DRM_IOCTL_WAIT_VBLANK, &v);
            if (iter % 8 == 0) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 0) == 1) {
                    drmEventContext ctx = {.version = 3, .vblank_handler = on_vblank, .page_flip_handler2 = on_flip};
                    drmHandleEvent(fd, &ctx);
                }
            }
            if (iter % 16 == 0 && xioctl(fd, DRM_IOCTL_SET_MASTER, NULL) == 0) master = modeset(fd, &k, 1, NULL) == 0;
            usleep(1000);
        }
    }
}

// --- main ----------------------------------------------------------------------------------------
static void usage(void) {
    fprintf(stderr, "usage: kmsprobe [--device P] [--timeout-ms T] [--fence-timeout-ms T] COMMAND ...\n"
                    "  flip N [--out-fence] [--release-fence] [--in-fence] [--blocking] [--same-fb]\n"
                    "  vblank N [--no-modeset] [--event]\n"
                    "  ioctl-loop GETRESOURCES|GETCONNECTOR|ATOMIC_TEST|VERSION|GET_CAP N [--sleep-ms S]\n"
                    "  master [--wait-file PATH]\n"
                    "  hotplug-watch SECONDS [--interval-ms I]\n"
                    "  info\n"
                    "  soak\n");
    exit(2);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *pos[4] = {0};
    int npos = 0, out = 0, rel = 0, in = 0, blocking = 0, same_fb = 0, no_modeset = 0, use_event = 0, sleep_ms = 0, interval_ms = 2;
    const char *wait_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define ARG() (i + 1 < argc ? argv[++i] : (usage(), ""))
        if (!strcmp(a, "--device")) g_dev = ARG();
        else if (!strcmp(a, "--timeout-ms")) g_timeout_ms = atoi(ARG());
        else if (!strcmp(a, "--fence-timeout-ms")) g_fence_timeout_ms = atoi(ARG());
        else if (!strcmp(a, "--out-fence")) out = 1;
        else if (!strcmp(a, "--release-fence")) rel = 1;
        else if (!strcmp(a, "--in-fence")) in = 1;
        else if (!strcmp(a, "--blocking")) blocking = 1;
        else if (!strcmp(a, "--same-fb")) same_fb = 1;
        else if (!strcmp(a, "--no-modeset")) no_modeset = 1;
        else if (!strcmp(a, "--event")) use_event = 1;
        else if (!strcmp(a, "--sleep-ms")) sleep_ms = atoi(ARG());
        else if (!strcmp(a, "--interval-ms")) interval_ms = atoi(ARG());
        else if (!strcmp(a, "--wait-file")) wait_file = ARG();
        else if (a[0] == '-' && a[1] == '-') { fprintf(stderr, "unknown option %s\n", a); usage(); }
        else if (npos < 4) pos[npos++] = a;
        else usage();
    }
    if (!npos) usage();
    const char *cmd = pos[0];
    if (!strcmp(cmd, "flip") && npos == 2) return cmd_flip(atoi(pos[1]), out, rel, in, blocking, same_fb);
    if (!strcmp(cmd, "vblank") && npos == 2) return cmd_vblank(atoi(pos[1]), no_modeset, use_event);
    if (!strcmp(cmd, "ioctl-loop") && npos == 3) return cmd_ioctl_loop(pos[1], atoi(pos[2]), sleep_ms);
    if (!strcmp(cmd, "master") && npos == 1) return cmd_master(wait_file);
    if (!strcmp(cmd, "hotplug-watch") && npos == 2) return cmd_hotplug_watch(atof(pos[1]), interval_ms > 0 ? interval_ms : 1);
    if (!strcmp(cmd, "info") && npos == 1) return cmd_info();
    if (!strcmp(cmd, "soak") && npos == 1) return cmd_soak();
    usage();
    return 2;
}
