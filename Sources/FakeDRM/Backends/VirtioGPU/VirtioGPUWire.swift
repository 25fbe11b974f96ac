/// virtio-gpu 2D wire format (linux/virtio_gpu.h; sizes and offsets checked against the 6.1
/// headers, see docs/vhost-user.md). Host byte order, which is little-endian on every target.
public enum VirtioGPUWire {
    public static let cmdGetDisplayInfo: UInt32 = 0x0100
    public static let cmdResourceCreate2D: UInt32 = 0x0101
    public static let cmdResourceUnref: UInt32 = 0x0102
    public static let cmdSetScanout: UInt32 = 0x0103
    public static let cmdResourceFlush: UInt32 = 0x0104
    public static let cmdTransferToHost2D: UInt32 = 0x0105
    public static let cmdAttachBacking: UInt32 = 0x0106
    public static let cmdDetachBacking: UInt32 = 0x0107
    public static let cmdUpdateCursor: UInt32 = 0x0300
    public static let cmdMoveCursor: UInt32 = 0x0301

    public static let respOkNodata: UInt32 = 0x1100
    public static let respOkDisplayInfo: UInt32 = 0x1101
    public static let respErrUnspec: UInt32 = 0x1200
    public static let respErrInvalidScanout: UInt32 = 0x1202
    public static let respErrInvalidResource: UInt32 = 0x1203
    public static let respErrInvalidParameter: UInt32 = 0x1205

    public static let flagFence: UInt32 = 1
    public static let headerSize = 24
    public static let displayInfoSize = 408
    public static let cursorCommandSize = 56
    public static let maxScanouts = 16
    public static let cursorSize = 64

    /// DRM fourcc → virtio format for the 32-bpp formats 7.2's backend accepts (the Linux
    /// driver's little-endian table). Anything else goes through the composed path.
    public static func format(drmFourcc: UInt32) -> UInt32? {
        switch drmFourcc {
        case 0x3432_5258: return 2    // XRGB8888 → B8G8R8X8
        case 0x3432_5241: return 1    // ARGB8888 → B8G8R8A8
        case 0x3432_5842: return 4    // BGRX8888 → X8R8G8B8
        case 0x3432_4142: return 3    // BGRA8888 → A8R8G8B8
        case 0x3432_5852: return 68   // RGBX8888 → X8B8G8R8
        case 0x3432_4152: return 121  // RGBA8888 → A8B8G8R8
        case 0x3432_4258: return 134  // XBGR8888 → R8G8B8X8
        case 0x3432_4241: return 67   // ABGR8888 → R8G8B8A8
        default: return nil
        }
    }

    public static func drmFourcc(virtioFormat: UInt32) -> UInt32? {
        [0x3432_5258, 0x3432_5241, 0x3432_5842, 0x3432_4142, 0x3432_5852, 0x3432_4152, 0x3432_4258, 0x3432_4241]
            .first { format(drmFourcc: $0) == virtioFormat }
    }

    public struct Rect: Sendable, Equatable { public var x, y, width, height: UInt32 }

    /// Little-endian byte builder for commands.
    struct Builder {
        var bytes: [UInt8] = []
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func rect(_ r: Rect) { u32(r.x); u32(r.y); u32(r.width); u32(r.height) }
        mutating func header(_ type: UInt32, fence: UInt64? = nil) {
            u32(type)
            u32(fence == nil ? 0 : flagFence)
            u64(fence ?? 0)
            u32(0)  // ctx_id
            u32(0)  // ring_idx + padding
        }
    }

    static func getDisplayInfo() -> [UInt8] { var b = Builder(); b.header(cmdGetDisplayInfo); return b.bytes }

    static func create2D(resource: UInt32, format: UInt32, width: UInt32, height: UInt32) -> [UInt8] {
        var b = Builder(); b.header(cmdResourceCreate2D); b.u32(resource); b.u32(format); b.u32(width); b.u32(height); return b.bytes
    }

    static func unref(resource: UInt32) -> [UInt8] { var b = Builder(); b.header(cmdResourceUnref); b.u32(resource); b.u32(0); return b.bytes }
    static func detachBacking(resource: UInt32) -> [UInt8] { var b = Builder(); b.header(cmdDetachBacking); b.u32(resource); b.u32(0); return b.bytes }

    /// One mem entry: the backing must lie inside one guest region (7.2 rule).
    static func attachBacking(resource: UInt32, gpa: UInt64, length: UInt32) -> [UInt8] {
        var b = Builder(); b.header(cmdAttachBacking); b.u32(resource); b.u32(1); b.u64(gpa); b.u32(length); b.u32(0); return b.bytes
    }

    static func setScanout(scanout: UInt32, resource: UInt32, rect: Rect, fence: UInt64? = nil) -> [UInt8] {
        var b = Builder(); b.header(cmdSetScanout, fence: fence); b.rect(rect); b.u32(scanout); b.u32(resource); return b.bytes
    }

    static func transfer(resource: UInt32, rect: Rect, offset: UInt64) -> [UInt8] {
        var b = Builder(); b.header(cmdTransferToHost2D); b.rect(rect); b.u64(offset); b.u32(resource); b.u32(0); return b.bytes
    }

    static func flush(resource: UInt32, rect: Rect, fence: UInt64?) -> [UInt8] {
        var b = Builder(); b.header(cmdResourceFlush, fence: fence); b.rect(rect); b.u32(resource); b.u32(0); return b.bytes
    }

    /// UPDATE_CURSOR / MOVE_CURSOR: always the full 56-byte struct (shorter ones are ignored).
    static func cursor(_ type: UInt32, scanout: UInt32, x: Int32, y: Int32, resource: UInt32, hotX: UInt32 = 0, hotY: UInt32 = 0) -> [UInt8] {
        var b = Builder(); b.header(type)
        b.u32(scanout); b.u32(UInt32(bitPattern: x)); b.u32(UInt32(bitPattern: y)); b.u32(0)
        b.u32(resource); b.u32(hotX); b.u32(hotY); b.u32(0)
        return b.bytes
    }

    /// A GET_DISPLAY_INFO response for `outputs` (index = scanout id; nil = not connected).
    public static func displayInfo(_ outputs: [(width: Int, height: Int)?]) -> [UInt8] {
        var b = Builder()
        b.u32(respOkDisplayInfo); b.u32(0); b.u64(0); b.u32(0); b.u32(0)
        for i in 0..<maxScanouts {
            if i < outputs.count, let o = outputs[i] {
                b.rect(Rect(x: 0, y: 0, width: UInt32(clamping: o.width), height: UInt32(clamping: o.height)))
                b.u32(1); b.u32(0)
            } else {
                b.rect(Rect(x: 0, y: 0, width: 0, height: 0)); b.u32(0); b.u32(0)
            }
        }
        return b.bytes
    }

    /// Parses pmodes out of a display-info response; nil if it is not one.
    public static func parseDisplayInfo(_ r: [UInt8]) -> [(width: Int, height: Int)?]? {
        guard r.count >= displayInfoSize, u32(r, 0) == respOkDisplayInfo else { return nil }
        return (0..<maxScanouts).map { i in
            let o = headerSize + i * 24
            let w = Int(u32(r, o + 8)), h = Int(u32(r, o + 12)), enabled = u32(r, o + 16)
            return enabled != 0 && w > 0 && h > 0 ? (w, h) : nil
        }
    }

    /// Bounds-checked little-endian loads; out-of-range reads give 0 (callers check counts).
    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
        guard o >= 0, o + 4 <= b.count else { return 0 }
        return UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }

    static func u64(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(u32(b, o)) | UInt64(u32(b, o + 4)) << 32 }
}
