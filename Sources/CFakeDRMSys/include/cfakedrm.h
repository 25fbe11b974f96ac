#ifndef CFAKEDRM_H
#define CFAKEDRM_H
// Thin wrappers for what Swift's Glibc import cannot express: CMSG macros and Linux-only
// fds. No logic lives here.
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

int cfd_memfd_create(const char *name, int sealable);
int cfd_eventfd(unsigned int initval, int nonblock);
// Sends `len` bytes plus up to `nfds` file descriptors in one message (SCM_RIGHTS).
ssize_t cfd_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
// Peer credentials of a connected unix socket.
int cfd_peer_cred(int sock, pid_t *pid, uid_t *uid, gid_t *gid);
int cfd_monotonic_now(int64_t *ns);
#endif
