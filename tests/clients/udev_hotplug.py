"""Hotplug through libudev, as weston and wlroots watch for it: a udev monitor on subsystem
"drm", then the vhost-user-gpu backend of this `fakedrm run` is killed; the card must announce
the change (ACTION=change, HOTPLUG=1) and GETCONNECTOR must report the new state. Run under
`fakedrm run --backend vhost-user-gpu`."""
import ctypes, fcntl, os, select, signal, struct, sys, time

u = ctypes.CDLL("libudev.so.1")
P = ctypes.c_void_p
for name, res, args in [
    ("udev_new", P, []), ("udev_monitor_new_from_netlink", P, [P, ctypes.c_char_p]),
    ("udev_monitor_filter_add_match_subsystem_devtype", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p]),
    ("udev_monitor_enable_receiving", ctypes.c_int, [P]), ("udev_monitor_get_fd", ctypes.c_int, [P]),
    ("udev_monitor_receive_device", P, [P]), ("udev_device_get_action", ctypes.c_char_p, [P]),
    ("udev_device_get_property_value", ctypes.c_char_p, [P, ctypes.c_char_p]),
    ("udev_device_get_devnode", ctypes.c_char_p, [P]),
]:
    f = getattr(u, name); f.restype = res; f.argtypes = args

udev = u.udev_new()
mon = u.udev_monitor_new_from_netlink(udev, b"udev")
assert mon, "no monitor"
assert u.udev_monitor_filter_add_match_subsystem_devtype(mon, b"drm", None) == 0
assert u.udev_monitor_enable_receiving(mon) == 0, "enable_receiving failed"
fd = u.udev_monitor_get_fd(mon)

def connection_state():
    """GETCONNECTOR on the first connector of /dev/dri/card0: 1 connected, 2 disconnected."""
    card = os.open("/dev/dri/card0", os.O_RDWR)
    try:
        ids = (ctypes.c_uint32 * 4)()
        res = bytearray(64)
        struct.pack_into("<Q", res, 16, ctypes.addressof(ids)); struct.pack_into("<I", res, 40, 4)
        buf = (ctypes.c_char * 64).from_buffer(res)
        fcntl.ioctl(card, 0xC04064A0, buf)
        conn = bytearray(80); struct.pack_into("<I", conn, 48, ids[0]); struct.pack_into("<I", conn, 32, 1)
        modes = (ctypes.c_char * 68)(); struct.pack_into("<Q", conn, 8, ctypes.addressof(modes))
        cbuf = (ctypes.c_char * 80).from_buffer(conn)
        fcntl.ioctl(card, 0xC05064A7, cbuf)
        return struct.unpack_from("<I", conn, 60)[0]
    finally:
        os.close(card)

assert connection_state() == 1, "connector should start connected"
# The backend is a child of `fakedrm run`, our parent.
parent = os.getppid()
victims = []
for pid in os.listdir("/proc"):
    if not pid.isdigit(): continue
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    ppid = int(stat[stat.rindex(")") + 2:].split()[1])
    if comm.startswith("vhost-user-gpu") and ppid == parent: victims.append(int(pid))
assert victims, "no vhost-user-gpu backend found under our parent"
os.kill(victims[0], signal.SIGKILL)
print("killed backend", victims[0])

events, deadline = [], time.time() + 20
while time.time() < deadline and len(events) < 2:
    r, _, _ = select.select([fd], [], [], 1.0)
    if not r: continue
    dev = u.udev_monitor_receive_device(mon)
    if not dev: continue
    events.append((u.udev_device_get_action(dev), u.udev_device_get_property_value(dev, b"HOTPLUG"),
                   u.udev_device_get_devnode(dev)))
print("events", events)
assert events and events[0] == (b"change", b"1", b"/dev/dri/card0"), events
# The supervisor brings a new backend up: the connector comes back (second uevent).
for _ in range(100):
    if connection_state() == 1: break
    time.sleep(0.1)
print("connector after recovery:", connection_state())
assert connection_state() == 1
