"""libudev enumeration of subsystem "drm", as weston and wlroots do it; prints (syspath, devnode)
pairs and fails when no card is found. Run under `fakedrm run`."""
import ctypes
u = ctypes.CDLL("libudev.so.1")
u.udev_new.restype = ctypes.c_void_p
u.udev_enumerate_new.restype = ctypes.c_void_p
u.udev_enumerate_new.argtypes = [ctypes.c_void_p]
u.udev_enumerate_add_match_subsystem.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
u.udev_enumerate_add_match_sysname.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
u.udev_enumerate_scan_devices.argtypes = [ctypes.c_void_p]
u.udev_enumerate_get_list_entry.restype = ctypes.c_void_p
u.udev_enumerate_get_list_entry.argtypes = [ctypes.c_void_p]
u.udev_list_entry_get_name.restype = ctypes.c_char_p
u.udev_list_entry_get_name.argtypes = [ctypes.c_void_p]
u.udev_list_entry_get_next.restype = ctypes.c_void_p
u.udev_list_entry_get_next.argtypes = [ctypes.c_void_p]
u.udev_device_new_from_syspath.restype = ctypes.c_void_p
u.udev_device_new_from_syspath.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
u.udev_device_get_devnode.restype = ctypes.c_char_p
u.udev_device_get_devnode.argtypes = [ctypes.c_void_p]
udev = u.udev_new()
e = u.udev_enumerate_new(udev)
u.udev_enumerate_add_match_subsystem(e, b"drm")
u.udev_enumerate_add_match_sysname(e, b"card[0-9]*")
u.udev_enumerate_scan_devices(e)
entry = u.udev_enumerate_get_list_entry(e)
found = []
while entry:
    path = u.udev_list_entry_get_name(entry)
    d = u.udev_device_new_from_syspath(udev, path)
    found.append((path.decode(), (u.udev_device_get_devnode(d) or b"").decode()))
    entry = u.udev_list_entry_get_next(entry)
print(found)
assert found and found[0][1] == "/dev/dri/card0", found
