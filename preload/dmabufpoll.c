// poll and ppoll on exported dma-bufs. Here a dma-buf is a memfd, which the kernel always
// reports readable and writable; dma_buf_poll instead waits for the buffer's fences: POLLIN
// for the writers (a reader may start), POLLOUT for every fence (a writer may start). Each
// dma-buf in the set is swapped for the sync file EXPORT_SYNC_FILE gives for that access
// (READ for POLLIN, WRITE for POLLOUT: the same fence sets), and the sync file's readiness
// is reported back as the event asked for. select and epoll see the memfd as it is.
#include "preload.h"
#include <linux/dma-buf.h>
#include <time.h>

REAL(poll, int, (struct pollfd *, nfds_t, int))
REAL(ppoll, int, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *))

static int is_dmabuf(int fd) {
    if (!quick_tracked(fd)) return 0;
    struct fdent e = lookup(fd);
    if (e.conn) conn_unref(e.conn);
    return e.kind == KIND_DMABUF;
}

static int wants_fences(const struct pollfd *fds, nfds_t n) {
    for (nfds_t i = 0; i < n; i++)
        if (fds[i].events & (POLLIN | POLLOUT) && is_dmabuf(fds[i].fd)) return 1;
    return 0;
}

static int export_for(int dmabuf, uint32_t flags) {
    struct dma_buf_export_sync_file arg = {.flags = flags, .fd = -1};
    return ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &arg) == 0 ? arg.fd : -1;
}

// The set with each dma-buf's POLLIN and POLLOUT moved to sync files appended after it; the
// kernel's poll of the whole set then gives one answer for all of it, timeout included.
static int fence_poll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask) {
    if (n > (nfds_t)sysconf(_SC_OPEN_MAX)) { errno = EINVAL; return -1; }
    struct pollfd *set = calloc(n ? n * 3 : 1, sizeof(*set));
    // For entry i: slot of its POLLIN sync file and of its POLLOUT one, or -1.
    int (*extra)[2] = calloc(n ? n : 1, sizeof(*extra));
    if (!set || !extra) { free(set); free(extra); errno = ENOMEM; return -1; }
    nfds_t m = n;
    int err = 0, r = 0;
    for (nfds_t i = 0; i < n; i++) {
        set[i] = fds[i];
        set[i].revents = 0;
        extra[i][0] = extra[i][1] = -1;
        if (!(fds[i].events & (POLLIN | POLLOUT)) || !is_dmabuf(fds[i].fd)) continue;
        set[i].fd = -1; // the memfd itself would always be ready
        const short want[2] = {POLLIN, POLLOUT};
        const uint32_t flags[2] = {DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE};
        for (int k = 0; k < 2; k++) {
            if (!(fds[i].events & want[k])) continue;
            int sf = export_for(fds[i].fd, flags[k]);
            if (sf < 0) { err = errno; goto out; }
            extra[i][k] = (int)m;
            set[m++] = (struct pollfd){.fd = sf, .events = POLLIN};
        }
    }
    r = get_ppoll()(set, m, ts, mask);
    if (r < 0) { err = errno; goto out; }
    r = 0;
    for (nfds_t i = 0; i < n; i++) {
        short rev = set[i].revents;
        if (extra[i][0] >= 0 || extra[i][1] >= 0) {
            rev = 0;
            if (extra[i][0] >= 0 && set[extra[i][0]].revents & POLLIN) rev |= POLLIN;
            if (extra[i][1] >= 0 && set[extra[i][1]].revents & POLLIN) rev |= POLLOUT;
        }
        fds[i].revents = rev;
        if (rev) r++;
    }
out:
    for (nfds_t j = n; j < m; j++) close(set[j].fd);
    free(set);
    free(extra);
    if (err) { errno = err; return -1; }
    return r;
}

// glibc declares poll's fds write-only (access attribute); the events are read all the same.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout) {
    if (!fds || !wants_fences(fds, n)) return get_poll()(fds, n, timeout);
    struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
    return fence_poll(fds, n, timeout < 0 ? NULL : &ts, NULL);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask) {
    if (!fds || !wants_fences(fds, n)) return get_ppoll()(fds, n, ts, mask);
    return fence_poll(fds, n, ts, mask);
}

EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen) {
    (void)fdslen;
    return poll(fds, n, timeout);
}

EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask, size_t fdslen) {
    (void)fdslen;
    return ppoll(fds, n, ts, mask);
}
