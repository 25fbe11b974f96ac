#define _GNU_SOURCE
#include "cfakedrm_socket.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int unix_listen(const char *path, int backlog, int type) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) return -ENAMETOOLONG;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    mode_t old = umask(0177);
    int r = bind(s, (struct sockaddr *)&a, sizeof(a));
    int e = errno;
    umask(old);
    if (r < 0) { close(s); return -e; }
    if (chmod(path, 0600) < 0 || listen(s, backlog) < 0) { e = errno; close(s); return -e; }
    return s;
}

int cfd_seqpacket_listen(const char *path, int backlog) { return unix_listen(path, backlog, SOCK_SEQPACKET); }

int cfd_stream_listen(const char *path, int backlog) { return unix_listen(path, backlog, SOCK_STREAM); }

int cfd_accept(int listen_fd) {
    int r;
    do { r = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC); } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

ssize_t cfd_recv_msg(int sock, void *buf, size_t len, int *fds, int *nfds) {
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    char control[CMSG_SPACE(sizeof(int) * 8)];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof(control)};
    ssize_t r;
    do { r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (r < 0 && errno == EINTR);
    int got = 0;
    if (r >= 0) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < n; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (got < *nfds) fds[got++] = fd;
                else close(fd);
            }
        }
        if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
            for (int i = 0; i < got; i++) close(fds[i]);
            got = 0;
            r = -2;
        }
    }
    *nfds = got;
    return r;
}

int cfd_shutdown(int fd) { return shutdown(fd, SHUT_RDWR); }
