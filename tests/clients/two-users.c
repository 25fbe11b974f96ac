// Two users on one shared daemon (`fakedrm serve --allow-uid`): the card's owner and another
// uid. The owner makes a buffer with a known pattern, a framebuffer on it, a blob, a flink
// name and a syncobj, and prints their ids; the other user, given the ids, tries to reach each
// one and gets what a second user of a real card gets (handles are per file; fbs and blobs are
// global mode objects as in the kernel, but only their owner may remove them and only the
// master or CAP_SYS_ADMIN gets a handle back from GETFB; flink names need authentication),
// then exhausts its own buffers. The owner then finds everything intact and can still
// allocate. Usage: two-users owner (reads one line on stdin before its final checks);
// two-users other FB BLOB NAME HANDLE SYNCOBJ.
#include "probe.h"
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define W 64
#define H 64
#define PATTERN(i) ((uint32_t)(0x5a000000u | (i) * 2654435761u >> 8))

static int owner(void) {
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0, "owner opens the card");
    if (fd < 0) return 1;
    uint32_t handle, pitch, fb, blob, syncobj;
    uint64_t size;
    CHECK(drmModeCreateDumbBuffer(fd, W, H, 32, 0, &handle, &pitch, &size) == 0, "owner: dumb buffer");
    uint64_t offset;
    CHECK(drmModeMapDumbBuffer(fd, handle, &offset) == 0, "owner: MAP_DUMB");
    uint32_t *px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
    CHECK(px != MAP_FAILED, "owner: mmap");
    if (px == MAP_FAILED) return 1;
    for (uint32_t i = 0; i < W * H; i++) px[i] = PATTERN(i);
    CHECK(drmModeAddFB(fd, W, H, 24, 32, pitch, handle, &fb) == 0, "owner: ADDFB");
    static const char secret[] = "the owner's blob";
    CHECK(drmModeCreatePropertyBlob(fd, secret, sizeof(secret), &blob) == 0, "owner: CREATEPROPBLOB");
    struct drm_gem_flink flink = {.handle = handle};
    CHECK(ioctl(fd, DRM_IOCTL_GEM_FLINK, &flink) == 0, "owner: GEM_FLINK (%s)", strerror(errno));
    CHECK(drmSyncobjCreate(fd, 0, &syncobj) == 0, "owner: SYNCOBJ_CREATE");
    printf("ids %u %u %u %u %u\n", fb, blob, flink.name, handle, syncobj);
    fflush(stdout);

    char line[16];
    if (!fgets(line, sizeof(line), stdin)) return 1;  // the other user is done

    uint32_t bad = 0;
    for (uint32_t i = 0; i < W * H; i++) bad += px[i] != PATTERN(i);
    CHECK(bad == 0, "owner: buffer contents untouched (%u pixels changed)", bad);
    drmModeFBPtr got = drmModeGetFB(fd, fb);
    CHECK(got && got->handle != 0, "owner: its framebuffer is still there, GETFB gives a handle");
    drmModeFreeFB(got);
    drmModePropertyBlobPtr b = drmModeGetPropertyBlob(fd, blob);
    CHECK(b && b->length == sizeof(secret) && !memcmp(b->data, secret, sizeof(secret)), "owner: its blob is intact");
    drmModeFreePropertyBlob(b);
    CHECK(drmSyncobjSignal(fd, &syncobj, 1) == 0, "owner: its syncobj still works");
    uint32_t h2;
    CHECK(drmModeCreateDumbBuffer(fd, W, H, 32, 0, &h2, &pitch, &size) == 0,
          "owner: allocates after the other user exhausted its own buffers");
    int again = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    CHECK(again >= 0, "owner: opens the card again");
    CHECK(drmModeRmFB(fd, fb) == 0 && drmModeDestroyPropertyBlob(fd, blob) == 0, "owner: removes its fb and blob");
    return failures != 0;
}

static int other(uint32_t fb, uint32_t blob, uint32_t name, uint32_t handle, uint32_t syncobj) {
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0, "other user opens the card (%s)", fd < 0 ? strerror(errno) : "ok");
    if (fd < 0) return 1;
    // Handles are per open file: the owner's handle number means nothing here.
    struct drm_mode_map_dumb map = {.handle = handle};
    CHECK(ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &map) == -1 && errno == ENOENT, "MAP_DUMB of the owner's handle: ENOENT (%s)", strerror(errno));
    struct drm_gem_close gc = {.handle = handle};
    CHECK(ioctl(fd, DRM_IOCTL_GEM_CLOSE, &gc) == -1 && errno == EINVAL, "GEM_CLOSE of it: EINVAL (%s)", strerror(errno));
    int prime = -1;
    CHECK(drmPrimeHandleToFD(fd, handle, DRM_CLOEXEC, &prime) < 0 && errno == ENOENT, "PRIME export of it: ENOENT (%s)", strerror(errno));
    // Flink names are global, but GEM_OPEN needs an authenticated file.
    struct drm_gem_open go = {.name = name};
    CHECK(ioctl(fd, DRM_IOCTL_GEM_OPEN, &go) == -1 && errno == EACCES, "GEM_OPEN of the owner's flink name: EACCES (%s)", strerror(errno));
    // The fb is a global mode object: GETFB answers, without a handle (not master, not root).
    struct drm_mode_fb_cmd info = {.fb_id = fb};
    int r = ioctl(fd, DRM_IOCTL_MODE_GETFB, &info);
    CHECK(r == 0 && info.handle == 0 && info.width == W, "GETFB of the owner's fb: its size, handle 0 (r=%d handle=%u)", r, info.handle);
    CHECK(drmModeRmFB(fd, fb) < 0 && errno == ENOENT, "RMFB of it: ENOENT (%s)", strerror(errno));
    CHECK(drmModeDestroyPropertyBlob(fd, blob) < 0 && errno == EPERM, "DESTROYPROPBLOB of the owner's blob: EPERM (%s)", strerror(errno));
    CHECK(drmSyncobjDestroy(fd, syncobj) < 0 && errno == EINVAL, "SYNCOBJ_DESTROY of the owner's handle: EINVAL (%s)", strerror(errno));
    CHECK(drmSetMaster(fd) < 0, "SET_MASTER while the owner is master fails (%s)", strerror(errno));
    // Its own limits: dumb buffers until ENOMEM.
    int n = 0, err = 0;
    uint32_t h, pitch;
    uint64_t size;
    while (n < 200000) {
        if (drmModeCreateDumbBuffer(fd, W, H, 32, 0, &h, &pitch, &size)) { err = errno; break; }
        n++;
    }
    CHECK(err == ENOMEM, "other user's dumb buffers: %d, then %s (ENOMEM expected)", n, strerror(err));
    // A second file of the same user gets only what is left of its user's share (3/4 of the
    // buffer fds, half per file), so the owner keeps a quarter whatever this user opens.
    int fd2 = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    int n2 = 0;
    err = 0;
    while (fd2 >= 0 && n2 < 200000) {
        if (drmModeCreateDumbBuffer(fd2, W, H, 32, 0, &h, &pitch, &size)) { err = errno; break; }
        n2++;
    }
    CHECK(fd2 >= 0 && err == ENOMEM && n2 > 0 && n2 < n, "its second file: %d more, then %s (its user's share: fewer than the first file's %d)", n2, strerror(err), n);
    return failures != 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "owner")) return owner();
    if (argc == 7 && !strcmp(argv[1], "other"))
        return other(strtoul(argv[2], 0, 0), strtoul(argv[3], 0, 0), strtoul(argv[4], 0, 0),
                     strtoul(argv[5], 0, 0), strtoul(argv[6], 0, 0));
    fprintf(stderr, "usage: two-users owner | two-users other FB BLOB NAME HANDLE SYNCOBJ\n");
    return 2;
}
