import CFakeDRMSys
import Foundation
import Glibc

/// The card's debugfs directory, `dri/<minor>/`, for front ends that show it to clients
/// (docs/debugfs.md): what each file holds and what a write to it does, in the kernel's formats.
/// Owns nothing but the path rules; state comes from the device and its CRC taps.
public struct DebugfsView: Sendable {
    public let device: Device
    public let minor: Int

    public init(device: Device, minor: Int) {
        self.device = device
        self.minor = minor
    }

    enum Node: Equatable {
        case name, clients
        case crcControl(Int), crcData(Int)
    }

    /// A path relative to the debugfs root ("dri/0/crtc-0/crc/data") or nil.
    func node(_ path: String) -> Node? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 3, parts[0] == "dri", parts[1] == String(minor) else { return nil }
        let rest = Array(parts[2...])
        switch rest {
        case ["name"]: return .name
        case ["clients"]: return .clients
        default: break
        }
        guard rest.count == 3, rest[0].hasPrefix("crtc-"), rest[1] == "crc",
              let index = Int(rest[0].dropFirst(5)), String(index) == String(rest[0].dropFirst(5)),
              index >= 0, index < device.vblank.crc.crtcCount else { return nil }
        switch rest[2] {
        case "control": return .crcControl(index)
        case "data": return .crcData(index)
        default: return nil
        }
    }

    /// Opens a file: a memfd holding its text (read natively by the client), or for
    /// `crc/data` the reader's socket. `accessMode` is the open's O_ACCMODE.
    public func open(path: String, accessMode: Int32) throws(DRMError) -> OwnedFD {
        guard let node = node(path) else { throw .notFound }
        switch node {
        case .name, .clients:
            guard accessMode == O_RDONLY else { throw .permissionDenied }
            return try Self.memfd(node == .name ? nameText() : clientsText())
        case .crcControl(let c):
            return try Self.memfd(device.vblank.crc.controlText(crtc: c))
        case .crcData(let c):
            guard accessMode == O_RDONLY else { throw .permissionDenied }
            return try device.vblank.crc.openData(crtc: c, of: device)
        }
    }

    /// A write to a file opened for writing; returns the bytes consumed.
    public func write(path: String, _ bytes: [UInt8]) throws(DRMError) -> Int {
        guard let node = node(path) else { throw .notFound }
        guard case .crcControl(let c) = node else { throw .invalidArgument }
        return try device.vblank.crc.writeControl(crtc: c, bytes)
    }

    /// drm_name_info: driver name, parent device, the master's unique name once set, unique.
    func nameText() -> String {
        let d = device.config.driver
        let masterUnique = device.files.masterUnique()
        var s = "\(d.name) dev=\(d.unique)"
        if !masterUnique.isEmpty { s += " master=\(masterUnique)" }
        return s + " unique=\(d.unique)\n"
    }

    /// drm_clients_info (Linux 6.1's columns), oldest open first.
    func clientsText() -> String {
        let dump = device.stateDump()
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        var out = "\(pad("command", 20)) \(pad("tgid", 5)) \(pad("dev", 3)) master a \(pad("uid", 5)) \(pad("magic", 10))\n"
        for f in dump.files {
            let comm = (try? String(contentsOfFile: "/proc/\(f.pid)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .newlines) ?? "<unknown>"
            out += "\(pad(comm, 20)) \(pad(String(f.pid), 5)) \(pad(String(minor), 3))   \(f.master ? "y" : "n")    "
                + "\(f.authenticated ? "y" : "n") \(pad(String(f.uid), 5)) \(pad(String(f.magic), 10))\n"
        }
        return out
    }

    static func memfd(_ text: String) throws(DRMError) -> OwnedFD {
        let raw = cfd_memfd_create("fakedrm-debugfs", 1)
        guard raw >= 0 else { throw .noMemory }
        let fd = OwnedFD(raw)
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(raw, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw .noMemory }
        _ = lseek(raw, 0, SEEK_SET)
        return fd
    }

    /// The directory tree the client library maps `/sys/kernel/debug` onto: real directories
    /// and placeholder files, so `stat`, `fstatat` and `opendir` work natively; the library
    /// opens the files above through the daemon.
    public static func writeTree(root: String, minor: Int, crtcCount: Int) throws {
        let fm = FileManager.default
        let base = "\(root)/dri/\(minor)"
        try fm.createDirectory(atPath: base, withIntermediateDirectories: true)
        for f in ["name", "clients"] { _ = fm.createFile(atPath: "\(base)/\(f)", contents: nil) }
        // sw_sync's debugfs node (the library opens it as a timeline, like /dev/sw_sync).
        try fm.createDirectory(atPath: "\(root)/sync", withIntermediateDirectories: true)
        _ = fm.createFile(atPath: "\(root)/sync/sw_sync", contents: nil)
        for c in 0..<crtcCount {
            let dir = "\(base)/crtc-\(c)/crc"
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for f in ["control", "data"] { _ = fm.createFile(atPath: "\(dir)/\(f)", contents: nil) }
        }
    }
}
