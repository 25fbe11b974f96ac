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
// ioctl's variadic argument, for Swift.
int cfd_ioctl_ptr(int fd, unsigned long request, void *arg);
// Peer credentials of a connected unix socket.
int cfd_peer_cred(int sock, pid_t *pid, uid_t *uid, gid_t *gid);
int cfd_monotonic_now(int64_t *ns);

// --- virtio / vhost-user helpers ---
// Ring indices are shared with another process: loads/stores need acquire/release ordering
// and real barriers, which Swift cannot express on raw memory.
uint16_t cfd_load_acquire_u16(const void *p);
void cfd_store_release_u16(void *p, uint16_t v);
void cfd_fence_seq_cst(void);
// The snapshot's seqlock word (KMS/Snapshot): shared with the preload library's readers.
uint64_t cfd_load_acquire_u64(const void *p);
void cfd_store_release_u64(void *p, uint64_t v);
// Replaces *p with `desired` when it holds `expected`; returns whether it did.
int cfd_cas_u64(void *p, uint64_t expected, uint64_t desired);
// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC).
int cfd_socketpair_stream(int sv[2]);
// Connects a SOCK_STREAM unix socket to `path` (CLOEXEC); -1 with errno on failure.
int cfd_connect_unix(const char *path);
// Spawns `argv[0]` with `childfd` as descriptor `targetfd` (inheritable) in the child; stdout/
// stderr go to /dev/null when `quiet`. Returns 0 and the pid, or an errno value.
int cfd_spawn_with_fd(char *const argv[], int childfd, int targetfd, int quiet, pid_t *pid);
int cfd_pidfd_open(pid_t pid);
// A copy of another process's fd (CLOEXEC), or -1 with errno (EPERM without ptrace rights).
int cfd_pidfd_getfd(int pidfd, int targetfd);
// process_vm_readv / process_vm_writev of one span of process `pid`: bytes moved, or -1 and
// errno (EFAULT for an unmapped or, writing, read-only span; EPERM without ptrace rights).
ssize_t cfd_peek(pid_t pid, void *local, uint64_t remote, size_t len);
ssize_t cfd_poke(pid_t pid, const void *local, uint64_t remote, size_t len);
// SO_SNDBUFFORCE (root) falling back to SO_SNDBUF; returns the effective size or -1.
int cfd_set_sndbuf(int fd, int bytes);
// SO_SNDTIMEO / SO_RCVTIMEO in milliseconds.
int cfd_set_timeouts(int fd, int ms);
// poll() on one fd; returns revents, 0 on timeout, -1 on error.
int cfd_poll1(int fd, short events, int timeout_ms);
#endif
