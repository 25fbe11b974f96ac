// The floor for a CUSE ioctl: a C libfuse3 daemon that does no work. Answers any _IOWR
// request the way CUSE's retry protocol goes (unrestricted ioctls carry no data at first): one
// retry asking for the struct, then echoes it back. _IO requests are answered at
// once (one round trip). Requests numbered 0xE1..0xEF do (nr & 0xF) retries, the floor for
// ioctls that need more than one (GETRESOURCES filled: 2, atomic: 3): retry r asks for r
// copies of the struct span, so the round is read off in_bufsz and no state is kept.
// With --in-place it answers every _IOWR in its first round trip instead, the way fakedrm does
// when it may reach the caller's memory (docs/cuse.md): process_vm_readv of the struct, then
// process_vm_writev of it, fuse_reply_ioctl with no data. Requests numbered 0x80 | in << 4 |
// out copy the struct in `in` times and out `out` times (the copies fakedrm makes for one
// request: struct and arrays); any other request, once each way.
// Serves /dev/<name> (default cuse-echo) until killed:  cuse-echo [NAME [--in-place]]
#define _GNU_SOURCE
#define FUSE_USE_VERSION 31
#include <cuse_lowlevel.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

static int in_place;

// One round trip: the copies made directly in the caller (its thread id is the request's pid).
static void e_ioctl_in_place(fuse_req_t req, unsigned cmd, void *arg) {
    size_t size = _IOC_SIZE(cmd);
    unsigned nr = _IOC_NR(cmd);
    unsigned ins = nr & 0x80 ? (nr >> 4) & 7 : 1, outs = nr & 0x80 ? nr & 0xF : 1;
    pid_t pid = fuse_req_ctx(req)->pid;
    char buf[256];
    if (size > sizeof buf) { fuse_reply_err(req, EINVAL); return; }
    struct iovec local = { buf, size }, remote = { arg, size };
    for (unsigned i = 0; i < ins; i++)
        if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)size) { fuse_reply_err(req, EFAULT); return; }
    for (unsigned i = 0; i < outs; i++)
        if (process_vm_writev(pid, &local, 1, &remote, 1, 0) != (ssize_t)size) { fuse_reply_err(req, EFAULT); return; }
    fuse_reply_ioctl(req, 0, NULL, 0);
}

static void e_open(fuse_req_t req, struct fuse_file_info *fi) { fuse_reply_open(req, fi); }

static void e_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi, unsigned flags,
                    const void *in_buf, size_t in_bufsz, size_t out_bufsz) {
    (void)fi; (void)flags;
    size_t size = _IOC_SIZE((unsigned)cmd);
    if (size == 0) { fuse_reply_ioctl(req, 0, NULL, 0); return; }
    if (in_place) { e_ioctl_in_place(req, (unsigned)cmd, arg); return; }
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
    in_place = argc > 2 && !strcmp(argv[2], "--in-place");
    char dev[64];
    snprintf(dev, sizeof dev, "DEVNAME=%s", argc > 1 ? argv[1] : "cuse-echo");
    const char *dev_info_argv[] = { dev };
    struct cuse_info ci = { .dev_info_argc = 1, .dev_info_argv = dev_info_argv, .flags = CUSE_UNRESTRICTED_IOCTL };
    struct cuse_lowlevel_ops ops = { .open = e_open, .ioctl = e_ioctl };
    char *args[] = { argv[0], "-f", "-s", NULL };   // single-threaded: the cheapest path
    return cuse_lowlevel_main(3, args, &ci, &ops, NULL);
}
