// libfuse3's CUSE low-level API for Swift. The API version must be fixed before the headers
// are read; 31 keeps `cmd` a signed int in the ioctl callback, as libfuse 3.14 (Debian 12)
// declares it, and selects the loop entry points below.
#define FUSE_USE_VERSION 31
#include <fuse_lowlevel.h>
#include <cuse_lowlevel.h>
#include <signal.h>
#include <semaphore.h>
#include <sys/eventfd.h>

#include <fcntl.h>

#include <string.h>

// The daemon runs its own worker loop: workers block in read() on /dev/cuse (the kernel wakes
// one exclusive waiter per request) and are woken for shutdown by a signal whose handler does
// nothing, installed without SA_RESTART so the read returns EINTR (see CuseFrontEnd.serve).
// fcntl is variadic, which Swift cannot call.
static inline int fakedrm_set_blocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

static inline void fakedrm_wake_handler(int sig) { (void)sig; }

static inline int fakedrm_install_wake_signal(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fakedrm_wake_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;   // no SA_RESTART: a blocked read returns EINTR
    return sigaction(sig, &sa, NULL);
}
