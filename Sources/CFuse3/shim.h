// libfuse3's CUSE low-level API for Swift. The API version must be fixed before the headers
// are read; 31 keeps `cmd` a signed int in the ioctl callback, as libfuse 3.14 (Debian 12)
// declares it, and selects the loop entry points below.
#define FUSE_USE_VERSION 31
#include <fuse_lowlevel.h>
#include <cuse_lowlevel.h>
#include <signal.h>
#include <semaphore.h>
#include <sys/eventfd.h>

// fuse_session_loop_mt is a macro in this API version: Swift cannot call it directly.
static inline int fakedrm_fuse_loop_mt(struct fuse_session *se) {
    return fuse_session_loop_mt(se, 0);
}
