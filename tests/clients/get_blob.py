"""GETPROPBLOB of blob ID argv[1] (its length as argv[3], default 128) into the file argv[2]."""
import ctypes, fcntl, os, struct, sys
fd = os.open("/dev/dri/card0", os.O_RDWR)
bid = int(sys.argv[1])
buf = ctypes.create_string_buffer(4096)
size = int(sys.argv[3]) if len(sys.argv) > 3 else 128
arg = bytearray(struct.pack("<IIQ", bid, size, ctypes.addressof(buf)))
a = (ctypes.c_char * 16).from_buffer(arg)
fcntl.ioctl(fd, 0xC01064AC, a)
open(sys.argv[2], "wb").write(buf.raw[:size])
