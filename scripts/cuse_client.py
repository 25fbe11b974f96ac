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
  cuse_client.py attach CARD              under libfakedrm-preload.so: PRIME cap, mmap of a dumb
                                          buffer, PRIME export fd, atomic OUT_FENCE_PTR fd
  cuse_client.py attachdeny CARD          ATTACH token: wrong and replayed tokens are refused
  cuse_client.py passed CARD LIB          an fd opened without the library, passed over SCM_RIGHTS
                                          to a process under LIB: attached there, its dumb buffer maps
  cuse_client.py stall CARD               (root) a GET_CAP whose struct is on a userfaultfd page that
                                          comes in only after 3 s; other opens are served meanwhile
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

def light_first_crtc(fd):
    """A dumb-buffer fb of the first connector's first mode, set on the first CRTC (SETCRTC)."""
    crtcs, conns = resources(fd)
    mode = connector(fd, conns[0])[0]
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
    return crtcs, conns, fb, (w, h)

def modeset(card, cmd):
    fd = os.open(card, os.O_RDWR)
    crtcs, conns, fb, (w, h) = light_first_crtc(fd)
    print(f"cuse_client: mode {w}x{h} set on crtc {crtcs[0]} (fb {fb})", flush=True)
    rc = subprocess.call(cmd)
    os.close(fd)
    return rc

MAP_DUMB, PRIME_HANDLE_TO_FD, OBJ_GETPROPERTIES, GETPROPERTY, ATOMIC = \
    IOWR(0xB3, 16), IOWR(0x2D, 12), IOWR(0xB9, 32), IOWR(0xAA, 64), IOWR(0xBC, 56)
SYNC_IOC_FILE_INFO = 0xC0000000 | (56 << 16) | (ord('>') << 8) | 4

def prop_ids(fd, obj, objtype):
    arg = struct.pack("<QQIII", 0, 0, 0, obj, objtype) + bytes(4)
    err, r = ioctl(fd, OBJ_GETPROPERTIES, arg)
    assert err == 0, f"OBJ_GETPROPERTIES: {os.strerror(err)}"
    n = struct.unpack_from("<I", r, 16)[0]
    ids, vals = u32s(n), (ctypes.c_uint64 * max(n, 1))()
    err, r = ioctl(fd, OBJ_GETPROPERTIES, struct.pack("<QQIII", ctypes.addressof(ids), ctypes.addressof(vals), n, obj, objtype) + bytes(4))
    assert err == 0, f"OBJ_GETPROPERTIES (fill): {os.strerror(err)}"
    out = {}
    for pid in list(ids)[:n]:
        err, r = ioctl(fd, GETPROPERTY, struct.pack("<QQI", 0, 0, pid) + bytes(44))
        assert err == 0, f"GETPROPERTY: {os.strerror(err)}"
        out[r[24:56].split(b"\0")[0].decode()] = pid
    return out

def attach(card):
    """What CUSE alone cannot do, through the attached client library; prints one line per step."""
    import mmap, select
    fd = os.open(card, os.O_RDWR)
    err, r = ioctl(fd, GET_CAP, struct.pack("<QQ", 0x5, 0))
    prime = struct.unpack_from("<Q", r, 8)[0]
    print(f"attach: GET_CAP(PRIME) = {prime}")
    assert err == 0 and prime == 3, "PRIME cap (import|export) not reported"
    err, d = ioctl(fd, CREATE_DUMB, struct.pack("<4I", 64, 64, 32, 0) + bytes(16))
    assert err == 0, f"CREATE_DUMB: {os.strerror(err)}"
    handle, pitch, size = struct.unpack_from("<IIQ", d, 16)
    err, m = ioctl(fd, MAP_DUMB, struct.pack("<IIQ", handle, 0, 0))
    assert err == 0, f"MAP_DUMB: {os.strerror(err)}"
    offset = struct.unpack_from("<Q", m, 8)[0]
    mem = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=offset)
    mem[0:8] = b"fakedrm!"
    print(f"attach: mmap of dumb buffer (offset {offset:#x}, {size} bytes) ok")
    err, p = ioctl(fd, PRIME_HANDLE_TO_FD, struct.pack("<IIi", handle, os.O_CLOEXEC | os.O_RDWR, -1))
    assert err == 0, f"PRIME_HANDLE_TO_FD: {os.strerror(err)}"
    dmabuf = struct.unpack_from("<i", p, 8)[0]
    same = mmap.mmap(dmabuf, size, mmap.MAP_SHARED, mmap.PROT_READ)
    print(f"attach: PRIME_HANDLE_TO_FD -> fd {dmabuf}, its mapping reads {bytes(same[0:8])!r}")
    assert dmabuf >= 0 and same[0:8] == b"fakedrm!", "dma-buf fd does not show the dumb buffer"
    # A mode on the first CRTC (legacy, master: the first opener), then an atomic commit that
    # asks for an out-fence.
    crtcs, conns, fb, _ = light_first_crtc(fd)
    err, _ = ioctl(fd, SET_CLIENT_CAP, struct.pack("<QQ", 3, 1))   # DRM_CLIENT_CAP_ATOMIC
    assert err == 0, f"SET_CLIENT_CAP(ATOMIC): {os.strerror(err)}"
    props = prop_ids(fd, crtcs[0], 0xcccccccc)
    fence = ctypes.c_int32(-1)
    objs, counts, pids = u32s(1), u32s(1), u32s(1)
    vals = (ctypes.c_uint64 * 1)()
    objs[0], counts[0], pids[0], vals[0] = crtcs[0], 1, props["OUT_FENCE_PTR"], ctypes.addressof(fence)
    err, _ = ioctl(fd, ATOMIC, struct.pack("<II6Q", 0, 1, ctypes.addressof(objs), ctypes.addressof(counts),
                                           ctypes.addressof(pids), ctypes.addressof(vals), 0, 0))
    assert err == 0, f"ATOMIC with OUT_FENCE_PTR: {os.strerror(err)}"
    ready = select.select([fence.value], [], [], 2)[0] if fence.value >= 0 else []
    err, info = ioctl(fence.value, SYNC_IOC_FILE_INFO, bytes(56))
    status = struct.unpack_from("<i", info, 32)[0] if err == 0 else None
    print(f"attach: ATOMIC OUT_FENCE_PTR -> fd {fence.value}, {'signalled (poll)' if ready else 'NOT signalled'}, "
          f"SYNC_IOC_FILE_INFO {'status ' + str(status) if err == 0 else os.strerror(err)}")
    assert fence.value >= 0 and ready and status == 1, "out-fence fd"
    os.close(dmabuf); os.close(fence.value); os.close(fd)
    return 0

def attachdeny(card):
    """Without the library: ATTACH hands out a token; the socket refuses a wrong token and a
    replayed one, and accepts the right one once."""
    import socket
    fd = os.open(card, os.O_RDWR)
    err, r = ioctl(fd, IOWR(0x40, 128), struct.pack("<II", 1, 3) + bytes(120))
    assert err == 0, f"ATTACH: {os.strerror(err)}"
    version, granted, token = struct.unpack_from("<IIQ", r, 0)
    path = r[16:].split(b"\0")[0].decode()
    def hello(tok):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        s.send(struct.pack("<IIIIiQ", 1, 20, 1, 2, os.getpid(), tok))
        msg, anc, _, _ = s.recvmsg(64, socket.CMSG_SPACE(16))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS: os.close(struct.unpack_from("<i", data)[0])
        return (struct.unpack_from("<i", msg, 8)[0] if len(msg) >= 12 else -1), s
    bad, s1 = hello(token ^ 1)
    good, s2 = hello(token)
    replay, s3 = hello(token)
    print(f"cuse_client: ATTACH v{version} flags {granted:#x} path {path}; HELLO wrong token -> "
          f"{errno.errorcode.get(bad, bad)}, right token -> {good or 'ok'}, replayed -> {errno.errorcode.get(replay, replay)}")
    return 0 if (bad, good, replay) == (errno.EACCES, 0, errno.EACCES) else 1

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

def passed(card, lib):
    """A card fd opened here, without the library, passed over SCM_RIGHTS to a process that
    has it (what libseat's builtin seatd does for sway): there it is attached on first use, so
    the dumb buffer it makes maps."""
    import socket, subprocess
    fd = os.open(card, os.O_RDWR)
    a, b = socket.socketpair()
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "passedchild", card, str(b.fileno())],
                             env=dict(os.environ, LD_PRELOAD=lib), pass_fds=(b.fileno(),))
    socket.send_fds(a, [b"card"], [fd])
    return child.wait()

def passedchild(sockfd):
    import mmap, socket
    _, fds, _, _ = socket.recv_fds(socket.socket(fileno=sockfd), 16, 1)
    fd = fds[0]
    err, r = ioctl(fd, GET_CAP, struct.pack("<QQ", 0x5, 0))
    prime = struct.unpack_from("<Q", r, 8)[0]
    assert err == 0 and prime == 3, f"PRIME cap {prime} on the passed fd: not attached"
    err, d = ioctl(fd, CREATE_DUMB, struct.pack("<4I", 64, 64, 32, 0) + bytes(16))
    assert err == 0, f"CREATE_DUMB: {os.strerror(err)}"
    handle, pitch, size = struct.unpack_from("<IIQ", d, 16)
    err, m = ioctl(fd, MAP_DUMB, struct.pack("<IIQ", handle, 0, 0))
    assert err == 0, f"MAP_DUMB: {os.strerror(err)}"
    mem = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=struct.unpack_from("<Q", m, 8)[0])
    mem[0:8] = b"passed!!"
    assert mem[0:8] == b"passed!!"
    print(f"fd received over SCM_RIGHTS attached on first use: GET_CAP(PRIME) = {prime}, dumb buffer mapped ({size} bytes)")
    return 0

UFFDIO_API, UFFDIO_REGISTER, UFFDIO_ZEROPAGE = 0xC018AA3F, 0xC020AA00, 0xC020AA04

def stall(card):
    """The daemon copies a caller's struct in place (process_vm_readv): a page that does not
    come in holds that copy, and the worker doing it, until it does. Here it comes in after 3 s
    (UFFDIO_ZEROPAGE). Meanwhile another open and its GET_CAPs must be answered: the worker
    pool gives the reader role to another worker (docs/cuse.md). Exit 77 when the copy did not
    wait for the page (no fault reached the userfaultfd)."""
    import select, threading, time
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
    uffd = libc.syscall(323, os.O_CLOEXEC | os.O_NONBLOCK)  # SYS_userfaultfd
    if uffd < 0:
        print(f"cuse_client: no userfaultfd ({errno.errorcode.get(ctypes.get_errno())}): stall check skipped"); return 77
    fcntl.ioctl(uffd, UFFDIO_API, bytearray(struct.pack("<QQQ", 0xAA, 0, 0)))
    page = libc.mmap(None, 4096, 3, 0x22, -1, 0)  # PROT_READ|WRITE, MAP_PRIVATE|ANONYMOUS, never touched
    fcntl.ioctl(uffd, UFFDIO_REGISTER, bytearray(struct.pack("<QQQQ", page, 4096, 1, 0)))  # MODE_MISSING
    fd = os.open(card, os.O_RDWR)
    stalled = {}
    def call():
        t0 = time.monotonic()
        rc = libc.ioctl(fd, GET_CAP, page)
        stalled["s"], stalled["err"] = time.monotonic() - t0, (ctypes.get_errno() if rc else 0)
    t = threading.Thread(target=call)
    start = time.monotonic()
    t.start()
    faulted = bool(select.select([uffd], [], [], 1.5)[0])
    served = []
    if faulted:
        for _ in range(5):
            t0 = time.monotonic()
            fd2 = os.open(card, os.O_RDWR)
            err, _ = ioctl(fd2, GET_CAP, struct.pack("<QQ", 1, 0))
            os.close(fd2)
            served.append((time.monotonic() - t0, err))
    time.sleep(max(0, 3 - (time.monotonic() - start)))
    fcntl.ioctl(uffd, UFFDIO_ZEROPAGE, bytearray(struct.pack("<QQQq", page, 4096, 0, 0)))
    t.join(10)
    if not faulted:
        print("cuse_client: the daemon's copy did not wait for the page (no fault on the userfaultfd): stall check skipped"); return 77
    worst = max(s for s, _ in served)
    ok = not t.is_alive() and stalled.get("s", 0) >= 2.5 and worst < 1.5 and all(e == 0 for _, e in served)
    print(f"cuse_client: struct on a page that came in after 3 s: that GET_CAP returned after {stalled.get('s', -1):.2f} s "
          f"({errno.errorcode.get(stalled.get('err'), 'ok') if stalled.get('err') else 'ok'}); meanwhile 5 opens + GET_CAP, "
          f"slowest {worst * 1000:.0f} ms{'' if ok else ' (UNEXPECTED)'}")
    return 0 if ok else 1

def main():
    if len(sys.argv) < 3:
        print(__doc__); return 2
    what, card = sys.argv[1], sys.argv[2]
    if what == "modeset":
        return modeset(card, sys.argv[sys.argv.index("--") + 1:])
    if what == "badinput":
        return badinput(card)
    if what == "attach":
        return attach(card)
    if what == "attachdeny":
        return attachdeny(card)
    if what == "passed":
        return passed(card, sys.argv[3])
    if what == "passedchild":
        return passedchild(int(sys.argv[3]))
    if what == "stall":
        return stall(card)
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
