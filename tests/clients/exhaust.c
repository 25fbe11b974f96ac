// One client drives every resource it can make the daemon hold to its limit — dumb buffers,
// property blobs, framebuffers, syncobjs, vblank events it never reads — while a second client
// (forked, the master) opens the card anew, lights the CRTC, flips 60 times and reads its
// events. Each exhaustion must be ENOMEM, the kernel's errno when its allocation fails, and
// the second client must not notice (docs/limits.md). Run under `fakedrm run`; the caller
// checks `fakedrm ctl state` after it exits.
#include "probe.h"
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

// Calls `make` until it fails; returns how many succeeded and leaves errno of the failure.
#define EXHAUST(count, err, cap, make) do { count = 0; err = 0; \
    while (count < (cap)) { if (make) { err = errno; break; } count++; } } while (0)

static int second_client(int go_read, int done_write) {
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    struct scene s;
    if (fd < 0 || !scene_light(fd, &s)) return 10;
    if (write(done_write, "L", 1) != 1) return 11;
    char c;
    if (read(go_read, &c, 1) != 1) return 12;  // the first client has exhausted everything
    // A fresh open, and a buffer of its own, while the first client holds all it could get.
    int again = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    if (again < 0) return 13;
    uint32_t h, pitch;
    uint64_t size;
    if (drmModeCreateDumbBuffer(again, 64, 64, 32, 0, &h, &pitch, &size)) return 14;
    close(again);
    for (int i = 0; i < 60; i++) {
        if (drmModePageFlip(fd, s.crtc, s.fbs[(i + 1) % 2], DRM_MODE_PAGE_FLIP_EVENT, NULL)) return 20;
        if (!readable(fd, 2000)) return 21;
        char ev[64];
        if (read(fd, ev, sizeof(ev)) != 32) return 22;
    }
    scene_dark(fd, &s);
    return 0;
}

int main(void) {
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0, "first client opens the card (%s)", fd < 0 ? strerror(errno) : "master");
    if (fd < 0) return 1;
    CHECK(drmDropMaster(fd) == 0, "it drops master, so the second client can light the CRTC");

    int go[2], done[2];
    if (pipe(go) || pipe(done)) return 1;
    pid_t child = fork();
    if (child == 0) _exit(second_client(go[0], done[1]));
    char c;
    CHECK(read(done[0], &c, 1) == 1, "second client lit the CRTC");

    int n, err;
    uint32_t first = 0, h, pitch;
    uint64_t size;
    EXHAUST(n, err, 200000, drmModeCreateDumbBuffer(fd, 64, 64, 32, 0, &h, &pitch, &size) || (first = first ? first : h, 0));
    CHECK(err == ENOMEM, "dumb buffers: %d, then %s (ENOMEM expected)", n, strerror(err));
    // Room for the framebuffers' buffer: give one back.
    CHECK(drmModeDestroyDumbBuffer(fd, h) == 0, "one buffer given back");
    uint32_t blob;
    static char data[1024];
    EXHAUST(n, err, 200000, drmModeCreatePropertyBlob(fd, data, sizeof(data), &blob) != 0);
    CHECK(err == ENOMEM, "property blobs of 1 KiB: %d, then %s", n, strerror(err));
    uint32_t fb;
    EXHAUST(n, err, 200000, drmModeAddFB(fd, 64, 64, 24, 32, 256, first, &fb));
    CHECK(err == ENOMEM, "framebuffers: %d, then %s", n, strerror(err));
    uint32_t obj;
    EXHAUST(n, err, 200000, drmSyncobjCreate(fd, 0, &obj));
    CHECK(err == ENOMEM, "syncobjs: %d, then %s", n, strerror(err));
    // Vblank events it never reads: the kernel's 4096-byte event space per file.
    drmVBlank vbl;
    EXHAUST(n, err, 100000, (memset(&vbl, 0, sizeof(vbl)), vbl.request.type = DRM_VBLANK_RELATIVE | DRM_VBLANK_EVENT,
                             vbl.request.sequence = 1000000, drmWaitVBlank(fd, &vbl)));
    CHECK(err == ENOMEM && n == 4096 / 32, "vblank events never read: %d queued, then %s", n, strerror(err));

    CHECK(write(go[1], "G", 1) == 1, "second client told to go");
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "second client opened the card again, allocated a buffer, flipped 60 times and read the events (exit %d)",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return failures ? 1 : 0;
}
