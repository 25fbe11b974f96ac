/// Message framing of docs/socket-protocol.md: `u32 op; u32 len;` then `len` payload bytes,
/// little-endian, one message per SOCK_SEQPACKET record.
enum WireOp: UInt32, Sendable {
    case hello = 1, helloReply, ioctl, ioctlReply, memRead, memData, memWrite, memAck
    case fdLookup, fdInfo, fdInstall, fdInstalled, fdUninstall, fdAck
    case read, readReply, map, mapReply, syncRelease
    case ueventSubscribe = 20, ueventReply
    case debugfsOpen = 22, debugfsReply, debugfsWrite, debugfsWritten
    case swsyncOpen = 26, swsyncReply, swsyncClose, swsyncClosed
    case fdFetch = 30, fdFetched, exportAdopt, exportAdopted
}

enum WireKind: UInt32, Sendable {
    case foreign = 0, syncFile = 1, dmabuf = 2, syncobj = 3
    /// A new card fd (a lease's lessee): the library leaves it untracked, so its first use
    /// adopts it as any card fd passed in from outside.
    case card = 4
    /// A sw_sync timeline (SWSYNC_OPEN; never sent in FD_INSTALL).
    case timeline = 5
}

enum Wire {
    /// Largest payload either side sends; MEM_READ/MEM_WRITE data is chunked to `maxChunk`.
    static let maxChunk = 64 * 1024
    static let maxMessage = 72 * 1024
}

/// Builds one message.
struct WireWriter {
    private(set) var bytes: [UInt8]

    init(_ op: WireOp, capacity: Int = 32) {
        bytes = []
        bytes.reserveCapacity(8 + capacity)
        u32(op.rawValue)
        u32(0)
    }

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func append<C: Collection>(_ b: C) where C.Element == UInt8 { bytes.append(contentsOf: b) }

    /// The finished message with its length field filled in.
    var message: [UInt8] {
        var m = bytes
        let len = UInt32(m.count - 8).littleEndian
        withUnsafeBytes(of: len) { for i in 0..<4 { m[4 + i] = $0[i] } }
        return m
    }
}

struct WireFormatError: Error {}

/// Reads a payload with every access bounds-checked.
struct WireReader {
    let bytes: ArraySlice<UInt8>
    private var pos: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        pos = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - pos }

    mutating func u8() throws(WireFormatError) -> UInt8 {
        guard remaining >= 1 else { throw WireFormatError() }
        defer { pos += 1 }
        return bytes[pos]
    }

    mutating func u16() throws(WireFormatError) -> UInt16 {
        guard remaining >= 2 else { throw WireFormatError() }
        defer { pos += 2 }
        return UInt16(bytes[pos]) | UInt16(bytes[pos + 1]) << 8
    }

    mutating func u32() throws(WireFormatError) -> UInt32 {
        guard remaining >= 4 else { throw WireFormatError() }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[pos + i]) << (8 * UInt32(i)) }
        pos += 4
        return v
    }

    mutating func i32() throws(WireFormatError) -> Int32 { Int32(bitPattern: try u32()) }

    mutating func u64() throws(WireFormatError) -> UInt64 {
        let lo = UInt64(try u32())
        let hi = UInt64(try u32())
        return lo | hi << 32
    }

    mutating func take(_ n: Int) throws(WireFormatError) -> [UInt8] {
        guard n >= 0, remaining >= n else { throw WireFormatError() }
        let r = Array(bytes[pos..<(pos + n)])
        pos += n
        return r
    }

    mutating func rest() -> [UInt8] {
        let r = Array(bytes[pos...])
        pos = bytes.endIndex
        return r
    }
}
