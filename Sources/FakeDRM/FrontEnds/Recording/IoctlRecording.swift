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
            out += LE.bytes([UInt16(clamping: arg.count)])
            out += arg.prefix(Int(UInt16.max))
        case .read(let file, let max):
            out.append(UInt8(ascii: "R"))
            out.append(file)
            out += LE.bytes([max])
        }
        return out
    }

    /// Every record up to the end or the first one that does not parse.
    public static func parse(_ bytes: [UInt8]) -> [Op] {
        var r = WireReader(bytes[...])
        var ops: [Op] = []
        do {
            while r.remaining > 0 {
                switch try r.u8() {
                case UInt8(ascii: "M"):
                    let address = try r.u64(), n = try r.u32()
                    guard n <= maxMemory else { return ops }
                    ops.append(.memory(address: address, bytes: try r.take(Int(n))))
                case UInt8(ascii: "I"):
                    let file = try r.u8(), request = try r.u32(), n = try r.u16()
                    ops.append(.ioctl(file: file, request: request, arg: try r.take(Int(n))))
                case UInt8(ascii: "R"):
                    let file = try r.u8(), max = try r.u16()
                    ops.append(.read(file: file, max: max))
                default:
                    return ops
                }
            }
        } catch {
            return ops
        }
        return ops
    }

    public static func parse(_ data: UnsafeBufferPointer<UInt8>) -> [Op] { parse(Array(data)) }
}
