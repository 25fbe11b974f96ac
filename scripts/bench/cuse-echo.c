// The floor for a CUSE ioctl: a C libfuse3 daemon that does no work. Answers any _IOWR
// request the way every struct ioctl must go under CUSE (unrestricted ioctls carry no data at
// first): one retry asking for the struct, then echoes it back. _IO requests are answered at
// once (one round trip). Serves /dev/<name> (default cuse-echo) until killed.
#define FUSE_USE_VERSION 31
#include <cuse_lowlevel.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

static void e_open(fuse_req_t req, struct fuse_file_info *fi) { fuse_reply_open(req, fi); }

static void e_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi, unsigned flags,
                    const void *in_buf, size_t in_bufsz, size_t out_bufsz) {
    (void)fi; (void)flags;
    size_t size = _IOC_SIZE((unsigned)cmd);
    if (size == 0) { fuse_reply_ioctl(req, 0, NULL, 0); return; }
    if (in_bufsz == 0) {
        struct iovec iov = { arg, size };
        fuse_reply_ioctl_retry(req, &iov, 1, &iov, 1);
        return;
    }
    fuse_reply_ioctl(req, 0, in_buf, in_bufsz < out_bufsz ? in_bufsz : out_bufsz);
}

int main(int argc, char **argv) {
    char dev[64];
    snprintf(dev, sizeof dev, "DEVNAME=%s", argc > 1 ? argv[1] : "cuse-echo");
    const char *dev_info_argv[] = { dev };
    struct cuse_info ci = { .dev_info_argc = 1, .dev_info_argv = dev_info_argv, .flags = CUSE_UNRESTRICTED_IOCTL };
    struct cuse_lowlevel_ops ops = { .open = e_open, .ioctl = e_ioctl };
    char *args[] = { argv[0], "-f", "-s", NULL };   // single-threaded: the cheapest path
    return cuse_lowlevel_main(3, args, &ci, &ops, NULL);
}
