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

// The daemon runs its own worker loop over a non-blocking /dev/cuse fd (see CuseFrontEnd.serve);
// fcntl is variadic, which Swift cannot call.
static inline int fakedrm_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}
