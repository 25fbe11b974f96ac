"""Random DRM ioctls (numbers, sizes, directions, bytes, pointers into mapped buffers, NULL and
wild pointers) from an unmodified process through libfakedrm-preload.so: every answer must be a
kernel errno and the daemon must still answer afterwards. Usage: socket_fuzz.py SEED [COUNT]."""
import ctypes, os, random, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
rnd = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
fd = os.open("/dev/dri/card0", os.O_RDWR)
bufs = [ctypes.create_string_buffer(4096) for _ in range(8)]
errs = {}
for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 20000):
    nr = rnd.choice(list(range(0xA0, 0xD3)) + list(range(0, 0x40)))
    size = rnd.choice([0, 4, 8, 12, 16, 24, 28, 32, 48, 56, 64, 80, 104, rnd.randrange(0, 300)])
    direction = rnd.randrange(4)
    req = (direction << 30) | (size << 16) | (0x64 << 8) | nr
    b = rnd.choice(bufs)
    raw = bytearray(rnd.getrandbits(8) for _ in range(size))
    for k in range(0, max(0, size - 7), 8):
        r = rnd.randrange(6)
        if r == 0: struct.pack_into("<Q", raw, k, ctypes.addressof(rnd.choice(bufs)))
        elif r == 1: struct.pack_into("<Q", raw, k, rnd.randrange(8))
        elif r == 2: struct.pack_into("<Q", raw, k, rnd.choice([0, 0xdeadbeef000, 2**64 - 8]))
    ctypes.memmove(b, bytes(raw), size)
    r = libc.ioctl(fd, req, b if rnd.randrange(10) else None)
    e = ctypes.get_errno() if r < 0 else 0
    errs[e] = errs.get(e, 0) + 1
print(sorted(errs.items()))
assert set(errs) <= {0, 1, 2, 6, 9, 12, 13, 14, 16, 19, 22, 25, 28, 34, 38, 62, 95}, errs
# The daemon is still there and answers a plain GET_CAP.
cap = ctypes.create_string_buffer(struct.pack("<QQ", 1, 0), 16)
assert libc.ioctl(fd, 0xC010640C, cap) == 0 and struct.unpack("<QQ", cap.raw)[1] == 1
print("alive")
