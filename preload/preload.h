// Internals shared by the preload library's translation units (fakedrm-preload.c: the card,
// its fds and the wire protocol; debugfs.c: the debugfs view; fdlink.c: what /proc/self/fd
// says about card fds). Everything here has hidden visibility: only EXPORT symbols leave the
// library.
#ifndef FAKEDRM_PRELOAD_H
#define FAKEDRM_PRELOAD_H
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <linux/netlink.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
// Thread-locals on the ioctl path: the library is preloaded (loaded with the executable), so
// its few bytes of TLS can be in the static block, which saves a __tls_get_addr call per
// access (14 % of a query answered from the snapshot).
#define HOT_TLS __thread __attribute__((tls_model("initial-exec")))

enum {
    OP_HELLO = 1, OP_HELLO_REPLY, OP_IOCTL, OP_IOCTL_REPLY, OP_MEM_READ, OP_MEM_DATA,
    OP_MEM_WRITE, OP_MEM_ACK, OP_FD_LOOKUP, OP_FD_INFO, OP_FD_INSTALL, OP_FD_INSTALLED,
    OP_FD_UNINSTALL, OP_FD_ACK, OP_READ, OP_READ_REPLY, OP_MAP, OP_MAP_REPLY, OP_SYNC_RELEASE,
    OP_UEVENT_SUBSCRIBE = 20, OP_UEVENT_REPLY,
    OP_DEBUGFS_OPEN = 22, OP_DEBUGFS_REPLY, OP_DEBUGFS_WRITE, OP_DEBUGFS_WRITTEN,
    OP_SWSYNC_OPEN = 26, OP_SWSYNC_REPLY, OP_SWSYNC_CLOSE, OP_SWSYNC_CLOSED,
    OP_FD_FETCH = 30, OP_FD_FETCHED, OP_EXPORT_ADOPT, OP_EXPORT_ADOPTED,
};

enum { KIND_NONE = 0, KIND_SYNC = 1, KIND_DMABUF = 2, KIND_SYNCOBJ = 3, KIND_NEW_CARD = 4, KIND_TIMELINE = 5, KIND_CARD = 100, KIND_UEVENT = 101,
       // debugfs crtc-N/crc/control (writes go to the daemon) and crc/data (id: the CRTC index)
       KIND_CRC_CONTROL = 102, KIND_CRC_DATA = 103 };

#define DRM_MAJOR_NUM 226
#define MAX_MSG (72 * 1024)   // largest message either side sends (64 KiB chunk + headers)
#define MAX_CHUNK (64 * 1024) // MEM_READ/MEM_WRITE chunk limit, enforced by the daemon too
#define HIGH_FD 512

struct conn {
    int sock;
    int refs;          // tracked fds + in-flight operations (under tab_lock)
    int dead;          // daemon gone or protocol broken (under mu)
    int nonblock;      // O_NONBLOCK as the client set it (card connections)
    int aux;
    int attached;      // the client fd is a real CUSE fd (attach mode), not our eventfd
    pid_t pid;           // the process that made it: a forked child makes its own (fork rebinding)
    struct conn *spares; // idle side connections to the same open file (under tab_lock)
    struct conn *spare_next;
    const unsigned char *snap; // the file's query snapshot, mapped read-only (snapshot.c), or NULL
    size_t snap_size;
    pthread_mutex_t mu; // one request at a time on the socket
    unsigned char buf[MAX_MSG];       // last received message
    unsigned char out[MAX_CHUNK + 16]; // outgoing payloads (under mu)
};

struct fdent {
    int kind;
    struct conn *conn; // KIND_CARD only
    uint64_t id;       // exported objects (sync file, dma-buf, syncobj)
};

#define REAL(name, ret, args)                                                                      \
    static ret(*real_##name) args;                                                                 \
    static ret(*get_##name(void)) args {                                                           \
        if (!real_##name) real_##name = (ret(*) args)dlsym(RTLD_NEXT, #name);                      \
        return real_##name;                                                                        \
    }

struct hdr { uint32_t op, len; };

int sys_close(int fd);
// getpid(), cached (reset in a fork() child).
pid_t self_pid(void);
int sys_fcntl(int fd, int cmd, long arg);
unsigned preload_card_minor(void);
const char *preload_card_path(void);
int preload_has_socket(void);
// An attached CUSE card's sysfs view: the tree the daemon wrote next to its attach socket
// (".../cardN.sysfs") and the card's minor; 0 when no CUSE card is attached.
int preload_cuse_sysfs(char *root, size_t cap, unsigned *minor);

struct fdent lookup(int fd);
int quick_tracked(int fd);
int track(int fd, int kind, struct conn *c, uint64_t id);
void untrack(int fd);
void conn_unref(struct conn *c);
void conn_kill(struct conn *c);
struct conn *get_aux(void);
int msg_send(struct conn *c, uint32_t op, const void *a, size_t alen, const void *b, size_t blen, int sendfd);
ssize_t msg_recv(struct conn *c, uint32_t *op, int *fd);
ssize_t msg_recv_fds(struct conn *c, uint32_t *op, int *fds, int nmax);
// The end of an open the daemon answered with an fd: an error (EIO when no fd came) becomes
// *result -1 and errno; otherwise the fd gets the open's O_CLOEXEC and is *result. Returns it.
int open_answered(int err, int fd, int flags, int *result);
int maybe_adopt_export(int fd);
int safe_read(void *dst, uint64_t addr, size_t len);
int safe_write(uint64_t addr, const void *src, size_t len);
// The range lies on the calling thread's stack above its current frame (mapped, writable).
int on_own_stack(uint64_t addr, size_t len);
uint32_t rd32(const unsigned char *p);
int card_open(int flags);
int is_card_fd(int fd);

// debugfs.c
const char *debugfs_redirect(const char *path, char *buf, size_t cap);
int debugfs_is_root(const char *path);
int debugfs_open(int dirfd, const char *path, int flags, int *result);
ssize_t debugfs_write(const struct fdent *e, const void *buf, size_t count);
int debugfs_read_check(const struct fdent *e, size_t count);

// swsync.c
int swsync_path(const char *path);
int swsync_open(int flags, int *result);
int remote_ioctl(struct conn *c, uint32_t target, uint64_t id, unsigned long request, void *arg);

// snapshot.c: read-only queries answered from the daemon's snapshot (docs/snapshot.md)
int snapshot_wanted(void);
void snapshot_map(struct conn *c, int fd, uint32_t size);
void snapshot_unmap(struct conn *c);
// 1: answered (*result is the ioctl's return value, errno set on failure); 0: ask the daemon.
int snapshot_ioctl(struct conn *c, uint32_t request, void *arg, int *result);

// fdlink.c
int fdlink_card_fd(const char *path);

#endif
