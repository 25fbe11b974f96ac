import Foundation

/// A umockdev-style testbed directory that makes the fake card discoverable through sysfs
/// (libdrm drmGetDevices2/drmGetDevice2, libudev enumeration) when a client runs with
/// `UMOCKDEV_DIR=<root>` and `LD_PRELOAD="libfakedrm-preload.so libumockdev-preload.so.0"`.
/// Layout and reasons: docs/device-discovery.md.
public enum SysfsTree {
    /// Writes the tree for `/dev/dri/card<minor>` with a platform parent named `driver`.
    public static func write(root: String, minor: Int = 0, driver: String = "fakedrm") throws {
        let fm = FileManager.default
        let card = "card\(minor)"
        let parent = "sys/devices/platform/\(driver)"
        let node = "\(parent)/drm/\(card)"
        func dir(_ p: String) throws { try fm.createDirectory(atPath: "\(root)/\(p)", withIntermediateDirectories: true) }
        func file(_ p: String, _ text: String) throws {
            try text.write(toFile: "\(root)/\(p)", atomically: false, encoding: .utf8)
        }
        func link(_ p: String, _ target: String) throws {
            let full = "\(root)/\(p)"
            try? fm.removeItem(atPath: full)
            try fm.createSymbolicLink(atPath: full, withDestinationPath: target)
        }
        for d in [node, "sys/class/drm", "sys/dev/char", "sys/bus/platform/devices", "dev/dri", "dev/.node"] { try dir(d) }
        try file("\(parent)/uevent", "DRIVER=\(driver)\nMODALIAS=platform:\(driver)\n")
        try link("\(parent)/subsystem", "../../../bus/platform")
        try link("sys/bus/platform/devices/\(driver)", "../../../devices/platform/\(driver)")
        try file("\(node)/uevent", "MAJOR=226\nMINOR=\(minor)\nDEVNAME=dri/\(card)\nDEVTYPE=drm_minor\n")
        try file("\(node)/dev", "226:\(minor)\n")
        try link("\(node)/subsystem", "../../../../../class/drm")
        try link("\(node)/device", "../../../\(driver)")
        try link("sys/class/drm/\(card)", "../../devices/platform/\(driver)/drm/\(card)")
        try link("sys/dev/char/226:\(minor)", "../../devices/platform/\(driver)/drm/\(card)")
        // A plain empty file: umockdev then makes no pty for it; libfakedrm-preload.so answers
        // open/stat of the node before umockdev sees them.
        try file("dev/dri/\(card)", "")
        // umockdev's (internal, undocumented) record of the node's device number.
        try link("dev/.node/dri_\(card)", "226:\(minor)")
    }

    /// The usual install locations of umockdev's preload library, or nil.
    public static func umockdevPreload() -> String? {
        let candidates = [
            "/usr/lib/x86_64-linux-gnu/libumockdev-preload.so.0",
            "/usr/lib/aarch64-linux-gnu/libumockdev-preload.so.0",
            "/usr/lib64/libumockdev-preload.so.0",
            "/usr/lib/libumockdev-preload.so.0",
            "/usr/local/lib/libumockdev-preload.so.0",
        ]
        return candidates.first { FileManager.default.isReadableFile(atPath: $0) }
    }
}
