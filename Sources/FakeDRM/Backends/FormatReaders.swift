/// The line readers behind `PixelFormat.all`: each turns `count` pixels of one format into
/// `Pixel16`. DRM formats name channels from the most significant bit of a little-endian word,
/// so packed readers load the word with `littleEndian:` and shift; loads are unaligned because
/// pitch and offset come from the client. Inner loops stay inside each reader (no per-pixel
/// closure), which is what keeps the composer fast.
enum FormatReaders {
    // MARK: channel widening
    //
    // Widening is bit replication (the n-bit value repeated until 16 bits are filled): it maps
    // 0 to 0 and full scale to 0xffff, and its top byte is the usual n→8 expansion.

    @inline(__always) static func widen8(_ v: UInt32) -> UInt16 {
        UInt16(truncatingIfNeeded: v & 0xff) &* 257
    }

    @inline(__always) static func widen5(_ v: UInt32) -> UInt16 {
        let v = v & 0x1f
        return UInt16(truncatingIfNeeded: v << 11 | v << 6 | v << 1 | v >> 4)
    }

    @inline(__always) static func widen6(_ v: UInt32) -> UInt16 {
        let v = v & 0x3f
        return UInt16(truncatingIfNeeded: v << 10 | v << 4 | v >> 2)
    }

    @inline(__always) static func widen10(_ v: UInt32) -> UInt16 {
        let v = v & 0x3ff
        return UInt16(truncatingIfNeeded: v << 6 | v >> 4)
    }

    @inline(__always) static func widen2(_ v: UInt32) -> UInt16 {
        UInt16(truncatingIfNeeded: v & 0x3) &* 0x5555
    }

    @inline(__always)
    static func word32(_ source: UnsafeRawPointer, _ index: Int) -> UInt32 {
        UInt32(littleEndian: source.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
    }

    @inline(__always)
    static func half(_ source: UnsafeRawPointer, _ byteOffset: Int) -> UInt16 {
        UInt16(littleEndian: source.loadUnaligned(fromByteOffset: byteOffset, as: UInt16.self))
    }

    // MARK: packed RGB

    static let xrgb8888: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x &* 4
        for i in 0..<count {
            let w = word32(p, i)
            out[i] = Pixel16(a: 0xffff, r: widen8(w >> 16), g: widen8(w >> 8), b: widen8(w))
        }
    }

    static let argb8888: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x &* 4
        for i in 0..<count {
            let w = word32(p, i)
            out[i] = Pixel16(a: widen8(w >> 24), r: widen8(w >> 16), g: widen8(w >> 8), b: widen8(w))
        }
    }

    static let xbgr8888: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x &* 4
        for i in 0..<count {
            let w = word32(p, i)
            out[i] = Pixel16(a: 0xffff, r: widen8(w), g: widen8(w >> 8), b: widen8(w >> 16))
        }
    }

    static let abgr8888: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x &* 4
        for i in 0..<count {
            let w = word32(p, i)
            out[i] = Pixel16(a: widen8(w >> 24), r: widen8(w), g: widen8(w >> 8), b: widen8(w >> 16))
        }
    }

    static let rgb565: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x &* 2
        for i in 0..<count {
            let w = UInt32(half(p, i &* 2))
            out[i] = Pixel16(a: 0xffff, r: widen5(w >> 11), g: widen6(w >> 5), b: widen5(w))
        }
    }

    /// [23:0] R:G:B little-endian, so memory holds B, G, R.
    static let rgb888: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x &* 3
        for i in 0..<count {
            let o = i &* 3
            let b = UInt32(p.load(fromByteOffset: o, as: UInt8.self))
            let g = UInt32(p.load(fromByteOffset: o &+ 1, as: UInt8.self))
            let r = UInt32(p.load(fromByteOffset: o &+ 2, as: UInt8.self))
            out[i] = Pixel16(a: 0xffff, r: widen8(r), g: widen8(g), b: widen8(b))
        }
    }

    static let xrgb2101010: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x &* 4
        for i in 0..<count {
            let w = word32(p, i)
            out[i] = Pixel16(a: 0xffff, r: widen10(w >> 20), g: widen10(w >> 10), b: widen10(w))
        }
    }

    static let argb2101010: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x &* 4
        for i in 0..<count {
            let w = word32(p, i)
            out[i] = Pixel16(a: widen2(w >> 30), r: widen10(w >> 20), g: widen10(w >> 10), b: widen10(w))
        }
    }

    /// [63:0] A:R:G:B 16 bits each, little-endian: memory holds B, G, R, A. Already the
    /// composer's width, so nothing is widened.
    static let xrgb16161616: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x &* 8
        for i in 0..<count {
            let o = i &* 8
            out[i] = Pixel16(a: 0xffff, r: half(p, o &+ 4), g: half(p, o &+ 2), b: half(p, o))
        }
    }

    static let argb16161616: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x &* 8
        for i in 0..<count {
            let o = i &* 8
            out[i] = Pixel16(a: half(p, o &+ 6), r: half(p, o &+ 4), g: half(p, o &+ 2), b: half(p, o))
        }
    }

    // MARK: single channel

    static let grey8: PixelFormat.LineReader = { s, count, out in
        let p = s.rows.0 + s.x
        for i in 0..<count {
            let v = widen8(UInt32(p.load(fromByteOffset: i, as: UInt8.self)))
            out[i] = Pixel16(a: 0xffff, r: v, g: v, b: v)
        }
    }

    /// R1/R2/R4: several pixels per byte, the first in the most significant bits
    /// ("[7:0] R0:R1:R2:R3:R4:R5:R6:R7" for R1). Full scale maps to 0xffff, so the
    /// multiplier is 0xffff / (2^bits − 1), exact for 1, 2 and 4 bits.
    static func grey(bits: Int) -> PixelFormat.LineReader {
        let perByte = 8 / bits
        let mask = UInt32(1) << UInt32(bits) - 1
        let scale = UInt32(0xffff) / mask
        return { s, count, out in
            for i in 0..<count {
                let x = s.x &+ i
                let byte = UInt32(s.rows.0.load(fromByteOffset: x / perByte, as: UInt8.self))
                let shift = UInt32(8 - bits * (x % perByte + 1))
                let v = UInt16(truncatingIfNeeded: ((byte >> shift) & mask) &* scale)
                out[i] = Pixel16(a: 0xffff, r: v, g: v, b: v)
            }
        }
    }

    // MARK: Y'CbCr
    //
    // Chroma is sampled at column x / hsub with no filtering, as vkms does: what a test
    // computes for a pixel depends only on that pixel's own samples.

    static func semiPlanar(hsub: Int, crFirst: Bool) -> PixelFormat.LineReader {
        let cbOffset = crFirst ? 1 : 0, crOffset = crFirst ? 0 : 1
        return { s, count, out in
            guard let conversion = s.ycbcr else { return }
            conversion.withTables { t in
                for i in 0..<count {
                    let x = s.x &+ i
                    let c = min(x / hsub, s.lastChromaColumn) &* 2
                    let y = s.rows.0.load(fromByteOffset: x, as: UInt8.self)
                    let cb = s.rows.1.load(fromByteOffset: c &+ cbOffset, as: UInt8.self)
                    let cr = s.rows.1.load(fromByteOffset: c &+ crOffset, as: UInt8.self)
                    out[i] = t.convert(y, cb, cr)
                }
            }
        }
    }

    static func planar(hsub: Int, crFirst: Bool) -> PixelFormat.LineReader {
        { s, count, out in
            guard let conversion = s.ycbcr else { return }
            let cbRow = crFirst ? s.rows.2 : s.rows.1, crRow = crFirst ? s.rows.1 : s.rows.2
            conversion.withTables { t in
                for i in 0..<count {
                    let x = s.x &+ i
                    let c = min(x / hsub, s.lastChromaColumn)
                    let y = s.rows.0.load(fromByteOffset: x, as: UInt8.self)
                    out[i] = t.convert(y, cbRow.load(fromByteOffset: c, as: UInt8.self), crRow.load(fromByteOffset: c, as: UInt8.self))
                }
            }
        }
    }
}
