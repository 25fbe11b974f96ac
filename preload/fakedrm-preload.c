// libfakedrm-preload.so: makes the fake card served by `fakedrm serve` / `fakedrm run` look like
// /dev/dri/cardN to an unmodified client. Plain C, no Swift runtime (see docs/preload.md).
//
// What is interposed: open*/openat*/__open*_2 of the card path (FAKEDRM_CARD, default
// /dev/dri/card0), close, ioctl, read, mmap/mmap64, the fstat/stat/statx family on card fds
// and the card path, access/faccessat of the card path, dup/dup2/dup3/fcntl. Everything else,
// and every fd that is not ours, goes to the next definition (RTLD_NEXT), so
// libumockdev-preload.so.0 can follow us in LD_PRELOAD for /sys discovery.
//
// Wire protocol: docs/socket-protocol.md. One SOCK_SEQPACKET connection per card open; the
// client's "card fd" is the daemon's readiness eventfd, so poll/select/epoll work untouched.
//
// Attach mode (docs/cuse.md): without FAKEDRM_SOCKET, an open of /dev/dri/* that reaches a real
// node served by `fakedrm cuse` (VERSION name "fakedrm") is attached with
// DRM_IOCTL_FAKEDRM_ATTACH: the client keeps the real CUSE fd (poll, read and fstat go to the
// kernel), and ioctls and mmap go over a socket connection bound to the same open file, since
// CUSE itself can neither map memory nor install fds.
#define _GNU_SOURCE
#include "preload.h"

#include <dirent.h>
#include <limits.h>


// ---------------------------------------------------------------------------------------------
// Real functions

REAL(open, int, (const char *, int, ...))
REAL(open64, int, (const char *, int, ...))
REAL(openat, int, (int, const char *, int, ...))
REAL(openat64, int, (int, const char *, int, ...))
REAL(__open_2, int, (const char *, int))
REAL(__open64_2, int, (const char *, int))
REAL(__openat_2, int, (int, const char *, int))
REAL(__openat64_2, int, (int, const char *, int))
REAL(close, int, (int))
REAL(ioctl, int, (int, unsigned long, ...))
REAL(read, ssize_t, (int, void *, size_t))
REAL(write, ssize_t, (int, const void *, size_t))
REAL(opendir, DIR *, (const char *))
REAL(fopen, FILE *, (const char *, const char *))
REAL(fopen64, FILE *, (const char *, const char *))
REAL(mmap, void *, (void *, size_t, int, int, int, off_t))
REAL(mmap64, void *, (void *, size_t, int, int, int, off64_t))
REAL(fstat, int, (int, struct stat *))
REAL(fstat64, int, (int, struct stat64 *))
REAL(__fxstat, int, (int, int, struct stat *))
REAL(__fxstat64, int, (int, int, struct stat64 *))
REAL(fstatat, int, (int, const char *, struct stat *, int))
REAL(fstatat64, int, (int, const char *, struct stat64 *, int))
REAL(__fxstatat, int, (int, int, const char *, struct stat *, int))
REAL(__fxstatat64, int, (int, int, const char *, struct stat64 *, int))
REAL(statx, int, (int, const char *, int, unsigned int, struct statx *))
REAL(stat, int, (const char *, struct stat *))
REAL(stat64, int, (const char *, struct stat64 *))
REAL(lstat, int, (const char *, struct stat *))
REAL(lstat64, int, (const char *, struct stat64 *))
REAL(__xstat, int, (int, const char *, struct stat *))
REAL(__xstat64, int, (int, const char *, struct stat64 *))
REAL(__lxstat, int, (int, const char *, struct stat *))
REAL(__lxstat64, int, (int, const char *, struct stat64 *))
REAL(access, int, (const char *, int))
REAL(faccessat, int, (int, const char *, int, int))
REAL(dup, int, (int))
REAL(dup2, int, (int, int))
REAL(dup3, int, (int, int, int))
REAL(fcntl, int, (int, int, ...))
REAL(fcntl64, int, (int, int, ...))
REAL(socket, int, (int, int, int))
REAL(bind, int, (int, const struct sockaddr *, socklen_t))
REAL(getsockname, int, (int, struct sockaddr *, socklen_t *))
REAL(setsockopt, int, (int, int, int, const void *, socklen_t))
REAL(recvmsg, ssize_t, (int, struct msghdr *, int))

int sys_close(int fd) { return (int)syscall(SYS_close, fd); }
int sys_fcntl(int fd, int cmd, long arg) { return (int)syscall(SYS_fcntl, fd, cmd, arg); }

// ---------------------------------------------------------------------------------------------
// Configuration

static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;
static char card_path[256] = "/dev/dri/card0";
static char card_dir[256] = "/dev/dri";
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static unsigned card_minor;

static pthread_mutex_t tab_lock; // defined with the fd table below

// The table lock is held across fork(), so the child never inherits it locked by a thread
// that does not exist there.
static void atfork_prepare(void) { pthread_mutex_lock(&tab_lock); }
static void atfork_release(void) { pthread_mutex_unlock(&tab_lock); }

// getpid() is a system call (glibc stopped caching it), and the fork check in lookup() made
// it half the cost of a query answered from the snapshot: the pid is cached, and a fork()
// child starts with an empty cache.
static pid_t cached_pid;
pid_t self_pid(void) {
    pid_t p = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);
    if (!p) {
        p = getpid();
        __atomic_store_n(&cached_pid, p, __ATOMIC_RELAXED);
    }
    return p;
}
static void atfork_child(void) {
    __atomic_store_n(&cached_pid, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&tab_lock);
}

static void cfg_init(void) {
    pthread_atfork(atfork_prepare, atfork_release, atfork_child);
    const char *c = getenv("FAKEDRM_CARD");
    if (c && *c && strlen(c) < sizeof(card_path)) snprintf(card_path, sizeof(card_path), "%s", c);
    snprintf(card_dir, sizeof(card_dir), "%s", card_path);
    char *slash = strrchr(card_dir, '/');
    if (slash && slash != card_dir) *slash = 0;
    const char *base = strrchr(card_path, '/');
    base = base ? base + 1 : card_path;
    if (!strncmp(base, "renderD", 7)) card_minor = (unsigned)strtoul(base + 7, NULL, 10);
    else if (!strncmp(base, "card", 4)) card_minor = (unsigned)strtoul(base + 4, NULL, 10);
    const char *s = getenv("FAKEDRM_SOCKET");
    if (s && strlen(s) < sizeof(sock_path)) snprintf(sock_path, sizeof(sock_path), "%s", s);
}

unsigned preload_card_minor(void) { pthread_once(&cfg_once, cfg_init); return card_minor; }
const char *preload_card_path(void) { pthread_once(&cfg_once, cfg_init); return card_path; }
int preload_has_socket(void) { pthread_once(&cfg_once, cfg_init); return sock_path[0] != 0; }

static char attach_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

// The daemon to connect to: FAKEDRM_SOCKET's, else the first attached CUSE card's ("" when
// neither).
static void daemon_socket(char out[sizeof(attach_path)]) {
    pthread_mutex_lock(&tab_lock);
    memcpy(out, sock_path[0] ? sock_path : attach_path, sizeof(attach_path));
    pthread_mutex_unlock(&tab_lock);
}

int preload_cuse_sysfs(char *root, size_t cap, unsigned *minor) {
    char path[sizeof(attach_path)];
    pthread_mutex_lock(&tab_lock);
    memcpy(path, attach_path, sizeof(path));
    pthread_mutex_unlock(&tab_lock);
    size_t n = strlen(path);
    const char *base = strrchr(path, '/');
    if (n < 5 || strcmp(path + n - 5, ".sock") || !base || sscanf(base, "/card%u.sock", minor) != 1) return 0;
    path[n - 5] = 0;
    return (size_t)snprintf(root, cap, "%s.sysfs", path) < cap;
}

// Only a card served by our own daemon (FAKEDRM_SOCKET) is faked by path; without it the real
// node is opened and stat'ed, and attach mode may apply.
static int is_card_path(const char *path) {
    pthread_once(&cfg_once, cfg_init);
    return sock_path[0] && path && strcmp(path, card_path) == 0;
}

static int is_card_dir(const char *path) {
    pthread_once(&cfg_once, cfg_init);
    return sock_path[0] && path && strcmp(path, card_dir) == 0;
}

// ---------------------------------------------------------------------------------------------
// fd table

static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fdent *tab;
static int tab_cap;
static struct conn *aux_conn;

// Closing a card connection is synchronous, as the kernel's release of a drm_file runs
// before close() returns: the daemon closes its end only after it has released the file (its
// fbs, master, a lessee's lease), so a client that closes and then opens or leases again finds
// that done. The sockets are collected under tab_lock and waited for after it is released.
static __thread int closing[16];
static HOT_TLS int nclosing;

static void defer_close(int sock) {
    if (sock < 0) return;
    if (nclosing < (int)(sizeof(closing) / sizeof(closing[0]))) closing[nclosing++] = sock;
    else sys_close(sock);
}

static void finish_closes(void) {
    while (nclosing > 0) {
        int s = closing[--nclosing];
        syscall(SYS_shutdown, s, SHUT_WR);
        // Bounded: a stuck daemon must not hang close() (a vblank-long release is normal).
        for (int i = 0; i < 100; i++) {
            struct pollfd p = {s, POLLIN, 0};
            int r = poll(&p, 1, 20);
            if (r < 0 && errno != EINTR) break;
            if (r <= 0) continue;
            char b[64];
            ssize_t n = syscall(SYS_recvfrom, s, b, sizeof(b), MSG_DONTWAIT, NULL, NULL);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
        }
        sys_close(s);
    }
}

static void conn_unref_locked(struct conn *c) {
    if (--c->refs == 0) {
        for (struct conn *s = c->spares, *n; s; s = n) {
            n = s->spare_next;
            conn_unref_locked(s);
        }
        defer_close(c->sock);
        snapshot_unmap(c);
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
}

void conn_unref(struct conn *c) {
    pthread_mutex_lock(&tab_lock);
    conn_unref_locked(c);
    pthread_mutex_unlock(&tab_lock);
    finish_closes();
}

// attach_path (above): the socket of the first attached card, where the AUX connection goes
// when there is no FAKEDRM_SOCKET (under tab_lock).
static struct conn *conn_connect_to(const char *path, int aux, int nonblock, uint64_t token, int adopt_fd, int *evfd, int *err);

// fork(): the child shares the parent's sockets, and requests from both would interleave on
// them. The child's first use of an inherited card fd connects again and adopts the same open
// file through the fd (as the kernel shares the file description); the copies of the
// parent's sockets are closed in the child only. Takes the caller's reference on `old`,
// returns one on the connection to use.
static struct conn *rebind_after_fork(int fd, struct conn *old) {
    char path[sizeof(attach_path)];
    daemon_socket(path);
    int evfd, err;
    struct conn *n = conn_connect_to(path, 0, old->nonblock, 0, fd, &evfd, &err);
    if (evfd >= 0) sys_close(evfd);
    pthread_mutex_lock(&tab_lock);
    if (!n) {
        old->dead = 1; // never write into the parent's stream
        pthread_mutex_unlock(&tab_lock);
        return old;
    }
    n->refs = 1; // the caller's
    for (int i = 0; i < tab_cap; i++) {
        if (tab[i].kind == KIND_CARD && tab[i].conn == old) {
            tab[i].conn = n;
            n->refs++;
            old->refs--;
        }
    }
    if (old->sock >= 0) { sys_close(old->sock); old->sock = -1; }
    for (struct conn *sp = old->spares; sp; sp = sp->spare_next)
        if (sp->sock >= 0) { sys_close(sp->sock); sp->sock = -1; }
    old->spares = NULL;
    old->dead = 1;
    conn_unref_locked(old); // the caller's reference
    pthread_mutex_unlock(&tab_lock);
    finish_closes();
    return n;
}

// Looks an fd up; for a card fd the connection is returned with an extra reference.
struct fdent lookup(int fd) {
    struct fdent e = {0};
    if (fd < 0) return e;
    pthread_mutex_lock(&tab_lock);
    if (fd < tab_cap && tab[fd].kind) {
        e = tab[fd];
        if (e.conn) e.conn->refs++;
    }
    pthread_mutex_unlock(&tab_lock);
    if (e.kind == KIND_CARD && e.conn && !e.conn->attached && e.conn->pid != self_pid()) e.conn = rebind_after_fork(fd, e.conn);
    return e;
}

int quick_tracked(int fd) {
    // Unlocked fast path: a stale answer only costs one locked lookup.
    return fd >= 0 && fd < __atomic_load_n(&tab_cap, __ATOMIC_ACQUIRE) && tab && tab[fd].kind;
}

static void release_export(int kind, uint64_t id);

// Forgets fd; drops the connection reference or releases the exported object when this was
// the last fd naming it.
void untrack(int fd) {
    struct fdent e = {0};
    int last = 0;
    pthread_mutex_lock(&tab_lock);
    if (fd >= 0 && fd < tab_cap && tab[fd].kind) {
        e = tab[fd];
        memset(&tab[fd], 0, sizeof(tab[fd]));
        if (e.conn) conn_unref_locked(e.conn);
        else {
            last = 1;
            for (int i = 0; i < tab_cap; i++)
                if (tab[i].kind == e.kind && tab[i].id == e.id) { last = 0; break; }
        }
    }
    pthread_mutex_unlock(&tab_lock);
    finish_closes();
    if (last && ((e.kind >= KIND_SYNC && e.kind <= KIND_SYNCOBJ) || e.kind == KIND_TIMELINE)) release_export(e.kind, e.id);
}

static void adopt_forget(int fd);
int track(int fd, int kind, struct conn *c, uint64_t id) {
    if (fd < 0) return -1;
    adopt_forget(fd); // the number is ours now (also: a fresh fd reusing a refused number)
    untrack(fd); // a stale entry (fd closed behind our back, e.g. close_range)
    pthread_mutex_lock(&tab_lock);
    if (fd >= tab_cap) {
        int ncap = tab_cap ? tab_cap : 256;
        while (ncap <= fd) ncap *= 2;
        struct fdent *n = calloc((size_t)ncap, sizeof(*n));
        if (!n) { pthread_mutex_unlock(&tab_lock); return -1; }
        if (tab) memcpy(n, tab, sizeof(*n) * (size_t)tab_cap);
        // The old table is leaked on purpose: quick_tracked() may still be reading it.
        tab = n;
        __atomic_store_n(&tab_cap, ncap, __ATOMIC_RELEASE);
    }
    tab[fd].kind = kind;
    tab[fd].conn = c;
    tab[fd].id = id;
    if (c) c->refs++;
    pthread_mutex_unlock(&tab_lock);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Own memory access that fails with EFAULT instead of crashing, as copy_from_user does.

// Ioctl args are nearly always on the calling thread's stack, and the part of the stack above
// the current frame is mapped and writable: such ranges are copied directly, which saves a
// process_vm_readv/writev (about 1 µs each on a VM) per copy. The bounds come from
// pthread_getattr_np once per thread; the current frame must lie inside them (not on a
// sigaltstack), so the range [frame, top) is known to be mapped.
static HOT_TLS uintptr_t stack_lo, stack_hi; // stack_hi 1: unknown
int on_own_stack(uint64_t addr, size_t len) {
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (!stack_hi) {
        pthread_attr_t a;
        void *lo;
        size_t sz;
        stack_hi = 1;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &lo, &sz) == 0) { stack_lo = (uintptr_t)lo; stack_hi = (uintptr_t)lo + sz; }
            pthread_attr_destroy(&a);
        }
    }
    if (stack_hi == 1 || sp < stack_lo || sp >= stack_hi) return 0;
    return addr >= sp && addr + len >= addr && addr + len <= stack_hi;
}

int safe_read(void *dst, uint64_t addr, size_t len) {
    if (len == 0) return 0;
    if (on_own_stack(addr, len)) { memcpy(dst, (const void *)(uintptr_t)addr, len); return 0; }
    struct iovec l = {dst, len}, r = {(void *)(uintptr_t)addr, len};
    ssize_t n = syscall(SYS_process_vm_readv, getpid(), &l, 1UL, &r, 1UL, 0UL);
    if (n == (ssize_t)len) return 0;
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
        if (!addr) return EFAULT;
        memcpy(dst, (void *)(uintptr_t)addr, len);
        return 0;
    }
    return EFAULT;
}

int safe_write(uint64_t addr, const void *src, size_t len) {
    if (len == 0) return 0;
    if (on_own_stack(addr, len)) { memcpy((void *)(uintptr_t)addr, src, len); return 0; }
    struct iovec l = {(void *)src, len}, r = {(void *)(uintptr_t)addr, len};
    ssize_t n = syscall(SYS_process_vm_writev, getpid(), &l, 1UL, &r, 1UL, 0UL);
    if (n == (ssize_t)len) return 0;
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
        if (!addr) return EFAULT;
        memcpy((void *)(uintptr_t)addr, src, len);
        return 0;
    }
    return EFAULT;
}

// ---------------------------------------------------------------------------------------------
// Messages


// Diagnostics hook for bench/socket-bench.c: while a buffer is installed, the size (header
// included) of every message sent (bit 31 clear) or received (bit 31 set) on any of our
// connections is appended to it. Not thread-safe; meant for single-threaded measurements.
static uint32_t *trace_buf;
static int trace_cap, trace_len;

// Installs `buf` (NULL: off) and returns how many messages were seen since the previous call
// (entries beyond `cap` are counted, not stored).
EXPORT int fakedrm_preload_trace(uint32_t *buf, int cap) {
    int n = trace_len;
    trace_len = 0;
    trace_cap = buf ? cap : 0;
    trace_buf = buf;
    return n;
}

static inline void trace_msg(uint32_t size, int received) {
    if (__builtin_expect(trace_buf == NULL, 1)) return;
    if (trace_len < trace_cap) trace_buf[trace_len] = size | (received ? 0x80000000u : 0);
    trace_len++;
}

int msg_send(struct conn *c, uint32_t op, const void *a, size_t alen, const void *b, size_t blen, int sendfd) {
    struct hdr h = {op, (uint32_t)(alen + blen)};
    struct iovec iov[3] = {{&h, sizeof(h)}, {(void *)a, alen}, {(void *)b, blen}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
    char ctl[CMSG_SPACE(sizeof(int))];
    if (sendfd >= 0) {
        memset(ctl, 0, sizeof(ctl));
        m.msg_control = ctl;
        m.msg_controllen = sizeof(ctl);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &sendfd, sizeof(int));
    }
    ssize_t r;
    do { r = syscall(SYS_sendmsg, c->sock, &m, MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
    if (r > 0) trace_msg((uint32_t)r, 0);
    return r == (ssize_t)(sizeof(h) + alen + blen) ? 0 : -1;
}

// Receives one message into c->buf; returns the payload length (or -1: connection unusable).
// *fd gets a passed descriptor (or -1); extra descriptors are closed.
ssize_t msg_recv(struct conn *c, uint32_t *op, int *fd) { return msg_recv_fds(c, op, fd, fd ? 1 : 0); }

// The same, keeping up to `nmax` descriptors in fds[] (the rest -1; extras closed).
ssize_t msg_recv_fds(struct conn *c, uint32_t *op, int *fds, int nmax) {
    struct iovec iov = {c->buf, sizeof(c->buf)};
    char ctl[CMSG_SPACE(sizeof(int) * 4)];
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    ssize_t r;
    do { r = syscall(SYS_recvmsg, c->sock, &m, MSG_CMSG_CLOEXEC); } while (r < 0 && errno == EINTR);
    for (int i = 0; i < nmax; i++) fds[i] = -1;
    int kept = 0;
    if (r > 0) trace_msg((uint32_t)r, 1);
    if (r >= 0) {
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
            if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
            int n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < n; i++) {
                int got;
                memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                if (kept < nmax) fds[kept++] = got;
                else sys_close(got);
            }
        }
    }
    struct hdr h;
    if (r < (ssize_t)sizeof(h) || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) goto bad;
    memcpy(&h, c->buf, sizeof(h));
    if (h.len != (uint32_t)(r - (ssize_t)sizeof(h))) goto bad;
    *op = h.op;
    memmove(c->buf, c->buf + sizeof(h), h.len);
    return (ssize_t)h.len;
bad:
    for (int i = 0; i < nmax; i++)
        if (fds[i] >= 0) { sys_close(fds[i]); fds[i] = -1; }
    return -1;
}

void conn_kill(struct conn *c) {
    c->dead = 1;
    shutdown(c->sock, SHUT_RDWR);
}

uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

// Answers the daemon's callbacks until the final reply `want` arrives (c->mu held).
// Returns the payload length of the final reply, -1 when the connection broke.
static ssize_t serve_callbacks(struct conn *c, uint32_t want, int *fd_out) {
    unsigned char *scratch = c->out;
    for (;;) {
        uint32_t op;
        int rfd = -1;
        ssize_t n = msg_recv(c, &op, &rfd);
        if (n < 0) { conn_kill(c); return -1; }
        if (op == want) {
            if (fd_out) *fd_out = rfd;
            else if (rfd >= 0) sys_close(rfd);
            return n;
        }
        switch (op) {
        case OP_MEM_READ: {
            if (n != 12) goto bad;
            uint64_t addr = rd64(c->buf);
            uint32_t len = rd32(c->buf + 8);
            int32_t err = len > MAX_CHUNK ? EFAULT : safe_read(scratch + 4, addr, len);
            memcpy(scratch, &err, 4);
            if (msg_send(c, OP_MEM_DATA, scratch, 4 + (err ? 0 : len), NULL, 0, -1)) goto bad;
            break;
        }
        case OP_MEM_WRITE: {
            if (n < 8) goto bad;
            int32_t err = safe_write(rd64(c->buf), c->buf + 8, (size_t)n - 8);
            if (msg_send(c, OP_MEM_ACK, &err, 4, NULL, 0, -1)) goto bad;
            break;
        }
        case OP_FD_LOOKUP: {
            if (n != 4) goto bad;
            int32_t q = (int32_t)rd32(c->buf);
            unsigned char out[16] = {0};
            int32_t err = 0;
            uint32_t kind = 0;
            uint64_t id = 0;
            struct fdent e = lookup(q);
            if (e.conn) conn_unref(e.conn);
            e.conn = NULL;
            // An fd another process sent (a sync file for IN_FENCE_FD...): adopt it first.
            if (!e.kind && maybe_adopt_export(q)) {
                e = lookup(q);
                if (e.conn) conn_unref(e.conn);
            }
            if (e.kind && e.kind != KIND_CARD) { kind = (uint32_t)e.kind; id = e.id; }
            else if (!e.kind && (q < 0 || sys_fcntl(q, F_GETFD, 0) < 0)) err = EBADF;
            memcpy(out, &err, 4); memcpy(out + 4, &kind, 4); memcpy(out + 8, &id, 8);
            if (msg_send(c, OP_FD_INFO, out, 16, NULL, 0, -1)) goto bad;
            break;
        }
        case OP_FD_INSTALL: {
            if (n != 16 || rfd < 0) { if (rfd >= 0) sys_close(rfd); goto bad; }
            uint32_t kind = rd32(c->buf), cloexec = rd32(c->buf + 4);
            uint64_t id = rd64(c->buf + 8);
            int32_t res = rfd;
            if (kind == KIND_NEW_CARD) {
                // A lease's lessee: the fd is the new file's eventfd, left untracked so that
                // its first use adopts it like any card fd passed in from outside.
                if (!cloexec) sys_fcntl(rfd, F_SETFD, 0);
                adopt_forget(rfd);
            } else if (kind < KIND_SYNC || kind > KIND_SYNCOBJ) { sys_close(rfd); res = -EINVAL; }
            else {
                if (!cloexec) sys_fcntl(rfd, F_SETFD, 0);
                if (track(rfd, (int)kind, NULL, id)) { sys_close(rfd); res = -ENOMEM; }
            }
            if (msg_send(c, OP_FD_INSTALLED, &res, 4, NULL, 0, -1)) goto bad;
            break;
        }
        case OP_FD_FETCH: {
            // SYNCOBJ_EVENTFD: the daemon needs the caller's eventfd itself. Our own fds
            // (cards, sync files, ...) are never eventfds to the kernel: EINVAL.
            if (n != 4) goto bad;
            int32_t q = (int32_t)rd32(c->buf), err = 0;
            struct fdent e = lookup(q);
            if (e.conn) conn_unref(e.conn);
            if (e.kind) err = EINVAL;
            else if (q < 0 || sys_fcntl(q, F_GETFD, 0) < 0) err = EBADF;
            if (msg_send(c, OP_FD_FETCHED, &err, 4, NULL, 0, err ? -1 : q)) goto bad;
            break;
        }
        case OP_FD_UNINSTALL: {
            if (n != 4) goto bad;
            int32_t q = (int32_t)rd32(c->buf), err = 0;
            struct fdent e = lookup(q);
            if (e.conn) conn_unref(e.conn);
            if (!e.kind || e.kind == KIND_CARD) err = EBADF;
            else {
                // The daemon forgets the id itself: no SYNC_RELEASE for an undone install.
                pthread_mutex_lock(&tab_lock);
                memset(&tab[q], 0, sizeof(tab[q]));
                pthread_mutex_unlock(&tab_lock);
                sys_close(q);
            }
            if (msg_send(c, OP_FD_ACK, &err, 4, NULL, 0, -1)) goto bad;
            break;
        }
        default:
            goto bad;
        }
        continue;
    bad:
        if (rfd >= 0) sys_close(rfd);
        conn_kill(c);
        return -1;
    }
}

// ---------------------------------------------------------------------------------------------
// Connections

// `token` != 0: HELLO with the ATTACH flag, binding the connection to the CUSE open file the
// token names instead of opening a new file.
// `adopt_fd` >= 0: HELLO with the ADOPT flag, passing that fd (a card fd this process did not
// open) so the daemon binds the connection to the open file whose readiness eventfd it is.
static struct conn *conn_connect_to(const char *path, int aux, int nonblock, uint64_t token, int adopt_fd, int *evfd, int *err) {
    pthread_once(&cfg_once, cfg_init);
    *evfd = -1;
    *err = ENOENT;
    if (!path[0] || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) return NULL;
    int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0) { *err = errno; return NULL; }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, path, strlen(path) + 1);
    long r;
    do { r = syscall(SYS_connect, s, &a, sizeof(a)); } while (r < 0 && errno == EINTR);
    if (r < 0) { sys_close(s); return NULL; } // no daemon: ENOENT, as a missing node
    int hi = sys_fcntl(s, F_DUPFD_CLOEXEC, HIGH_FD);
    if (hi >= 0) { sys_close(s); s = hi; }
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) { sys_close(s); *err = ENOMEM; return NULL; }
    c->sock = s;
    c->pid = getpid();
    c->refs = 0;
    c->aux = aux;
    c->nonblock = nonblock;
    pthread_mutex_init(&c->mu, NULL);
    unsigned char hello[20];
    // bit3 SNAPSHOT: this file's read-only query answers in shared memory (snapshot.c).
    int want_snapshot = !aux && !token && snapshot_wanted();
    uint32_t version = 1, flags = (aux ? 1 : 0) | (token ? 2 : 0) | (adopt_fd >= 0 ? 4 : 0) | (want_snapshot ? 8 : 0);
    int32_t pid = getpid();
    memcpy(hello, &version, 4); memcpy(hello + 4, &flags, 4); memcpy(hello + 8, &pid, 4);
    memcpy(hello + 12, &token, 8);
    uint32_t op;
    int fds[2] = {-1, -1};
    ssize_t n = -1;
    size_t want = want_snapshot ? 12 : 8;
    if (msg_send(c, OP_HELLO, hello, token ? 20 : 12, NULL, 0, adopt_fd) == 0) n = msg_recv_fds(c, &op, fds, 2);
    int fd = fds[0];
    if (n != (ssize_t)want || op != OP_HELLO_REPLY || (int32_t)rd32(c->buf) != 0 || (!aux && fd < 0)) {
        if (n >= 8 && op == OP_HELLO_REPLY && (int32_t)rd32(c->buf) > 0) *err = (int32_t)rd32(c->buf);
        else *err = ENOENT;
        if (fd >= 0) sys_close(fd);
        if (fds[1] >= 0) sys_close(fds[1]);
        sys_close(s);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    if (aux && fd >= 0) { sys_close(fd); fd = -1; }
    if (fds[1] >= 0) {
        snapshot_map(c, fds[1], rd32(c->buf + 8));
        sys_close(fds[1]);
    }
    *evfd = fd;
    return c;
}

static struct conn *conn_connect(int aux, int nonblock, int *evfd, int *err) {
    pthread_once(&cfg_once, cfg_init);
    char path[sizeof(attach_path)];
    daemon_socket(path);
    return conn_connect_to(path, aux, nonblock, 0, -1, evfd, err);
}

// The process-wide connection used for ioctls on sync-file fds and for SYNC_RELEASE; opened
// with the first card so exported objects outlive the card fd.
struct conn *get_aux(void) {
    pthread_mutex_lock(&tab_lock);
    if (aux_conn && aux_conn->pid != getpid()) {
        // A forked child's copy of the parent's AUX connection (see rebind_after_fork).
        if (aux_conn->sock >= 0) { sys_close(aux_conn->sock); aux_conn->sock = -1; }
        for (struct conn *sp = aux_conn->spares; sp; sp = sp->spare_next)
            if (sp->sock >= 0) { sys_close(sp->sock); sp->sock = -1; sp->dead = 1; }
        aux_conn->spares = NULL;
        aux_conn->dead = 1;
        aux_conn = NULL;
    }
    struct conn *c = aux_conn;
    if (c) c->refs++;
    pthread_mutex_unlock(&tab_lock);
    if (c) return c;
    int evfd, err;
    struct conn *n = conn_connect(1, 0, &evfd, &err);
    if (!n) return NULL;
    pthread_mutex_lock(&tab_lock);
    if (!aux_conn) { aux_conn = n; n->refs = 1; n = NULL; }
    c = aux_conn;
    c->refs++;
    pthread_mutex_unlock(&tab_lock);
    if (n) { sys_close(n->sock); pthread_mutex_destroy(&n->mu); free(n); }
    return c;
}

// A timeline's release is waited for (SWSYNC_CLOSE → SWSYNC_CLOSED): its pending fences must
// have failed with ENOENT when close() returns, as sw_sync's release does. The rest is fire and
// forget.
static struct conn *aux_acquire(struct conn **side, int force_side, int *busy);
static void aux_release(struct conn *a, struct conn *side);

static void release_export(int kind, uint64_t id) {
    // Also reached from a callback answered on the AUX connection (FD_INSTALL reusing a stale
    // number): aux_acquire then gives a spare instead of the mutex this thread holds.
    int busy;
    struct conn *side, *a = aux_acquire(&side, 0, &busy);
    if (!a) return;
    if (busy) { aux_release(a, side); return; }
    struct conn *c = side ? side : a;
    pthread_mutex_lock(&c->mu);
    if (kind == KIND_TIMELINE) {
        uint32_t op;
        if (c->dead || msg_send(c, OP_SWSYNC_CLOSE, &id, 8, NULL, 0, -1) || msg_recv(c, &op, NULL) != 4 || op != OP_SWSYNC_CLOSED)
            conn_kill(c);
    } else if (!c->dead && msg_send(c, OP_SYNC_RELEASE, &id, 8, NULL, 0, -1)) conn_kill(c);
    pthread_mutex_unlock(&c->mu);
    aux_release(a, side);
}

// DRM_IOCTL_FAKEDRM_ATTACH (docs/cuse.md): DRM_IOWR(0x40, struct drm_fakedrm_attach).
struct drm_fakedrm_attach {
    uint32_t version;  // in: 1; out: the daemon's
    uint32_t flags;    // in: wanted MMAP | FDS; out: granted
    uint64_t token;    // out: single-use, names this open file
    char path[108];    // out: the daemon's socket, NUL-terminated
};
_Static_assert(sizeof(struct drm_fakedrm_attach) == 128, "ATTACH layout");
#define IOCTL_FAKEDRM_ATTACH _IOWR('d', 0x40, struct drm_fakedrm_attach)
#define FAKEDRM_ATTACH_MMAP 1u
#define FAKEDRM_ATTACH_FDS 2u
#define IOCTL_VERSION 0xc0406400u // DRM_IOWR(0x00, struct drm_version), 64 bytes

struct drm_version_arg {
    int major, minor, patch;
    size_t name_len;
    char *name;
    size_t date_len;
    char *date;
    size_t desc_len;
    char *desc;
};

// After a real open of a /dev/dri node succeeded: when it is a fakedrm CUSE card, attach a
// socket connection to it. Any failure leaves the fd exactly as the kernel returned it. The
// VERSION check comes first because 0x40 is a driver-private number that a kernel driver may
// define for something else entirely.
static int attach_disabled(void) {
    const char *e = getenv("FAKEDRM_ATTACH");
    return e && !strcmp(e, "0");
}

static void try_attach(int fd, const char *path, int flags) {
    pthread_once(&cfg_once, cfg_init);
    if (fd < 0 || (flags & O_PATH) || !path || strncmp(path, "/dev/dri/", 9) || attach_disabled()) return;
    int saved = errno;
    struct stat st;
    if (get_fstat()(fd, &st) != 0 || !S_ISCHR(st.st_mode)) goto out;
    char name[16] = {0};
    struct drm_version_arg v = {0};
    v.name_len = sizeof(name) - 1;
    v.name = name;
    if (get_ioctl()(fd, IOCTL_VERSION, &v) != 0 || strcmp(name, "fakedrm") != 0) goto out;
    struct drm_fakedrm_attach at = {.version = 1, .flags = FAKEDRM_ATTACH_MMAP | FAKEDRM_ATTACH_FDS};
    if (get_ioctl()(fd, IOCTL_FAKEDRM_ATTACH, &at) != 0 || at.version != 1 || !at.token) goto out;
    at.path[sizeof(at.path) - 1] = 0;
    int evfd, err;
    struct conn *c = conn_connect_to(at.path, 0, 0, at.token, -1, &evfd, &err);
    if (!c) goto out;
    // The readiness eventfd is not needed: poll goes to the CUSE fd itself.
    if (evfd >= 0) sys_close(evfd);
    c->attached = 1;
    if (track(fd, KIND_CARD, c, 0)) {
        sys_close(c->sock);
        snapshot_unmap(c);
        pthread_mutex_destroy(&c->mu);
        free(c);
        goto out;
    }
    pthread_mutex_lock(&tab_lock);
    if (!attach_path[0]) memcpy(attach_path, at.path, sizeof(attach_path));
    pthread_mutex_unlock(&tab_lock);
    // As card_open: the AUX connection opens while a card connection admits this process.
    struct conn *a = get_aux();
    if (a) conn_unref(a);
out:
    errno = saved;
}

int open_answered(int err, int fd, int flags, int *result) {
    if (!err && fd < 0) err = EIO;
    if (err) {
        if (fd >= 0) sys_close(fd);
        *result = -1;
        errno = err;
        return -1;
    }
    if (!(flags & O_CLOEXEC)) sys_fcntl(fd, F_SETFD, 0);
    *result = fd;
    return fd;
}

int card_open(int flags) {
    int evfd, err;
    struct conn *c = conn_connect(0, (flags & O_NONBLOCK) != 0, &evfd, &err);
    if (!c) { errno = err; return -1; }
    if (!(flags & O_CLOEXEC)) sys_fcntl(evfd, F_SETFD, 0);
    if (track(evfd, KIND_CARD, c, 0)) {
        sys_close(evfd);
        sys_close(c->sock);
        snapshot_unmap(c);
        pthread_mutex_destroy(&c->mu);
        free(c);
        errno = ENOMEM;
        return -1;
    }
    struct conn *a = get_aux();
    if (a) conn_unref(a);
    return evfd;
}

// ---------------------------------------------------------------------------------------------
// Adoption (docs/socket-protocol.md, "Adopt"): a card fd opened in another process and passed
// here over SCM_RIGHTS (libseat: seatd or its builtin fork opens the card for the compositor)
// is an eventfd this library has never seen. On the first ioctl/mmap/read/fstat of an unknown
// fd that could be ours (an anon inode, S_IFMT 0, whose fdinfo has `eventfd-id:`), the library
// connects with HELLO ADOPT and passes the fd; the daemon binds the connection to the open
// file whose readiness eventfd it is, or refuses.
//
// Refusals are cached per fd number together with the eventfd-id that was refused, and the
// cache is only trusted while the number still names that eventfd: the fstat pre-check runs on
// every call (one syscall), the fdinfo read only for anon inodes. A cache keyed by the number
// alone is wrong: glibc's internal closes (closedir, fclose, ...) bypass the interposed close(),
// so a number refused as a directory fd (seen with libudev's sysfs walk in sway) can come back
// as the card fd received from seatd.

static pthread_mutex_t adopt_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *adopt_neg; // eventfd-id + 1 refused at this fd number; 0: none
static int adopt_neg_cap;

// Lock-free (track() calls it while maybe_adopt holds adopt_lock). The array only grows and
// is published before its size, so reading the size first makes the index valid.
static void adopt_forget(int fd) {
    if (fd < 0 || fd >= __atomic_load_n(&adopt_neg_cap, __ATOMIC_ACQUIRE)) return;
    uint64_t *a = __atomic_load_n(&adopt_neg, __ATOMIC_ACQUIRE);
    if (a[fd]) __atomic_store_n(&a[fd], 0, __ATOMIC_RELAXED);
}

static void adopt_refuse_locked(int fd, uint64_t id) {
    if (fd >= adopt_neg_cap) {
        int ncap = adopt_neg_cap ? adopt_neg_cap : 256;
        while (ncap <= fd) ncap *= 2;
        uint64_t *n = calloc((size_t)ncap, sizeof(*n));
        if (!n) return;
        if (adopt_neg) memcpy(n, adopt_neg, sizeof(*n) * (size_t)adopt_neg_cap);
        // The old array is leaked on purpose: adopt_forget() may still be reading it unlocked.
        __atomic_store_n(&adopt_neg, n, __ATOMIC_RELEASE);
        __atomic_store_n(&adopt_neg_cap, ncap, __ATOMIC_RELEASE);
    }
    adopt_neg[fd] = id + 1;
}

// The eventfd-id of fd + 1, or 0 when fd cannot be one of ours. Cheap test first (one fstat):
// eventfds are anon inodes with S_IFMT 0; then the fdinfo line.
static uint64_t eventfd_key(int fd) {
    struct stat st;
    if (get_fstat()(fd, &st) != 0 || (st.st_mode & S_IFMT) != 0) return 0;
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    int f = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (f < 0) return 0;
    ssize_t n = syscall(SYS_read, f, buf, sizeof(buf) - 1);
    sys_close(f);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strstr(buf, "\neventfd-id:");
    if (!p) return 0;
    return strtoull(p + 13, NULL, 10) + 1;
}

// A CUSE card fd this process did not open itself (libseat's builtin seatd opens the card in
// a fork and passes it over SCM_RIGHTS; an exec'ed child inherits one): attached on its first
// use, as at open. A DRM node that is not fakedrm's is remembered (by device and inode) at
// that number, so its ioctls cost one fstat, not a VERSION round trip each.
static int maybe_attach(int fd) {
    if (attach_disabled()) return 0;
    int saved = errno, ok = 0;
    struct stat st;
    if (get_fstat()(fd, &st) != 0 || !S_ISCHR(st.st_mode)) goto done;
    uint64_t key = (1ull << 63) | ((uint64_t)st.st_rdev << 32) | (st.st_ino & 0xffffffffu);
    // A node already refused at this number (a real GPU's, a tty): no lock, as adopt_forget
    // reads it (the array only grows; the capacity is published after the new array).
    int cap = __atomic_load_n(&adopt_neg_cap, __ATOMIC_ACQUIRE);
    uint64_t *neg = __atomic_load_n(&adopt_neg, __ATOMIC_ACQUIRE);
    if (fd < cap && neg && neg[fd] == key) goto done;
    // While a kernel DRM driver holds major 226 (vkms loaded), the CUSE card gets a dynamic
    // major; its node is still under /dev/dri/. Any other char device is never sent DRM's
    // VERSION ioctl, whose number may mean something else to its driver.
    int drm_node = major(st.st_rdev) == 226;
    if (!drm_node) {
        char link[32], target[16];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = syscall(SYS_readlinkat, AT_FDCWD, link, target, sizeof(target));
        drm_node = n >= 9 && memcmp(target, "/dev/dri/", 9) == 0;
    }
    pthread_mutex_lock(&adopt_lock);
    if (quick_tracked(fd)) ok = 1;
    else if (!drm_node) adopt_refuse_locked(fd, key - 1);
    else if (!(fd < adopt_neg_cap && adopt_neg[fd] == key)) {
        try_attach(fd, "/dev/dri/", O_RDWR);
        ok = quick_tracked(fd);
        if (!ok) adopt_refuse_locked(fd, key - 1);
    }
    pthread_mutex_unlock(&adopt_lock);
done:
    errno = saved;
    return ok;
}

// 1 when fd is (now) tracked; errno is preserved.
static int maybe_adopt(int fd) {
    pthread_once(&cfg_once, cfg_init);
    if (fd < 0) return 0;
    int saved = errno, ok = 0;
    uint64_t key = eventfd_key(fd);
    if (!key) {
        errno = saved;
        return sock_path[0] ? 0 : maybe_attach(fd);
    }
    // Attach mode (no FAKEDRM_SOCKET): card eventfds (a lessee of an attached CUSE card, as
    // wlroots' empty lease makes) are adopted through the attached card's socket.
    char path[sizeof(attach_path)];
    daemon_socket(path);
    if (!path[0]) goto done;
    pthread_mutex_lock(&adopt_lock);
    if (quick_tracked(fd)) { ok = 1; goto out; }
    if (fd < adopt_neg_cap && adopt_neg[fd] == key) goto out;
    int evfd, err;
    struct conn *c = conn_connect_to(path, 0, 0, 0, fd, &evfd, &err);
    if (!c) {
        // Refused (not our eventfd) or no daemon: remember this eventfd at this number.
        adopt_refuse_locked(fd, key - 1);
        goto out;
    }
    if (evfd >= 0) sys_close(evfd); // the client already holds the eventfd itself
    if (track(fd, KIND_CARD, c, 0)) {
        sys_close(c->sock);
        snapshot_unmap(c);
        pthread_mutex_destroy(&c->mu);
        free(c);
        goto out;
    }
    ok = 1;
    struct conn *a = get_aux();
    if (a) conn_unref(a);
out:
    pthread_mutex_unlock(&adopt_lock);
done:
    errno = saved;
    return ok;
}

// ---------------------------------------------------------------------------------------------
// ioctl

// Prefetch (docs/socket-protocol.md, "Prefetched memory"): for DRM_IOCTL_MODE_ATOMIC the
// library knows which user memory the daemon is about to read (the four arrays of struct
// drm_mode_atomic), so it appends copies to the IOCTL message and the daemon needs no MEM_READ
// round trips. Ranges that are not readable are left out (the daemon then asks with MEM_READ
// and gets EFAULT, as before). The whole trailer stays within PREFETCH_MAX, so arg + trailer
// never exceeds the 16 KiB an older daemon accepts (it ignores bytes beyond the arg).
#define PREFETCH_MAX (16 * 1024)
#define IOCTL_MODE_ATOMIC 0xc03864bcu // DRM_IOWR(0xBC, struct drm_mode_atomic), 56 bytes
#define IOCTL_MODE_CREATE_LEASE 0xc01864c6u // DRM_IOWR(0xC6, struct drm_mode_create_lease), fd at 20

// Appends one record {u64 addr; u32 len; u8 data[len]} at dst + *used when it fits and the
// range is readable.
static void prefetch_range(unsigned char *dst, size_t *used, size_t cap, uint64_t addr, uint64_t len) {
    if (len == 0 || len > cap || *used + 12 + len > cap) return;
    unsigned char *p = dst + *used;
    uint32_t l = (uint32_t)len;
    if (safe_read(p + 12, addr, (size_t)len)) return;
    memcpy(p, &addr, 8);
    memcpy(p + 8, &l, 4);
    *used += 12 + (size_t)len;
}

static size_t prefetch_atomic(const unsigned char *arg, unsigned char *dst, size_t cap) {
    uint32_t count_objs = rd32(arg + 4);
    uint64_t objs = rd64(arg + 8), counts_ptr = rd64(arg + 16), props = rd64(arg + 24), values = rd64(arg + 32);
    size_t used = 0;
    if (count_objs == 0 || (uint64_t)count_objs * 8 > cap) return 0;
    prefetch_range(dst, &used, cap, objs, (uint64_t)count_objs * 4);
    size_t at = used;
    prefetch_range(dst, &used, cap, counts_ptr, (uint64_t)count_objs * 4);
    if (used == at) return used; // counts unreadable: the property arrays' sizes are unknown
    uint64_t total = 0;
    for (uint32_t i = 0; i < count_objs; i++) total += rd32(dst + at + 12 + (size_t)i * 4);
    if (total * 12 + 24 > cap - used) return used;
    prefetch_range(dst, &used, cap, props, total * 4);
    prefetch_range(dst, &used, cap, values, total * 8);
    return used;
}

// The fast way to send an IOCTL: the kernel copies the arg (and, for atomic, the prefetched
// arrays) straight from the caller's memory into the message, so no process_vm_readv is needed
// for them. A bad pointer makes sendmsg fail with EFAULT before anything is queued; the caller
// then takes the copying path, which finds out which range was bad. Returns 0, EFAULT, or -1
// (connection unusable).
static int send_ioctl_direct(struct conn *c, const unsigned char *head, uint32_t req, uint32_t target,
                             uint64_t addr, size_t inlen) {
    struct hdr h = {OP_IOCTL, 24};
    struct iovec iov[12] = {{&h, sizeof(h)}, {(void *)head, 24}};
    int n = 2;
    unsigned char a[56], rec[4][12];
    if (inlen) {
        if (req == IOCTL_MODE_ATOMIC && target == 0 && inlen == 56) {
            // The arg and the counts array are needed here to size the records: two checked
            // reads; objs, props and values go to the kernel as they are.
            if (safe_read(a, addr, 56)) return EFAULT;
            iov[n++] = (struct iovec){a, 56};
            uint32_t count = rd32(a + 4);
            uint64_t objs = rd64(a + 8), counts_ptr = rd64(a + 16), props = rd64(a + 24), values = rd64(a + 32);
            size_t budget = PREFETCH_MAX - 56;
            unsigned char *counts = c->out;
            if (count && (uint64_t)count * 8 + 24 <= budget && !safe_read(counts, counts_ptr, (size_t)count * 4)) {
                uint64_t total = 0;
                for (uint32_t i = 0; i < count; i++) total += rd32(counts + (size_t)i * 4);
                uint64_t lens[4] = {(uint64_t)count * 4, (uint64_t)count * 4, total * 4, total * 8};
                uint64_t addrs[4] = {objs, counts_ptr, props, values};
                int nrec = (total && total * 12 + 24 <= budget - ((uint64_t)count * 8 + 24)) ? 4 : 2;
                for (int i = 0; i < nrec; i++) {
                    uint32_t l = (uint32_t)lens[i];
                    memcpy(rec[i], &addrs[i], 8);
                    memcpy(rec[i] + 8, &l, 4);
                    iov[n++] = (struct iovec){rec[i], 12};
                    iov[n++] = (struct iovec){i == 1 ? (void *)counts : (void *)(uintptr_t)addrs[i], l};
                }
            }
        } else {
            iov[n++] = (struct iovec){(void *)(uintptr_t)addr, inlen};
        }
    }
    size_t total = 0;
    for (int i = 1; i < n; i++) total += iov[i].iov_len;
    h.len = (uint32_t)total;
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t r;
    do { r = syscall(SYS_sendmsg, c->sock, &m, MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EFAULT) return EFAULT;
    if (r != (ssize_t)(sizeof(h) + total)) return -1;
    trace_msg((uint32_t)r, 0);
    return 0;
}

// Sends one IOCTL and serves callbacks; returns 0 or -1 with errno.
int remote_ioctl(struct conn *c, uint32_t target, uint64_t id, unsigned long request, void *arg) {
    uint32_t req = (uint32_t)request;
    size_t size = _IOC_SIZE(req);
    unsigned dir = _IOC_DIR(req);
    unsigned char head[24];
    uint64_t addr = (uint64_t)(uintptr_t)arg;
    memcpy(head, &req, 4); memcpy(head + 4, &target, 4); memcpy(head + 8, &id, 8); memcpy(head + 16, &addr, 8);
    pthread_mutex_lock(&c->mu);
    unsigned char *argbuf = c->out;
    size_t inlen = (dir & _IOC_WRITE) ? size : 0;
    int sent = c->dead ? -1 : send_ioctl_direct(c, head, req, target, addr, inlen);
    if (sent == EFAULT) {
        // Some range was not readable: copy with checks (EFAULT for the arg itself, prefetch
        // records only for the readable arrays).
        if (inlen && safe_read(argbuf, addr, inlen)) { pthread_mutex_unlock(&c->mu); errno = EFAULT; return -1; }
        size_t extra = 0;
        if (req == IOCTL_MODE_ATOMIC && target == 0 && inlen == 56)
            extra = prefetch_atomic(argbuf, argbuf + inlen, PREFETCH_MAX - inlen);
        sent = msg_send(c, OP_IOCTL, head, 24, argbuf, inlen + extra, -1);
    }
    if (c->dead || sent) {
        if (!c->dead) conn_kill(c);
        pthread_mutex_unlock(&c->mu);
        errno = ENODEV;
        return -1;
    }
    ssize_t n = serve_callbacks(c, OP_IOCTL_REPLY, NULL);
    if (n < 4) {
        if (n >= 0) conn_kill(c);
        pthread_mutex_unlock(&c->mu);
        errno = ENODEV;
        return -1;
    }
    int32_t err = (int32_t)rd32(c->buf);
    size_t outlen = (size_t)n - 4;
    if (outlen > size) outlen = size;
    if ((dir & _IOC_READ) && outlen && safe_write(addr, c->buf + 4, outlen) && !err) err = EFAULT;
    pthread_mutex_unlock(&c->mu);
    if (err) { errno = err; return -1; }
    return 0;
}

// An idle side connection of `m` (with the reference its list held), or a new one adopted
// onto the same open file through the card fd; NULL: none to be had, use `m` and wait.
// An idle spare of `m` if it has one; otherwise NULL and the daemon's path in `path`.
static struct conn *spare_pop(struct conn *m, char path[sizeof(sock_path)]) {
    pthread_mutex_lock(&tab_lock);
    struct conn *s = m->spares;
    if (s) m->spares = s->spare_next;
    memcpy(path, sock_path[0] ? sock_path : attach_path, sizeof(sock_path));
    pthread_mutex_unlock(&tab_lock);
    return s;
}

static struct conn *side_get(struct conn *m, int fd) {
    char path[sizeof(sock_path)];
    struct conn *s = spare_pop(m, path);
    if (s) return s;
    int evfd, err;
    s = conn_connect_to(path, 0, m->nonblock, 0, fd, &evfd, &err);
    if (!s) return NULL;
    if (evfd >= 0) sys_close(evfd); // the client already holds the file's eventfd
    s->refs = 1;
    return s;
}

static void side_put(struct conn *m, struct conn *s) {
    pthread_mutex_lock(&tab_lock);
    if (s->dead) conn_unref_locked(s);
    else {
        s->spare_next = m->spares;
        m->spares = s;
    }
    pthread_mutex_unlock(&tab_lock);
    finish_closes();
}

// An ioctl on a sync file, timeline or dma-buf goes over the process's AUX connection, or over
// a spare one while another thread is in a call there: DMA_BUF_IOCTL_SYNC may wait for fences
// that an INC from another thread signals.
// The AUX connection, or a spare one when another thread is in a call there (or this thread
// is, answering a callback on it). Release with aux_release.
// force_side: a call that may block for long (DMA_BUF_IOCTL_SYNC) always takes a spare, so
// the AUX connection itself only carries short calls. *busy: AUX is held and no spare could be
// had (the caller may wait for AUX, or must not if this thread may be the holder).
static struct conn *aux_acquire(struct conn **side, int force_side, int *busy) {
    *side = NULL;
    *busy = 0;
    struct conn *a = get_aux();
    if (!a) return NULL;
    if (!force_side && pthread_mutex_trylock(&a->mu) == 0) pthread_mutex_unlock(&a->mu);
    else {
        char path[sizeof(sock_path)];
        struct conn *s = spare_pop(a, path);
        if (!s) {
            int evfd, err;
            s = conn_connect_to(path, 1, 0, 0, -1, &evfd, &err);
            if (s) s->refs = 1;
        }
        *side = s;
        *busy = !s;
    }
    return a;
}

static void aux_release(struct conn *a, struct conn *side) {
    if (side) side_put(a, side);
    conn_unref(a);
}

static int aux_ioctl(uint32_t target, uint64_t id, unsigned long request, void *arg, int force_side) {
    int busy;
    struct conn *side, *a = aux_acquire(&side, force_side, &busy);
    if (!a) { errno = ENODEV; return -1; }
    int r = remote_ioctl(side ? side : a, target, id, request, arg);
    int saved = errno;
    aux_release(a, side);
    errno = saved;
    return r;
}

// EXPORT_ADOPT (docs/socket-protocol.md): a sync file, dma-buf, syncobj or timeline fd that
// came from another process (SCM_RIGHTS, or a copy of the fd received after fork) is an
// eventfd or memfd this library has not seen. The daemon knows it by its identity and makes
// it this process's too. 1 when fd is now tracked; errno is preserved.
int maybe_adopt_export(int fd) {
    if (fd < 0) return 0;
    struct stat st;
    if (get_fstat()(fd, &st) != 0) return 0;
    int anon = (st.st_mode & S_IFMT) == 0, memfd = S_ISREG(st.st_mode) && st.st_nlink == 0;
    if (!(anon && eventfd_key(fd)) && !memfd) return 0;
    int saved = errno, ok = 0, busy;
    struct conn *side, *a = aux_acquire(&side, 0, &busy);
    if (!a) { errno = saved; return 0; }
    if (busy) { aux_release(a, side); errno = saved; return 0; } // this thread may hold AUX
    struct conn *c = side ? side : a;
    pthread_mutex_lock(&c->mu);
    uint32_t op = 0;
    ssize_t n = -1;
    if (!c->dead && msg_send(c, OP_EXPORT_ADOPT, NULL, 0, NULL, 0, fd) == 0) n = msg_recv(c, &op, NULL);
    if (n != 16 || op != OP_EXPORT_ADOPTED) conn_kill(c);
    int32_t err = n == 16 ? (int32_t)rd32(c->buf) : -1;
    uint32_t kind = n == 16 ? rd32(c->buf + 4) : 0;
    uint64_t id = n == 16 ? rd64(c->buf + 8) : 0;
    pthread_mutex_unlock(&c->mu);
    aux_release(a, side);
    if (err == 0 && kind >= KIND_SYNC && kind <= KIND_TIMELINE && kind != KIND_NEW_CARD) {
        if (track(fd, (int)kind, NULL, id) == 0) ok = 1;
        else release_export((int)kind, id);
    }
    errno = saved;
    return ok;
}

// DMA_BUF_SET_NAME (_A and _B encodings): the argument is the name itself; dma_buf_set_name's
// strndup_user(name, DMA_BUF_NAME_LEN) fails with EFAULT on a bad pointer and EINVAL when the
// name with its NUL does not fit in 32 bytes. The name is not shown anywhere else here.
static int dmabuf_set_name(const void *name) {
    char buf[32];
    for (size_t i = 0; i < sizeof(buf); i++) {
        if (safe_read(&buf[i], (uint64_t)(uintptr_t)name + i, 1)) { errno = EFAULT; return -1; }
        if (!buf[i]) return 0;
    }
    errno = EINVAL;
    return -1;
}

EXPORT int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (!quick_tracked(fd) && !maybe_adopt(fd)) {
        int t = _IOC_TYPE(request);
        if (!((t == '>' || t == 'W' || t == 'b') && maybe_adopt_export(fd))) return get_ioctl()(fd, request, arg);
    }
    struct fdent e = lookup(fd);
    switch (e.kind) {
    case KIND_CARD: {
        // A thread's ioctl never waits for another thread's on the same card fd (one may
        // block in WAIT_VBLANK or a blocking commit for frames): when the connection is busy,
        // the request goes over a side connection adopted onto the same open file.
        int answered;
        if (e.conn->snap && snapshot_ioctl(e.conn, (uint32_t)request, arg, &answered)) {
            int saved = errno;
            conn_unref(e.conn);
            errno = saved;
            return answered;
        }
        struct conn *side = NULL;
        if (!e.conn->attached) {
            if (pthread_mutex_trylock(&e.conn->mu) == 0) pthread_mutex_unlock(&e.conn->mu);
            else side = side_get(e.conn, fd);
        }
        int r = remote_ioctl(side ? side : e.conn, 0, 0, request, arg);
        int saved = errno;
        if (side) side_put(e.conn, side);
        // The lessee fd is adopted at once, so its close reaches the daemon and ends the lease
        // as the kernel's last close does (the daemon keeps it if another process holds it).
        if (r == 0 && (uint32_t)request == IOCTL_MODE_CREATE_LEASE) {
            int32_t lessee;
            if (safe_read(&lessee, (uint64_t)(uintptr_t)arg + 20, 4) == 0 && lessee >= 0) maybe_adopt(lessee);
        }
        conn_unref(e.conn);
        errno = saved;
        return r;
    }
    case KIND_SYNC:
        if (_IOC_TYPE(request) != '>') { errno = ENOTTY; return -1; }
        return aux_ioctl(1, e.id, request, arg, 0);
    case KIND_DMABUF:
        if (_IOC_TYPE(request) != 'b') { errno = ENOTTY; return -1; }
        if (_IOC_NR(request) == 1 && _IOC_DIR(request) == _IOC_WRITE && (_IOC_SIZE(request) == 4 || _IOC_SIZE(request) == 8))
            return dmabuf_set_name(arg);
        return aux_ioctl(3, e.id, request, arg, _IOC_NR(request) == 0); // SYNC may wait
    case KIND_SYNCOBJ:
        errno = ENOTTY;
        return -1;
    case KIND_TIMELINE:
        if (_IOC_TYPE(request) != 'W') { errno = ENOTTY; return -1; }
        return aux_ioctl(2, e.id, request, arg, 0);
    default:
        return get_ioctl()(fd, request, arg);
    }
}

// ---------------------------------------------------------------------------------------------
// read / mmap

// x86-64's TASK_SIZE_MAX with 4-level paging: access_ok's bound.
#define USER_ADDRESS_LIMIT 0x7ffffffff000UL

EXPORT ssize_t read(int fd, void *buf, size_t count) {
    if (!quick_tracked(fd) && !maybe_adopt(fd)) return get_read()(fd, buf, count);
    struct fdent e = lookup(fd);
    if (e.kind != KIND_CARD || e.conn->attached) {
        // Attached: the CUSE node reads the same file's events, with the kernel's blocking,
        // O_NONBLOCK and signal semantics.
        if (e.conn) conn_unref(e.conn);
        if (debugfs_read_check(&e, count)) return -1;
        return get_read()(fd, buf, count);
    }
    struct conn *c = e.conn;
    // drm_read starts with access_ok(buffer, count): a range past the user address space is
    // EFAULT before any wait (IGT's drm_read@invalid-buffer).
    uintptr_t start = (uintptr_t)buf, end = start + count;
    if (end < start || end > USER_ADDRESS_LIMIT) {
        conn_unref(c);
        errno = EFAULT;
        return -1;
    }
    ssize_t result = -1;
    int err = 0;
    for (;;) {
        unsigned char q[8];
        uint32_t maxlen = count > MAX_CHUNK ? MAX_CHUNK : (uint32_t)count, nb = 1;
        memcpy(q, &maxlen, 4); memcpy(q + 4, &nb, 4);
        pthread_mutex_lock(&c->mu);
        ssize_t n = -1;
        if (!c->dead && msg_send(c, OP_READ, q, 8, NULL, 0, -1) == 0) n = serve_callbacks(c, OP_READ_REPLY, NULL);
        else if (!c->dead) conn_kill(c);
        if (n < 4) {
            if (n >= 0) conn_kill(c);
            pthread_mutex_unlock(&c->mu);
            err = ENODEV;
            break;
        }
        int32_t rerr = (int32_t)rd32(c->buf);
        size_t len = (size_t)n - 4;
        if (!rerr && len <= count) {
            if (safe_write((uint64_t)(uintptr_t)buf, c->buf + 4, len)) err = EFAULT; // events lost, as the kernel
            else result = (ssize_t)len;
        } else if (!rerr) err = EIO;
        int nonblock = c->nonblock;
        pthread_mutex_unlock(&c->mu);
        if (rerr == EAGAIN && !nonblock) {
            // Blocking read: wait for the readiness eventfd (the client fd itself) or for the
            // daemon to go away; the daemon never blocks a READ.
            struct pollfd p[2] = {{fd, POLLIN, 0}, {c->sock, POLLRDHUP, 0}};
            int pr = poll(p, 2, -1);
            if (pr < 0 && errno == EINTR) { err = EINTR; break; }
            if (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) { err = ENODEV; break; }
            continue;
        }
        if (rerr) err = rerr;
        break;
    }
    conn_unref(c);
    if (err) { errno = err; return -1; }
    return result;
}

// Only debugfs crc/control fds are written through the daemon; everything else is untouched.
EXPORT ssize_t write(int fd, const void *buf, size_t count) {
    if (quick_tracked(fd)) {
        struct fdent e = lookup(fd);
        if (e.conn) conn_unref(e.conn);
        if (e.kind == KIND_CRC_CONTROL) return debugfs_write(&e, buf, count);
    }
    return get_write()(fd, buf, count);
}

static void *card_mmap(struct conn *c, void *addr, size_t len, int prot, int flags, uint64_t offset) {
    int memfd = -1;
    pthread_mutex_lock(&c->mu);
    ssize_t n = -1;
    if (!c->dead && msg_send(c, OP_MAP, &offset, 8, NULL, 0, -1) == 0) n = serve_callbacks(c, OP_MAP_REPLY, &memfd);
    else if (!c->dead) conn_kill(c);
    if (n != 12) {
        if (n >= 0) conn_kill(c);
        pthread_mutex_unlock(&c->mu);
        if (memfd >= 0) sys_close(memfd);
        errno = ENODEV;
        return MAP_FAILED;
    }
    int32_t err = (int32_t)rd32(c->buf);
    uint64_t size = rd64(c->buf + 4);
    pthread_mutex_unlock(&c->mu);
    if (!err && memfd < 0) err = EIO;
    if (!err && len > size) err = EINVAL;
    if (err) {
        if (memfd >= 0) sys_close(memfd);
        errno = err;
        return MAP_FAILED;
    }
    void *p = get_mmap()(addr, len, prot, flags, memfd, 0);
    int saved = errno;
    sys_close(memfd);
    errno = saved;
    return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset) {
    if (!quick_tracked(fd) && (flags & MAP_ANONYMOUS || !maybe_adopt(fd))) return get_mmap()(addr, len, prot, flags, fd, offset);
    struct fdent e = lookup(fd);
    if (e.kind != KIND_CARD) {
        if (e.conn) conn_unref(e.conn);
        return get_mmap()(addr, len, prot, flags, fd, offset);
    }
    void *p = card_mmap(e.conn, addr, len, prot, flags, (uint64_t)offset);
    int saved = errno;
    conn_unref(e.conn);
    errno = saved;
    return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t offset) {
    if (!quick_tracked(fd) && (flags & MAP_ANONYMOUS || !maybe_adopt(fd))) return get_mmap64()(addr, len, prot, flags, fd, offset);
    return mmap(addr, len, prot, flags, fd, (off_t)offset);
}

// ---------------------------------------------------------------------------------------------
// open / close / dup / fcntl

// A real open's result, attached when it is a fakedrm CUSE card (relative paths are never
// cards: libdrm and the clients open absolute /dev/dri paths).
static int opened(int fd, const char *path, int flags) {
    adopt_forget(fd);
    if (fd >= 0 && path && path[0] == '/' && !strncmp(path, "/dev/dri/", 9)) try_attach(fd, path, flags);
    return fd;
}

static int wants_card(const char *path, int flags) {
    return !(flags & O_PATH) && is_card_path(path);
}

static int at_card(int dirfd, const char *path, int flags) {
    (void)dirfd;
    return path && path[0] == '/' && wants_card(path, flags);
}

// Attach mode beside umockdev (UMOCKDEV_DIR naming the sysfs view `fakedrm cuse` writes, for
// libudev's lookups by subsystem: weston): the CUSE node itself is real, so its open must not
// reach umockdev, which would redirect it to the testbed's placeholder file.
static int umockdev_real_node(const char *path, int flags) {
    if (preload_has_socket() || (flags & (O_CREAT | __O_TMPFILE)) || strncmp(path, "/dev/dri/", 9) != 0)
        return 0;
    const char *bed = getenv("UMOCKDEV_DIR");
    return bed && *bed;
}

// A fake card has no VT of its own. An unprivileged client that cannot open the host's
// /dev/tty0 anyway is told it does not exist, as in a container without VTs: IGT's
// kmstest_set_vt_graphics_mode() accepts a missing tty0 but fails on one it may not open.
// Root keeps the real node.
static int hidden_vt(const char *path) {
    if (!path || strcmp(path, "/dev/tty0") != 0 || !preload_has_socket()) return 0;
    if (getenv("FAKEDRM_SHOW_VT")) return 0;
    int saved = errno;
    int hide = get_access()(path, R_OK | W_OK) != 0 && errno == EACCES;
    errno = hide ? ENOENT : saved;
    return hide;
}

// What every open variant does first: /sys/kernel/debug paths move to the debugfs view, its
// live files and the card itself (by path or through an fd link such as /proc/self/fd/N, as
// IGT's drm_reopen_driver does) are opened here, and a real CUSE node past umockdev. Returns 1
// with *result set when handled.
static int pre_open(int dirfd, const char **path, char *buf, int flags, int *result) {
    *path = debugfs_redirect(*path, buf, PATH_MAX);
    if (hidden_vt(*path)) { *result = -1; return 1; }
    if ((*path)[0] == '/' && !(flags & O_PATH) && swsync_path(*path)) return swsync_open(flags, result);
    if (debugfs_open(dirfd, *path, flags, result)) return 1;
    if (at_card(dirfd, *path, flags) || (!(flags & O_PATH) && fdlink_card_fd(*path) >= 0)) {
        *result = card_open(flags);
        return 1;
    }
    if (umockdev_real_node(*path, flags)) {
        *result = opened((int)syscall(SYS_openat, AT_FDCWD, *path, flags), *path, flags);
        return 1;
    }
    return 0;
}

EXPORT int open(const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
    char dbuf[PATH_MAX];
    int special;
    if (pre_open(AT_FDCWD, &path, dbuf, flags, &special)) return special;
    return opened(get_open()(path, flags, mode), path, flags);
}

EXPORT int open64(const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
    char dbuf[PATH_MAX];
    int special;
    if (pre_open(AT_FDCWD, &path, dbuf, flags, &special)) return special;
    return opened(get_open64()(path, flags, mode), path, flags);
}

EXPORT int __open_2(const char *path, int flags) {
    char dbuf[PATH_MAX];
    int special;
    if (pre_open(AT_FDCWD, &path, dbuf, flags, &special)) return special;
    return opened(get___open_2()(path, flags), path, flags);
}

EXPORT int __open64_2(const char *path, int flags) {
    char dbuf[PATH_MAX];
    int special;
    if (pre_open(AT_FDCWD, &path, dbuf, flags, &special)) return special;
    return opened(get___open64_2()(path, flags), path, flags);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
    char dbuf[PATH_MAX];
    int special;
    if (pre_open(dirfd, &path, dbuf, flags, &special)) return special;
    return opened(get_openat()(dirfd, path, flags, mode), path, flags);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
    char dbuf[PATH_MAX];
    int special;
    if (pre_open(dirfd, &path, dbuf, flags, &special)) return special;
    return opened(get_openat64()(dirfd, path, flags, mode), path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags) {
    char dbuf[PATH_MAX];
    int special;
    if (pre_open(dirfd, &path, dbuf, flags, &special)) return special;
    return opened(get___openat_2()(dirfd, path, flags), path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags) {
    char dbuf[PATH_MAX];
    int special;
    if (pre_open(dirfd, &path, dbuf, flags, &special)) return special;
    return opened(get___openat64_2()(dirfd, path, flags), path, flags);
}

EXPORT int close(int fd) {
    if (quick_tracked(fd)) untrack(fd);
    adopt_forget(fd);
    return get_close()(fd);
}

// ---------------------------------------------------------------------------------------------
// Hotplug uevents (docs/socket-protocol.md, "Hotplug uevents"). A NETLINK_KOBJECT_UEVENT socket
// becomes one end of a unix datagram pair from the daemon, which writes libudev-format messages
// into it when a connector changes. bind/getsockname/setsockopt are answered as netlink would,
// and recvmsg reports the udev multicast group as the sender so libudev accepts the message
// (the kernel adds SCM_CREDENTIALS of the daemon, the same uid, once SO_PASSCRED is set).

static int uevent_socket(int type) {
    struct conn *c = get_aux();
    if (!c) return -1;
    int fd = -1;
    pthread_mutex_lock(&c->mu);
    uint32_t op;
    if (!c->dead && msg_send(c, OP_UEVENT_SUBSCRIBE, NULL, 0, NULL, 0, -1) == 0) {
        ssize_t n = msg_recv(c, &op, &fd);
        if (n != 4 || op != OP_UEVENT_REPLY || (int32_t)rd32(c->buf) != 0) {
            if (n < 0) conn_kill(c);
            if (fd >= 0) { sys_close(fd); fd = -1; }
        }
    }
    pthread_mutex_unlock(&c->mu);
    conn_unref(c);
    if (fd < 0) return -1;
    // msg_recv set FD_CLOEXEC; honour what the caller asked for.
    if (!(type & SOCK_CLOEXEC)) sys_fcntl(fd, F_SETFD, 0);
    if (type & SOCK_NONBLOCK) sys_fcntl(fd, F_SETFL, sys_fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    int one = 1;
    get_setsockopt()(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    if (track(fd, KIND_UEVENT, NULL, 0) < 0) { sys_close(fd); return -1; }
    return fd;
}

static int is_uevent_fd(int fd) {
    if (!quick_tracked(fd)) return 0;
    return lookup(fd).kind == KIND_UEVENT;
}

EXPORT int socket(int domain, int type, int protocol) {
    if (domain == AF_NETLINK && protocol == NETLINK_KOBJECT_UEVENT) {
        pthread_once(&cfg_once, cfg_init);
        if (sock_path[0]) {
            int fd = uevent_socket(type);
            if (fd >= 0) return fd;
        }
    }
    return get_socket()(domain, type, protocol);
}

EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    if (is_uevent_fd(fd)) {
        if (!addr || len < sizeof(struct sockaddr_nl) || addr->sa_family != AF_NETLINK) { errno = EINVAL; return -1; }
        struct sockaddr_nl nl;
        memcpy(&nl, addr, sizeof(nl));
        pthread_mutex_lock(&tab_lock);
        if (fd < tab_cap && tab[fd].kind == KIND_UEVENT) tab[fd].id = nl.nl_groups;
        pthread_mutex_unlock(&tab_lock);
        return 0;
    }
    return get_bind()(fd, addr, len);
}

EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len) {
    if (is_uevent_fd(fd)) {
        struct sockaddr_nl nl = {.nl_family = AF_NETLINK, .nl_pid = (uint32_t)getpid()};
        nl.nl_groups = (uint32_t)lookup(fd).id;
        if (!addr || !len) { errno = EFAULT; return -1; }
        memcpy(addr, &nl, *len < sizeof(nl) ? *len : sizeof(nl));
        *len = sizeof(nl);
        return 0;
    }
    return get_getsockname()(fd, addr, len);
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
    // Socket filters, forced buffer sizes and netlink memberships have nothing to act on here.
    if (is_uevent_fd(fd) && !(level == SOL_SOCKET && (name == SO_PASSCRED || name == SO_RCVBUF))) return 0;
    return get_setsockopt()(fd, level, name, val, len);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
    // The caller's buffer size: the kernel overwrites msg_namelen with the unix peer's (0 for
    // an unnamed socketpair end).
    socklen_t room = msg ? msg->msg_namelen : 0;
    ssize_t r = get_recvmsg()(fd, msg, flags);
    if (r >= 0 && msg && msg->msg_name && is_uevent_fd(fd)) {
        struct sockaddr_nl nl = {.nl_family = AF_NETLINK, .nl_pid = 0, .nl_groups = 2 /* udev */};
        socklen_t n = room < sizeof(nl) ? room : (socklen_t)sizeof(nl);
        memcpy(msg->msg_name, &nl, n);
        msg->msg_namelen = sizeof(nl);
    }
    return r;
}

static int copy_entry(int oldfd, int newfd) {
    struct fdent e = lookup(oldfd);
    if (!e.kind) return 0;
    track(newfd, e.kind, e.conn, e.id);
    if (e.conn) conn_unref(e.conn);
    return 0;
}

EXPORT int dup(int oldfd) {
    int r = get_dup()(oldfd);
    if (r >= 0) adopt_forget(r);
    if (r >= 0 && quick_tracked(oldfd)) copy_entry(oldfd, r);
    return r;
}

EXPORT int dup2(int oldfd, int newfd) {
    if (oldfd == newfd) return get_dup2()(oldfd, newfd);
    int r = get_dup2()(oldfd, newfd);
    if (r >= 0) {
        adopt_forget(newfd);
        if (quick_tracked(newfd)) untrack(newfd);
        if (quick_tracked(oldfd)) copy_entry(oldfd, r);
    }
    return r;
}

EXPORT int dup3(int oldfd, int newfd, int flags) {
    int r = get_dup3()(oldfd, newfd, flags);
    if (r >= 0) {
        adopt_forget(newfd);
        if (quick_tracked(newfd)) untrack(newfd);
        if (quick_tracked(oldfd)) copy_entry(oldfd, r);
    }
    return r;
}

static int do_fcntl(int (*next)(int, int, ...), int fd, int cmd, long arg) {
    if (!quick_tracked(fd)) return next(fd, cmd, arg);
    struct fdent e = lookup(fd);
    int r;
    if (e.kind == KIND_CARD && e.conn->attached) {
        // A real fd: its flags are its own; dups are tracked as for any card fd.
        r = next(fd, cmd, arg);
        int saved = errno;
        if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) copy_entry(fd, r);
        errno = saved;
    } else if (e.kind == KIND_CARD && cmd == F_GETFL) {
        r = O_RDWR | (e.conn->nonblock ? O_NONBLOCK : 0);
    } else if (e.kind == KIND_CARD && cmd == F_SETFL) {
        // Kept here: the eventfd's file status flags are shared with the daemon.
        e.conn->nonblock = (arg & O_NONBLOCK) != 0;
        r = 0;
    } else {
        r = next(fd, cmd, arg);
        int saved = errno;
        if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) copy_entry(fd, r);
        errno = saved;
    }
    if (e.conn) conn_unref(e.conn);
    return r;
}

EXPORT int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return do_fcntl(get_fcntl(), fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return do_fcntl(get_fcntl64() ? get_fcntl64() : get_fcntl(), fd, cmd, arg);
}

// ---------------------------------------------------------------------------------------------
// stat family

// A card fd whose stat must be faked (an attached CUSE fd is a real node: not faked).
int is_card_fd(int fd) {
    if (!quick_tracked(fd) && !maybe_adopt(fd)) return 0;
    struct fdent e = lookup(fd);
    int attached = e.conn && e.conn->attached;
    if (e.conn) conn_unref(e.conn);
    return e.kind == KIND_CARD && !attached;
}

static void fill_stat(struct stat *st) {
    pthread_once(&cfg_once, cfg_init);
    memset(st, 0, sizeof(*st));
    st->st_dev = makedev(0, 6);
    st->st_ino = 0xfa4ed000u + card_minor;
    st->st_mode = S_IFCHR | 0666;
    st->st_nlink = 1;
    st->st_uid = 0;
    st->st_gid = 0;
    st->st_rdev = makedev(DRM_MAJOR_NUM, card_minor);
    st->st_blksize = 4096;
}

static void fill_dir(struct stat *st) {
    memset(st, 0, sizeof(*st));
    st->st_dev = makedev(0, 6);
    st->st_ino = 0xfa4ec000u;
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    st->st_blksize = 4096;
}

// struct stat and struct stat64 have the same layout on 64-bit Linux.
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "64-bit only");

EXPORT int fstat(int fd, struct stat *st) {
    if (is_card_fd(fd)) { fill_stat(st); return 0; }
    return get_fstat()(fd, st);
}

EXPORT int fstat64(int fd, struct stat64 *st) {
    if (is_card_fd(fd)) { fill_stat((struct stat *)st); return 0; }
    return get_fstat64()(fd, st);
}

EXPORT int __fxstat(int ver, int fd, struct stat *st) {
    if (is_card_fd(fd)) { fill_stat(st); return 0; }
    return get___fxstat()(ver, fd, st);
}

EXPORT int __fxstat64(int ver, int fd, struct stat64 *st) {
    if (is_card_fd(fd)) { fill_stat((struct stat *)st); return 0; }
    return get___fxstat64()(ver, fd, st);
}

// 1: card node, 2: the card's directory when it does not really exist, 0: not ours.
static int path_kind(int dirfd, const char *path, int flags, int (*realstat)(const char *, struct stat *)) {
    if (path && path[0] == 0 && (flags & AT_EMPTY_PATH)) return is_card_fd(dirfd) ? 1 : 0;
    if (!path || path[0] != '/') return 0;
    if (is_card_path(path)) return 1;
    if (is_card_dir(path) && realstat) {
        struct stat tmp;
        if (realstat(path, &tmp) != 0) return 2;
    }
    return 0;
}

static int real_stat_plain(const char *p, struct stat *st) { return get_stat()(p, st); }

// The debugfs view's root is a mount point, as debugfs is: its st_dev differs from its parent's.
#define DEBUGFS_DEV_MINOR 0x44
static int debugfs_root_dev(const char *path, int r, struct stat *st) {
    if (r == 0 && debugfs_is_root(path)) st->st_dev = makedev(0, DEBUGFS_DEV_MINOR);
    return r;
}

static int fake_path_stat(int kind, struct stat *st) {
    if (kind == 1) fill_stat(st); else fill_dir(st);
    return 0;
}

EXPORT int stat(const char *path, struct stat *st) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(AT_FDCWD, path, 0, real_stat_plain);
    return k ? fake_path_stat(k, st) : debugfs_root_dev(path, get_stat()(path, st), st);
}

EXPORT int stat64(const char *path, struct stat64 *st) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(AT_FDCWD, path, 0, real_stat_plain);
    return k ? fake_path_stat(k, (struct stat *)st) : debugfs_root_dev(path, get_stat64()(path, st), (struct stat *)st);
}

EXPORT int lstat(const char *path, struct stat *st) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(AT_FDCWD, path, 0, real_stat_plain);
    return k ? fake_path_stat(k, st) : debugfs_root_dev(path, get_lstat()(path, st), st);
}

EXPORT int lstat64(const char *path, struct stat64 *st) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(AT_FDCWD, path, 0, real_stat_plain);
    return k ? fake_path_stat(k, (struct stat *)st) : debugfs_root_dev(path, get_lstat64()(path, st), (struct stat *)st);
}

EXPORT int __xstat(int ver, const char *path, struct stat *st) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(AT_FDCWD, path, 0, real_stat_plain);
    return k ? fake_path_stat(k, st) : debugfs_root_dev(path, get___xstat()(ver, path, st), st);
}

EXPORT int __xstat64(int ver, const char *path, struct stat64 *st) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(AT_FDCWD, path, 0, real_stat_plain);
    return k ? fake_path_stat(k, (struct stat *)st) : debugfs_root_dev(path, get___xstat64()(ver, path, st), (struct stat *)st);
}

EXPORT int __lxstat(int ver, const char *path, struct stat *st) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(AT_FDCWD, path, 0, real_stat_plain);
    return k ? fake_path_stat(k, st) : debugfs_root_dev(path, get___lxstat()(ver, path, st), st);
}

EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(AT_FDCWD, path, 0, real_stat_plain);
    return k ? fake_path_stat(k, (struct stat *)st) : debugfs_root_dev(path, get___lxstat64()(ver, path, st), (struct stat *)st);
}

EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(dirfd, path, flags, real_stat_plain);
    return k ? fake_path_stat(k, st) : debugfs_root_dev(path, get_fstatat()(dirfd, path, st, flags), st);
}

EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(dirfd, path, flags, real_stat_plain);
    return k ? fake_path_stat(k, (struct stat *)st) : debugfs_root_dev(path, get_fstatat64()(dirfd, path, st, flags), (struct stat *)st);
}

EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(dirfd, path, flags, real_stat_plain);
    return k ? fake_path_stat(k, st) : debugfs_root_dev(path, get___fxstatat()(ver, dirfd, path, st, flags), st);
}

EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(dirfd, path, flags, real_stat_plain);
    return k ? fake_path_stat(k, (struct stat *)st) : debugfs_root_dev(path, get___fxstatat64()(ver, dirfd, path, st, flags), (struct stat *)st);
}

EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int k = path_kind(dirfd, path, flags, real_stat_plain);
    if (!k) {
        int r = get_statx()(dirfd, path, flags, mask, sx);
        if (r == 0 && debugfs_is_root(path)) { sx->stx_dev_major = 0; sx->stx_dev_minor = DEBUGFS_DEV_MINOR; }
        return r;
    }
    struct stat st;
    fake_path_stat(k, &st);
    memset(sx, 0, sizeof(*sx));
    sx->stx_mask = STATX_BASIC_STATS;
    sx->stx_blksize = (uint32_t)st.st_blksize;
    sx->stx_nlink = (uint32_t)st.st_nlink;
    sx->stx_mode = (uint16_t)st.st_mode;
    sx->stx_ino = st.st_ino;
    sx->stx_rdev_major = major(st.st_rdev);
    sx->stx_rdev_minor = minor(st.st_rdev);
    sx->stx_dev_major = major(st.st_dev);
    sx->stx_dev_minor = minor(st.st_dev);
    return 0;
}

EXPORT int access(const char *path, int mode) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    if (hidden_vt(path)) return -1;
    if (is_card_path(path) || swsync_path(path)) return 0;
    return get_access()(path, mode);
}

EXPORT int faccessat(int dirfd, const char *path, int mode, int flags) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    if (hidden_vt(path)) return -1;
    if (at_card(dirfd, path, 0)) return 0;
    return get_faccessat()(dirfd, path, mode, flags);
}

// glibc's opendir and fopen open internally, out of reach of the open() above: debugfs paths
// are redirected here too, and fopen of a live debugfs file wraps the daemon's fd.
EXPORT DIR *opendir(const char *path) {
    char dbuf[PATH_MAX];
    return get_opendir()(debugfs_redirect(path, dbuf, sizeof(dbuf)));
}

static int fopen_flags(const char *mode) {
    int plus = strchr(mode, '+') != NULL;
    switch (mode[0]) {
    case 'r': return plus ? O_RDWR : O_RDONLY;
    case 'w': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
    case 'a': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    default: return -1;
    }
}

static FILE *fopen_common(FILE *(*next)(const char *, const char *), const char *path, const char *mode) {
    char dbuf[PATH_MAX];
    path = debugfs_redirect(path, dbuf, sizeof(dbuf));
    int flags = mode ? fopen_flags(mode) : -1;
    if (flags >= 0 && strchr(mode, 'e')) flags |= O_CLOEXEC;
    int fd;
    if (flags >= 0 && debugfs_open(AT_FDCWD, path, flags, &fd)) {
        if (fd < 0) return NULL;
        FILE *f = fdopen(fd, mode);
        if (!f) { int e = errno; close(fd); errno = e; }
        return f;
    }
    return next(path, mode);
}

EXPORT FILE *fopen(const char *path, const char *mode) { return fopen_common(get_fopen(), path, mode); }
EXPORT FILE *fopen64(const char *path, const char *mode) { return fopen_common(get_fopen64(), path, mode); }
