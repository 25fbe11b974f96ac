#!/usr/bin/env python3
"""Raw-ioctl checks against a DRM card node, for scripts/cuse-vm-tests.sh.

Plain ioctls from Python (no libdrm), so the test controls every byte: pointer arrays live in
ctypes buffers whose addresses go into the structs, as a C client's would.

  cuse_client.py modeset CARD -- CMD...   set the preferred mode (dumb fb, never mapped),
                                          run CMD while holding it, exit with CMD's status
  cuse_client.py badinput CARD            kernel errnos for bad requests, then a fuzz burst
  cuse_client.py blockread CARD           block in read() (the test kills it)
  cuse_client.py master CARD              exit 0 if this open became master (SETCRTC works)
  cuse_client.py nonblock CARD            O_NONBLOCK read gives EAGAIN
"""
import ctypes, errno, fcntl, os, random, struct, subprocess, sys

def IOWR(nr, size): return 0xC0000000 | (size << 16) | (0x64 << 8) | nr
def IOW(nr, size): return 0x40000000 | (size << 16) | (0x64 << 8) | nr

GET_CAP, GETRESOURCES, GETCONNECTOR, SETCRTC, CREATE_DUMB, ADDFB, SET_CLIENT_CAP = \
    IOWR(0x0C, 16), IOWR(0xA0, 64), IOWR(0xA7, 80), IOWR(0xA2, 104), IOWR(0xB2, 32), IOWR(0xAE, 28), IOW(0x0D, 16)

def ioctl(fd, req, buf):
    """Returns (errno or 0, bytes)."""
    b = bytearray(buf)
    try:
        fcntl.ioctl(fd, req, b, True)
        return 0, bytes(b)
    except OSError as e:
        return e.errno, bytes(b)

def u32s(n): return (ctypes.c_uint32 * max(n, 1))()

def resources(fd):
    err, r = ioctl(fd, GETRESOURCES, bytes(64))
    assert err == 0, f"GETRESOURCES: {os.strerror(err)}"
    nfb, ncrtc, nconn, nenc = struct.unpack_from("<4I", r, 32)
    fbs, crtcs, conns, encs = u32s(nfb), u32s(ncrtc), u32s(nconn), u32s(nenc)
    arg = struct.pack("<4Q4I", ctypes.addressof(fbs), ctypes.addressof(crtcs), ctypes.addressof(conns),
                      ctypes.addressof(encs), nfb, ncrtc, nconn, nenc) + bytes(16)
    err, r = ioctl(fd, GETRESOURCES, arg)
    assert err == 0, f"GETRESOURCES (fill): {os.strerror(err)}"
    return list(crtcs)[:ncrtc], list(conns)[:nconn]

def connector(fd, cid):
    arg = bytearray(80); struct.pack_into("<I", arg, 48, cid)
    err, r = ioctl(fd, GETCONNECTOR, arg)   # count pass (probes)
    assert err == 0, f"GETCONNECTOR: {os.strerror(err)}"
    nmodes = struct.unpack_from("<I", r, 32)[0]
    modes = ctypes.create_string_buffer(68 * max(nmodes, 1))
    arg = bytearray(80); struct.pack_into("<QQQQI", arg, 0, 0, ctypes.addressof(modes), 0, 0, nmodes)
    struct.pack_into("<I", arg, 48, cid)
    err, r = ioctl(fd, GETCONNECTOR, arg)
    assert err == 0, f"GETCONNECTOR (fill): {os.strerror(err)}"
    return [modes.raw[i * 68:(i + 1) * 68] for i in range(nmodes)]

def modeset(card, cmd):
    fd = os.open(card, os.O_RDWR)
    crtcs, conns = resources(fd)
    modes = connector(fd, conns[0])
    mode = modes[0]
    w, h = struct.unpack_from("<H", mode, 4)[0], struct.unpack_from("<H", mode, 14)[0]
    err, d = ioctl(fd, CREATE_DUMB, struct.pack("<4I", h, w, 32, 0) + bytes(16))
    assert err == 0, f"CREATE_DUMB: {os.strerror(err)}"
    handle, pitch = struct.unpack_from("<II", d, 16)
    err, f = ioctl(fd, ADDFB, struct.pack("<7I", 0, w, h, pitch, 32, 24, handle))
    assert err == 0, f"ADDFB: {os.strerror(err)}"
    fb = struct.unpack_from("<I", f, 0)[0]
    ids = u32s(1); ids[0] = conns[0]
    err, _ = ioctl(fd, SETCRTC, struct.pack("<QIIIIIII", ctypes.addressof(ids), 1, crtcs[0], fb, 0, 0, 0, 1) + mode)
    assert err == 0, f"SETCRTC: {os.strerror(err)}"
    print(f"cuse_client: mode {w}x{h} set on crtc {crtcs[0]} (fb {fb})", flush=True)
    rc = subprocess.call(cmd)
    os.close(fd)
    return rc

def badinput(card):
    fd = os.open(card, os.O_RDWR)
    checks = [
        ("unknown driver ioctl", IOWR(0x9F, 16), bytes(16), errno.EINVAL),
        ("non-DRM type", 0xC0105500, bytes(16), errno.ENOTTY),
        ("GET_CAP unknown cap", GET_CAP, struct.pack("<QQ", 0x7777, 0), errno.EINVAL),
        ("GETRESOURCES bad array pointer", GETRESOURCES, struct.pack("<4Q4I", 0, 8, 0, 0, 0, 1, 0, 0) + bytes(16), errno.EFAULT),
        ("GETCONNECTOR unknown id", GETCONNECTOR, bytes(48) + struct.pack("<I", 0xdead) + bytes(28), errno.ENOENT),
        ("SETCRTC huge connector count", SETCRTC, struct.pack("<QIIIIIII", 16, 0x7fffffff, 1, 0, 0, 0, 0, 0) + bytes(68), None),
        ("CREATE_DUMB zero size", CREATE_DUMB, bytes(32), errno.EINVAL),
    ]
    bad = 0
    for name, req, arg, want in checks:
        err, _ = ioctl(fd, req, arg)
        ok = (err != 0) if want is None else (err == want)
        print(f"  {name}: {errno.errorcode.get(err, err) if err else 'ok'}{'' if ok else ' (UNEXPECTED, want %s)' % errno.errorcode.get(want, want)}")
        bad += not ok
    # A NULL struct pointer: the kernel's copy fails with EFAULT.
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.ioctl(fd, ctypes.c_ulong(GET_CAP), ctypes.c_void_p(0))
    e = ctypes.get_errno()
    print(f"  GET_CAP with NULL arg: {errno.errorcode.get(e, e) if rc else 'ok'}")
    bad += not (rc == -1 and e == errno.EFAULT)
    random.seed(5)
    for _ in range(300):
        nr = random.choice([random.randrange(0, 0x100), random.choice([0xA0, 0xA7, 0xBC, 0xA2, 0xB2, 0xAA, 0xAB, 0xB9])])
        size = random.choice([0, 8, 16, 32, 56, 64, 80, 104, random.randrange(0, 256)])
        req = (random.choice([1, 2, 3]) << 30) | (size << 16) | (0x64 << 8) | nr
        arg = bytes(random.getrandbits(8) for _ in range(size))
        ioctl(fd, req, arg)
    err, _ = ioctl(fd, GET_CAP, struct.pack("<QQ", 1, 0))
    print(f"  after 300 random ioctls, GET_CAP: {errno.errorcode.get(err, 'ok') if err else 'ok'}")
    bad += err != 0
    return 1 if bad else 0

def main():
    if len(sys.argv) < 3:
        print(__doc__); return 2
    what, card = sys.argv[1], sys.argv[2]
    if what == "modeset":
        return modeset(card, sys.argv[sys.argv.index("--") + 1:])
    if what == "badinput":
        return badinput(card)
    if what == "blockread":
        fd = os.open(card, os.O_RDWR)
        print("cuse_client: blocking in read()", flush=True)
        os.read(fd, 4096)
        return 0
    if what == "master":
        fd = os.open(card, os.O_RDWR)
        # SETCRTC with crtc off is master-only: EPERM/EACCES if someone else still holds master.
        crtcs, _ = resources(fd)
        err, _ = ioctl(fd, SETCRTC, struct.pack("<QIIIIIII", 0, 0, crtcs[0], 0, 0, 0, 0, 0) + bytes(68))
        print(f"cuse_client: SETCRTC(off) -> {errno.errorcode.get(err, 'ok') if err else 'ok'}")
        return 0 if err == 0 else 1
    if what == "nonblock":
        fd = os.open(card, os.O_RDWR | os.O_NONBLOCK)
        try:
            os.read(fd, 4096)
            print("cuse_client: read returned data"); return 1
        except BlockingIOError:
            print("cuse_client: O_NONBLOCK read -> EAGAIN"); return 0
    print(__doc__); return 2

sys.exit(main())
