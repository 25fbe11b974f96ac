// Card fd passed over SCM_RIGHTS to a process that did not open it (as libseat/seatd do for
// wlroots): the parent opens /dev/dri/card0, becomes master, and sends the fd to a freshly
// exec'ed child, which must be able to use it (preload adoption, docs/socket-protocol.md).
// Usage: fd-pass            (parent; prints the child's findings)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <drm.h>

static int child(int sock) {
    char b;
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&b, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    if (recvmsg(sock, &m, 0) != 1) { perror("recvmsg"); return 1; }
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    if (!cm) { fprintf(stderr, "no fd\n"); return 1; }
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    struct stat st;
    if (fstat(fd, &st) || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 226) { fprintf(stderr, "fstat: not a DRM node\n"); return 1; }
    char name[32] = {0};
    struct drm_version v = {.name_len = sizeof(name) - 1, .name = name};
    if (ioctl(fd, DRM_IOCTL_VERSION, &v)) { perror("VERSION on the passed fd"); return 1; }
    // Same open file: the parent's master state is visible (AUTH_MAGIC(0) on a master: EINVAL
    // only for masters... use SET_MASTER, which succeeds when the file already is master).
    int master = ioctl(fd, DRM_IOCTL_SET_MASTER, 0) == 0;
    printf("child: driver %s, master %d\n", name, master);
    // A second, unrelated eventfd-like fd is refused quietly.
    int p[2];
    if (pipe(p) == 0 && ioctl(p[0], DRM_IOCTL_VERSION, &v) == 0) { fprintf(stderr, "pipe adopted\n"); return 1; }
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "child")) return child(atoi(argv[2]));
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 1; }
    if (ioctl(fd, DRM_IOCTL_SET_MASTER, 0)) perror("SET_MASTER (parent)");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) { perror("socketpair"); return 1; }
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        char a[16];
        snprintf(a, sizeof(a), "%d", sv[1]);
        execl("/proc/self/exe", argv[0], "child", a, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    char b = 'x';
    char ctl[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {&b, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    if (sendmsg(sv[0], &m, 0) != 1) { perror("sendmsg"); return 1; }
    int status;
    waitpid(pid, &status, 0);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    printf("child exit=%d\n", rc);
    return rc;
}
