/// An ioctl request number split the x86_64 `_IOC` way.
public struct IoctlRequest: Sendable, Equatable {
    public let raw: UInt32
    public init(_ raw: UInt32) { self.raw = raw }
    public init(dir: UInt32, type: UInt8, nr: UInt8, size: Int) {
        raw = dir << 30 | UInt32(size & 0x3fff) << 16 | UInt32(type) << 8 | UInt32(nr)
    }
    public var nr: UInt8 { UInt8(raw & 0xff) }
    public var type: UInt8 { UInt8((raw >> 8) & 0xff) }
    public var size: Int { Int((raw >> 16) & 0x3fff) }
    /// Bit 0: _IOC_WRITE (user → kernel), bit 1: _IOC_READ (kernel → user).
    public var dir: UInt32 { raw >> 30 }
    public var copiesIn: Bool { dir & 1 != 0 }
    public var copiesOut: Bool { dir & 2 != 0 }

    public static let drmType: UInt8 = 0x64
    public static let syncType: UInt8 = 0x3e

    public static func drm(_ nr: UInt8, size: Int, dir: UInt32 = 3) -> IoctlRequest {
        IoctlRequest(dir: dir, type: drmType, nr: nr, size: size)
    }
}

/// The bytes the client gets back and the result: 0, or the errno (positive).
public struct IoctlReply: Sendable {
    public var errno: Int32
    public var bytes: [UInt8]
}
