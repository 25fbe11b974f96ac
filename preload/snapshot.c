// Read-only queries answered from the daemon's snapshot of this file's answers, without a
// round trip (docs/snapshot.md). The daemon encodes the snapshot by running its own handlers
// (Sources/FakeDRM/KMS/Snapshot), so each entry holds the struct its handler left and every
// array in full; here only the caller's counts are applied, with the same rule per array as
// the handler (partial, or all-or-nothing), and only the fields the handler writes are copied.
//
// Consistency: a seqlock word (odd = stale or being written). The entry is copied into a
// per-thread staging buffer, the word read again, and only then is anything written to the
// caller, so a torn read never reaches the caller's memory. Anything unexpected (stale, not
// in the snapshot, an unreadable or unwritable pointer, a struct size this file does not know)
// returns 0 and the ioctl goes to the daemon, which answers it as before (and encodes the
// snapshot again if it was stale).
#include "preload.h"

#define SNAP_MAGIC 0x4E534446u // "FDSN"
#define SNAP_VERSION 1u
#define SNAP_HEADER 64
#define SNAP_STAGING (64 * 1024) // larger entries (a huge blob) go to the daemon

// DRM_IOWR(nr, struct) of the ten queries, with the structs' sizes in the uAPI headers.
#define DRM_IOWR_(nr, size) (0xc0000000u | ((uint32_t)(size) << 16) | (0x64u << 8) | (uint32_t)(nr))
enum {
    Q_GET_CAP = DRM_IOWR_(0x0C, 16),     // struct drm_get_cap
    Q_GETRESOURCES = DRM_IOWR_(0xA0, 64), // struct drm_mode_card_res
    Q_GETCRTC = DRM_IOWR_(0xA1, 104),     // struct drm_mode_crtc
    Q_GETENCODER = DRM_IOWR_(0xA6, 20),   // struct drm_mode_get_encoder
    Q_GETCONNECTOR = DRM_IOWR_(0xA7, 80), // struct drm_mode_get_connector
    Q_GETPROPERTY = DRM_IOWR_(0xAA, 64),  // struct drm_mode_get_property
    Q_GETPROPBLOB = DRM_IOWR_(0xAC, 16),  // struct drm_mode_get_blob
    Q_GETPLANERES = DRM_IOWR_(0xB5, 16),  // struct drm_mode_get_plane_res
    Q_GETPLANE = DRM_IOWR_(0xB6, 32),     // struct drm_mode_get_plane
    Q_OBJ_GETPROPS = DRM_IOWR_(0xB9, 32), // struct drm_mode_obj_get_properties
};

// Entry kinds (SnapshotLayout.Kind in the daemon).
enum { K_CAP = 1, K_RES, K_CRTC, K_ENCODER, K_CONNECTOR, K_PLANERES, K_PLANE, K_OBJPROPS, K_PROPERTY, K_BLOB };

static int env_disabled = -1;              // FAKEDRM_NO_SNAPSHOT: never asked for
static int disabled;                       // fakedrm_preload_snapshot(0): mapped, not used
static unsigned long answered_count;       // diagnostics: queries answered here
static HOT_TLS unsigned char *staging;    // one entry, copied out of the snapshot

int snapshot_wanted(void) {
    if (env_disabled < 0) {
        const char *v = getenv("FAKEDRM_NO_SNAPSHOT");
        env_disabled = v && v[0] && strcmp(v, "0") != 0;
    }
    return !env_disabled;
}

// For tests and bench/socket-bench.c: mode 0 sends every query to the daemon, 1 answers
// from the snapshot again (when the connection has one), -1 changes nothing. Connections are
// given a snapshot either way (unless FAKEDRM_NO_SNAPSHOT is set). Returns how many
// queries the snapshot has answered so far in this process. Not part of the wire protocol.
EXPORT unsigned long fakedrm_preload_snapshot(int mode) {
    if (mode == 0 || mode == 1) __atomic_store_n(&disabled, !mode, __ATOMIC_RELAXED);
    return __atomic_load_n(&answered_count, __ATOMIC_RELAXED);
}

void snapshot_map(struct conn *c, int fd, uint32_t size) {
    if (size < SNAP_HEADER) return;
    void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return;
    uint32_t magic, version;
    memcpy(&magic, p, 4);
    memcpy(&version, (unsigned char *)p + 4, 4);
    if (magic != SNAP_MAGIC || version != SNAP_VERSION) { munmap(p, size); return; }
    c->snap = p;
    c->snap_size = size;
}

void snapshot_unmap(struct conn *c) {
    if (c->snap) munmap((void *)c->snap, c->snap_size);
    c->snap = NULL;
}

static uint32_t r32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t r64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void w32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

// Copies entry (kind, key) into the staging buffer under the seqlock; returns its length,
// or -1 (stale, absent, too large, torn).
static ssize_t fetch(const struct conn *c, uint32_t kind, uint32_t key) {
    const unsigned char *s = c->snap;
    uint64_t seq = __atomic_load_n((const uint64_t *)(s + 8), __ATOMIC_ACQUIRE);
    if (seq & 1) return -1;
    uint32_t count = r32(s + 20), index = r32(s + 24);
    if (index < SNAP_HEADER || index > c->snap_size || count > (c->snap_size - index) / 16) return -1;
    size_t lo = 0, hi = count;
    uint32_t off = 0, len = 0;
    int found = 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const unsigned char *e = s + index + mid * 16;
        uint32_t k = r32(e), y = r32(e + 4);
        if (k == kind && y == key) { off = r32(e + 8); len = r32(e + 12); found = 1; break; }
        if (k < kind || (k == kind && y < key)) lo = mid + 1;
        else hi = mid;
    }
    if (!found || len > SNAP_STAGING || off > c->snap_size || len > c->snap_size - off) return -1;
    if (!staging && !(staging = malloc(SNAP_STAGING))) return -1;
    memcpy(staging, s + off, len);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n((const uint64_t *)(s + 8), __ATOMIC_RELAXED) != seq) return -1;
    return (ssize_t)len;
}

// The writes of one answer, in the order the daemon's handler makes them; the struct last.
struct writes {
    int n;
    uint64_t addr[5];
    const void *src[5];
    size_t len[5];
};

static void add_write(struct writes *w, uint64_t addr, const void *src, size_t len) {
    if (len == 0) return;
    w->addr[w->n] = addr;
    w->src[w->n] = src;
    w->len[w->n] = len;
    w->n++;
}

// Copies to memory that is not on the calling thread's stack go through a pipe: writev() the
// bytes in, readv() them out into the caller's ranges. The kernel's copy_to_user then finds a
// bad address (EFAULT, as for the daemon's MEM_WRITE) without pinning pages: one
// process_vm_writev of a GETCONNECTOR's four arrays cost 2.6 µs here, the pipe 1.3 µs (a
// scratch memfd with pwritev/preadv 1.6 µs). One pipe per process (made again in a fork
// child, which shares the parent's), non-blocking, its ends at fds >= HIGH_FD like the
// sockets; under its mutex, so two threads' bytes never interleave.
static pthread_mutex_t pipe_mu = PTHREAD_MUTEX_INITIALIZER;
static int copy_pipe[2] = {-1, -1};
static pid_t copy_pipe_pid;

static int pipe_ready(void) { // pipe_mu held
    if (copy_pipe[0] >= 0 && copy_pipe_pid == self_pid()) return 1;
    if (copy_pipe[0] >= 0) { sys_close(copy_pipe[0]); sys_close(copy_pipe[1]); } // the parent's
    copy_pipe[0] = copy_pipe[1] = -1;
    int p[2];
    if (syscall(SYS_pipe2, p, O_CLOEXEC | O_NONBLOCK)) return 0;
    for (int i = 0; i < 2; i++) {
        int hi = sys_fcntl(p[i], F_DUPFD_CLOEXEC, HIGH_FD);
        if (hi >= 0) { sys_close(p[i]); p[i] = hi; }
    }
    copy_pipe[0] = p[0];
    copy_pipe[1] = p[1];
    copy_pipe_pid = self_pid();
    return 1;
}

static void pipe_drain(void) { // pipe_mu held
    unsigned char b[4096];
    while (syscall(SYS_read, copy_pipe[0], b, sizeof(b)) > 0) {}
}

// All of them, or nothing that matters: 0, or -1 when some range is not writable (the
// daemon then answers, and writes the arrays again itself). Ranges on the calling thread's
// stack are copied directly; the rest through the pipe (more than a page, or no pipe: one
// process_vm_writev), which stops at the first bad range as the daemon's MEM_WRITEs do.
static int flush(const struct writes *w) {
    int direct = 1;
    for (int i = 0; i < w->n; i++)
        if (!on_own_stack(w->addr[i], w->len[i])) direct = 0;
    if (direct) {
        for (int i = 0; i < w->n; i++) memcpy((void *)(uintptr_t)w->addr[i], w->src[i], w->len[i]);
        return 0;
    }
    struct iovec l[5], r[5];
    size_t total = 0;
    for (int i = 0; i < w->n; i++) {
        l[i] = (struct iovec){(void *)w->src[i], w->len[i]};
        r[i] = (struct iovec){(void *)(uintptr_t)w->addr[i], w->len[i]};
        total += w->len[i];
    }
    pthread_mutex_lock(&pipe_mu);
    if (total <= 4096 && pipe_ready()) { // one page: an empty pipe takes it whole
        ssize_t in = syscall(SYS_writev, copy_pipe[1], l, (unsigned long)w->n);
        ssize_t out = in == (ssize_t)total ? syscall(SYS_readv, copy_pipe[0], r, (unsigned long)w->n) : -1;
        if (out != (ssize_t)total) pipe_drain();
        pthread_mutex_unlock(&pipe_mu);
        if (in == (ssize_t)total) return out == (ssize_t)total ? 0 : -1;
    } else {
        pthread_mutex_unlock(&pipe_mu);
    }
    ssize_t n = syscall(SYS_process_vm_writev, self_pid(), l, (unsigned long)w->n, r, (unsigned long)w->n, 0UL);
    return n == (ssize_t)total ? 0 : -1;
}

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

// `arg` is the caller's struct (copied in), `e` the entry of `len` bytes; fills `w` and
// returns 0, or -1 for an entry that does not add up.
static int answer(uint32_t request, unsigned char *arg, const unsigned char *e, size_t len, struct writes *w) {
    switch (request) {
    case Q_GET_CAP:
        if (len != 16) return -1;
        memcpy(arg + 8, e + 8, 8);
        return 0;
    case Q_GETRESOURCES: {
        // Four id arrays, each filled partially (the first min(count, actual) ids).
        if (len < 64) return -1;
        size_t at = 64;
        for (int i = 0; i < 4; i++) {
            uint32_t n = r32(e + 32 + 4 * i);
            if ((uint64_t)n * 4 > len - at) return -1;
            add_write(w, r64(arg + 8 * i), e + at, (size_t)min32(r32(arg + 32 + 4 * i), n) * 4);
            w32(arg + 32 + 4 * i, n);
            at += (size_t)n * 4;
        }
        memcpy(arg + 48, e + 48, 16); // min/max width/height
        return at == len ? 0 : -1;
    }
    case Q_GETCRTC:
        if (len != 104) return -1;
        memcpy(arg + 16, e + 16, 104 - 16); // fb_id, x, y, gamma_size, mode_valid, mode
        return 0;
    case Q_GETENCODER:
        if (len != 20) return -1;
        memcpy(arg + 4, e + 4, 16); // type, crtc_id, possible_crtcs, possible_clones
        return 0;
    case Q_GETCONNECTOR: {
        // Modes and encoders all-or-nothing, properties partial (props, then values).
        if (len < 80) return -1;
        uint32_t nm = r32(e + 32), np = r32(e + 36), ne = r32(e + 40);
        uint64_t need = 80 + (uint64_t)nm * 68 + (uint64_t)np * 12 + (uint64_t)ne * 4;
        if (need != len) return -1;
        const unsigned char *modes = e + 80, *props = modes + (size_t)nm * 68, *values = props + (size_t)np * 4,
                            *encoders = values + (size_t)np * 8;
        if (r32(arg + 32) >= nm) add_write(w, r64(arg + 8), modes, (size_t)nm * 68);
        uint32_t k = min32(r32(arg + 36), np);
        add_write(w, r64(arg + 16), props, (size_t)k * 4);
        add_write(w, r64(arg + 24), values, (size_t)k * 8);
        if (r32(arg + 40) >= ne) add_write(w, r64(arg + 0), encoders, (size_t)ne * 4);
        w32(arg + 32, nm);
        w32(arg + 36, np);
        w32(arg + 40, ne);
        memcpy(arg + 44, e + 44, 4);      // encoder_id
        memcpy(arg + 52, e + 52, 76 - 52); // type, type_id, connection, mm_width, mm_height, subpixel
        return 0;
    }
    case Q_GETPROPERTY: {
        // Values partial; enums partial (count 0 for other types).
        if (len < 64) return -1;
        uint32_t nv = r32(e + 56), nenum = r32(e + 60);
        if (64 + (uint64_t)nv * 8 + (uint64_t)nenum * 40 != len) return -1;
        add_write(w, r64(arg + 0), e + 64, (size_t)min32(r32(arg + 56), nv) * 8);
        add_write(w, r64(arg + 8), e + 64 + (size_t)nv * 8, (size_t)min32(r32(arg + 60), nenum) * 40);
        memcpy(arg + 20, e + 20, 4 + 32); // flags, name
        w32(arg + 56, nv);
        w32(arg + 60, nenum);
        return 0;
    }
    case Q_GETPROPBLOB: {
        // Copied only when the caller's length is exact.
        if (len < 16) return -1;
        uint32_t n = r32(e + 4);
        if (16 + (uint64_t)n != len) return -1;
        if (r32(arg + 4) == n) add_write(w, r64(arg + 8), e + 16, n);
        w32(arg + 4, n);
        return 0;
    }
    case Q_GETPLANERES: {
        if (len < 16) return -1;
        uint32_t n = r32(e + 8);
        if (16 + (uint64_t)n * 4 != len) return -1;
        add_write(w, r64(arg + 0), e + 16, (size_t)min32(r32(arg + 8), n) * 4);
        w32(arg + 8, n);
        return 0;
    }
    case Q_GETPLANE: {
        // Formats all-or-nothing.
        if (len < 32) return -1;
        uint32_t n = r32(e + 20);
        if (32 + (uint64_t)n * 4 != len) return -1;
        if (r32(arg + 20) >= n) add_write(w, r64(arg + 24), e + 32, (size_t)n * 4);
        memcpy(arg + 4, e + 4, 16); // crtc_id, fb_id, possible_crtcs, gamma_size
        w32(arg + 20, n);
        return 0;
    }
    case Q_OBJ_GETPROPS: {
        // For the type the object has, or ANY (0); another type is the daemon's ENOENT.
        if (len < 32 || (r32(arg + 24) != r32(e + 24) && r32(arg + 24) != 0)) return -1;
        uint32_t n = r32(e + 16);
        if (32 + (uint64_t)n * 12 != len) return -1;
        uint32_t k = min32(r32(arg + 16), n);
        add_write(w, r64(arg + 0), e + 32, (size_t)k * 4);
        add_write(w, r64(arg + 8), e + 32 + (size_t)n * 4, (size_t)k * 8);
        w32(arg + 16, n);
        return 0;
    }
    }
    return -1;
}

int snapshot_ioctl(struct conn *c, uint32_t request, void *argp, int *result) {
    if (__atomic_load_n(&disabled, __ATOMIC_RELAXED)) return 0;
    uint32_t kind, size = _IOC_SIZE(request);
    switch (request) {
    case Q_GET_CAP: kind = K_CAP; break;
    case Q_GETRESOURCES: kind = K_RES; break;
    case Q_GETCRTC: kind = K_CRTC; break;
    case Q_GETENCODER: kind = K_ENCODER; break;
    case Q_GETCONNECTOR: kind = K_CONNECTOR; break;
    case Q_GETPROPERTY: kind = K_PROPERTY; break;
    case Q_GETPROPBLOB: kind = K_BLOB; break;
    case Q_GETPLANERES: kind = K_PLANERES; break;
    case Q_GETPLANE: kind = K_PLANE; break;
    case Q_OBJ_GETPROPS: kind = K_OBJPROPS; break;
    default: return 0;
    }
    unsigned char arg[104];
    uint64_t addr = (uint64_t)(uintptr_t)argp;
    if (safe_read(arg, addr, size)) return 0;
    uint32_t key;
    switch (kind) {
    case K_CAP:
        if (r64(arg) >> 32) return 0;
        key = (uint32_t)r64(arg);
        break;
    case K_RES: case K_PLANERES: key = 0; break;
    case K_CRTC: key = r32(arg + 12); break;
    case K_CONNECTOR: key = r32(arg + 48); break;
    case K_PROPERTY: key = r32(arg + 16); break;
    case K_OBJPROPS: key = r32(arg + 20); break;
    default: key = r32(arg); break; // encoder, plane, blob: the id comes first
    }
    ssize_t len = fetch(c, kind, key);
    if (len < 0) return 0;
    struct writes w;
    w.n = 0; // only the first n entries are read; zeroing all of it was a third of a query
    if (answer(request, arg, staging, (size_t)len, &w)) return 0;
    add_write(&w, addr, arg, size);
    if (flush(&w)) return 0;
    __atomic_fetch_add(&answered_count, 1, __ATOMIC_RELAXED);
    *result = 0;
    return 1;
}
