// The floor for a CUSE ioctl: a C libfuse3 daemon that does no work. Answers any _IOWR
// request the way every struct ioctl must go under CUSE (unrestricted ioctls carry no data at
// first): one retry asking for the struct, then echoes it back. _IO requests are answered at
// once (one round trip). Requests numbered 0xE1..0xEF do (nr & 0xF) retries, the floor for
// ioctls that need more than one (GETRESOURCES filled: 2, atomic: 3): retry r asks for r
// copies of the struct span, so the round is read off in_bufsz and no state is kept.
// Serves /dev/<name> (default cuse-echo) until killed.
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
    unsigned nr = _IOC_NR((unsigned)cmd);
    size_t retries = (nr & 0xF0) == 0xE0 && (nr & 0xF) ? (nr & 0xF) : 1;
    size_t round = in_bufsz / size;   // retries done so far
    if (round < retries) {
        struct iovec in[16], out = { arg, size };
        for (size_t i = 0; i <= round; i++) in[i] = out;
        fuse_reply_ioctl_retry(req, in, round + 1, &out, 1);
        return;
    }
    fuse_reply_ioctl(req, 0, in_buf, size < out_bufsz ? size : out_bufsz);
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
