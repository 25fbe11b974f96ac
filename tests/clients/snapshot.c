// The preload library's query snapshot against the daemon, byte for byte (docs/snapshot.md).
// Over random states (commits, plane flips, hotplugs and connectors added/removed through
// `fakedrm ctl`, leases, client caps, blobs and framebuffers made and dropped), every
// snapshotted query on every object id, on three files (the master, a second opener and a
// lessee), with counts 0/1/3/exact/large, arrays on the heap, on the stack and at a bad
// address: the daemon's answer (fakedrm_preload_snapshot(0): every query over the socket)
// and the snapshot's (mode 1, retried until the snapshot answered it) must agree in return
// value, errno, the struct and every byte of every array buffer.
// Usage: snapshot [ITERATIONS [SEED]] under `fakedrm run`, with FAKEDRM_BIN set.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include <drm_fourcc.h>

#define ARR (64 * 1024)
#define MAXIDS 512

static unsigned long (*snap_mode)(int);
static int failures, compared, fallbacks;

struct pfield { int ptr, cnt, elem; };
struct query {
    const char *name;
    unsigned long req;
    size_t size;
    int key, keysize; // offset of the id (or cap) in the struct
    int np;
    struct pfield p[4];
};

static const struct query Q[] = {
    {"GET_CAP", DRM_IOCTL_GET_CAP, 16, 0, 8, 0, {{0}}},
    {"GETRESOURCES", DRM_IOCTL_MODE_GETRESOURCES, 64, -1, 0, 4, {{0, 32, 4}, {8, 36, 4}, {16, 40, 4}, {24, 44, 4}}},
    {"GETCRTC", DRM_IOCTL_MODE_GETCRTC, 104, 12, 4, 0, {{0}}},
    {"GETENCODER", DRM_IOCTL_MODE_GETENCODER, 20, 0, 4, 0, {{0}}},
    {"GETCONNECTOR", DRM_IOCTL_MODE_GETCONNECTOR, 80, 48, 4, 4, {{8, 32, 68}, {16, 36, 4}, {24, 36, 8}, {0, 40, 4}}},
    {"GETPLANERESOURCES", DRM_IOCTL_MODE_GETPLANERESOURCES, 16, -1, 0, 1, {{0, 8, 4}}},
    {"GETPLANE", DRM_IOCTL_MODE_GETPLANE, 32, 0, 4, 1, {{24, 20, 4}}},
    {"OBJ_GETPROPERTIES", DRM_IOCTL_MODE_OBJ_GETPROPERTIES, 32, 20, 4, 2, {{0, 16, 4}, {8, 16, 8}}},
    {"GETPROPERTY", DRM_IOCTL_MODE_GETPROPERTY, 64, 16, 4, 2, {{0, 56, 8}, {8, 60, 40}}},
    {"GETPROPBLOB", DRM_IOCTL_MODE_GETPROPBLOB, 16, 0, 4, 1, {{8, 4, 1}}},
};
enum { NQ = sizeof(Q) / sizeof(Q[0]) };

struct result {
    int ret, err;
    unsigned char arg[104];
    unsigned char *arr[4];
};

static unsigned char *heap[4];

// One call of `q` with `argin`; where: 0 arrays on the heap, 1 arrays (and the struct) on
// this frame's stack, 2 arrays at an unmapped address, 3 the first on the heap and the others
// unmapped (the first is written, then EFAULT).
static void call(int fd, const struct query *q, const unsigned char *argin, int where, struct result *out) {
    unsigned char stack[4][where == 1 ? ARR : 1];
    unsigned char sarg[104], *hargp = malloc(104);
    unsigned char *arg = where == 1 ? sarg : hargp;
    memcpy(arg, argin, q->size);
    for (int i = 0; i < q->np; i++) {
        unsigned char *b = where == 1 ? stack[i] : heap[i];
        int bad = where == 2 || (where == 3 && i > 0);
        if (!bad) memset(b, 0xA5, ARR);
        uint64_t a = bad ? 16 : (uint64_t)(uintptr_t)b;
        memcpy(arg + q->p[i].ptr, &a, 8);
    }
    errno = 0;
    out->ret = ioctl(fd, q->req, arg);
    out->err = out->ret ? errno : 0;
    memcpy(out->arg, arg, q->size);
    for (int i = 0; i < q->np; i++) {
        memset(out->arg + q->p[i].ptr, 0, 8); // addresses differ between calls
        if (where != 2 && !(where == 3 && i > 0)) memcpy(out->arr[i], where == 1 ? stack[i] : heap[i], ARR);
        else memset(out->arr[i], 0, ARR);
    }
    free(hargp);
}

static struct result A, B;
static uint32_t rd32(const unsigned char *p);

static void compare(int fd, const char *who, const struct query *q, const unsigned char *argin, int where) {
    snap_mode(0);
    call(fd, q, argin, where, &A);
    snap_mode(1);
    // The daemon encodes a stale snapshot after answering: retry until it answered here.
    int tries = 0;
    for (;;) {
        unsigned long before = snap_mode(-1);
        call(fd, q, argin, where, &B);
        if (snap_mode(-1) != before || A.ret != 0 || where >= 2 || ++tries > 40) break;
        usleep(2000);
    }
    if (A.ret == 0 && where < 2 && tries > 40 && ++fallbacks <= 5 && getenv("SNAPSHOT_VERBOSE"))
        printf("note - %s on %s never served by the snapshot (key at %d: %u)\n", q->name, who, q->key, q->key >= 0 ? rd32(argin + q->key) : 0);
    compared++;
    int same = A.ret == B.ret && A.err == B.err && !memcmp(A.arg, B.arg, q->size);
    for (int i = 0; same && i < q->np; i++) same = !memcmp(A.arr[i], B.arr[i], ARR);
    if (!same) {
        failures++;
        if (failures <= 20) {
            printf("FAIL - %s on %s (where %d): daemon ret %d errno %d, snapshot ret %d errno %d; arg", q->name, who, where, A.ret, A.err, B.ret, B.err);
            for (size_t i = 0; i < q->size; i++) if (A.arg[i] != B.arg[i]) printf(" [%zu] %02x/%02x", i, A.arg[i], B.arg[i]);
            for (int i = 0; i < q->np; i++)
                for (size_t k = 0; k < ARR; k++)
                    if (A.arr[i][k] != B.arr[i][k]) { printf("; array %d differs at %zu", i, k); break; }
            printf("\n");
        }
    }
}

static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

// Count variants of `q` for one key on one file: 0 first (whose answer gives the full
// counts), then 1, exact, one less than exact, and more than there is; arrays on the heap and
// on the stack in turn, and once at a bad address.
static void compare_key(int fd, const char *who, const struct query *q, uint64_t key, uint32_t type) {
    unsigned char arg[104] = {0};
    if (q->key >= 0) memcpy(arg + q->key, &key, q->keysize);
    if (q->req == DRM_IOCTL_MODE_OBJ_GETPROPERTIES) memcpy(arg + 24, &type, 4);
    compare(fd, who, q, arg, 0);
    if (!q->np || A.ret) return;
    uint32_t full[4] = {0};
    for (int i = 0; i < q->np; i++) full[i] = rd32(A.arg + q->p[i].cnt);
    const uint32_t variants[] = {1, 0xFFFFFFFF /* exact */, 0xFFFFFFFE /* exact - 1 */, 200};
    for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
        for (int i = 0; i < q->np; i++) {
            uint32_t c = variants[v] == 0xFFFFFFFF ? full[i] : variants[v] == 0xFFFFFFFE ? (full[i] ? full[i] - 1 : 0) : variants[v];
            if ((uint64_t)c * q->p[i].elem > ARR) c = ARR / q->p[i].elem;
            memcpy(arg + q->p[i].cnt, &c, 4);
        }
        compare(fd, who, q, arg, (int)(v % 2));
        if (v == 1) compare(fd, who, q, arg, 2); // EFAULT
        if (v == 1 && q->np > 1) compare(fd, who, q, arg, 3); // the first array written, then EFAULT
    }
}

static uint32_t ids[MAXIDS], types[MAXIDS];
static int nids;
static uint32_t props[MAXIDS];
static int nprops;
static uint32_t blobs[MAXIDS];
static int nblobs;

static void add_id(uint32_t *list, int *n, uint32_t id, uint32_t *tl, uint32_t type) {
    for (int i = 0; i < *n; i++) if (list[i] == id) return;
    if (*n < MAXIDS) { if (tl) tl[*n] = type; list[(*n)++] = id; }
}

// Every object, property and blob id the card has now (from a file with every cap), kept
// across iterations so that objects gone or hidden are asked about too.
static void enumerate(int fd) {
    snap_mode(0);
    drmModeRes *r = drmModeGetResources(fd);
    drmModePlaneRes *pr = drmModeGetPlaneResources(fd);
    if (!r || !pr) { printf("FAIL - enumerate\n"); failures++; return; }
    for (int i = 0; i < r->count_crtcs; i++) add_id(ids, &nids, r->crtcs[i], types, DRM_MODE_OBJECT_CRTC);
    for (int i = 0; i < r->count_connectors; i++) add_id(ids, &nids, r->connectors[i], types, DRM_MODE_OBJECT_CONNECTOR);
    for (int i = 0; i < r->count_encoders; i++) add_id(ids, &nids, r->encoders[i], types, DRM_MODE_OBJECT_ENCODER);
    for (int i = 0; i < r->count_fbs; i++) add_id(ids, &nids, r->fbs[i], types, DRM_MODE_OBJECT_FB);
    for (uint32_t i = 0; i < pr->count_planes; i++) add_id(ids, &nids, pr->planes[i], types, DRM_MODE_OBJECT_PLANE);
    for (int i = 0; i < nids; i++) {
        drmModeObjectProperties *p = drmModeObjectGetProperties(fd, ids[i], types[i]);
        for (uint32_t k = 0; p && k < p->count_props; k++) {
            add_id(props, &nprops, p->props[k], NULL, 0);
            drmModePropertyRes *d = drmModeGetProperty(fd, p->props[k]);
            if (d && (d->flags & DRM_MODE_PROP_BLOB) && p->prop_values[k]) add_id(blobs, &nblobs, (uint32_t)p->prop_values[k], NULL, 0);
            drmModeFreeProperty(d);
        }
        drmModeFreeObjectProperties(p);
    }
    drmModeFreeResources(r);
    drmModeFreePlaneResources(pr);
}

static void compare_all(int fd, const char *who) {
    for (int qi = 0; qi < NQ; qi++) {
        const struct query *q = &Q[qi];
        switch (q->req) {
        case DRM_IOCTL_GET_CAP:
            for (uint64_t cap = 0; cap < 0x18; cap++) compare_key(fd, who, q, cap, 0);
            compare_key(fd, who, q, 1ull << 32, 0);
            break;
        case DRM_IOCTL_MODE_GETRESOURCES: case DRM_IOCTL_MODE_GETPLANERESOURCES:
            compare_key(fd, who, q, 0, 0);
            break;
        case DRM_IOCTL_MODE_GETPROPERTY:
            for (int i = 0; i < nprops; i++) compare_key(fd, who, q, props[i], 0);
            compare_key(fd, who, q, 99999, 0);
            break;
        case DRM_IOCTL_MODE_GETPROPBLOB:
            for (int i = 0; i < nblobs; i++) compare_key(fd, who, q, blobs[i], 0);
            compare_key(fd, who, q, 99999, 0);
            break;
        case DRM_IOCTL_MODE_OBJ_GETPROPERTIES:
            for (int i = 0; i < nids; i++) {
                compare_key(fd, who, q, ids[i], types[i]);
                compare_key(fd, who, q, ids[i], DRM_MODE_OBJECT_ANY);
            }
            compare_key(fd, who, q, ids[0], DRM_MODE_OBJECT_PLANE);
            break;
        default:
            for (int i = 0; i < nids; i++) compare_key(fd, who, q, ids[i], 0);
            compare_key(fd, who, q, 0, 0);
            break;
        }
    }
}

static void ctl(const char *args) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "\"%s\" ctl %s >/dev/null 2>&1", getenv("FAKEDRM_BIN"), args);
    if (system(cmd) != 0) printf("note - ctl %s failed\n", args);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int iterations = argc > 1 ? atoi(argv[1]) : 40;
    unsigned seed = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
    srand(seed);
    snap_mode = (unsigned long (*)(int))dlsym(RTLD_DEFAULT, "fakedrm_preload_snapshot");
    if (!snap_mode || !getenv("FAKEDRM_BIN")) { printf("FAIL - needs the preload library and FAKEDRM_BIN\n"); return 1; }
    for (int i = 0; i < 4; i++) { heap[i] = malloc(ARR); A.arr[i] = malloc(ARR); B.arr[i] = malloc(ARR); }
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC), other = open("/dev/dri/card0", O_RDWR | O_CLOEXEC), lessee = -1;
    if (fd < 0 || other < 0) { perror("open"); return 1; }
    snap_mode(0);
    drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1);
    drmSetClientCap(fd, DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 1);
    enumerate(fd);
    drmModeRes *r = drmModeGetResources(fd);
    drmModePlaneRes *pr = drmModeGetPlaneResources(fd);
    uint32_t crtc = r->crtcs[0], conn = r->connectors[0], primary = pr->planes[0];
    drmModeConnector *c = drmModeGetConnector(fd, conn);
    drmModeModeInfo mode = c->modes[0];
    uint32_t fbs[2], handles[2], pitch;
    for (int i = 0; i < 2; i++) {
        struct drm_mode_create_dumb d = {.width = mode.hdisplay, .height = mode.vdisplay, .bpp = 32};
        drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &d);
        handles[i] = d.handle;
        pitch = d.pitch;
        uint32_t h[4] = {d.handle}, p[4] = {d.pitch}, o[4] = {0};
        drmModeAddFB2(fd, mode.hdisplay, mode.vdisplay, DRM_FORMAT_XRGB8888, h, p, o, &fbs[i], 0);
    }
    uint32_t extra_fb = 0, my_blob = 0;
    int added_connector = 0;
    const uint64_t caps[] = {DRM_CLIENT_CAP_STEREO_3D, DRM_CLIENT_CAP_UNIVERSAL_PLANES, DRM_CLIENT_CAP_ATOMIC,
                             DRM_CLIENT_CAP_ASPECT_RATIO, DRM_CLIENT_CAP_WRITEBACK_CONNECTORS};
    compare_all(fd, "master");
    compare_all(other, "second file");
    for (int it = 0; it < iterations; it++) {
        snap_mode(0);
        int action = rand() % 9;
        int target = rand() % 2 ? fd : other;
        switch (action) {
        case 0: drmSetClientCap(target, caps[rand() % 5], rand() % 2); break;
        case 1: {
            drmModeConnector *k = drmModeGetConnector(fd, conn);
            if (k && k->count_modes) mode = k->modes[rand() % k->count_modes];
            drmModeFreeConnector(k);
            drmModeSetCrtc(fd, crtc, rand() % 3 ? fbs[rand() % 2] : 0, 0, 0, &conn, 1, &mode);
            break;
        }
        case 2: drmModeSetPlane(fd, primary, crtc, fbs[rand() % 2], 0, 0, 0, mode.hdisplay, mode.vdisplay, 0, 0, mode.hdisplay << 16, mode.vdisplay << 16); break;
        case 3: ctl(rand() % 2 ? "hotplug Virtual-1 disconnected" : rand() % 2 ? "hotplug Virtual-1 connected --modes 800x600,640x480" : "hotplug Virtual-1 connected"); break;
        case 4:
            if (added_connector) { ctl("connector remove HDMI-A-1"); added_connector = 0; }
            else { ctl("connector add HDMI-A"); added_connector = 1; }
            enumerate(fd);
            break;
        case 5:
            if (lessee >= 0) { close(lessee); lessee = -1; }
            else { uint32_t objs[3] = {crtc, conn, primary}; uint32_t lid; lessee = drmModeCreateLease(fd, objs, 3, O_CLOEXEC, &lid); }
            break;
        case 6:
            if (my_blob) { drmModeDestroyPropertyBlob(target, my_blob); my_blob = 0; }
            else {
                unsigned char data[300];
                for (size_t i = 0; i < sizeof(data); i++) data[i] = (unsigned char)rand();
                drmModeCreatePropertyBlob(fd, data, 1 + rand() % 300, &my_blob);
                if (my_blob) add_id(blobs, &nblobs, my_blob, NULL, 0);
            }
            break;
        case 7:
            if (extra_fb) { drmModeRmFB(fd, extra_fb); extra_fb = 0; }
            else { uint32_t h[4] = {handles[0]}, p[4] = {pitch}, o[4] = {0}; drmModeAddFB2(fd, 64, 64, DRM_FORMAT_XRGB8888, h, p, o, &extra_fb, 0); if (extra_fb) add_id(ids, &nids, extra_fb, types, DRM_MODE_OBJECT_FB); }
            break;
        case 8: drmSetClientCap(other, caps[rand() % 5], rand() % 2); break;
        }
        enumerate(fd);
        compare_all(fd, "master");
        compare_all(other, "second file");
        if (lessee >= 0) compare_all(lessee, "lessee");
    }
    // The snapshot reached this process read-only: its mappings cannot be made writable (the
    // daemon sends the memfd opened O_RDONLY), so no client can write the daemon's seqlock word.
    int seen = 0, writable = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    while (maps && fgets(line, sizeof line, maps)) {
        if (!strstr(line, "fakedrm-snapshot")) continue;
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
        seen++;
        if (perms[1] == 'w' || mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) == 0) writable++;
    }
    if (maps) fclose(maps);
    if (seen && !writable) printf("ok   - the snapshot (%d mapping(s)) is mapped read-only and cannot be made writable\n", seen);
    else { printf("FAIL - snapshot mappings: %d seen, %d writable\n", seen, writable); failures++; }
    // A fault rule on a query: the library must leave the query to the daemon.
    ctl("fault add \"ioctl name=MODE_GETRESOURCES errno=EIO every=1\"");
    snap_mode(1);
    struct drm_mode_card_res res = {0};
    int rr = ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res), re = errno;
    if (rr == -1 && re == EIO) printf("ok   - with an ioctl fault rule GETRESOURCES goes to the daemon (EIO)\n");
    else { printf("FAIL - with an ioctl fault rule GETRESOURCES gave %d errno %d\n", rr, re); failures++; }
    ctl("fault clear");
    unsigned long local = snap_mode(-1);
    printf("%s - %d comparisons over %d iterations (seed %u), %lu queries answered from the snapshot, %d never served by it, %d mismatches\n",
           failures ? "FAIL" : "ok  ", compared, iterations, seed, local, fallbacks, failures);
    if (local < (unsigned long)compared / 4) { printf("FAIL - the snapshot answered too few queries\n"); failures++; }
    return failures ? 1 : 0;
}
