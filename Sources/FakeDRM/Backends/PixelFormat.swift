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

/// Where a reader finds one line of a framebuffer: the row of every plane that holds it, and
/// the first column. Rows point at column 0 so sub-byte formats (R1/R2/R4) can find the bit
/// of column `x`, and chroma planes the sample of column `x / hsub`.
public struct LineSource {
    public var rows: (UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer)
    /// First column to read.
    public var x: Int
    /// Last chroma column a read may touch: the size check guarantees `width / hsub` columns
    /// (drm_gem_fb_init_with_funcs truncates), so a subsampled read of an odd width's last
    /// pixel reuses the column before it.
    public var lastChromaColumn: Int
    /// Y'CbCr → RGB for YUV formats; nil for RGB ones.
    public var ycbcr: YCbCrConversion?

    public init(row: UnsafeRawPointer, x: Int = 0) {
        rows = (row, row, row)
        self.x = x
        lastChromaColumn = 0
        ycbcr = nil
    }

    public init(rows: (UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer), x: Int, lastChromaColumn: Int, ycbcr: YCbCrConversion?) {
        self.rows = rows
        self.x = x
        self.lastChromaColumn = lastChromaColumn
        self.ycbcr = ycbcr
    }
}

/// A DRM format as the kernel's drm_format_info describes it (planes, bytes per block,
/// subsampling) plus the reader that turns one line of it into `Pixel16`. Adding a format means
/// adding one row to `all`; the composer never looks at the fourcc.
public struct PixelFormat: Sendable {
    /// Converts `count` pixels of the line `source` names into `destination`. Formats without
    /// alpha write `a = 0xffff`; YUV formats convert through `source.ycbcr`.
    public typealias LineReader = @Sendable (
        _ source: LineSource, _ count: Int, _ destination: UnsafeMutablePointer<Pixel16>
    ) -> Void

    public let fourcc: UInt32
    /// Bytes per block of each plane (the kernel's `char_per_block`); its count is the
    /// number of planes.
    public let blockBytes: [Int]
    /// Pixels per block along a row, plane 0 (8 for R1: eight pixels per byte).
    public let blockWidth: Int
    public let hsub: Int
    public let vsub: Int
    public let bitsPerPixel: Int
    /// Legacy ADDFB depth that maps to this format, or 0 when no (bpp, depth) pair does.
    public let depth: Int
    public let hasAlpha: Bool
    public let isYUV: Bool
    /// The bytes of one pixel, read as a little-endian word, already are 0x??RRGGBB, so
    /// scanout can copy rows and force the top byte instead of converting pixels.
    public let isXRGB8888Layout: Bool
    public let readLine: LineReader

    init(fourcc: UInt32, blockBytes: [Int], blockWidth: Int = 1, hsub: Int = 1, vsub: Int = 1, bitsPerPixel: Int, depth: Int,
         hasAlpha: Bool = false, isYUV: Bool = false, isXRGB8888Layout: Bool = false, readLine: @escaping LineReader) {
        self.fourcc = fourcc
        self.blockBytes = blockBytes
        self.blockWidth = blockWidth
        self.hsub = hsub
        self.vsub = vsub
        self.bitsPerPixel = bitsPerPixel
        self.depth = depth
        self.hasAlpha = hasAlpha
        self.isYUV = isYUV
        self.isXRGB8888Layout = isXRGB8888Layout
        self.readLine = readLine
    }

    public var planeCount: Int { blockBytes.count }

    /// Bytes per pixel of plane 0 (the kernel's `cpp[0]`); 0 for formats packing several
    /// pixels into a byte.
    public var bytesPerPixel: Int { blockWidth == 1 ? blockBytes[0] : 0 }

    /// Reads `count` pixels of a single-plane RGB line into a new array. For tests and tools;
    /// the composer reads into preallocated lines through `readLine` instead.
    public func read(_ source: UnsafeRawPointer, count: Int) -> [Pixel16] {
        guard count > 0 else { return [] }
        return [Pixel16](unsafeUninitializedCapacity: count) { buffer, initialized in
            // Pixel16 is a trivial type, so letting the reader store into uninitialized
            // memory is sound.
            if let start = buffer.baseAddress { readLine(LineSource(row: source), count, start) }
            initialized = count
        }
    }

    /// Width in pixels of plane `plane` for a framebuffer `width` wide, rounded up
    /// (fb_plane_width).
    public func planeWidth(_ width: UInt32, plane: Int) -> UInt32 {
        plane == 0 ? width : UInt32((UInt64(width) + UInt64(hsub) - 1) / UInt64(hsub))
    }

    public func planeHeight(_ height: UInt32, plane: Int) -> UInt32 {
        plane == 0 ? height : UInt32((UInt64(height) + UInt64(vsub) - 1) / UInt64(vsub))
    }

    /// Smallest pitch plane `plane` can have for `width` of its own pixels
    /// (drm_format_info_min_pitch). UInt64 because width × cpp can exceed UInt32 for hostile
    /// widths and the caller compares against a 32-bit pitch.
    public func minPitch(width: UInt32, plane: Int = 0) -> UInt64 {
        let perBlock = plane == 0 ? UInt64(blockWidth) : 1
        return (UInt64(width) * UInt64(blockBytes[plane]) + perBlock - 1) / perBlock
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

    /// fourcc_code(): first character in the lowest byte.
    static func code(_ s: StaticString) -> UInt32 {
        s.withUTF8Buffer { b in b.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } }
    }

    // MARK: packed RGB

    public static let xrgb8888 = PixelFormat(
        fourcc: code("XR24"), blockBytes: [4], bitsPerPixel: 32, depth: 24, isXRGB8888Layout: true, readLine: FormatReaders.xrgb8888)
    public static let argb8888 = PixelFormat(
        fourcc: code("AR24"), blockBytes: [4], bitsPerPixel: 32, depth: 32, hasAlpha: true, isXRGB8888Layout: true,
        readLine: FormatReaders.argb8888)
    public static let xbgr8888 = PixelFormat(
        fourcc: code("XB24"), blockBytes: [4], bitsPerPixel: 32, depth: 0, readLine: FormatReaders.xbgr8888)
    public static let abgr8888 = PixelFormat(
        fourcc: code("AB24"), blockBytes: [4], bitsPerPixel: 32, depth: 0, hasAlpha: true, readLine: FormatReaders.abgr8888)
    public static let rgb565 = PixelFormat(
        fourcc: code("RG16"), blockBytes: [2], bitsPerPixel: 16, depth: 16, readLine: FormatReaders.rgb565)
    public static let rgb888 = PixelFormat(
        fourcc: code("RG24"), blockBytes: [3], bitsPerPixel: 24, depth: 24, readLine: FormatReaders.rgb888)
    public static let xrgb2101010 = PixelFormat(
        fourcc: code("XR30"), blockBytes: [4], bitsPerPixel: 32, depth: 30, readLine: FormatReaders.xrgb2101010)
    public static let argb2101010 = PixelFormat(
        fourcc: code("AR30"), blockBytes: [4], bitsPerPixel: 32, depth: 0, hasAlpha: true, readLine: FormatReaders.argb2101010)
    public static let xrgb16161616 = PixelFormat(
        fourcc: code("XR48"), blockBytes: [8], bitsPerPixel: 64, depth: 0, readLine: FormatReaders.xrgb16161616)
    public static let argb16161616 = PixelFormat(
        fourcc: code("AR48"), blockBytes: [8], bitsPerPixel: 64, depth: 0, hasAlpha: true, readLine: FormatReaders.argb16161616)

    // MARK: single-channel (vkms shows them as grey)

    public static let r1 = PixelFormat(fourcc: code("R1  "), blockBytes: [1], blockWidth: 8, bitsPerPixel: 1, depth: 1,
                                       readLine: FormatReaders.grey(bits: 1))
    public static let r2 = PixelFormat(fourcc: code("R2  "), blockBytes: [1], blockWidth: 4, bitsPerPixel: 2, depth: 2,
                                       readLine: FormatReaders.grey(bits: 2))
    public static let r4 = PixelFormat(fourcc: code("R4  "), blockBytes: [1], blockWidth: 2, bitsPerPixel: 4, depth: 4,
                                       readLine: FormatReaders.grey(bits: 4))
    public static let r8 = PixelFormat(fourcc: code("R8  "), blockBytes: [1], bitsPerPixel: 8, depth: 8, readLine: FormatReaders.grey8)

    // MARK: Y'CbCr, semi-planar (Y plane, then one plane of interleaved chroma)

    static func semiPlanar(_ name: StaticString, hsub: Int, vsub: Int, crFirst: Bool) -> PixelFormat {
        PixelFormat(fourcc: code(name), blockBytes: [1, 2], hsub: hsub, vsub: vsub, bitsPerPixel: 8 + 16 / (hsub * vsub), depth: 0,
                    isYUV: true, readLine: FormatReaders.semiPlanar(hsub: hsub, crFirst: crFirst))
    }

    static func planar(_ name: StaticString, hsub: Int, vsub: Int, crFirst: Bool) -> PixelFormat {
        PixelFormat(fourcc: code(name), blockBytes: [1, 1, 1], hsub: hsub, vsub: vsub, bitsPerPixel: 8 + 16 / (hsub * vsub), depth: 0,
                    isYUV: true, readLine: FormatReaders.planar(hsub: hsub, crFirst: crFirst))
    }

    public static let nv12 = semiPlanar("NV12", hsub: 2, vsub: 2, crFirst: false)
    public static let nv21 = semiPlanar("NV21", hsub: 2, vsub: 2, crFirst: true)
    public static let nv16 = semiPlanar("NV16", hsub: 2, vsub: 1, crFirst: false)
    public static let nv61 = semiPlanar("NV61", hsub: 2, vsub: 1, crFirst: true)
    public static let nv24 = semiPlanar("NV24", hsub: 1, vsub: 1, crFirst: false)
    public static let nv42 = semiPlanar("NV42", hsub: 1, vsub: 1, crFirst: true)
    public static let yuv420 = planar("YU12", hsub: 2, vsub: 2, crFirst: false)
    public static let yvu420 = planar("YV12", hsub: 2, vsub: 2, crFirst: true)
    public static let yuv422 = planar("YU16", hsub: 2, vsub: 1, crFirst: false)
    public static let yvu422 = planar("YV16", hsub: 2, vsub: 1, crFirst: true)
    public static let yuv444 = planar("YU24", hsub: 1, vsub: 1, crFirst: false)
    public static let yvu444 = planar("YV24", hsub: 1, vsub: 1, crFirst: true)

    public static let all: [PixelFormat] = [
        xrgb8888, argb8888, xbgr8888, abgr8888, rgb565, rgb888, xrgb2101010, argb2101010,
        xrgb16161616, argb16161616,
        nv12, nv16, nv24, nv21, nv61, nv42, yuv420, yuv422, yuv444, yvu420, yvu422, yvu444,
        r1, r2, r4, r8,
    ]
}
