// sw_sync for clients (drivers/dma-buf/sw_sync.c): an open of /dev/sw_sync, or of
// <debugfs>/sync/sw_sync, is a new timeline in the daemon (SWSYNC_OPEN on the AUX connection).
// The client's fd is an eventfd that names it; SW_SYNC_IOC_CREATE_FENCE and SW_SYNC_IOC_INC on
// it go to the daemon, and the fences come back as sync-file fds the card accepts as
// IN_FENCE_FD. The timeline's last close signals its pending fences with -ENOENT.
#define _GNU_SOURCE
#include "preload.h"

#include <limits.h>

int swsync_path(const char *path) {
    if (!path || !preload_has_socket()) return 0;
    if (!strcmp(path, "/dev/sw_sync")) return 1;
    char buf[PATH_MAX];
    const char *r = debugfs_redirect("/sys/kernel/debug/sync/sw_sync", buf, sizeof(buf));
    return r == buf && !strcmp(path, buf);
}

int swsync_open(int flags, int *result) {
    struct conn *c = get_aux();
    if (!c) { *result = -1; errno = ENODEV; return 1; }
    char comm[32] = "sw_sync";
    int cfd = (int)syscall(SYS_open, "/proc/self/comm", O_RDONLY | O_CLOEXEC);
    if (cfd >= 0) {
        ssize_t n = syscall(SYS_read, cfd, comm, sizeof(comm) - 1);
        if (n > 0) comm[n - (comm[n - 1] == '\n')] = 0;
        sys_close(cfd);
    }
    int fd = -1, err = 0;
    uint64_t id = 0;
    pthread_mutex_lock(&c->mu);
    uint32_t op;
    ssize_t n = -1;
    if (!c->dead && msg_send(c, OP_SWSYNC_OPEN, comm, strlen(comm), NULL, 0, -1) == 0) n = msg_recv(c, &op, &fd);
    if (n != 12 || op != OP_SWSYNC_REPLY) { conn_kill(c); err = ENODEV; }
    else {
        err = (int32_t)rd32(c->buf);
        memcpy(&id, c->buf + 4, 8);
    }
    pthread_mutex_unlock(&c->mu);
    conn_unref(c);
    if (open_answered(err, fd, flags, result) < 0) return 1;
    if (track(fd, KIND_TIMELINE, NULL, id)) { sys_close(fd); *result = -1; errno = ENOMEM; return 1; }
    *result = fd;
    return 1;
}
