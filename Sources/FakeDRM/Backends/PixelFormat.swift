/// One pixel in the composer's common wide format: 16 bits per channel, straight from the
/// framebuffer (no pre-multiplication applied or removed), like vkms's `pixel_argb_u16`.
/// Every format reader lands here so blending is written once, for this type only.
public struct Pixel16: Sendable, Hashable {
    public var a: UInt16
    public var r: UInt16
    public var g: UInt16
    public var b: UInt16

    @inlinable
    public init(a: UInt16, r: UInt16, g: UInt16, b: UInt16) {
        self.a = a
        self.r = r
        self.g = g
        self.b = b
    }

    /// Widens an 8-bit-per-channel 0xAARRGGBB word. `v * 257` is exact bit replication, so a
    /// round trip through `argb8888` gives back the same word.
    @inlinable
    public init(argb8888 word: UInt32) {
        a = UInt16(truncatingIfNeeded: word >> 24) &* 257
        r = UInt16(truncatingIfNeeded: (word >> 16) & 0xff) &* 257
        g = UInt16(truncatingIfNeeded: (word >> 8) & 0xff) &* 257
        b = UInt16(truncatingIfNeeded: word & 0xff) &* 257
    }

    /// Narrows to 0xAARRGGBB by keeping the top byte. The readers widen by bit replication,
    /// so taking the top byte gives the classic expansions (5-bit `v<<3 | v>>2`, 10-bit
    /// `v>>2`) and returns 8-bit sources unchanged.
    @inlinable
    public var argb8888: UInt32 {
        UInt32(a >> 8) << 24 | UInt32(r >> 8) << 16 | UInt32(g >> 8) << 8 | UInt32(b >> 8)
    }
}

/// A packed RGB DRM format: what ADDFB needs to validate a buffer and what the composer needs
/// to read one line of it. Adding a format means adding one row to `all`; the composer never
/// looks at the fourcc.
public struct PixelFormat: Sendable {
    /// Converts `count` pixels starting at `source` (no alignment assumed) into `destination`.
    /// Formats without alpha write `a = 0xffff`.
    public typealias LineReader = @Sendable (
        _ source: UnsafeRawPointer, _ count: Int, _ destination: UnsafeMutablePointer<Pixel16>
    ) -> Void

    public let fourcc: UInt32
    /// Bytes per pixel (the kernel's `cpp`).
    public let bytesPerPixel: Int
    public let bitsPerPixel: Int
    /// Legacy ADDFB depth that maps to this format, or 0 when no (bpp, depth) pair does.
    public let depth: Int
    public let hasAlpha: Bool
    /// The bytes of one pixel, read as a little-endian word, already are 0x??RRGGBB, so
    /// scanout can copy rows and force the top byte instead of converting pixels.
    public let isXRGB8888Layout: Bool
    public let readLine: LineReader

    /// Reads `count` pixels into a new array. For tests and tools; the composer reads into
    /// preallocated lines through `readLine` instead.
    public func read(_ source: UnsafeRawPointer, count: Int) -> [Pixel16] {
        guard count > 0 else { return [] }
        return [Pixel16](unsafeUninitializedCapacity: count) { buffer, initialized in
            // Pixel16 is a trivial type, so letting the reader store into uninitialized
            // memory is sound.
            if let start = buffer.baseAddress { readLine(source, count, start) }
            initialized = count
        }
    }

    /// Smallest pitch a buffer `width` pixels wide can have. UInt64 because width × cpp can
    /// exceed UInt32 for hostile widths and the caller compares against a 32-bit pitch.
    public func minPitch(width: UInt32) -> UInt64 {
        UInt64(width) * UInt64(bytesPerPixel)
    }

    public static func lookup(_ fourcc: UInt32) -> PixelFormat? {
        all.first { $0.fourcc == fourcc }
    }

    /// The four ASCII characters of a fourcc, first character from the lowest byte (DRM order),
    /// with anything unprintable shown as "?" so a garbage code still logs as four characters.
    public static func name(_ fourcc: UInt32) -> String {
        var text = ""
        for shift in stride(from: 0, to: 32, by: 8) {
            let byte = UInt8(truncatingIfNeeded: fourcc >> UInt32(shift))
            text.append((0x20...0x7e).contains(byte) ? Character(UnicodeScalar(byte)) : "?")
        }
        return text
    }

    public static let xrgb8888 = PixelFormat(
        fourcc: 0x3432_5258, bytesPerPixel: 4, bitsPerPixel: 32, depth: 24, hasAlpha: false,
        isXRGB8888Layout: true, readLine: readXRGB8888)
    public static let argb8888 = PixelFormat(
        fourcc: 0x3432_5241, bytesPerPixel: 4, bitsPerPixel: 32, depth: 32, hasAlpha: true,
        isXRGB8888Layout: true, readLine: readARGB8888)
    public static let xbgr8888 = PixelFormat(
        fourcc: 0x3432_4258, bytesPerPixel: 4, bitsPerPixel: 32, depth: 0, hasAlpha: false,
        isXRGB8888Layout: false, readLine: readXBGR8888)
    public static let abgr8888 = PixelFormat(
        fourcc: 0x3432_4241, bytesPerPixel: 4, bitsPerPixel: 32, depth: 0, hasAlpha: true,
        isXRGB8888Layout: false, readLine: readABGR8888)
    public static let rgb565 = PixelFormat(
        fourcc: 0x3631_4752, bytesPerPixel: 2, bitsPerPixel: 16, depth: 16, hasAlpha: false,
        isXRGB8888Layout: false, readLine: readRGB565)
    public static let rgb888 = PixelFormat(
        fourcc: 0x3432_4752, bytesPerPixel: 3, bitsPerPixel: 24, depth: 24, hasAlpha: false,
        isXRGB8888Layout: false, readLine: readRGB888)
    public static let xrgb2101010 = PixelFormat(
        fourcc: 0x3033_5258, bytesPerPixel: 4, bitsPerPixel: 32, depth: 30, hasAlpha: false,
        isXRGB8888Layout: false, readLine: readXRGB2101010)
    public static let argb2101010 = PixelFormat(
        fourcc: 0x3033_5241, bytesPerPixel: 4, bitsPerPixel: 32, depth: 0, hasAlpha: true,
        isXRGB8888Layout: false, readLine: readARGB2101010)

    public static let all: [PixelFormat] = [
        xrgb8888, argb8888, xbgr8888, abgr8888, rgb565, rgb888, xrgb2101010, argb2101010,
    ]
}

// MARK: - Channel widening
//
// Widening is bit replication (the n-bit value repeated until 16 bits are filled): it maps
// 0 to 0 and full scale to 0xffff, and its top byte is the usual n→8 expansion.

@inline(__always) private func widen8(_ v: UInt32) -> UInt16 {
    UInt16(truncatingIfNeeded: v & 0xff) &* 257
}

@inline(__always) private func widen5(_ v: UInt32) -> UInt16 {
    let v = v & 0x1f
    return UInt16(truncatingIfNeeded: v << 11 | v << 6 | v << 1 | v >> 4)
}

@inline(__always) private func widen6(_ v: UInt32) -> UInt16 {
    let v = v & 0x3f
    return UInt16(truncatingIfNeeded: v << 10 | v << 4 | v >> 2)
}

@inline(__always) private func widen10(_ v: UInt32) -> UInt16 {
    let v = v & 0x3ff
    return UInt16(truncatingIfNeeded: v << 6 | v >> 4)
}

@inline(__always) private func widen2(_ v: UInt32) -> UInt16 {
    UInt16(truncatingIfNeeded: v & 0x3) &* 0x5555
}

// MARK: - Readers
//
// DRM formats name channels from the most significant bit of a little-endian word, so each
// reader loads the word with `littleEndian:` and shifts; unaligned loads because pitch and
// offset come from the client.

@inline(__always)
private func word32(_ source: UnsafeRawPointer, _ index: Int) -> UInt32 {
    UInt32(littleEndian: source.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
}

private func readXRGB8888(_ source: UnsafeRawPointer, _ count: Int, _ out: UnsafeMutablePointer<Pixel16>) {
    for i in 0..<count {
        let w = word32(source, i)
        out[i] = Pixel16(a: 0xffff, r: widen8(w >> 16), g: widen8(w >> 8), b: widen8(w))
    }
}

private func readARGB8888(_ source: UnsafeRawPointer, _ count: Int, _ out: UnsafeMutablePointer<Pixel16>) {
    for i in 0..<count {
        let w = word32(source, i)
        out[i] = Pixel16(a: widen8(w >> 24), r: widen8(w >> 16), g: widen8(w >> 8), b: widen8(w))
    }
}

private func readXBGR8888(_ source: UnsafeRawPointer, _ count: Int, _ out: UnsafeMutablePointer<Pixel16>) {
    for i in 0..<count {
        let w = word32(source, i)
        out[i] = Pixel16(a: 0xffff, r: widen8(w), g: widen8(w >> 8), b: widen8(w >> 16))
    }
}

private func readABGR8888(_ source: UnsafeRawPointer, _ count: Int, _ out: UnsafeMutablePointer<Pixel16>) {
    for i in 0..<count {
        let w = word32(source, i)
        out[i] = Pixel16(a: widen8(w >> 24), r: widen8(w), g: widen8(w >> 8), b: widen8(w >> 16))
    }
}

private func readRGB565(_ source: UnsafeRawPointer, _ count: Int, _ out: UnsafeMutablePointer<Pixel16>) {
    for i in 0..<count {
        let w = UInt32(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
        out[i] = Pixel16(a: 0xffff, r: widen5(w >> 11), g: widen6(w >> 5), b: widen5(w))
    }
}

private func readRGB888(_ source: UnsafeRawPointer, _ count: Int, _ out: UnsafeMutablePointer<Pixel16>) {
    // [23:0] R:G:B little-endian, so memory holds B, G, R.
    for i in 0..<count {
        let p = i &* 3
        let b = UInt32(source.load(fromByteOffset: p, as: UInt8.self))
        let g = UInt32(source.load(fromByteOffset: p &+ 1, as: UInt8.self))
        let r = UInt32(source.load(fromByteOffset: p &+ 2, as: UInt8.self))
        out[i] = Pixel16(a: 0xffff, r: widen8(r), g: widen8(g), b: widen8(b))
    }
}

private func readXRGB2101010(_ source: UnsafeRawPointer, _ count: Int, _ out: UnsafeMutablePointer<Pixel16>) {
    for i in 0..<count {
        let w = word32(source, i)
        out[i] = Pixel16(a: 0xffff, r: widen10(w >> 20), g: widen10(w >> 10), b: widen10(w))
    }
}

private func readARGB2101010(_ source: UnsafeRawPointer, _ count: Int, _ out: UnsafeMutablePointer<Pixel16>) {
    for i in 0..<count {
        let w = word32(source, i)
        out[i] = Pixel16(a: widen2(w >> 30), r: widen10(w >> 20), g: widen10(w >> 10), b: widen10(w))
    }
}
