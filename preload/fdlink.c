// What the process's fd links say about card fds. A card fd is the daemon's readiness eventfd,
// so /proc/self/fd/N would read "anon_inode:[eventfd]"; on the kernel it names the node.
// IGT's drm_close_driver() refuses an fd whose link does not start with /dev/dri/card, and
// drm_reopen_driver() opens the link to get a fresh open file of the same card. So readlink,
// readlinkat, realpath and canonicalize_file_name of /proc/self/fd/N, /proc/<own pid>/fd/N,
// /proc/thread-self/fd/N and /dev/fd/N answer the card path, and the main file's open()
// turns an open of such a link into a new open of the card.
#define _GNU_SOURCE
#include "preload.h"

#include <limits.h>

REAL(readlink, ssize_t, (const char *, char *, size_t))
REAL(readlinkat, ssize_t, (int, const char *, char *, size_t))
REAL(realpath, char *, (const char *, char *))
REAL(canonicalize_file_name, char *, (const char *))

static int fd_number(const char *s) {
    if (!*s) return -1;
    char *end;
    long n = strtol(s, &end, 10);
    if (*end || n < 0 || n > INT_MAX) return -1;
    return (int)n;
}

int fdlink_card_fd(const char *path) {
    if (!path || path[0] != '/') return -1;
    const char *rest = NULL;
    char own[32];
    snprintf(own, sizeof(own), "/proc/%d/fd/", (int)getpid());
    if (!strncmp(path, "/proc/self/fd/", 14)) rest = path + 14;
    else if (!strncmp(path, "/proc/thread-self/fd/", 21)) rest = path + 21;
    else if (!strncmp(path, "/dev/fd/", 8)) rest = path + 8;
    else if (!strncmp(path, own, strlen(own))) rest = path + strlen(own);
    if (!rest) return -1;
    int fd = fd_number(rest);
    return fd >= 0 && is_card_fd(fd) ? fd : -1;
}

static ssize_t card_link(char *buf, size_t size) {
    const char *p = preload_card_path();
    size_t n = strlen(p);
    if (n > size) n = size; // readlink truncates silently and adds no NUL
    memcpy(buf, p, n);
    return (ssize_t)n;
}

EXPORT ssize_t readlink(const char *path, char *buf, size_t size) {
    if (fdlink_card_fd(path) >= 0) return card_link(buf, size);
    return get_readlink()(path, buf, size);
}

EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size) {
    if (path[0] == '/' && fdlink_card_fd(path) >= 0) return card_link(buf, size);
    return get_readlinkat()(dirfd, path, buf, size);
}

EXPORT char *realpath(const char *path, char *resolved) {
    if (fdlink_card_fd(path) < 0) return get_realpath()(path, resolved);
    if (resolved) {
        snprintf(resolved, PATH_MAX, "%s", preload_card_path());
        return resolved;
    }
    return strdup(preload_card_path());
}

EXPORT char *canonicalize_file_name(const char *path) {
    if (fdlink_card_fd(path) >= 0) return strdup(preload_card_path());
    return get_canonicalize_file_name()(path);
}
