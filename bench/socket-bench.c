// socket-bench: round-trip costs of the socket front end, seen from an unmodified-style client.
//
// Run by `fakedrm bench --socket` under libfakedrm-preload.so (LD_PRELOAD + FAKEDRM_SOCKET)
// against an in-process daemon with virtual time. Plain libc + the libdrm uAPI headers; every
// DRM call is a raw ioctl() on /dev/dri/card0, exactly what libdrm would issue.
//
// For each operation it first records, through the preload's diagnostics hook
// (fakedrm_preload_trace), the size of every message the preload path exchanges with the
// daemon. The floor is then a raw SOCK_SEQPACKET echo between this process and a forked child
// replaying the same round trips with the same byte counts. Operation and floor samples take
// turns, and the four operations are sampled in interleaved blocks, so all see the same
// machine load.
//
// Usage: socket-bench [-n ITERATIONS] [-v] [-c CLIENT_CPU] [-e ECHO_CPU]
// (`fakedrm bench --socket` pins its daemon threads and passes the same CPU as -e.)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libdrm/drm.h>
#include <libdrm/drm_mode.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TRACE 256
#define MAX_MSG (72 * 1024)

static int verbose;

static void die(const char *what) {
    fprintf(stderr, "socket-bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void xioctl(int fd, unsigned long req, void *arg, const char *what) {
    if (ioctl(fd, req, arg) != 0) die(what);
}

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// ---------------------------------------------------------------------------------------------
// Card setup: one CRTC lit with the first connector's preferred mode on the primary plane,
// two framebuffers to flip between.

struct scene {
    int fd;
    uint32_t crtc, conn, plane;
    uint32_t fb[2];
    int which;
    uint32_t fb_prop;
    // GETRESOURCES arrays
    uint32_t nfbs, ncrtcs, nconns, nencs;
    uint32_t fbs[16], crtcs[16], conns[16], encs[16];
};

static uint32_t prop_id(int fd, uint32_t obj, uint32_t type, const char *name, uint64_t *value) {
    uint32_t ids[64];
    uint64_t vals[64];
    struct drm_mode_obj_get_properties gp = {.obj_id = obj, .obj_type = type};
    xioctl(fd, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &gp, "OBJ_GETPROPERTIES");
    if (gp.count_props > 64) { errno = E2BIG; die("too many properties"); }
    gp.props_ptr = (uint64_t)(uintptr_t)ids;
    gp.prop_values_ptr = (uint64_t)(uintptr_t)vals;
    xioctl(fd, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &gp, "OBJ_GETPROPERTIES");
    for (uint32_t i = 0; i < gp.count_props; i++) {
        struct drm_mode_get_property p = {.prop_id = ids[i]};
        xioctl(fd, DRM_IOCTL_MODE_GETPROPERTY, &p, "GETPROPERTY");
        if (strcmp(p.name, name) == 0) {
            if (value) *value = vals[i];
            return ids[i];
        }
    }
    fprintf(stderr, "socket-bench: object %u has no property %s\n", obj, name);
    exit(1);
}

static void scene_setup(struct scene *s) {
    int fd = s->fd;
    struct drm_set_client_cap cc = {.capability = DRM_CLIENT_CAP_UNIVERSAL_PLANES, .value = 1};
    xioctl(fd, DRM_IOCTL_SET_CLIENT_CAP, &cc, "SET_CLIENT_CAP(UNIVERSAL_PLANES)");
    cc.capability = DRM_CLIENT_CAP_ATOMIC;
    xioctl(fd, DRM_IOCTL_SET_CLIENT_CAP, &cc, "SET_CLIENT_CAP(ATOMIC)");

    struct drm_mode_card_res res = {0};
    xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res, "GETRESOURCES");
    if (!res.count_crtcs || !res.count_connectors) { errno = ENODEV; die("no CRTC or connector"); }
    if (res.count_crtcs > 16 || res.count_connectors > 16 || res.count_encoders > 16) { errno = E2BIG; die("GETRESOURCES"); }
    res.count_fbs = 0;
    res.crtc_id_ptr = (uint64_t)(uintptr_t)s->crtcs;
    res.connector_id_ptr = (uint64_t)(uintptr_t)s->conns;
    res.encoder_id_ptr = (uint64_t)(uintptr_t)s->encs;
    xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res, "GETRESOURCES");
    s->crtc = s->crtcs[0];
    s->conn = s->conns[0];

    struct drm_mode_get_connector gc = {.connector_id = s->conn};
    xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &gc, "GETCONNECTOR");
    if (!gc.count_modes) { errno = ENODEV; die("connector has no modes"); }
    struct drm_mode_modeinfo *modes = calloc(gc.count_modes, sizeof(*modes));
    uint32_t nmodes = gc.count_modes;
    memset(&gc, 0, sizeof(gc));
    gc.connector_id = s->conn;
    gc.count_modes = nmodes;
    gc.modes_ptr = (uint64_t)(uintptr_t)modes;
    xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &gc, "GETCONNECTOR");
    struct drm_mode_modeinfo mode = modes[0];
    for (uint32_t i = 0; i < nmodes && i < gc.count_modes; i++)
        if (modes[i].type & DRM_MODE_TYPE_PREFERRED) { mode = modes[i]; break; }
    free(modes);

    for (int i = 0; i < 2; i++) {
        struct drm_mode_create_dumb cd = {.width = mode.hdisplay, .height = mode.vdisplay, .bpp = 32};
        xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &cd, "CREATE_DUMB");
        struct drm_mode_fb_cmd2 f = {.width = mode.hdisplay, .height = mode.vdisplay,
                                     .pixel_format = 0x34325258 /* XR24 */};
        f.handles[0] = cd.handle;
        f.pitches[0] = cd.pitch;
        xioctl(fd, DRM_IOCTL_MODE_ADDFB2, &f, "ADDFB2");
        s->fb[i] = f.fb_id;
    }

    // The primary plane that can drive our CRTC.
    uint32_t planes[32];
    struct drm_mode_get_plane_res pr = {0};
    xioctl(fd, DRM_IOCTL_MODE_GETPLANERESOURCES, &pr, "GETPLANERESOURCES");
    if (pr.count_planes > 32) pr.count_planes = 32;
    pr.plane_id_ptr = (uint64_t)(uintptr_t)planes;
    xioctl(fd, DRM_IOCTL_MODE_GETPLANERESOURCES, &pr, "GETPLANERESOURCES");
    s->plane = 0;
    for (uint32_t i = 0; i < pr.count_planes && !s->plane; i++) {
        struct drm_mode_get_plane gp = {.plane_id = planes[i]};
        xioctl(fd, DRM_IOCTL_MODE_GETPLANE, &gp, "GETPLANE");
        uint64_t type = 0;
        prop_id(fd, planes[i], DRM_MODE_OBJECT_PLANE, "type", &type);
        if (type == 1 /* DRM_PLANE_TYPE_PRIMARY */ && (gp.possible_crtcs & 1)) s->plane = planes[i];
    }
    if (!s->plane) { errno = ENODEV; die("no primary plane for CRTC 0"); }

    // Modeset: blocking atomic commit with ALLOW_MODESET.
    struct drm_mode_create_blob blob = {.data = (uint64_t)(uintptr_t)&mode, .length = sizeof(mode)};
    xioctl(fd, DRM_IOCTL_MODE_CREATEPROPBLOB, &blob, "CREATEPROPBLOB");
    uint32_t P = s->plane, C = s->crtc, K = s->conn;
    s->fb_prop = prop_id(fd, P, DRM_MODE_OBJECT_PLANE, "FB_ID", NULL);
    uint32_t objs[3] = {K, C, P};
    uint32_t counts[3] = {1, 2, 10};
    uint32_t props[13] = {
        prop_id(fd, K, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID", NULL),
        prop_id(fd, C, DRM_MODE_OBJECT_CRTC, "MODE_ID", NULL),
        prop_id(fd, C, DRM_MODE_OBJECT_CRTC, "ACTIVE", NULL),
        s->fb_prop,
        prop_id(fd, P, DRM_MODE_OBJECT_PLANE, "CRTC_ID", NULL),
        prop_id(fd, P, DRM_MODE_OBJECT_PLANE, "SRC_X", NULL),
        prop_id(fd, P, DRM_MODE_OBJECT_PLANE, "SRC_Y", NULL),
        prop_id(fd, P, DRM_MODE_OBJECT_PLANE, "SRC_W", NULL),
        prop_id(fd, P, DRM_MODE_OBJECT_PLANE, "SRC_H", NULL),
        prop_id(fd, P, DRM_MODE_OBJECT_PLANE, "CRTC_X", NULL),
        prop_id(fd, P, DRM_MODE_OBJECT_PLANE, "CRTC_Y", NULL),
        prop_id(fd, P, DRM_MODE_OBJECT_PLANE, "CRTC_W", NULL),
        prop_id(fd, P, DRM_MODE_OBJECT_PLANE, "CRTC_H", NULL),
    };
    uint64_t values[13] = {C, blob.blob_id, 1, s->fb[0], C, 0, 0, (uint64_t)mode.hdisplay << 16,
                           (uint64_t)mode.vdisplay << 16, 0, 0, mode.hdisplay, mode.vdisplay};
    struct drm_mode_atomic a = {
        .flags = DRM_MODE_ATOMIC_ALLOW_MODESET, .count_objs = 3,
        .objs_ptr = (uint64_t)(uintptr_t)objs, .count_props_ptr = (uint64_t)(uintptr_t)counts,
        .props_ptr = (uint64_t)(uintptr_t)props, .prop_values_ptr = (uint64_t)(uintptr_t)values,
    };
    xioctl(fd, DRM_IOCTL_MODE_ATOMIC, &a, "atomic modeset");
    s->which = 0;

    // GETRESOURCES (filled) of the timed loop: arrays sized to what the card reports now.
    struct drm_mode_card_res r2 = {0};
    xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &r2, "GETRESOURCES");
    s->nfbs = r2.count_fbs > 16 ? 16 : r2.count_fbs;
    s->ncrtcs = r2.count_crtcs;
    s->nconns = r2.count_connectors;
    s->nencs = r2.count_encoders;
    if (verbose)
        fprintf(stderr, "scene: %ux%u, connector %u, CRTC %u, primary plane %u, FB_ID prop %u, fbs %u %u\n",
                mode.hdisplay, mode.vdisplay, K, C, P, s->fb_prop, s->fb[0], s->fb[1]);
}

// ---------------------------------------------------------------------------------------------
// The timed operations

static void op_get_cap(struct scene *s) {
    struct drm_get_cap c = {.capability = DRM_CAP_DUMB_BUFFER};
    xioctl(s->fd, DRM_IOCTL_GET_CAP, &c, "GET_CAP");
}

static void op_getresources(struct scene *s) {
    struct drm_mode_card_res r = {
        .fb_id_ptr = (uint64_t)(uintptr_t)s->fbs, .crtc_id_ptr = (uint64_t)(uintptr_t)s->crtcs,
        .connector_id_ptr = (uint64_t)(uintptr_t)s->conns, .encoder_id_ptr = (uint64_t)(uintptr_t)s->encs,
        .count_fbs = s->nfbs, .count_crtcs = s->ncrtcs, .count_connectors = s->nconns, .count_encoders = s->nencs,
    };
    xioctl(s->fd, DRM_IOCTL_MODE_GETRESOURCES, &r, "GETRESOURCES (filled)");
}

static int plane_flip(struct scene *s, uint32_t flags) {
    s->which ^= 1;
    uint32_t obj = s->plane, count = 1, prop = s->fb_prop;
    uint64_t value = s->fb[s->which];
    struct drm_mode_atomic a = {
        .flags = flags, .count_objs = 1,
        .objs_ptr = (uint64_t)(uintptr_t)&obj, .count_props_ptr = (uint64_t)(uintptr_t)&count,
        .props_ptr = (uint64_t)(uintptr_t)&prop, .prop_values_ptr = (uint64_t)(uintptr_t)&value,
        .user_data = 0x1234,
    };
    return ioctl(s->fd, DRM_IOCTL_MODE_ATOMIC, &a);
}

static void op_test_only(struct scene *s) {
    if (plane_flip(s, DRM_MODE_ATOMIC_TEST_ONLY)) die("atomic TEST_ONLY");
}

static void op_commit_event(struct scene *s) {
    if (plane_flip(s, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT)) die("atomic commit");
    struct drm_event_vblank ev;
    ssize_t n = read(s->fd, &ev, sizeof(ev)); // blocking read of the flip event
    if (n != (ssize_t)sizeof(ev) || ev.base.type != DRM_EVENT_FLIP_COMPLETE || ev.user_data != 0x1234) {
        fprintf(stderr, "socket-bench: flip event read returned %zd (type %u)\n", n, n > 0 ? ev.base.type : 0);
        exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// The raw echo floor: a forked child answers each request with as many bytes as the request's
// first word asks for, on a SOCK_SEQPACKET socketpair (the preload's socket type).

static int echo_cpu = -1, client_cpu = -1;

static void pin(int cpu, const char *who) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set)) { fprintf(stderr, "socket-bench: pinning the %s to CPU %d: %s\n", who, cpu, strerror(errno)); exit(1); }
}

static int echo_sock = -1;
static pid_t echo_pid;
static unsigned char echo_buf[MAX_MSG];

static void echo_start(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) die("socketpair");
    echo_pid = fork();
    if (echo_pid < 0) die("fork");
    if (echo_pid == 0) {
        close(sv[0]);
        pin(echo_cpu, "echo child");
        static unsigned char buf[MAX_MSG];
        for (;;) {
            ssize_t n = recv(sv[1], buf, sizeof(buf), 0);
            if (n <= 0) _exit(0);
            uint32_t want;
            memcpy(&want, buf, 4);
            if (want > sizeof(buf)) want = sizeof(buf);
            if (send(sv[1], buf, want, MSG_NOSIGNAL) != (ssize_t)want) _exit(1);
        }
    }
    close(sv[1]);
    echo_sock = sv[0];
}

static void echo_stop(void) {
    close(echo_sock);
    waitpid(echo_pid, NULL, 0);
}

struct rt { uint32_t out, in; };

static void echo_rounds(const struct rt *rts, int n) {
    for (int i = 0; i < n; i++) {
        memcpy(echo_buf, &rts[i].in, 4);
        if (send(echo_sock, echo_buf, rts[i].out, MSG_NOSIGNAL) != (ssize_t)rts[i].out) die("echo send");
        if (recv(echo_sock, echo_buf, sizeof(echo_buf), 0) != (ssize_t)rts[i].in) die("echo recv");
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement

typedef int (*trace_fn)(uint32_t *, int);
static trace_fn trace;

struct result {
    const char *name;
    int nrt;
    struct rt rts[MAX_TRACE / 2];
    uint64_t out_bytes, in_bytes;
    struct rt one;
    uint64_t *a, *f, *g; // samples: operation, floor, one-round-trip echo
    uint64_t msgs;
    double avg_msgs; // messages per timed operation (checks the traced sample was typical)
    uint64_t med, p99, fmed, fp99, f1med;
};

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void stats(uint64_t *v, int n, uint64_t *med, uint64_t *p99) {
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    *med = v[n / 2];
    *p99 = v[n * 99 / 100 < n ? n * 99 / 100 : n - 1];
}

// Pairs the traced messages into round trips: each message we send, with the next one we
// receive. A blocking read that found nothing (READ → EAGAIN, poll, READ again) shows up as
// extra round trips, and so does every daemon callback (MEM_READ/MEM_WRITE/...).
static int to_round_trips(const uint32_t *msgs, int n, struct rt *rts, int max) {
    int k = 0;
    for (int i = 0; i + 1 < n && k < max; i += 2) {
        if ((msgs[i] & 0x80000000u) || !(msgs[i + 1] & 0x80000000u)) return -1; // not send/receive pairs
        rts[k].out = msgs[i];
        rts[k].in = msgs[i + 1] & 0x7fffffffu;
        k++;
    }
    return (n % 2) ? -1 : k;
}

// Records the message pattern of one operation (after a warm-up) and allocates its samples.
static void prepare(struct result *r, struct scene *s, void (*op)(struct scene *), int iters) {
    uint32_t msgs[MAX_TRACE];
    for (int i = 0; i < 200; i++) op(s); // warm-up
    trace(msgs, MAX_TRACE);
    op(s);
    int n = trace(NULL, 0);
    r->nrt = to_round_trips(msgs, n > MAX_TRACE ? MAX_TRACE : n, r->rts, MAX_TRACE / 2);
    if (r->nrt <= 0) { fprintf(stderr, "socket-bench: %s: unexpected message pattern (%d messages)\n", r->name, n); exit(1); }
    r->out_bytes = r->in_bytes = 0;
    for (int i = 0; i < r->nrt; i++) { r->out_bytes += r->rts[i].out; r->in_bytes += r->rts[i].in; }
    if (verbose) {
        fprintf(stderr, "%s:", r->name);
        for (int i = 0; i < r->nrt; i++) fprintf(stderr, " %u/%u", r->rts[i].out, r->rts[i].in);
        fprintf(stderr, "\n");
    }
    // One round trip of the ioctl alone (header + arg out, header + errno + arg back): what a
    // protocol with no callbacks at all would cost.
    r->one = (struct rt){r->rts[0].out, r->rts[r->nrt - 1].in};
    for (int i = 0; i < 200; i++) echo_rounds(r->rts, r->nrt);
    r->a = malloc(sizeof(uint64_t) * (size_t)iters);
    r->f = malloc(sizeof(uint64_t) * (size_t)iters);
    r->g = malloc(sizeof(uint64_t) * (size_t)iters);
}

// Samples [from, to): the operation, its floor and the one-round-trip echo take turns going
// first (whatever runs right after another kind of work meets a colder partner, so no column
// always gets the warm slot).
static void sample(struct result *r, struct scene *s, void (*op)(struct scene *), int from, int to) {
    uint32_t dummy;
    trace(&dummy, 0); // count only
    for (int i = from; i < to; i++) {
        for (int k = 0; k < 3; k++) {
            uint64_t t0 = now_ns();
            switch ((i + k) % 3) {
            case 0: op(s); r->a[i] = now_ns() - t0; break;
            case 1: echo_rounds(r->rts, r->nrt); r->f[i] = now_ns() - t0; break;
            default: echo_rounds(&r->one, 1); r->g[i] = now_ns() - t0; break;
            }
        }
    }
    r->msgs += trace(NULL, 0);
}

static void finish(struct result *r, int iters) {
    uint64_t dummy99;
    r->avg_msgs = (double)r->msgs / iters;
    stats(r->a, iters, &r->med, &r->p99);
    stats(r->f, iters, &r->fmed, &r->fp99);
    stats(r->g, iters, &r->f1med, &dummy99);
    free(r->a);
    free(r->f);
    free(r->g);
}

// ---------------------------------------------------------------------------------------------
// Read-only queries from the snapshot, next to a native no-op ioctl syscall

static unsigned long (*snap_mode)(int);

struct qscene {
    struct scene *s;
    uint32_t enc, prop, blob, blob_len;
    uint32_t nmodes, nprops, nencs, nplanes, nformats, nobjprops, nvalues, nenums;
    int efd;
};
static struct qscene qs;
static void *heap_modes, *heap_props, *heap_values, *heap_encs;

static void q_noop(struct scene *s) {
    (void)s;
    struct drm_get_cap c = {.capability = DRM_CAP_DUMB_BUFFER};
    // Raw syscall: the eventfd's driver has no ioctls (ENOTTY), and the preload never sees it.
    if (syscall(SYS_ioctl, qs.efd, DRM_IOCTL_GET_CAP, &c) != -1 || errno != ENOTTY) die("no-op ioctl");
}
static void q_getcrtc(struct scene *s) {
    struct drm_mode_crtc c = {.crtc_id = s->crtc};
    xioctl(s->fd, DRM_IOCTL_MODE_GETCRTC, &c, "GETCRTC");
}
static void q_getencoder(struct scene *s) {
    struct drm_mode_get_encoder e = {.encoder_id = qs.enc};
    xioctl(s->fd, DRM_IOCTL_MODE_GETENCODER, &e, "GETENCODER");
}
static void q_getconnector(struct scene *s) {
    struct drm_mode_modeinfo modes[64];
    uint32_t props[64], encs[8];
    uint64_t values[64];
    struct drm_mode_get_connector k = {
        .connector_id = s->conn, .count_modes = qs.nmodes, .count_props = qs.nprops, .count_encoders = qs.nencs,
        .modes_ptr = (uint64_t)(uintptr_t)modes, .props_ptr = (uint64_t)(uintptr_t)props,
        .prop_values_ptr = (uint64_t)(uintptr_t)values, .encoders_ptr = (uint64_t)(uintptr_t)encs,
    };
    xioctl(s->fd, DRM_IOCTL_MODE_GETCONNECTOR, &k, "GETCONNECTOR");
}
static void q_getconnector_heap(struct scene *s) {
    struct drm_mode_get_connector k = {
        .connector_id = s->conn, .count_modes = qs.nmodes, .count_props = qs.nprops, .count_encoders = qs.nencs,
        .modes_ptr = (uint64_t)(uintptr_t)heap_modes, .props_ptr = (uint64_t)(uintptr_t)heap_props,
        .prop_values_ptr = (uint64_t)(uintptr_t)heap_values, .encoders_ptr = (uint64_t)(uintptr_t)heap_encs,
    };
    xioctl(s->fd, DRM_IOCTL_MODE_GETCONNECTOR, &k, "GETCONNECTOR");
}
static void q_getplaneres(struct scene *s) {
    uint32_t planes[32];
    struct drm_mode_get_plane_res p = {.plane_id_ptr = (uint64_t)(uintptr_t)planes, .count_planes = qs.nplanes};
    xioctl(s->fd, DRM_IOCTL_MODE_GETPLANERESOURCES, &p, "GETPLANERESOURCES");
}
static void q_getplane(struct scene *s) {
    uint32_t formats[64];
    struct drm_mode_get_plane p = {.plane_id = s->plane, .count_format_types = qs.nformats, .format_type_ptr = (uint64_t)(uintptr_t)formats};
    xioctl(s->fd, DRM_IOCTL_MODE_GETPLANE, &p, "GETPLANE");
}
static void q_objprops(struct scene *s) {
    uint32_t props[64];
    uint64_t values[64];
    struct drm_mode_obj_get_properties o = {.obj_id = s->plane, .obj_type = DRM_MODE_OBJECT_PLANE, .count_props = qs.nobjprops,
                                            .props_ptr = (uint64_t)(uintptr_t)props, .prop_values_ptr = (uint64_t)(uintptr_t)values};
    xioctl(s->fd, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &o, "OBJ_GETPROPERTIES");
}
static void q_getproperty(struct scene *s) {
    uint64_t values[16];
    struct drm_mode_property_enum enums[16];
    struct drm_mode_get_property p = {.prop_id = qs.prop, .count_values = qs.nvalues, .count_enum_blobs = qs.nenums,
                                      .values_ptr = (uint64_t)(uintptr_t)values, .enum_blob_ptr = (uint64_t)(uintptr_t)enums};
    xioctl(s->fd, DRM_IOCTL_MODE_GETPROPERTY, &p, "GETPROPERTY");
}
static void q_getpropblob(struct scene *s) {
    unsigned char data[4096];
    struct drm_mode_get_blob b = {.blob_id = qs.blob, .length = qs.blob_len, .data = (uint64_t)(uintptr_t)data};
    xioctl(s->fd, DRM_IOCTL_MODE_GETPROPBLOB, &b, "GETPROPBLOB");
}

// Each query as the snapshot answers it, the same over the socket (snapshot off), and a
// native no-op ioctl, sampled in turn within each iteration.
static void snapshot_rows(struct scene *s, int iters) {
    qs.s = s;
    qs.efd = eventfd(0, EFD_CLOEXEC);
    if (qs.efd < 0) die("eventfd");
    snap_mode(0);
    struct drm_mode_card_res res = {0};
    uint32_t encs[16];
    xioctl(s->fd, DRM_IOCTL_MODE_GETRESOURCES, &res, "GETRESOURCES");
    res.count_fbs = res.count_crtcs = res.count_connectors = 0;
    res.count_encoders = res.count_encoders > 16 ? 16 : res.count_encoders;
    res.encoder_id_ptr = (uint64_t)(uintptr_t)encs;
    xioctl(s->fd, DRM_IOCTL_MODE_GETRESOURCES, &res, "GETRESOURCES");
    qs.enc = encs[0];
    struct drm_mode_get_connector k = {.connector_id = s->conn};
    xioctl(s->fd, DRM_IOCTL_MODE_GETCONNECTOR, &k, "GETCONNECTOR");
    if (k.count_modes > 64 || k.count_props > 64 || k.count_encoders > 8) { errno = E2BIG; die("GETCONNECTOR"); }
    qs.nmodes = k.count_modes; qs.nprops = k.count_props; qs.nencs = k.count_encoders;
    heap_modes = malloc(64 * sizeof(struct drm_mode_modeinfo));
    heap_props = malloc(64 * 4); heap_values = malloc(64 * 8); heap_encs = malloc(8 * 4);
    struct drm_mode_get_plane_res pr = {0};
    xioctl(s->fd, DRM_IOCTL_MODE_GETPLANERESOURCES, &pr, "GETPLANERESOURCES");
    qs.nplanes = pr.count_planes > 32 ? 32 : pr.count_planes;
    struct drm_mode_get_plane pl = {.plane_id = s->plane};
    xioctl(s->fd, DRM_IOCTL_MODE_GETPLANE, &pl, "GETPLANE");
    qs.nformats = pl.count_format_types > 64 ? 64 : pl.count_format_types;
    struct drm_mode_obj_get_properties o = {.obj_id = s->plane, .obj_type = DRM_MODE_OBJECT_PLANE};
    xioctl(s->fd, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &o, "OBJ_GETPROPERTIES");
    qs.nobjprops = o.count_props > 64 ? 64 : o.count_props;
    uint64_t unused;
    qs.prop = prop_id(s->fd, s->plane, DRM_MODE_OBJECT_PLANE, "type", &unused);
    struct drm_mode_get_property gp = {.prop_id = qs.prop};
    xioctl(s->fd, DRM_IOCTL_MODE_GETPROPERTY, &gp, "GETPROPERTY");
    qs.nvalues = gp.count_values > 16 ? 16 : gp.count_values;
    qs.nenums = gp.count_enum_blobs > 16 ? 16 : gp.count_enum_blobs;
    uint64_t mode_blob = 0;
    prop_id(s->fd, s->crtc, DRM_MODE_OBJECT_CRTC, "MODE_ID", &mode_blob);
    qs.blob = (uint32_t)mode_blob;
    struct drm_mode_get_blob gb = {.blob_id = qs.blob};
    xioctl(s->fd, DRM_IOCTL_MODE_GETPROPBLOB, &gb, "GETPROPBLOB");
    qs.blob_len = gb.length > 4096 ? 0 : gb.length;

    struct { const char *name; void (*op)(struct scene *); } rows[] = {
        {"GET_CAP", op_get_cap},
        {"GETRESOURCES (filled)", op_getresources},
        {"GETCONNECTOR (filled)", q_getconnector},
        {"GETCONNECTOR (filled, heap arrays)", q_getconnector_heap},
        {"GETENCODER", q_getencoder},
        {"GETCRTC", q_getcrtc},
        {"GETPLANERESOURCES (filled)", q_getplaneres},
        {"GETPLANE (filled)", q_getplane},
        {"OBJ_GETPROPERTIES (plane, filled)", q_objprops},
        {"GETPROPERTY (enum, filled)", q_getproperty},
        {"GETPROPBLOB (MODE_ID)", q_getpropblob},
    };
    enum { NROWS = sizeof(rows) / sizeof(rows[0]) };
    // The last request before this was a commit (the socket rows): the first query after it
    // goes to the daemon, which then encodes the snapshot again. Wait until it answers.
    snap_mode(1);
    for (int tries = 0; tries < 1000; tries++) {
        unsigned long before = snap_mode(-1);
        op_get_cap(s);
        if (snap_mode(-1) != before) break;
        usleep(1000);
    }
    uint64_t *a = malloc(sizeof(uint64_t) * (size_t)iters), *b = malloc(sizeof(uint64_t) * (size_t)iters),
             *n = malloc(sizeof(uint64_t) * (size_t)iters);
    int sock_iters = iters / 10 < 100 ? 100 : iters / 10; // the socket column is 50-100x slower
    printf("\nread-only queries: from the snapshot (no round trip), over the socket, and a native no-op ioctl\n");
    printf("no-op: ioctl(eventfd, DRM_IOCTL_GET_CAP) as a raw syscall (ENOTTY), sampled in turn with the query; arrays on the stack unless said\n");
    printf("%-36s %9s %9s %9s %9s %7s %9s %6s\n", "query", "snapshot", "p99", "no-op", "p99", "ratio", "socket", "local");
    for (int i = 0; i < NROWS; i++) {
        for (int w = 0; w < 200; w++) rows[i].op(s);
        unsigned long before = snap_mode(-1);
        for (int it = 0; it < iters; it++) {
            for (int k = 0; k < 2; k++) {
                uint64_t t0 = now_ns();
                if ((it + k) % 2 == 0) { rows[i].op(s); a[it] = now_ns() - t0; }
                else { q_noop(s); n[it] = now_ns() - t0; }
            }
        }
        unsigned long local = snap_mode(-1) - before;
        snap_mode(0);
        for (int it = 0; it < sock_iters; it++) {
            uint64_t t0 = now_ns();
            rows[i].op(s);
            b[it] = now_ns() - t0;
        }
        snap_mode(1);
        uint64_t med, p99, nmed, np99, smed, sp99;
        stats(a, iters, &med, &p99);
        stats(n, iters, &nmed, &np99);
        stats(b, sock_iters, &smed, &sp99);
        printf("%-36s %9llu %9llu %9llu %9llu %7.2f %9llu %5.0f%%\n", rows[i].name, (unsigned long long)med, (unsigned long long)p99,
               (unsigned long long)nmed, (unsigned long long)np99, (double)med / (double)(nmed ? nmed : 1), (unsigned long long)smed,
               100.0 * (double)local / (double)iters);
    }
    printf("ratio: snapshot median / no-op median. socket: the same query with the snapshot off (median of %d). local: share answered from the snapshot.\n", sock_iters);
    free(a); free(b); free(n);
    close(qs.efd);
}

int main(int argc, char **argv) {
    int iters = 20000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-v")) verbose = 1;
        else if (!strcmp(argv[i], "-c") && i + 1 < argc) client_cpu = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-e") && i + 1 < argc) echo_cpu = atoi(argv[++i]);
        else { fprintf(stderr, "usage: socket-bench [-n ITERATIONS] [-v] [-c CLIENT_CPU] [-e ECHO_CPU]\n"); return 2; }
    }
    pin(client_cpu, "client");
    if (iters < 100) iters = 100;
    trace = (trace_fn)dlsym(RTLD_DEFAULT, "fakedrm_preload_trace");
    if (!trace) {
        fprintf(stderr, "socket-bench: libfakedrm-preload.so is not loaded (or too old: no fakedrm_preload_trace)\n");
        return 1;
    }
    const char *card = getenv("FAKEDRM_CARD");
    if (!card || !*card) card = "/dev/dri/card0";
    struct scene s = {0};
    s.fd = open(card, O_RDWR | O_CLOEXEC);
    if (s.fd < 0) die(card);
    scene_setup(&s);
    echo_start();

    // The four socket rows time the round trips: the query snapshot (docs/snapshot.md) would
    // answer GET_CAP and GETRESOURCES without one, so it is off for them.
    snap_mode = (unsigned long (*)(int))dlsym(RTLD_DEFAULT, "fakedrm_preload_snapshot");
    if (snap_mode) snap_mode(0);
    struct result r[4] = {
        {.name = "GET_CAP"},
        {.name = "GETRESOURCES (filled)"},
        {.name = "atomic TEST_ONLY (plane flip)"},
        {.name = "atomic commit -> flip event read"},
    };
    void (*ops[4])(struct scene *) = {op_get_cap, op_getresources, op_test_only, op_commit_event};
    // Blocks of BLOCK iterations, the four operations in turn, so a burst of load from
    // elsewhere on the machine is spread over all rows instead of spoiling one.
    enum { BLOCK = 250 };
    for (int i = 0; i < 4; i++) prepare(&r[i], &s, ops[i], iters);
    for (int from = 0; from < iters; from += BLOCK) {
        int to = from + BLOCK < iters ? from + BLOCK : iters;
        for (int i = 0; i < 4; i++) sample(&r[i], &s, ops[i], from, to);
    }
    for (int i = 0; i < 4; i++) finish(&r[i], iters);
    echo_stop();

    printf("fakedrm bench --socket (libfakedrm-preload.so -> in-process daemon, %d iterations, ns per operation)\n", iters);
    printf("virtual time: the daemon runs with --virtual-time, so a flip completes at once (no real vblank wait is timed)\n");
    printf("floor: raw SOCK_SEQPACKET echo with a forked process, same round trips and byte counts, sampled in turn with the operation\n");
    if (client_cpu >= 0 || echo_cpu >= 0)
        printf("placement: client on CPU %d, daemon and echo child on CPU %d\n", client_cpu, echo_cpu);
    printf("%-34s %4s %13s %9s %9s %9s %9s %7s %7s\n", "operation", "RTs", "bytes out/in", "median", "p99",
           "floor med", "floor p99", "ratio", "x 1RT");
    for (int i = 0; i < 4; i++) {
        char bytes[32];
        snprintf(bytes, sizeof(bytes), "%llu/%llu", (unsigned long long)r[i].out_bytes, (unsigned long long)r[i].in_bytes);
        printf("%-34s %4d %13s %9llu %9llu %9llu %9llu %7.2f %7.2f\n", r[i].name, r[i].nrt, bytes,
               (unsigned long long)r[i].med, (unsigned long long)r[i].p99, (unsigned long long)r[i].fmed,
               (unsigned long long)r[i].fp99, (double)r[i].med / (double)(r[i].fmed ? r[i].fmed : 1),
               (double)r[i].med / (double)(r[i].f1med ? r[i].f1med : 1));
        if (r[i].avg_msgs != 2.0 * r[i].nrt)
            printf("  (note: %.2f round trips per timed operation on average)\n", r[i].avg_msgs / 2);
    }
    for (int i = 0; i < 4; i++)
        if (r[i].med < r[i].fmed * 9 / 10) {
            printf("WARNING: %s ran faster than its floor: the run was disturbed (a CPU shared with other work?); repeat it\n", r[i].name);
            break;
        }
    printf("RTs: request/response pairs on the socket (the ioctl or READ itself plus each daemon callback).\n");
    printf("ratio: median / floor median. x 1RT: median / one echo round trip of the ioctl message and its reply alone.\n");
    if (snap_mode) snapshot_rows(&s, iters);
    close(s.fd);
    return 0;
}
