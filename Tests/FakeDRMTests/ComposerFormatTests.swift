import Foundation
import Testing

@testable import FakeDRM

/// The formats, rotations and colour stages vkms composes, checked against values these tests
/// compute on their own: the YCbCr equations from the standards' Kr/Kb, rotation as a
/// transformation of the whole image, the gamma ramp as a real-valued interpolation.
@Suite struct ComposerFormatTests {
    /// Bytes that stay alive for the duration of one compose.
    final class Buffer {
        let raw: UnsafeMutableRawBufferPointer
        init(_ bytes: [UInt8]) {
            raw = .allocate(byteCount: max(bytes.count, 1), alignment: 16)
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            raw.copyBytes(from: bytes)
        }
        deinit { raw.deallocate() }
        func memory(offset: Int = 0, pitch: Int) -> PlaneMemory {
            PlaneMemory(base: UnsafeRawPointer(raw.baseAddress!), size: raw.count, offset: offset, pitch: pitch)
        }
    }

    func plane(_ format: PixelFormat, _ planes: [PlaneMemory], width: UInt32, height: UInt32) -> ComposerPlane {
        var p = ComposerPlane(
            base: planes[0].base, bufferSize: planes[0].size, offset: planes[0].offset, pitch: planes[0].pitch,
            format: format.fourcc, fbWidth: width, fbHeight: height,
            srcX: 0, srcY: 0, srcW: width << 16, srcH: height << 16, crtcX: 0, crtcY: 0, crtcW: width, crtcH: height)
        p.chroma = Array(planes.dropFirst())
        return p
    }

    /// A deterministic byte sequence (a 32-bit LCG's top byte).
    struct Samples {
        var state: UInt32
        mutating func next() -> UInt8 {
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(state >> 24)
        }
    }

    // MARK: RGB and single-channel readers

    @Test func sixteenBitAndSingleChannelReaders() {
        // XR48/AR48: four little-endian u16, B G R A in memory; the composer's output is the
        // top byte of each 16-bit channel.
        let wide: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
        let xr48 = wide.withUnsafeBytes { PixelFormat.xrgb16161616.read($0.baseAddress!, count: 1) }
        #expect(xr48 == [Pixel16(a: 0xffff, r: 0x6655, g: 0x4433, b: 0x2211)])
        let ar48 = wide.withUnsafeBytes { PixelFormat.argb16161616.read($0.baseAddress!, count: 1) }
        #expect(ar48 == [Pixel16(a: 0x8877, r: 0x6655, g: 0x4433, b: 0x2211)])

        // R1: 0b1010_0001 is pixels 1,0,1,0,0,0,0,1 (most significant bit first).
        let r1 = [UInt8(0b1010_0001)].withUnsafeBytes { PixelFormat.r1.read($0.baseAddress!, count: 8) }
        #expect(r1.map(\.r) == [0xffff, 0, 0xffff, 0, 0, 0, 0, 0xffff])
        #expect(r1.allSatisfy { $0.r == $0.g && $0.g == $0.b && $0.a == 0xffff })
        // R2: 0b11_10_01_00 is 3, 2, 1, 0 in quarters of full scale.
        let r2 = [UInt8(0b1110_0100)].withUnsafeBytes { PixelFormat.r2.read($0.baseAddress!, count: 4) }
        #expect(r2.map(\.r) == [0xffff, 0xaaaa, 0x5555, 0])
        let r4 = [UInt8(0xf1)].withUnsafeBytes { PixelFormat.r4.read($0.baseAddress!, count: 2) }
        #expect(r4.map(\.r) == [0xffff, 0x1111])
        let r8 = [UInt8(0x80)].withUnsafeBytes { PixelFormat.r8.read($0.baseAddress!, count: 1) }
        #expect(r8.map(\.argb8888) == [0xff80_8080])
    }

    /// R1 from a column past the first byte: the reader must find the right bit of the right byte.
    @Test func subBytePlaneFromAnOffsetColumn() {
        let row: [UInt8] = [0x00, 0b0100_0000]  // only pixel 9 is set
        let buffer = Buffer(row)
        var p = plane(.r1, [buffer.memory(pitch: 2)], width: 16, height: 1)
        p.srcX = 8 << 16
        p.srcW = 8 << 16
        p.crtcW = 8
        let frame = withExtendedLifetime(buffer) { Composer.compose(width: 8, height: 1, planes: [p]) }
        #expect(frame.pixels == [0xff00_0000, 0xffff_ffff] + Array(repeating: 0xff00_0000, count: 6))
    }

    // MARK: YCbCr

    /// The reference: the standard's equations in Double, rounded to 16 bits, then the top
    /// byte as the composer narrows.
    static func reference(y: UInt8, cb: UInt8, cr: UInt8, _ encoding: ColorEncoding, _ range: ColorRange) -> UInt32 {
        let (kr, kb): (Double, Double) = switch encoding {
        case .bt601: (0.299, 0.114)
        case .bt709: (0.2126, 0.0722)
        case .bt2020: (0.2627, 0.0593)
        }
        let kg = 1 - kr - kb
        let luma = range == .full ? Double(y) / 255 : (Double(y) - 16) / 219
        let pb = (Double(cb) - 128) / (range == .full ? 255 : 224)
        let pr = (Double(cr) - 128) / (range == .full ? 255 : 224)
        // Solve Y = Kr R + Kg G + Kb B, Pb = (B − Y) / (2(1 − Kb)), Pr = (R − Y) / (2(1 − Kr)).
        let r = luma + 2 * (1 - kr) * pr
        let b = luma + 2 * (1 - kb) * pb
        let g = (luma - kr * r - kb * b) / kg
        func channel(_ v: Double) -> UInt32 { UInt32(min(max((v * 65535).rounded(), 0), 65535)) >> 8 }
        return 0xff00_0000 | channel(r) << 16 | channel(g) << 8 | channel(b)
    }

    static let yuvFormats: [PixelFormat] = PixelFormat.all.filter(\.isYUV)

    @Test(arguments: yuvFormats)
    func yuvFormatsConvertAsTheStandardsSay(_ format: PixelFormat) {
        let (w, h) = (6, 4)
        let cw = w / format.hsub, ch = h / format.vsub
        for encoding in ColorEncoding.allCases {
            for range in ColorRange.allCases {
                var samples = Samples(state: UInt32(format.fourcc) ^ UInt32(encoding.rawValue) << 8 ^ UInt32(range.rawValue))
                let luma = (0..<(w * h)).map { _ in samples.next() }
                let cb = (0..<(cw * ch)).map { _ in samples.next() }
                let cr = (0..<(cw * ch)).map { _ in samples.next() }
                // Lay the samples out in the format's planes, in one buffer with offsets, the way
                // a client allocating one dumb buffer does; pitches padded to show they are used.
                let lumaPitch = w + 2
                var bytes = [UInt8](repeating: 0xee, count: lumaPitch * h)
                for y in 0..<h { for x in 0..<w { bytes[y * lumaPitch + x] = luma[y * w + x] } }
                var memories: [(offset: Int, pitch: Int)] = [(0, lumaPitch)]
                let crFirst = [PixelFormat.nv21, .nv61, .nv42, .yvu420, .yvu422, .yvu444].contains { $0.fourcc == format.fourcc }
                if format.planeCount == 2 {
                    let pitch = cw * 2 + 4
                    memories.append((bytes.count, pitch))
                    var plane = [UInt8](repeating: 0xee, count: pitch * ch)
                    for y in 0..<ch {
                        for x in 0..<cw {
                            plane[y * pitch + 2 * x] = crFirst ? cr[y * cw + x] : cb[y * cw + x]
                            plane[y * pitch + 2 * x + 1] = crFirst ? cb[y * cw + x] : cr[y * cw + x]
                        }
                    }
                    bytes += plane
                } else {
                    let pitch = cw + 3
                    for source in crFirst ? [cr, cb] : [cb, cr] {
                        memories.append((bytes.count, pitch))
                        var plane = [UInt8](repeating: 0xee, count: pitch * ch)
                        for y in 0..<ch { for x in 0..<cw { plane[y * pitch + x] = source[y * cw + x] } }
                        bytes += plane
                    }
                }
                let buffer = Buffer(bytes)
                var p = plane(format, memories.map { buffer.memory(offset: $0.offset, pitch: $0.pitch) }, width: UInt32(w), height: UInt32(h))
                p.colorEncoding = encoding
                p.colorRange = range
                let frame = withExtendedLifetime(buffer) { Composer.compose(width: w, height: h, planes: [p]) }
                var expected: [UInt32] = []
                for y in 0..<h {
                    for x in 0..<w {
                        let c = (y / format.vsub) * cw + x / format.hsub
                        expected.append(Self.reference(y: luma[y * w + x], cb: cb[c], cr: cr[c], encoding, range))
                    }
                }
                #expect(frame.pixels == expected, "\(PixelFormat.name(format.fourcc)) \(encoding) \(range)")
            }
        }
    }

    /// Known points: limited-range black and white, full-range grey, BT.709 red.
    @Test func yuvKnownColours() {
        #expect(Self.reference(y: 16, cb: 128, cr: 128, .bt601, .limited) == 0xff00_0000)
        #expect(Self.reference(y: 235, cb: 128, cr: 128, .bt709, .limited) == 0xffff_ffff)
        for (y, cb, cr, encoding, range, rgb) in [
            (UInt8(16), UInt8(128), UInt8(128), ColorEncoding.bt601, ColorRange.limited, UInt32(0xff00_0000)),
            (235, 128, 128, .bt2020, .limited, 0xffff_ffff),
            (128, 128, 128, .bt601, .full, 0xff80_8080),
            // BT.709 limited red (R'G'B' 255, 0, 0) rounds to Y' 63, Cb 102, Cr 240, which
            // lands a little past full red: it clamps.
            (63, 102, 240, .bt709, .limited, 0xffff_0000),
        ] {
            var t = Pixel16(a: 0, r: 0, g: 0, b: 0)
            YCbCrConversion.of(encoding: encoding, range: range).withTables { t = $0.convert(y, cb, cr) }
            #expect(t.argb8888 == rgb, "\(y) \(cb) \(cr) \(encoding) \(range)")
        }
    }

    /// An odd-sized NV12 frame: the last column and row reuse the chroma before them, and the
    /// composer never reads past the chroma the kernel's size check guarantees.
    @Test func oddSizedSubsampledFrame() {
        let (w, h) = (5, 3)
        let luma = [UInt8](repeating: 128, count: w * h)
        // width / hsub × height / vsub = 2 × 1 chroma pairs, exactly the buffer's end.
        let chroma: [UInt8] = [128, 128, 90, 240]
        let buffer = Buffer(luma + chroma)
        let p = plane(.nv12, [buffer.memory(pitch: w), buffer.memory(offset: w * h, pitch: 4)], width: UInt32(w), height: UInt32(h))
        #expect(buffer.raw.count == w * h + 4)
        let frame = withExtendedLifetime(buffer) { Composer.compose(width: w, height: h, planes: [p]) }
        let grey = Self.reference(y: 128, cb: 128, cr: 128, .bt601, .full)
        let tinted = Self.reference(y: 128, cb: 90, cr: 240, .bt601, .full)
        for y in 0..<h { #expect(Array(frame.pixels[(y * w)..<(y * w + w)]) == [grey, grey, tinted, tinted, tinted]) }
    }

    @Test func chromaPlaneTooSmallSkipsThePlane() {
        let buffer = Buffer([UInt8](repeating: 200, count: 16 + 7))  // 4x4 luma, 7 of 8 chroma bytes
        let p = plane(.nv12, [buffer.memory(pitch: 4), buffer.memory(offset: 16, pitch: 4)], width: 4, height: 4)
        let frame = withExtendedLifetime(buffer) { Composer.compose(width: 4, height: 4, planes: [p], background: 0x123456) }
        #expect(frame.pixels == Array(repeating: 0xff12_3456, count: 16))
        var missing = p
        missing.chroma = []
        let none = withExtendedLifetime(buffer) { Composer.compose(width: 4, height: 4, planes: [missing], background: 0x123456) }
        #expect(none.pixels == Array(repeating: 0xff12_3456, count: 16))
    }

    // MARK: rotation

    /// The whole image transformed as drm_blend.c describes: reflect first, then rotate
    /// counter-clockwise.
    static func transform(_ image: [[UInt32]], rotation: UInt32) -> [[UInt32]] {
        var img = image
        if rotation & ComposerPlane.reflectX != 0 { img = img.map { Array($0.reversed()) } }
        if rotation & ComposerPlane.reflectY != 0 { img = img.reversed() }
        func ccw(_ m: [[UInt32]]) -> [[UInt32]] {
            // The top row becomes the left column, read upwards.
            let rows = m.count, cols = m[0].count
            return (0..<cols).map { r in (0..<rows).map { c in m[c][cols - 1 - r] } }
        }
        let turns = [ComposerPlane.rotate0, ComposerPlane.rotate90, ComposerPlane.rotate180, ComposerPlane.rotate270].firstIndex { rotation & $0 != 0 } ?? 0
        for _ in 0..<turns { img = ccw(img) }
        return img
    }

    static let rotations: [UInt32] = [ComposerPlane.rotate0, ComposerPlane.rotate90, ComposerPlane.rotate180, ComposerPlane.rotate270].flatMap { r in
        [0, ComposerPlane.reflectX, ComposerPlane.reflectY, ComposerPlane.reflectX | ComposerPlane.reflectY].map { r | $0 }
    }

    @Test(arguments: rotations)
    func rotationAndReflection(_ rotation: UInt32) {
        // A 5x3 source rectangle at (1, 1) of a 7x4 framebuffer, every pixel distinct.
        let (fw, fh) = (7, 4)
        let words = (0..<(fw * fh)).map { UInt32(0xff00_0000) | UInt32($0 * 9 + 3) << 8 | UInt32($0) }
        let buffer = Buffer(words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } })
        var p = plane(.xrgb8888, [buffer.memory(pitch: fw * 4)], width: UInt32(fw), height: UInt32(fh))
        p.srcX = 1 << 16
        p.srcY = 1 << 16
        p.srcW = 5 << 16
        p.srcH = 3 << 16
        p.rotation = rotation
        let source = (1..<4).map { y in (1..<6).map { x in words[y * fw + x] } }
        let expected = Self.transform(source, rotation: rotation)
        p.crtcX = 2
        p.crtcY = 1
        p.crtcW = UInt32(expected[0].count)
        p.crtcH = UInt32(expected.count)
        let frame = withExtendedLifetime(buffer) { Composer.compose(width: 10, height: 8, planes: [p]) }
        for y in 0..<8 {
            for x in 0..<10 {
                let inside = (2..<(2 + expected[0].count)).contains(x) && (1..<(1 + expected.count)).contains(y)
                #expect(frame.pixels[y * 10 + x] == (inside ? expected[y - 1][x - 2] : 0xff00_0000), "rotation \(rotation) at \(x),\(y)")
            }
        }
    }

    /// Rotation composes with YUV reading and scaling: a rotated NV24 plane shown at twice its
    /// size is each rotated pixel repeated 2×2.
    @Test func rotatedScaledYUV() {
        let (w, h) = (3, 2)
        let luma: [UInt8] = [20, 60, 100, 140, 180, 220]
        let chroma = [UInt8](repeating: 128, count: w * h * 2)
        let buffer = Buffer(luma + chroma)
        var p = plane(.nv24, [buffer.memory(pitch: w), buffer.memory(offset: w * h, pitch: w * 2)], width: UInt32(w), height: UInt32(h))
        p.rotation = ComposerPlane.rotate90
        p.crtcW = UInt32(h * 2)
        p.crtcH = UInt32(w * 2)
        let frame = withExtendedLifetime(buffer) { Composer.compose(width: h * 2, height: w * 2, planes: [p]) }
        let greys = luma.map { Self.reference(y: $0, cb: 128, cr: 128, .bt601, .full) }
        let rotated = Self.transform((0..<h).map { y in (0..<w).map { greys[y * w + $0] } }, rotation: ComposerPlane.rotate90)
        for y in 0..<(w * 2) { for x in 0..<(h * 2) { #expect(frame.pixels[y * h * 2 + x] == rotated[y / 2][x / 2]) } }
    }

    // MARK: gamma

    @Test func gammaLUTIsAppliedAfterBlending() throws {
        // A 3-entry ramp per channel, different for each so swapped channels show.
        let red: [UInt16] = [0xffff, 0x8000, 0]       // inverts
        let green: [UInt16] = [0, 0x1000, 0xffff]     // bends
        let blue: [UInt16] = [0x4000, 0x4000, 0x4000] // flat
        let lut = try #require(GammaLUT(red: red, green: green, blue: blue))
        func reference(_ v8: UInt32, _ table: [UInt16]) -> UInt32 {
            // Real-valued position in the table, linear between the entries around it.
            let position = Double(v8 * 257) / 65535 * Double(table.count - 1)
            let i = min(Int(position), table.count - 2)
            let t = position - Double(i)
            let v = Double(table[i]) + (Double(table[i + 1]) - Double(table[i])) * t
            return UInt32(v.rounded()) >> 8
        }
        let words: [UInt32] = (0..<64).map { (i: Int) -> UInt32 in
            let r = UInt32(i * 4), g = UInt32(255 - i * 4), b = UInt32(i * 3)
            return r << 16 | g << 8 | b
        }
        let buffer = Buffer(words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } })
        let base = plane(.xrgb8888, [buffer.memory(pitch: 64 * 4)], width: 64, height: 1)
        // A half-transparent overlay on part of the row: gamma must see the blended value.
        let overlayBuffer = Buffer([0x00, 0x00, 0xff, 0x80] + [UInt8](repeating: 0, count: 12))
        var overlay = plane(.argb8888, [overlayBuffer.memory(pitch: 4)], width: 1, height: 1)
        overlay.crtcX = 10
        overlay.zpos = 1
        overlay.blendMode = ComposerPlane.blendCoverage
        let plain = withExtendedLifetime([buffer, overlayBuffer]) { Composer.compose(width: 64, height: 1, planes: [base, overlay]) }
        let graded = withExtendedLifetime([buffer, overlayBuffer]) {
            Composer.compose(width: 64, height: 1, planes: [base, overlay], gamma: lut)
        }
        for x in 0..<64 {
            let v = plain.pixels[x]
            let r: UInt32 = reference(v >> 16 & 0xff, red), g: UInt32 = reference(v >> 8 & 0xff, green), b: UInt32 = reference(v & 0xff, blue)
            let expected: UInt32 = 0xff00_0000 | r << 16 | g << 8 | b
            #expect(graded.pixels[x] == expected, "x \(x): \(String(plain.pixels[x], radix: 16))")
        }
        #expect(GammaLUT(blob: [1, 2, 3]) == nil)
        #expect(GammaLUT(blob: [0x34, 0x12, 0x78, 0x56, 0xbc, 0x9a, 0, 0]) == GammaLUT(red: [0x1234], green: [0x5678], blue: [0x9abc]))
    }
}
