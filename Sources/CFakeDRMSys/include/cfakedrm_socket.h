#ifndef CFAKEDRM_SOCKET_H
#define CFAKEDRM_SOCKET_H
// Unix-socket helpers for the socket front end (FrontEnds/Socket). No logic lives here.
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

// A listening SOCK_SEQPACKET socket at `path` (mode 0600, close-on-exec); -errno on failure.
int cfd_seqpacket_listen(const char *path, int backlog);
/* The same as a SOCK_STREAM socket (the control socket). */
int cfd_stream_listen(const char *path, int backlog);
// accept4(SOCK_CLOEXEC), retrying EINTR; -errno on failure.
int cfd_accept(int listen_fd);
// One message with up to `*nfds` SCM_RIGHTS fds. Returns the byte count, -1 on error,
// -2 when the message or its control data was truncated (received fds are then closed).
ssize_t cfd_recv_msg(int sock, void *buf, size_t len, int *fds, int *nfds);
// shutdown(SHUT_RDWR).
int cfd_shutdown(int fd);
#endif
