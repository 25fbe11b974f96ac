/// CRC-32 as in zlib, PNG and Ethernet (reflected polynomial 0xEDB88320, initial and final
/// value 0xFFFFFFFF), so a frame's CRC can be checked with `zlib.crc32` from any language.
enum CRC32 {
    /// Four 256-entry tables back to back: table 0 is the classic byte table, table k
    /// advances a byte's contribution by k more zero bytes. Together they consume a whole
    /// little-endian word per step ("slicing by 4"), which suits frames made of words.
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 4 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[n] = c
        }
        for k in 1..<4 {
            for n in 0..<256 {
                let previous = t[(k - 1) * 256 + n]
                t[k * 256 + n] = (previous >> 8) ^ t[Int(previous & 0xff)]
            }
        }
        return t
    }()

    /// Continues a CRC over `bytes`; start from 0 for a fresh one, as zlib does.
    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = ~crc
        tables.withUnsafeBufferPointer { t in
            for byte in bytes { c = t[Int(UInt8(truncatingIfNeeded: c) ^ byte)] ^ (c >> 8) }
        }
        return ~c
    }

    /// Continues a CRC over words taken as their 4 little-endian bytes, whatever the host's
    /// byte order, so the value matches a CRC of the bytes a little-endian buffer would hold.
    static func update(_ crc: UInt32, words: UnsafeBufferPointer<UInt32>) -> UInt32 {
        var c = ~crc
        tables.withUnsafeBufferPointer { t in
            for word in words {
                c ^= word
                c = t[768 + Int(c & 0xff)] ^ t[512 + Int((c >> 8) & 0xff)]
                    ^ t[256 + Int((c >> 16) & 0xff)] ^ t[Int(c >> 24)]
            }
        }
        return ~c
    }
}

extension Frame {
    /// CRC-32 of the pixel words stored little-endian, i.e. of the bytes a client would read
    /// from an XRGB8888 writeback buffer holding this frame.
    public var crc32: UInt32 {
        pixels.withUnsafeBufferPointer { CRC32.update(0, words: $0) }
    }
}
