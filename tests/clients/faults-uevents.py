"""Counts drm HOTPLUG uevents a libudev monitor receives for argv[1] seconds (run under
`fakedrm run`, whose umockdev preload delivers the card's uevents); prints
`uevents=N hotplug=H connector_keys=C` (C: events that carry CONNECTOR=)."""
import ctypes, select, sys, time

u = ctypes.CDLL("libudev.so.1")
P = ctypes.c_void_p
for name, res, args in [
    ("udev_new", P, []), ("udev_monitor_new_from_netlink", P, [P, ctypes.c_char_p]),
    ("udev_monitor_filter_add_match_subsystem_devtype", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p]),
    ("udev_monitor_enable_receiving", ctypes.c_int, [P]), ("udev_monitor_get_fd", ctypes.c_int, [P]),
    ("udev_monitor_receive_device", P, [P]), ("udev_device_get_property_value", ctypes.c_char_p, [P, ctypes.c_char_p]),
    ("udev_device_unref", P, [P]),
]:
    f = getattr(u, name); f.restype = res; f.argtypes = args

udev = u.udev_new()
mon = u.udev_monitor_new_from_netlink(udev, b"udev")
assert mon, "no monitor"
assert u.udev_monitor_filter_add_match_subsystem_devtype(mon, b"drm", None) == 0
assert u.udev_monitor_enable_receiving(mon) == 0
fd = u.udev_monitor_get_fd(mon)
print("listening", flush=True)
n = hp = ck = 0
end = time.time() + float(sys.argv[1])
while True:
    left = end - time.time()
    if left <= 0:
        break
    r, _, _ = select.select([fd], [], [], left)
    if not r:
        continue
    dev = u.udev_monitor_receive_device(mon)
    if not dev:
        continue
    n += 1
    if u.udev_device_get_property_value(dev, b"HOTPLUG") == b"1":
        hp += 1
    if u.udev_device_get_property_value(dev, b"CONNECTOR"):
        ck += 1
    u.udev_device_unref(dev)
print("uevents=%d hotplug=%d connector_keys=%d" % (n, hp, ck))
