/// drm.h's ioctl names without the DRM_IOCTL_ prefix, by nr: for fault specs and statistics.
public enum IoctlNames {
    static let byNumber: [UInt8: String] = [
        0x00: "VERSION", 0x01: "GET_UNIQUE", 0x02: "GET_MAGIC", 0x03: "IRQ_BUSID", 0x05: "GET_CLIENT",
        0x07: "SET_VERSION", 0x08: "MODESET_CTL", 0x09: "GEM_CLOSE", 0x0A: "GEM_FLINK", 0x0B: "GEM_OPEN",
        0x0C: "GET_CAP", 0x0D: "SET_CLIENT_CAP", 0x10: "SET_UNIQUE", 0x11: "AUTH_MAGIC",
        0x1E: "SET_MASTER", 0x1F: "DROP_MASTER", 0x2D: "PRIME_HANDLE_TO_FD", 0x2E: "PRIME_FD_TO_HANDLE",
        0x3A: "WAIT_VBLANK", 0x3B: "CRTC_GET_SEQUENCE", 0x3C: "CRTC_QUEUE_SEQUENCE", 0x40: "FAKEDRM_ATTACH", 0x41: "VGEM_FENCE_ATTACH", 0x42: "VGEM_FENCE_SIGNAL",
        0xA0: "MODE_GETRESOURCES", 0xA1: "MODE_GETCRTC", 0xA2: "MODE_SETCRTC", 0xA3: "MODE_CURSOR",
        0xA4: "MODE_GETGAMMA", 0xA5: "MODE_SETGAMMA", 0xA6: "MODE_GETENCODER", 0xA7: "MODE_GETCONNECTOR",
        0xA8: "MODE_ATTACHMODE", 0xA9: "MODE_DETACHMODE", 0xAA: "MODE_GETPROPERTY", 0xAB: "MODE_SETPROPERTY",
        0xAC: "MODE_GETPROPBLOB", 0xAD: "MODE_GETFB", 0xAE: "MODE_ADDFB", 0xAF: "MODE_RMFB",
        0xB0: "MODE_PAGE_FLIP", 0xB1: "MODE_DIRTYFB", 0xB2: "MODE_CREATE_DUMB", 0xB3: "MODE_MAP_DUMB",
        0xB4: "MODE_DESTROY_DUMB", 0xB5: "MODE_GETPLANERESOURCES", 0xB6: "MODE_GETPLANE", 0xB7: "MODE_SETPLANE",
        0xB8: "MODE_ADDFB2", 0xB9: "MODE_OBJ_GETPROPERTIES", 0xBA: "MODE_OBJ_SETPROPERTY", 0xBB: "MODE_CURSOR2",
        0xBC: "MODE_ATOMIC", 0xBD: "MODE_CREATEPROPBLOB", 0xBE: "MODE_DESTROYPROPBLOB",
        0xBF: "SYNCOBJ_CREATE", 0xC0: "SYNCOBJ_DESTROY", 0xC1: "SYNCOBJ_HANDLE_TO_FD", 0xC2: "SYNCOBJ_FD_TO_HANDLE",
        0xC3: "SYNCOBJ_WAIT", 0xC4: "SYNCOBJ_RESET", 0xC5: "SYNCOBJ_SIGNAL", 0xC6: "MODE_CREATE_LEASE",
        0xC7: "MODE_LIST_LESSEES", 0xC8: "MODE_GET_LEASE", 0xC9: "MODE_REVOKE_LEASE", 0xCA: "SYNCOBJ_TIMELINE_WAIT",
        0xCB: "SYNCOBJ_QUERY", 0xCC: "SYNCOBJ_TRANSFER", 0xCD: "SYNCOBJ_TIMELINE_SIGNAL", 0xCE: "MODE_GETFB2",
        0xCF: "SYNCOBJ_EVENTFD", 0xD0: "MODE_CLOSEFB", 0xD1: "SET_CLIENT_NAME", 0xD2: "GEM_CHANGE_HANDLE",
    ]

    public static func name(of nr: UInt8) -> String {
        byNumber[nr] ?? "0x" + String(nr, radix: 16, uppercase: true)
    }

    /// Case-insensitive; accepts the DRM_IOCTL_ prefix too.
    public static func number(of name: String) -> UInt8? {
        var n = name.uppercased()
        if n.hasPrefix("DRM_IOCTL_") { n.removeFirst(10) }
        return byNumber.first { $0.value == n }?.key
    }
}
