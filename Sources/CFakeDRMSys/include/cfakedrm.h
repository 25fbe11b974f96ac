#ifndef CFAKEDRM_H
#define CFAKEDRM_H
// Thin wrappers for what Swift's Glibc import cannot express: variadic ioctl/fcntl,
// CMSG macros, and Linux-only fds. No logic lives here.
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

int cfd_memfd_create(const char *name, int sealable);
int cfd_eventfd(unsigned int initval, int nonblock);
int cfd_ioctl_ptr(int fd, unsigned long request, void *arg);
int cfd_fcntl_int(int fd, int cmd, int arg);
int cfd_set_cloexec(int fd);
// Sends `len` bytes plus up to `nfds` file descriptors in one message (SCM_RIGHTS).
ssize_t cfd_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
// Receives one message; received descriptors are stored in fds (up to *nfds), *nfds updated.
ssize_t cfd_recv_with_fds(int sock, void *buf, size_t len, int *fds, int *nfds);
// Peer credentials of a connected unix socket.
int cfd_peer_cred(int sock, pid_t *pid, uid_t *uid, gid_t *gid);
int cfd_monotonic_now(int64_t *ns);
#endif
