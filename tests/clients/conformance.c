// Regression checks for what IGT (igt-gpu-tools) found on fakedrm, in IGT's own terms but with
// no IGT code: the debugfs view (mount point, dri/<minor>/name and clients, crtc-N/crc/control
// and crc/data with drm_debugfs_crc.c's errnos and line format, one CRC per vblank with
// consecutive frame counters), card fds that look like the card in /proc/self/fd, and the
// master/auth rules of drm_auth.c. Prints one "ok"/"FAIL" line per check.
// Build: cc -O2 -Wall -o conformance conformance.c $(pkg-config --cflags --libs libdrm) -lpthread
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include <drm_fourcc.h>
#include "probe.h"


#define DEBUGFS "/sys/kernel/debug/dri/0"
#define LINE_LEN 23 // drm_debugfs_crc.c LINE_LEN(1): "0x%08x 0x%08x\n" and its NUL

// zlib's CRC-32, bit by bit: computed here independently of the daemon's table-driven one.
static uint32_t crc32_bytes(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
}

// The CRC of a WxH frame of one colour: the composed output is 0xffRRGGBB words, little-endian.
static uint32_t expected_crc(int w, int h, uint32_t rgb) {
    uint32_t px = 0xff000000u | rgb;
    uint8_t b[4] = {px & 0xff, (px >> 8) & 0xff, (px >> 16) & 0xff, px >> 24};
    uint32_t crc = 0;
    for (long i = 0; i < (long)w * h; i++) crc = crc32_bytes(crc, b, 4);
    return crc;
}

struct fb { uint32_t id, handle; };

static struct fb make_fb(int fd, int w, int h, uint32_t format, uint32_t value) {
    struct fb f = {0};
    uint32_t pitch;
    uint64_t size;
    if (drmModeCreateDumbBuffer(fd, w, h, 32, 0, &f.handle, &pitch, &size)) return f;
    uint64_t off;
    if (drmModeMapDumbBuffer(fd, f.handle, &off)) return f;
    uint32_t *px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
    if (px == MAP_FAILED) return f;
    for (uint64_t i = 0; i < size / 4; i++) px[i] = value;
    munmap(px, size);
    uint32_t handles[4] = {f.handle}, pitches[4] = {pitch}, offsets[4] = {0};
    if (drmModeAddFB2(fd, w, h, format, handles, pitches, offsets, &f.id, 0)) f.id = 0;
    return f;
}

// Reads one entry: returns its frame and CRC, or -errno.
static int read_entry(int dfd, uint32_t *frame, uint32_t *crc) {
    char buf[128];
    ssize_t n = read(dfd, buf, sizeof(buf));
    if (n < 0) return -errno;
    if (n != LINE_LEN || buf[LINE_LEN - 1] != 0 || buf[LINE_LEN - 2] != '\n') return -EPROTO;
    if (sscanf(buf, "0x%8x 0x%8x\n", frame, crc) != 2) return -EPROTO;
    return 0;
}

// Frame CRCs of the colour on screen: N entries, consecutive frames, all equal to the expected.
static void check_crcs(int w, int h, uint32_t rgb, const char *what) {
    int dfd = open(DEBUGFS "/crtc-0/crc/data", O_RDONLY);
    CHECK(dfd >= 0, "%s: open crc/data (errno %d)", what, dfd < 0 ? errno : 0);
    if (dfd < 0) return;
    uint32_t want = expected_crc(w, h, rgb), frame, crc, prev = 0;
    int consecutive = 1, equal = 1, n;
    for (n = 0; n < 8; n++) {
        if (read_entry(dfd, &frame, &crc)) break;
        if (n && frame != prev + 1) consecutive = 0;
        if (crc != want) equal = 0;
        prev = frame;
    }
    CHECK(n == 8 && consecutive, "%s: 8 entries with consecutive frame counters (last 0x%08x)", what, prev);
    CHECK(n == 8 && equal, "%s: every CRC is 0x%08x, the CRC-32 of the frame computed here (got 0x%08x)", what, want, crc);
    close(dfd);
}

static void debugfs_checks(int fd) {
    struct stat a, b;
    CHECK(stat("/sys/kernel/debug/.", &a) == 0 && stat("/sys/kernel/debug/..", &b) == 0 && S_ISDIR(a.st_mode) &&
          a.st_dev != b.st_dev, "/sys/kernel/debug is a mount point (st_dev differs from its parent's)");
    char buf[4096];
    int nfd = open(DEBUGFS "/name", O_RDONLY);
    ssize_t n = nfd >= 0 ? read(nfd, buf, sizeof(buf) - 1) : -1;
    if (nfd >= 0) close(nfd);
    buf[n > 0 ? n : 0] = 0;
    drmVersionPtr v = drmGetVersion(fd);
    char want[128];
    snprintf(want, sizeof(want), "%s dev=", v ? v->name : "?");
    CHECK(n > 0 && !strncmp(buf, want, strlen(want)) && buf[n - 1] == '\n', "dri/0/name: '%.*s'", (int)(n > 0 ? n - 1 : 0), buf);
    drmFreeVersion(v);

    FILE *cf = fopen(DEBUGFS "/clients", "r");
    int found = 0, header = 0;
    char line[256];
    while (cf && fgets(line, sizeof(line), cf)) {
        char comm[64], master, auth;
        int pid, dev, uid;
        unsigned magic;
        if (strstr(line, "command") && strstr(line, "master a")) header = 1;
        if (sscanf(line, "%63s %d %d %c %c %d %u", comm, &pid, &dev, &master, &auth, &uid, &magic) == 7 &&
            pid == getpid() && master == 'y' && uid == (int)getuid()) found = 1;
    }
    if (cf) fclose(cf);
    CHECK(header && found, "dri/0/clients (fopen): header and this process as master with its uid");

    int dir = open(DEBUGFS, O_RDONLY | O_DIRECTORY);
    struct stat st;
    CHECK(dir >= 0 && fstatat(dir, "crtc-0/crc/control", &st, 0) == 0, "fstatat(dri/0, crtc-0/crc/control): CRCs supported");
    int ctl = dir >= 0 ? openat(dir, "crtc-0/crc/control", O_WRONLY) : -1;
    CHECK(ctl >= 0, "openat(dri/0, crtc-0/crc/control, O_WRONLY)");
    errno = 0;
    CHECK(write(ctl, "bogus", 5) == -1 && errno == EINVAL, "control: unknown source -> EINVAL (errno %d)", errno);
    CHECK(write(ctl, "", 0) == 0, "control: empty write -> 0");
    CHECK(write(ctl, "auto\n", 5) == 5, "control: 'auto\\n' accepted");
    close(ctl);
    int rd = open(DEBUGFS "/crtc-0/crc/control", O_RDONLY);
    n = rd >= 0 ? read(rd, buf, sizeof(buf) - 1) : -1;
    if (rd >= 0) close(rd);
    CHECK(n == 6 && !memcmp(buf, "auto*\n", 6), "control reads 'auto*' (the current source marked)");

    errno = 0;
    int dfd = open(DEBUGFS "/crtc-0/crc/data", O_RDONLY);
    CHECK(dfd == -1 && errno == EIO, "crc/data of an inactive CRTC -> EIO (errno %d)", errno);
    if (dfd >= 0) close(dfd);
    if (dir >= 0) close(dir);
}

static void crc_checks(int fd) {
    drmModeRes *res = drmModeGetResources(fd);
    drmModeConnector *conn = res ? drmModeGetConnector(fd, res->connectors[0]) : NULL;
    if (!conn || !conn->count_modes) { CHECK(0, "a connector with modes"); return; }
    drmModeModeInfo mode = conn->modes[0];
    int w = mode.hdisplay, h = mode.vdisplay;
    uint32_t crtc = res->crtcs[0], cid = conn->connector_id;
    struct fb red = make_fb(fd, w, h, DRM_FORMAT_XRGB8888, 0x00ff0000);
    // The X byte is not part of the picture: the same colour with garbage there, and as
    // ARGB8888 with opaque alpha, must give the same CRC (IGT compares CRCs across formats).
    struct fb red_x = make_fb(fd, w, h, DRM_FORMAT_XRGB8888, 0x5aff0000);
    struct fb red_a = make_fb(fd, w, h, DRM_FORMAT_ARGB8888, 0xffff0000);
    struct fb blue = make_fb(fd, w, h, DRM_FORMAT_XRGB8888, 0x000000ff);
    CHECK(red.id && red_x.id && red_a.id && blue.id, "four %dx%d framebuffers", w, h);
    CHECK(drmModeSetCrtc(fd, crtc, red.id, 0, 0, &cid, 1, &mode) == 0, "SetCrtc red %dx%d", w, h);

    int ctl = open(DEBUGFS "/crtc-0/crc/control", O_WRONLY);
    CHECK(ctl >= 0 && write(ctl, "auto", 4) == 4, "control: 'auto'");
    check_crcs(w, h, 0xff0000, "red XRGB8888");

    int dfd = open(DEBUGFS "/crtc-0/crc/data", O_RDONLY);
    char small[8];
    errno = 0;
    CHECK(dfd >= 0 && read(dfd, small, sizeof(small)) == -1 && errno == EINVAL, "read shorter than a line -> EINVAL (errno %d)", errno);
    errno = 0;
    CHECK(write(ctl, "auto", 4) == -1 && errno == EBUSY, "control written while crc/data is open -> EBUSY (errno %d)", errno);
    errno = 0;
    int second = open(DEBUGFS "/crtc-0/crc/data", O_RDONLY);
    CHECK(second == -1 && errno == EBUSY, "second open of crc/data -> EBUSY (errno %d)", errno);
    if (second >= 0) close(second);
    // Non-blocking: drain, then EAGAIN; poll says readable again at the next vblank.
    fcntl(dfd, F_SETFL, fcntl(dfd, F_GETFL) | O_NONBLOCK);
    uint32_t frame, crc;
    int r;
    int drained = 0;
    while ((r = read_entry(dfd, &frame, &crc)) == 0) drained++;
    CHECK(r == -EAGAIN, "O_NONBLOCK read of an empty queue -> EAGAIN after %d entries (got %d)", drained, r);
    struct pollfd p = {dfd, POLLIN, 0};
    CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLIN), "poll: crc/data readable at the next vblank");
    // The frame counter is the CRTC's vblank counter (IGT matches CRCs to vblank sequences).
    drmVBlank vb = {.request = {.type = DRM_VBLANK_RELATIVE, .sequence = 0}};
    fcntl(dfd, F_SETFL, fcntl(dfd, F_GETFL) & ~O_NONBLOCK);
    int vr = drmWaitVBlank(fd, &vb);
    uint32_t seq = vb.reply.sequence, last = 0;
    while (read_entry(dfd, &frame, &crc) == 0) { last = frame; if ((int32_t)(frame - seq) >= 0) break; }
    CHECK(vr == 0 && last == seq, "an entry's frame counter is the vblank sequence (vblank %u, entry %u)", seq, last);
    close(dfd);
    CHECK(write(ctl, "auto", 4) == 4, "control writable again once crc/data is closed");

    CHECK(drmModeSetCrtc(fd, crtc, red_x.id, 0, 0, &cid, 1, &mode) == 0, "SetCrtc red, X byte 0x5a");
    check_crcs(w, h, 0xff0000, "red with garbage X byte");
    CHECK(drmModeSetCrtc(fd, crtc, red_a.id, 0, 0, &cid, 1, &mode) == 0, "SetCrtc red ARGB8888");
    check_crcs(w, h, 0xff0000, "red ARGB8888");
    CHECK(drmModeSetCrtc(fd, crtc, blue.id, 0, 0, &cid, 1, &mode) == 0, "SetCrtc blue");
    check_crcs(w, h, 0x0000ff, "blue");
    close(ctl);

    // A reader killed in a blocking read leaves nothing: the next open succeeds.
    pid_t child = fork();
    if (child == 0) {
        int d = open(DEBUGFS "/crtc-0/crc/data", O_RDONLY);
        char b[64];
        for (;;) if (read(d, b, sizeof(b)) < 0) _exit(1);
    }
    usleep(200 * 1000);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    dfd = open(DEBUGFS "/crtc-0/crc/data", O_RDONLY);
    CHECK(dfd >= 0, "crc/data opens again after its reader was killed mid-read (errno %d)", dfd < 0 ? errno : 0);
    if (dfd >= 0) close(dfd);
    drmModeSetCrtc(fd, crtc, 0, 0, 0, NULL, 0, NULL);
    drmModeFreeConnector(conn);
    drmModeFreeResources(res);
}

static void fd_identity_checks(int fd) {
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = 0;
    CHECK(n > 0 && !strcmp(target, "/dev/dri/card0"), "readlink(%s) = '%s'", link, target);
    snprintf(link, sizeof(link), "/dev/fd/%d", fd);
    n = readlink(link, target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = 0;
    CHECK(n > 0 && !strcmp(target, "/dev/dri/card0"), "readlink(%s) = '%s'", link, target);
    snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)getpid(), fd);
    char *rp = realpath(link, NULL);
    CHECK(rp && !strcmp(rp, "/dev/dri/card0"), "realpath(%s) = '%s'", link, rp ? rp : "(null)");
    free(rp);
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    int again = open(link, O_RDWR);
    struct stat st;
    CHECK(again >= 0 && again != fd && fstat(again, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 226,
          "open(/proc/self/fd/N) opens the card again (fd %d, char device 226:%u)", again, again >= 0 ? minor(st.st_rdev) : 0);
    drm_magic_t m1 = 0, m2 = 0;
    CHECK(again >= 0 && drmGetMagic(fd, &m1) == 0 && drmGetMagic(again, &m2) == 0 && m1 != m2,
          "the reopened fd is a new open file (magics %u and %u)", m1, m2);
    if (again >= 0) close(again);
}

// drm_auth.c as core_auth and core_setmaster exercise it.
// FAKEDRM_PROBE_UNPRIVILEGED=1 (a card with ownerIsPrivileged: false): the opener is not
// CAP_SYS_ADMIN; otherwise it is, as the card's owner (the default) or root.
static void auth_checks(int master) {
    int privileged = !getenv("FAKEDRM_PROBE_UNPRIVILEGED");
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", master);
    int slave = open(link, O_RDWR | O_CLOEXEC);
    // drm_master_check_perm comes first: a file that was never master needs CAP_SYS_ADMIN
    // (EACCES without it); with it, another master makes SET_MASTER EBUSY.
    errno = 0;
    CHECK(slave >= 0 && drmSetMaster(slave) == -1 && errno == (privileged ? EBUSY : EACCES),
          "SET_MASTER of a never-master file while another is master -> %s (errno %d)", privileged ? "EBUSY" : "EACCES", errno);
    CHECK(drmAuthMagic(master, 0) == -EINVAL, "is_master(master): AUTH_MAGIC(0) -> EINVAL, not EACCES");
    CHECK(drmAuthMagic(slave, 0) == -EACCES, "is_master(slave): AUTH_MAGIC(0) -> EACCES");
    int auth = -1, pid, uid;
    unsigned long magic_l, iocs;
    // drm_file_alloc: authenticated = capable(CAP_SYS_ADMIN) (IGT's getclient-master-drop).
    CHECK(drmGetClient(slave, 0, &auth, &pid, &uid, &magic_l, &iocs) == 0 && auth == privileged && pid == getpid(),
          "GET_CLIENT(0) of a new file: auth %d (%s opener), this pid", privileged, privileged ? "privileged" : "unprivileged");
    drm_magic_t magic = 0, again = 0;
    CHECK(drmGetMagic(slave, &magic) == 0 && magic > 0 && drmGetMagic(slave, &again) == 0 && again == magic,
          "GET_MAGIC gives the same magic every time (%u)", magic);
    CHECK(drmAuthMagic(slave, magic) == -EACCES, "AUTH_MAGIC by a non-master -> EACCES");
    CHECK(drmAuthMagic(master, magic) == 0, "AUTH_MAGIC by the master succeeds");
    CHECK(drmAuthMagic(master, magic) == -EINVAL, "a magic authenticates only once (second -> EINVAL)");
    CHECK(drmGetMagic(slave, &again) == 0 && again == magic, "the magic does not change after authentication");
    CHECK(drmGetClient(slave, 0, &auth, &pid, &uid, &magic_l, &iocs) == 0 && auth == 1, "GET_CLIENT(0) after AUTH_MAGIC: auth 1");
    CHECK(drmAuthMagic(master, 0x7fffffff) == -EINVAL, "an unknown magic -> EINVAL");
    // many-magics: every open file gets its own magic, and the master can authenticate each.
    enum { N = 200 };
    int fds[N], unique = 1, authed = 1, opened = 0;
    drm_magic_t m[N];
    for (int i = 0; i < N; i++) {
        fds[i] = open(link, O_RDWR | O_CLOEXEC);
        if (fds[i] < 0 || drmGetMagic(fds[i], &m[i]) || m[i] == 0) break;
        opened++;
        for (int j = 0; j < i; j++) if (m[j] == m[i] || m[i] == magic) unique = 0;
    }
    for (int i = 0; i < opened; i++) if (drmAuthMagic(master, m[i])) authed = 0;
    CHECK(opened == N && unique && authed, "%d reopened files: %d distinct magics, all authenticated by the master", N, opened);
    for (int i = 0; i < opened; i++) close(fds[i]);
    CHECK(drmDropMaster(master) == 0 && drmAuthMagic(master, 0) == -EACCES && drmSetMaster(master) == 0 &&
          drmAuthMagic(master, 0) == -EINVAL, "the opener drops and sets master again (is_master follows)");
    close(slave);
}

static uint64_t plane_prop(int fd, uint32_t plane, const char *name) {
    drmModeObjectProperties *props = drmModeObjectGetProperties(fd, plane, DRM_MODE_OBJECT_PLANE);
    uint64_t v = UINT64_MAX;
    for (uint32_t i = 0; props && i < props->count_props; i++) {
        drmModePropertyRes *pr = drmModeGetProperty(fd, props->props[i]);
        if (pr && !strcmp(pr->name, name)) v = props->prop_values[i];
        drmModeFreeProperty(pr);
    }
    drmModeFreeObjectProperties(props);
    return v;
}

static uint32_t vblank_seq(int fd) {
    drmVBlank vb = {.request = {.type = DRM_VBLANK_RELATIVE, .sequence = 0}};
    return drmWaitVBlank(fd, &vb) == 0 ? vb.reply.sequence : 0;
}

// Legacy paths as kms_flip, kms_atomic and kms_cursor_crc use them, and object id reuse.
struct long_wait { int fd; volatile int done; };

static void *wait_30_vblanks(void *arg) {
    struct long_wait *w = arg;
    drmVBlank vb = {.request = {.type = DRM_VBLANK_RELATIVE, .sequence = 30}};
    drmWaitVBlank(w->fd, &vb);
    w->done = 1;
    return NULL;
}

// Two threads on one card fd: a short vblank wait is not queued behind a long one (kms_flip's
// dpms-vs-vblank-race waits on one thread while another waits 20 frames).
static void concurrency_checks(int fd) {
    drmModeRes *res = drmModeGetResources(fd);
    drmModeConnector *conn = res ? drmModeGetConnector(fd, res->connectors[0]) : NULL;
    if (!conn) { CHECK(0, "resources"); return; }
    drmModeModeInfo mode = conn->modes[0];
    uint32_t cid = conn->connector_id;
    struct fb a = make_fb(fd, mode.hdisplay, mode.vdisplay, DRM_FORMAT_XRGB8888, 0);
    CHECK(drmModeSetCrtc(fd, res->crtcs[0], a.id, 0, 0, &cid, 1, &mode) == 0, "SetCrtc");
    struct long_wait w = {fd, 0};
    pthread_t t;
    pthread_create(&t, NULL, wait_30_vblanks, &w);
    usleep(50 * 1000);
    uint32_t s1 = vblank_seq(fd);
    drmVBlank vb = {.request = {.type = DRM_VBLANK_RELATIVE, .sequence = 1}};
    int r = drmWaitVBlank(fd, &vb);
    int other_done = w.done;
    CHECK(r == 0 && !other_done && vb.reply.sequence == s1 + 1,
          "a 1-vblank wait returns after one vblank while another thread waits for 30 on the same fd (%u -> %u)", s1, vb.reply.sequence);
    pthread_join(t, NULL);
    drmModeSetCrtc(fd, res->crtcs[0], 0, 0, 0, NULL, 0, NULL);
    drmModeRmFB(fd, a.id);
    drmModeFreeConnector(conn);
    drmModeFreeResources(res);
}

// fork(): parent and child use the inherited card fd at once (IGT's igt_fork helpers do); the
// child works on the same open file (still master), and neither breaks the other.
static void fork_checks(int fd) {
    pid_t child = fork();
    if (child == 0) {
        int ok = drmAuthMagic(fd, 0) == -EINVAL; // is_master: the same open file
        for (int i = 0; i < 300 && ok; i++) {
            uint64_t v;
            drmModeRes *r = drmModeGetResources(fd);
            ok = r && drmGetCap(fd, DRM_CAP_DUMB_BUFFER, &v) == 0 && v == 1;
            drmModeFreeResources(r);
        }
        _exit(ok ? 0 : 1);
    }
    int ok = 1;
    for (int i = 0; i < 300 && ok; i++) {
        uint64_t v;
        drmModeRes *r = drmModeGetResources(fd);
        ok = r && drmGetCap(fd, DRM_CAP_DUMB_BUFFER, &v) == 0 && v == 1;
        drmModeFreeResources(r);
    }
    int status = -1;
    waitpid(child, &status, 0);
    CHECK(ok && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "parent and forked child issue 300 ioctls each on the inherited fd; the child's is the same (master) file");
    CHECK(drmAuthMagic(fd, 0) == -EINVAL, "the parent's fd still works after the child exits");
}

static uint32_t lease_count(int lfd) {
    struct drm_mode_get_lease g = {0};
    return drmIoctl(lfd, DRM_IOCTL_MODE_GET_LEASE, &g) == 0 ? g.count_objects : 0;
}

// drm_lease.c as kms_lease exercises it.
static void lease_checks(int fd) {
    drmModeRes *res = drmModeGetResources(fd);
    drmModeConnector *conn = res ? drmModeGetConnector(fd, res->connectors[0]) : NULL;
    if (!conn) { CHECK(0, "resources"); return; }
    drmModeModeInfo mode = conn->modes[0];
    uint32_t crtc = res->crtcs[0], cid = conn->connector_id, lessee_id;
    uint32_t ids[3] = {cid, crtc, 0};
    drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 0);
    int l = drmModeCreateLease(fd, ids, 2, 0, &lessee_id);
    CHECK(l >= 0 && lease_count(l) == 4, "a non-universal lessor's CRTC lease brings its primary and cursor planes (%u objects)", l >= 0 ? lease_count(l) : 0);
    if (l >= 0) close(l);
    // close() ends the lease at once: the same objects can be leased again right away.
    l = drmModeCreateLease(fd, ids, 2, 0, &lessee_id);
    CHECK(l >= 0, "the objects of a closed lessee lease again at once (errno %d)", l < 0 ? -l : 0);
    if (l >= 0) close(l);
    drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1);
    struct drm_mode_create_lease big = {.object_ids = (uint64_t)(uintptr_t)ids, .object_count = UINT32_MAX / 4 + 1};
    CHECK(drmIoctl(fd, DRM_IOCTL_MODE_CREATE_LEASE, &big) == -1 && errno == ENOMEM, "an object count past what memdup_user gives -> ENOMEM (errno %d)", errno);

    // A universal lessor leasing crtc + connector + the overlay (not the primary or cursor).
    drmModePlaneRes *pres = drmModeGetPlaneResources(fd);
    for (uint32_t i = 0; pres && i < pres->count_planes; i++)
        if (plane_prop(fd, pres->planes[i], "type") == DRM_PLANE_TYPE_OVERLAY) ids[2] = pres->planes[i];
    drmModeFreePlaneResources(pres);
    struct fb a = make_fb(fd, mode.hdisplay, mode.vdisplay, DRM_FORMAT_XRGB8888, 0);
    CHECK(drmModeSetCrtc(fd, crtc, a.id, 0, 0, &cid, 1, &mode) == 0, "lessor lights the CRTC");
    l = drmModeCreateLease(fd, ids, 3, 0, &lessee_id);
    CHECK(l >= 0, "lease of connector, CRTC and overlay");
    CHECK(drmModeSetCursor(l, crtc, 0, 0, 0) == -EACCES, "lessee without the cursor plane: SetCursor -> EACCES");
    CHECK(drmModePageFlip(l, crtc, a.id, 0, NULL) == -EACCES, "lessee without the primary plane: PageFlip -> EACCES");
    CHECK(drmModeSetCrtc(l, crtc, a.id, 0, 0, &cid, 1, &mode) == -EACCES, "lessee without the primary plane: SetCrtc with a mode -> EACCES");
    struct drm_mode_revoke_lease rv = {.lessee_id = lessee_id};
    CHECK(drmIoctl(l, DRM_IOCTL_MODE_REVOKE_LEASE, &rv) == -1 && errno == EACCES, "a lessee revoking its own lease -> EACCES");
    CHECK(drmDropMaster(l) == -1 && errno == EINVAL, "DROP_MASTER on a lessee -> EINVAL");
    CHECK(drmAuthMagic(l, 0) == -EINVAL, "the lessee is master while its lessor is");
    CHECK(drmDropMaster(fd) == 0 && drmAuthMagic(l, 0) == -EACCES, "the lessor drops master: the lessee is not master either");
    CHECK(drmSetMaster(l) == -1 && errno == EINVAL, "SET_MASTER on a lessee -> EINVAL");
    CHECK(drmSetMaster(fd) == 0 && drmAuthMagic(l, 0) == -EINVAL, "the lessor is master again, and so is its lessee");
    CHECK(drmModeSetCrtc(l, crtc, 0, 0, 0, NULL, 0, NULL) == 0, "the lessee may turn its CRTC off without the primary plane");
    close(l);
    drmModeRmFB(fd, a.id);
    drmModeFreeConnector(conn);
    drmModeFreeResources(res);
}

static void legacy_checks(int fd) {
    // An atomic client, as IGT is: the plane's SRC_*/CRTC_* properties are atomic-only.
    drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1);
    drmModeRes *res = drmModeGetResources(fd);
    drmModeConnector *conn = res ? drmModeGetConnector(fd, res->connectors[0]) : NULL;
    drmModePlaneRes *pres = drmModeGetPlaneResources(fd);
    if (!conn || !pres) { CHECK(0, "resources"); return; }
    drmModeModeInfo mode = conn->modes[0];
    uint32_t crtc = res->crtcs[0], cid = conn->connector_id, cursor = 0, dpms = 0;
    for (uint32_t i = 0; i < pres->count_planes; i++)
        if (plane_prop(fd, pres->planes[i], "type") == DRM_PLANE_TYPE_CURSOR) cursor = pres->planes[i];
    for (int i = 0; i < conn->count_props; i++) {
        drmModePropertyRes *pr = drmModeGetProperty(fd, conn->props[i]);
        if (pr && !strcmp(pr->name, "DPMS")) dpms = pr->prop_id;
        drmModeFreeProperty(pr);
    }
    struct fb a = make_fb(fd, mode.hdisplay, mode.vdisplay, DRM_FORMAT_XRGB8888, 0);
    struct fb b = make_fb(fd, mode.hdisplay, mode.vdisplay, DRM_FORMAT_XRGB8888, 0);
    // The kernel's object idr gives the lowest free id: a removed fb's id comes back.
    uint32_t removed = b.id;
    drmModeRmFB(fd, b.id);
    b = make_fb(fd, mode.hdisplay, mode.vdisplay, DRM_FORMAT_XRGB8888, 0);
    CHECK(b.id == removed, "an fb made after RMFB gets the freed id (%u, was %u)", b.id, removed);
    CHECK(drmModeSetCrtc(fd, crtc, a.id, 0, 0, &cid, 1, &mode) == 0, "SetCrtc");

    // Legacy cursor ioctls are not throttled to vblank (legacy_cursor_update).
    uint32_t handle, pitch;
    uint64_t size;
    drmModeCreateDumbBuffer(fd, 64, 64, 32, 0, &handle, &pitch, &size);
    CHECK(drmModeSetCursor(fd, crtc, handle, 64, 64) == 0, "SetCursor 64x64");
    uint32_t before = vblank_seq(fd);
    int moved = 0;
    for (int i = 0; i < 120; i++) moved += drmModeMoveCursor(fd, crtc, i, i) == 0;
    uint32_t after = vblank_seq(fd);
    CHECK(moved == 120 && after - before < 120, "120 MoveCursor calls take fewer than 120 vblanks (%u)", after - before);
    CHECK(cursor && plane_prop(fd, cursor, "CRTC_X") == 119 && plane_prop(fd, cursor, "CRTC_W") == 64 &&
          plane_prop(fd, cursor, "SRC_W") == 64u << 16, "the cursor plane's atomic state follows the legacy cursor");
    CHECK(drmModeSetCursor(fd, crtc, 0, 0, 0) == 0 && plane_prop(fd, cursor, "FB_ID") == 0 &&
          plane_prop(fd, cursor, "CRTC_ID") == 0 && plane_prop(fd, cursor, "CRTC_W") == 0 && plane_prop(fd, cursor, "SRC_W") == 0 &&
          plane_prop(fd, cursor, "CRTC_X") == 0, "SetCursor(0) disables the plane with every coordinate zeroed");
    drmModeDestroyDumbBuffer(fd, handle);

    // DPMS off makes the CRTC inactive: a legacy flip is refused, event or not.
    CHECK(dpms && drmModeConnectorSetProperty(fd, cid, dpms, DRM_MODE_DPMS_OFF) == 0, "DPMS off");
    CHECK(drmModePageFlip(fd, crtc, b.id, 0, NULL) == -EINVAL, "PAGE_FLIP without event on a DPMS-off CRTC -> EINVAL");
    CHECK(drmModePageFlip(fd, crtc, b.id, DRM_MODE_PAGE_FLIP_EVENT, NULL) == -EINVAL, "PAGE_FLIP with event on a DPMS-off CRTC -> EINVAL");
    CHECK(drmModeConnectorSetProperty(fd, cid, dpms, DRM_MODE_DPMS_ON) == 0 && drmModePageFlip(fd, crtc, b.id, 0, NULL) == 0,
          "DPMS on: the flip goes through");
    drmModeSetCrtc(fd, crtc, 0, 0, 0, NULL, 0, NULL);
    drmModeFreePlaneResources(pres);
    drmModeFreeConnector(conn);
    drmModeFreeResources(res);
}

// drm_read checks access_ok(buffer, count) before it waits (IGT's drm_read@invalid-buffer).
static void read_checks(int fd) {
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    alarm(2); // a read that blocks instead would end the probe here
    errno = 0;
    ssize_t r = read(fd, (void *)-1, 4096);
    alarm(0);
    CHECK(r == -1 && errno == EFAULT, "blocking read of an empty queue into (void *)-1 -> EFAULT at once (errno %d)", errno);
    fcntl(fd, F_SETFL, flags);
}

int main(void) {
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    if (fd < 0) { printf("FAIL - open /dev/dri/card0: %s\n", strerror(errno)); return 1; }
    if (getenv("FAKEDRM_PROBE_UNPRIVILEGED")) {
        auth_checks(fd);
        close(fd);
        printf("%d failed\n", failures);
        return failures != 0;
    }
    read_checks(fd);
    debugfs_checks(fd);
    crc_checks(fd);
    fd_identity_checks(fd);
    auth_checks(fd);
    legacy_checks(fd);
    concurrency_checks(fd);
    fork_checks(fd);
    lease_checks(fd);
    close(fd);
    printf("%d failed\n", failures);
    return failures != 0;
}
