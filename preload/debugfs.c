// The card's debugfs view (docs/debugfs.md). `fakedrm run` writes a directory tree
// (FAKEDRM_DEBUGFS) with the kernel's layout: dri/<minor>/{name,clients} and
// crtc-N/crc/{control,data}. This file maps /sys/kernel/debug (and /debug) onto it for the
// path-taking calls the main file interposes, makes its root look like a mount point (IGT's
// igt_debugfs_mount() compares st_dev with the parent's), and opens the files whose contents
// are live through the daemon: the text files come back as memfds read natively, crc/data as
// a SOCK_SEQPACKET socket the daemon writes one entry per vblank into, so blocking reads,
// O_NONBLOCK and poll behave as the kernel's file with nothing interposed.
#define _GNU_SOURCE
#include "preload.h"

#include <limits.h>

static pthread_once_t dbg_once = PTHREAD_ONCE_INIT;
static char dbg_root[PATH_MAX];
static size_t dbg_root_len;

static void dbg_init(void) {
    const char *r = getenv("FAKEDRM_DEBUGFS");
    if (!r || r[0] != '/' || strlen(r) >= sizeof(dbg_root) - 64) return;
    snprintf(dbg_root, sizeof(dbg_root), "%s", r);
    dbg_root_len = strlen(dbg_root);
    while (dbg_root_len > 1 && dbg_root[dbg_root_len - 1] == '/') dbg_root[--dbg_root_len] = 0;
}

static const char *under(const char *path, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0) return NULL;
    return path[n] == 0 || path[n] == '/' ? path + n : NULL;
}

// /sys/dev/char/226:<minor> of an attached CUSE card, whose real sysfs device is in class
// cuse: libdrm's drmGetNodeTypeFromFd stats <that>/device/drm (wlroots' dumb allocator asks),
// so it maps into the tree `fakedrm cuse` writes (SysfsTree's layout).
static const char *cuse_sysfs_redirect(const char *path, char *buf, size_t cap) {
    if (strncmp(path, "/sys/dev/char/226:", 18) != 0) return path;
    char root[PATH_MAX], node[32];
    unsigned minor;
    if (!preload_cuse_sysfs(root, sizeof(root), &minor)) return path;
    snprintf(node, sizeof(node), "/sys/dev/char/226:%u", minor);
    const char *rest = under(path, node);
    if (!rest || (size_t)snprintf(buf, cap, "%s%s%s", root, node, rest) >= cap) return path;
    return buf;
}

const char *debugfs_redirect(const char *path, char *buf, size_t cap) {
    if (!path || path[0] != '/') return path;
    pthread_once(&dbg_once, dbg_init);
    if (!dbg_root_len) return cuse_sysfs_redirect(path, buf, cap);
    const char *rest = under(path, "/sys/kernel/debug");
    if (!rest) rest = under(path, "/debug");
    if (!rest) return path;
    if ((size_t)snprintf(buf, cap, "%s%s", dbg_root, rest) >= cap) return path;
    return buf;
}

// The root itself, however it is spelled after redirection ("", "/", "/.", "/./").
int debugfs_is_root(const char *path) {
    pthread_once(&dbg_once, dbg_init);
    if (!dbg_root_len || !path || strncmp(path, dbg_root, dbg_root_len) != 0) return 0;
    for (const char *p = path + dbg_root_len; *p; p++)
        if (*p != '/' && *p != '.') return 0;
    // "/.." and deeper are not the root.
    return strstr(path + dbg_root_len, "..") == NULL;
}

// The path relative to the root of a file the daemon serves, or NULL.
static const char *live_file(const char *full) {
    if (!dbg_root_len || strncmp(full, dbg_root, dbg_root_len) != 0 || full[dbg_root_len] != '/') return NULL;
    const char *rel = full + dbg_root_len + 1;
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    if (strcmp(base, "name") && strcmp(base, "clients") && strcmp(base, "control") && strcmp(base, "data")) return NULL;
    return rel;
}

// "dri/<minor>/crtc-<N>/crc/<what>" → N, or -1.
static int crc_crtc(const char *rel, const char *what) {
    unsigned minor = preload_card_minor();
    char pre[32];
    snprintf(pre, sizeof(pre), "dri/%u/crtc-", minor);
    if (strncmp(rel, pre, strlen(pre)) != 0) return -1;
    char *end;
    long n = strtol(rel + strlen(pre), &end, 10);
    if (end == rel + strlen(pre) || n < 0 || n > 255) return -1;
    char tail[16];
    snprintf(tail, sizeof(tail), "/crc/%s", what);
    return strcmp(end, tail) == 0 ? (int)n : -1;
}

int debugfs_open(int dirfd, const char *path, int flags, int *result) {
    pthread_once(&dbg_once, dbg_init);
    if (!dbg_root_len || !path || (flags & O_PATH) || !preload_has_socket()) return 0;
    char full[PATH_MAX];
    if (path[0] == '/') {
        if (strncmp(path, dbg_root, dbg_root_len) != 0) return 0;
        snprintf(full, sizeof(full), "%s", path);
    } else {
        // Relative to a directory fd (IGT opens dri/<minor> and then openat()s below it).
        char link[64], dir[PATH_MAX];
        if (dirfd == AT_FDCWD) snprintf(link, sizeof(link), "/proc/self/cwd");
        else snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
        ssize_t n = syscall(SYS_readlinkat, AT_FDCWD, link, dir, sizeof(dir) - 1);
        if (n <= 0) return 0;
        dir[n] = 0;
        if (strncmp(dir, dbg_root, dbg_root_len) != 0) return 0;
        if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, path) >= sizeof(full)) return 0;
    }
    const char *rel = live_file(full);
    if (!rel) return 0;
    struct conn *c = get_aux();
    if (!c) { *result = -1; errno = ENODEV; return 1; }
    unsigned char q[4 + PATH_MAX];
    uint32_t acc = (uint32_t)(flags & O_ACCMODE);
    size_t len = strlen(rel);
    memcpy(q, &acc, 4);
    memcpy(q + 4, rel, len);
    int fd = -1, err = 0;
    pthread_mutex_lock(&c->mu);
    uint32_t op;
    ssize_t n = -1;
    if (!c->dead && msg_send(c, OP_DEBUGFS_OPEN, q, 4 + len, NULL, 0, -1) == 0) n = msg_recv(c, &op, &fd);
    if (n != 4 || op != OP_DEBUGFS_REPLY) { conn_kill(c); err = ENODEV; }
    else err = (int32_t)rd32(c->buf);
    pthread_mutex_unlock(&c->mu);
    conn_unref(c);
    if (open_answered(err, fd, flags, result) < 0) return 1;
    if (flags & O_NONBLOCK) sys_fcntl(fd, F_SETFL, sys_fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    int crtc;
    if ((crtc = crc_crtc(rel, "control")) >= 0) track(fd, KIND_CRC_CONTROL, NULL, (uint64_t)crtc);
    else if ((crtc = crc_crtc(rel, "data")) >= 0) track(fd, KIND_CRC_DATA, NULL, (uint64_t)crtc);
    *result = fd;
    return 1;
}

// A write to crc/control: the daemon checks the source and whether crc/data is open, as
// crc_control_write does, so the errno is the kernel's.
ssize_t debugfs_write(const struct fdent *e, const void *buf, size_t count) {
    if (e->kind != KIND_CRC_CONTROL) { errno = EBADF; return -1; }
    char path[64];
    int plen = snprintf(path, sizeof(path), "dri/%u/crtc-%u/crc/control", preload_card_minor(), (unsigned)e->id);
    // More than a page is E2BIG whatever follows; send enough for the daemon to say so.
    size_t n = count > 8192 ? 8192 : count;
    unsigned char *q = malloc(4 + (size_t)plen + n);
    if (!q) { errno = ENOMEM; return -1; }
    uint32_t pl = (uint32_t)plen;
    memcpy(q, &pl, 4);
    memcpy(q + 4, path, (size_t)plen);
    if (n && safe_read(q + 4 + plen, (uint64_t)(uintptr_t)buf, n)) { free(q); errno = EFAULT; return -1; }
    struct conn *c = get_aux();
    if (!c) { free(q); errno = ENODEV; return -1; }
    int32_t res = -ENODEV;
    pthread_mutex_lock(&c->mu);
    uint32_t op;
    ssize_t r = -1;
    if (!c->dead && msg_send(c, OP_DEBUGFS_WRITE, q, 4 + (size_t)plen + n, NULL, 0, -1) == 0) r = msg_recv(c, &op, NULL);
    if (r != 4 || op != OP_DEBUGFS_WRITTEN) conn_kill(c);
    else res = (int32_t)rd32(c->buf);
    pthread_mutex_unlock(&c->mu);
    conn_unref(c);
    free(q);
    if (res < 0) { errno = -res; return -1; }
    // The daemon consumed what it was sent; a longer write was refused above.
    return res == (int32_t)n ? (ssize_t)count : res;
}

// crtc_crc_read refuses a buffer shorter than one entry (LINE_LEN(1) = 23 bytes) with EINVAL;
// a SOCK_SEQPACKET read would truncate the entry instead.
int debugfs_read_check(const struct fdent *e, size_t count) {
    if (e->kind == KIND_CRC_DATA && count < 23) { errno = EINVAL; return -1; }
    return 0;
}
