/// The byte format of `fakedrm run --record FILE` and of the fuzz corpus: what a client asked of
/// the card, as the codec saw it. A recording is a plain sequence of records, no header, so a
/// mutated or truncated one still parses up to the first bad record (libFuzzer mutates them).
///
///     'M' u64 address, u32 length, bytes   client memory the next ioctl reads or writes
///     'I' u8 file, u32 request, u16 length, bytes   one card ioctl on open file number `file`
///     'R' u8 file, u16 max   a nonblocking read of the file's events
///
/// Little-endian. File numbers are given in order of first use; each names one open file.
public enum IoctlRecording {
    public enum Op: Equatable, Sendable {
        case memory(address: UInt64, bytes: [UInt8])
        case ioctl(file: UInt8, request: UInt32, arg: [UInt8])
        case read(file: UInt8, max: UInt16)
    }

    /// The largest memory record read back: a GAMMA_LUT of 4096 entries is 32 KiB, a blob 64 KiB.
    public static let maxMemory = 1 << 20

    public static func encode(_ op: Op) -> [UInt8] {
        var out: [UInt8] = []
        switch op {
        case .memory(let address, let bytes):
            out.append(UInt8(ascii: "M"))
            out += LE.bytes([address])
            out += LE.bytes([UInt32(bytes.count)])
            out += bytes
        case .ioctl(let file, let request, let arg):
            out.append(UInt8(ascii: "I"))
            out.append(file)
            out += LE.bytes([request])
            out += LE.bytes([UInt16(truncatingIfNeeded: arg.count)])
            out += arg.prefix(Int(UInt16.max))
        case .read(let file, let max):
            out.append(UInt8(ascii: "R"))
            out.append(file)
            out += LE.bytes([max])
        }
        return out
    }

    /// Every record up to the end or the first one that does not parse.
    public static func parse(_ data: UnsafeBufferPointer<UInt8>) -> [Op] {
        var r = Reader(data: data)
        var ops: [Op] = []
        while let tag = r.u8() {
            switch tag {
            case UInt8(ascii: "M"):
                guard let address = r.u64(), let n = r.u32(), n <= maxMemory, let bytes = r.bytes(Int(n)) else { return ops }
                ops.append(.memory(address: address, bytes: bytes))
            case UInt8(ascii: "I"):
                guard let file = r.u8(), let request = r.u32(), let n = r.u16(), let arg = r.bytes(Int(n)) else { return ops }
                ops.append(.ioctl(file: file, request: request, arg: arg))
            case UInt8(ascii: "R"):
                guard let file = r.u8(), let max = r.u16() else { return ops }
                ops.append(.read(file: file, max: max))
            default:
                return ops
            }
        }
        return ops
    }

    public static func parse(_ bytes: [UInt8]) -> [Op] {
        bytes.withUnsafeBufferPointer { parse($0) }
    }

    private struct Reader {
        let data: UnsafeBufferPointer<UInt8>
        var at = 0
        mutating func bytes(_ n: Int) -> [UInt8]? {
            guard n >= 0, n <= data.count - at else { return nil }
            defer { at += n }
            return Array(data[at..<at + n])
        }
        mutating func u8() -> UInt8? { bytes(1)?[0] }
        mutating func u16() -> UInt16? { bytes(2).map { UInt16($0[0]) | UInt16($0[1]) << 8 } }
        mutating func u32() -> UInt32? { bytes(4).map { LE.u32s($0)[0] } }
        mutating func u64() -> UInt64? { bytes(8).map { LE.u64s($0)[0] } }
    }
}
