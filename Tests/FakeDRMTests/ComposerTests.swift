import Foundation
import Testing

@testable import FakeDRM

// MARK: - Helpers

/// Client memory for a test plane. A class so several planes can be alive at once;
/// `compose(_:)` below keeps them alive across the call.
private final class Memory {
    let raw: UnsafeMutableRawBufferPointer

    init(_ bytes: [UInt8]) {
        raw = .allocate(byteCount: max(bytes.count, 1), alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0)
        raw.copyBytes(from: bytes)
    }

    convenience init(words: [UInt32]) {
        self.init(words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } })
    }

    deinit { raw.deallocate() }

    /// An unscaled plane showing the whole framebuffer at (x, y).
    func plane(
        _ format: PixelFormat, width: UInt32, height: UInt32, pitch: Int? = nil, bufferSize: Int? = nil,
        x: Int32 = 0, y: Int32 = 0, zpos: UInt32 = 0, alpha: UInt16 = 0xffff, blend: UInt8 = 0
    ) -> ComposerPlane {
        ComposerPlane(
            base: UnsafeRawPointer(raw.baseAddress!), bufferSize: bufferSize ?? raw.count,
            pitch: pitch ?? Int(width) * format.bytesPerPixel, format: format.fourcc,
            fbWidth: width, fbHeight: height,
            srcX: 0, srcY: 0, srcW: width << 16, srcH: height << 16,
            crtcX: x, crtcY: y, crtcW: width, crtcH: height,
            zpos: zpos, alpha: alpha, blendMode: blend)
    }
}

private func compose(
    _ memory: [Memory], width: Int, height: Int, _ planes: [ComposerPlane], background: UInt32 = 0xff00_0000
) -> Frame {
    withExtendedLifetime(memory) {
        Composer.compose(width: width, height: height, planes: planes, background: background)
    }
}

private func solid(_ word: UInt32, _ count: Int) -> [UInt32] { Array(repeating: word, count: count) }

private func pixel(_ frame: Frame, _ x: Int, _ y: Int) -> UInt32 { frame.pixels[y * frame.width + x] }

// MARK: - Pixel formats

extension PixelFormat: CustomTestStringConvertible {
    public var testDescription: String { PixelFormat.name(fourcc) }
}

@Test func formatTableIsComplete() throws {
    // From the kernel's drm_format_info table (drm_fourcc.c), written out by hand.
    let expected: [(UInt32, String, planes: Int, cpp: Int, bpp: Int, depth: Int, alpha: Bool, hsub: Int, vsub: Int)] = [
        (0x3432_5258, "XR24", 1, 4, 32, 24, false, 1, 1),
        (0x3432_5241, "AR24", 1, 4, 32, 32, true, 1, 1),
        (0x3432_4258, "XB24", 1, 4, 32, 0, false, 1, 1),
        (0x3432_4241, "AB24", 1, 4, 32, 0, true, 1, 1),
        (0x3631_4752, "RG16", 1, 2, 16, 16, false, 1, 1),
        (0x3432_4752, "RG24", 1, 3, 24, 24, false, 1, 1),
        (0x3033_5258, "XR30", 1, 4, 32, 30, false, 1, 1),
        (0x3033_5241, "AR30", 1, 4, 32, 0, true, 1, 1),
        (0x3834_5258, "XR48", 1, 8, 64, 0, false, 1, 1),
        (0x3834_5241, "AR48", 1, 8, 64, 0, true, 1, 1),
        (0x3231_564e, "NV12", 2, 1, 12, 0, false, 2, 2),
        (0x3631_564e, "NV16", 2, 1, 16, 0, false, 2, 1),
        (0x3432_564e, "NV24", 2, 1, 24, 0, false, 1, 1),
        (0x3132_564e, "NV21", 2, 1, 12, 0, false, 2, 2),
        (0x3136_564e, "NV61", 2, 1, 16, 0, false, 2, 1),
        (0x3234_564e, "NV42", 2, 1, 24, 0, false, 1, 1),
        (0x3231_5559, "YU12", 3, 1, 12, 0, false, 2, 2),
        (0x3631_5559, "YU16", 3, 1, 16, 0, false, 2, 1),
        (0x3432_5559, "YU24", 3, 1, 24, 0, false, 1, 1),
        (0x3231_5659, "YV12", 3, 1, 12, 0, false, 2, 2),
        (0x3631_5659, "YV16", 3, 1, 16, 0, false, 2, 1),
        (0x3432_5659, "YV24", 3, 1, 24, 0, false, 1, 1),
        (0x2020_3152, "R1  ", 1, 0, 1, 1, false, 1, 1),
        (0x2020_3252, "R2  ", 1, 0, 2, 2, false, 1, 1),
        (0x2020_3452, "R4  ", 1, 0, 4, 4, false, 1, 1),
        (0x2020_3852, "R8  ", 1, 1, 8, 8, false, 1, 1),
    ]
    #expect(PixelFormat.all.map(\.fourcc) == expected.map(\.0))
    for e in expected {
        let format = try #require(PixelFormat.lookup(e.0))
        #expect(PixelFormat.name(e.0) == e.1)
        #expect(format.planeCount == e.planes)
        #expect(format.bytesPerPixel == e.cpp)
        #expect(format.bitsPerPixel == e.bpp)
        #expect(format.depth == e.depth)
        #expect(format.hasAlpha == e.alpha)
        #expect(format.hsub == e.hsub && format.vsub == e.vsub)
        #expect(format.isYUV == (e.planes > 1))
        // drm_format_info_min_pitch: bits per pixel of plane 0, rounded up to whole bytes.
        #expect(format.minPitch(width: 1921) == (UInt64(1921) * UInt64(e.bpp <= 8 ? e.bpp : (e.planes > 1 ? 8 : e.bpp)) + 7) / 8)
    }
    // Chroma: NV12's 1921-wide luma has 961 CbCr pairs of 2 bytes; YU12's 961 Cb bytes.
    #expect(PixelFormat.nv12.minPitch(width: PixelFormat.nv12.planeWidth(1921, plane: 1), plane: 1) == 1922)
    #expect(PixelFormat.yuv420.minPitch(width: PixelFormat.yuv420.planeWidth(1921, plane: 1), plane: 2) == 961)
    #expect(PixelFormat.nv12.planeHeight(1081, plane: 1) == 541)
    #expect(PixelFormat.lookup(0x5659_5559) == nil)  // YUYV: packed YUV, not offered
    #expect(PixelFormat.name(0) == "????")
    #expect(PixelFormat.xrgb8888.minPitch(width: .max) == UInt64(UInt32.max) * 4)
}

/// Raw little-endian bytes of one pixel and the 0xAARRGGBB it must read as, worked out by hand
/// from the DRM layout comments in drm_fourcc.h.
@Test(arguments: [
    // X formats read as opaque whatever the X bits hold.
    (PixelFormat.xrgb8888, [0x56, 0x34, 0x12, 0x00], 0xff12_3456),
    (PixelFormat.xrgb8888, [0x56, 0x34, 0x12, 0xab], 0xff12_3456),
    (PixelFormat.argb8888, [0x56, 0x34, 0x12, 0x80], 0x8012_3456),
    (PixelFormat.xbgr8888, [0x12, 0x34, 0x56, 0x77], 0xff12_3456),
    (PixelFormat.abgr8888, [0x12, 0x34, 0x56, 0x40], 0x4012_3456),
    // RGB565: R = 0x1f → 0xff, G = 0x3f → 0xff; 5→8 is v<<3 | v>>2, 6→8 is v<<2 | v>>4.
    (PixelFormat.rgb565, [0x00, 0xf8], 0xffff_0000),
    (PixelFormat.rgb565, [0xe0, 0x07], 0xff00_ff00),
    (PixelFormat.rgb565, [0x1f, 0x00], 0xff00_00ff),
    // 0x8410: r=16 → 0x84, g=32 → 0x82, b=16 → 0x84.
    (PixelFormat.rgb565, [0x10, 0x84], 0xff84_8284),
    // 0x18e3: r=3 → 0x18, g=7 → 0x1c, b=3 → 0x18 (rounding v·255/31 would give 0x19).
    (PixelFormat.rgb565, [0xe3, 0x18], 0xff18_1c18),
    // RGB888 is B, G, R in memory.
    (PixelFormat.rgb888, [0x56, 0x34, 0x12], 0xff12_3456),
    // 2:10:10:10, r=0x3ff g=0x200 b=0x001 → 8-bit v>>2: ff 80 00.
    (PixelFormat.xrgb2101010, [0x01, 0x00, 0xf8, 0x3f], 0xffff_8000),
    (PixelFormat.xrgb2101010, [0x01, 0x00, 0xf8, 0xff], 0xffff_8000),
    // 2-bit alpha widens to 0, 0x55, 0xaa, 0xff.
    (PixelFormat.argb2101010, [0x01, 0x00, 0xf8, 0x3f], 0x00ff_8000),
    (PixelFormat.argb2101010, [0x01, 0x00, 0xf8, 0x7f], 0x55ff_8000),
    (PixelFormat.argb2101010, [0x01, 0x00, 0xf8, 0xbf], 0xaaff_8000),
    (PixelFormat.argb2101010, [0x01, 0x00, 0xf8, 0xff], 0xffff_8000),
] as [(PixelFormat, [UInt8], UInt32)])
func formatReadsKnownPixel(format: PixelFormat, bytes: [UInt8], expected: UInt32) {
    #expect(bytes.count == format.bytesPerPixel)
    let read = bytes.withUnsafeBytes { format.read($0.baseAddress!, count: 1) }
    #expect(read.map(\.argb8888) == [expected], "\(PixelFormat.name(format.fourcc))")
}

@Test func readersWidenToFullSixteenBitScale() {
    let red565: [UInt8] = [0x00, 0xf8]
    let red = red565.withUnsafeBytes { PixelFormat.rgb565.read($0.baseAddress!, count: 1) }
    #expect(red == [Pixel16(a: 0xffff, r: 0xffff, g: 0, b: 0)])

    let white30: [UInt8] = [0xff, 0xff, 0xff, 0xff]
    let white = white30.withUnsafeBytes { PixelFormat.argb2101010.read($0.baseAddress!, count: 1) }
    #expect(white == [Pixel16(a: 0xffff, r: 0xffff, g: 0xffff, b: 0xffff)])

    // Every 8-bit value survives widen → narrow unchanged.
    for v in UInt32(0)...255 {
        let word = v << 24 | v << 16 | (255 - v) << 8 | v
        #expect(Pixel16(argb8888: word).argb8888 == word)
    }
}

@Test func readerHandlesUnalignedLines() {
    // One junk byte first, so every 4-byte load is misaligned.
    let bytes: [UInt8] = [0xee, 0x03, 0x02, 0x01, 0x00, 0x06, 0x05, 0x04, 0x00, 0x09, 0x08, 0x07, 0x00]
    let line = bytes.withUnsafeBytes { PixelFormat.xrgb8888.read($0.baseAddress! + 1, count: 3) }
    #expect(line.map(\.argb8888) == [0xff01_0203, 0xff04_0506, 0xff07_0809])
}

// MARK: - Composition

@Test func singleOpaquePlaneIsCopiedWithAlphaForced() {
    let words: [UInt32] = [0x0011_2233, 0xab44_5566, 0x0077_8899, 0xffaa_bbcc, 0x12dd_eeff, 0x0000_0000]
    let memory = Memory(words: words)
    let frame = compose([memory], width: 3, height: 2, [memory.plane(.xrgb8888, width: 3, height: 2)])
    #expect(frame == Frame(width: 3, height: 2, pixels: words.map { $0 | 0xff00_0000 }))
}

@Test func noPlanesGiveOpaqueBackground() {
    let frame = Composer.compose(width: 3, height: 2, planes: [], background: 0x0012_3456)
    #expect(frame.pixels == solid(0xff12_3456, 6))
    #expect(Composer.compose(width: 0, height: 5, planes: []) == Frame(width: 0, height: 5, pixels: []))
    #expect(Composer.compose(width: -1, height: 5, planes: []).pixels.isEmpty)
}

@Test func fastPathMatchesGeneralPath() {
    let width = 37
    let height = 23
    var state: UInt32 = 0x1234_5678
    let words = (0..<(width * height)).map { _ in
        state = state &* 1_664_525 &+ 1_013_904_223
        return state
    }
    // Same colours with R and B swapped, so XBGR8888 must take the converting path.
    let swapped = words.map { $0 & 0xff00_ff00 | ($0 & 0xff) << 16 | ($0 >> 16) & 0xff }
    let xrgb = Memory(words: words)
    let xbgr = Memory(words: swapped)
    let clear = Memory(words: solid(0, 4 * 4))

    let fast = compose([xrgb], width: width, height: height, [xrgb.plane(.xrgb8888, width: 37, height: 23)])
    let general = compose([xbgr], width: width, height: height, [xbgr.plane(.xbgr8888, width: 37, height: 23)])
    // A fully transparent plane on top forces the widen-blend-narrow path for some rows.
    let blended = compose(
        [xrgb, clear], width: width, height: height,
        [
            xrgb.plane(.xrgb8888, width: 37, height: 23),
            clear.plane(.argb8888, width: 4, height: 4, x: 30, y: 5, zpos: 1, blend: ComposerPlane.blendCoverage),
        ])
    #expect(fast.pixels == words.map { $0 | 0xff00_0000 })
    #expect(general == fast)
    #expect(blended == fast)
}

/// 50 % red (alpha 0x80) over opaque blue, per the drm_blend.c equations, 16-bit math:
/// fg.alpha = 0x80·257 = 32896, so 1 − alpha = 32639 = 0x7f7f → 0x7f.
@Test(arguments: [
    // Coverage multiplies the colour by alpha: r = 32896 → 0x80, b = 32639 → 0x7f.
    (0x80ff_0000 as UInt32, ComposerPlane.blendCoverage, 0xffff as UInt16, 0xff80_007f as UInt32),
    // Pre-multiplied takes the colour as is, so non-pre-multiplied red stays 0xff.
    (0x80ff_0000, ComposerPlane.blendPremultiplied, 0xffff, 0xffff_007f),
    // Properly pre-multiplied 50 % red gives the coverage result.
    (0x8080_0000, ComposerPlane.blendPremultiplied, 0xffff, 0xff80_007f),
    // None ignores the pixel alpha.
    (0x80ff_0000, ComposerPlane.blendNone, 0xffff, 0xffff_0000),
    // Opaque red with plane alpha 0x8000: r = 32768 → 0x80, b = 32767 → 0x7f.
    (0xffff_0000, ComposerPlane.blendPremultiplied, 0x8000, 0xff80_007f),
    (0xffff_0000, ComposerPlane.blendNone, 0x8000, 0xff80_007f),
    // Coverage, plane alpha 0x8000 × pixel alpha 0x80: a = round(32768·32896/65535) = 16449;
    // r = 16449 → 0x40, b = 65535 − 16449 = 49086 → 0xbf.
    (0x80ff_0000, ComposerPlane.blendCoverage, 0x8000, 0xff40_00bf),
    // Pre-multiplied, plane alpha 0x8000: r = 32768 → 0x80, b = 49086 → 0xbf.
    (0x80ff_0000, ComposerPlane.blendPremultiplied, 0x8000, 0xff80_00bf),
    // Transparent pixels leave the background alone in both alpha-aware modes.
    (0x0000_0000, ComposerPlane.blendCoverage, 0xffff, 0xff00_00ff),
    (0x0000_0000, ComposerPlane.blendPremultiplied, 0xffff, 0xff00_00ff),
] as [(UInt32, UInt8, UInt16, UInt32)])
func blendModesFollowKernelEquations(top: UInt32, mode: UInt8, planeAlpha: UInt16, expected: UInt32) {
    let blue = Memory(words: solid(0x0000_00ff, 4))
    let red = Memory(words: solid(top, 4))
    let overPlane = compose(
        [blue, red], width: 2, height: 2,
        [
            blue.plane(.xrgb8888, width: 2, height: 2),
            red.plane(.argb8888, width: 2, height: 2, zpos: 1, alpha: planeAlpha, blend: mode),
        ])
    #expect(overPlane.pixels == solid(expected, 4))

    // The same blend against the CRTC background instead of a plane.
    let overBackground = compose(
        [red], width: 2, height: 2,
        [red.plane(.argb8888, width: 2, height: 2, alpha: planeAlpha, blend: mode)],
        background: 0xff00_00ff)
    #expect(overBackground.pixels == solid(expected, 4))
}

@Test func higherZposIsOnTopAndTiesKeepArrayOrder() {
    let red = Memory(words: solid(0x00ff_0000, 4))
    let green = Memory(words: solid(0x0000_ff00, 4))
    let redTop = compose(
        [red, green], width: 2, height: 2,
        [red.plane(.xrgb8888, width: 2, height: 2, zpos: 1), green.plane(.xrgb8888, width: 2, height: 2, zpos: 0)])
    #expect(redTop.pixels == solid(0xffff_0000, 4))

    let tie = compose(
        [red, green], width: 2, height: 2,
        [red.plane(.xrgb8888, width: 2, height: 2, zpos: 3), green.plane(.xrgb8888, width: 2, height: 2, zpos: 3)])
    #expect(tie.pixels == solid(0xff00_ff00, 4))

    // Partial overlap: blue 1x1 at (1, 0) between red (z 0, full) and green (z 2, 1x2 at x=1).
    let blue = Memory(words: [0x0000_00ff])
    let layered = compose(
        [red, green, blue], width: 2, height: 2,
        [
            green.plane(.xrgb8888, width: 1, height: 2, x: 1, zpos: 2),
            red.plane(.xrgb8888, width: 2, height: 2, zpos: 0),
            blue.plane(.xrgb8888, width: 1, height: 1, x: 1, y: 1, zpos: 1),
        ])
    #expect(layered.pixels == [0xffff_0000, 0xff00_ff00, 0xffff_0000, 0xff00_ff00])
}

/// A 4x4 framebuffer whose pixel (x, y) is 0xff00YYXX, so any output pixel names its source.
private func coordinateMemory(width: Int = 4, height: Int = 4) -> Memory {
    Memory(words: (0..<(width * height)).map { UInt32($0 / width) << 8 | UInt32($0 % width) })
}

@Test func planeHangingOffTheTopLeftIsClipped() {
    let memory = coordinateMemory()
    let frame = compose(
        [memory], width: 4, height: 4, [memory.plane(.xrgb8888, width: 4, height: 4, x: -2, y: -1)],
        background: 0xff77_7777)
    let bg: UInt32 = 0xff77_7777
    #expect(
        frame.pixels == [
            0xff00_0102, 0xff00_0103, bg, bg,
            0xff00_0202, 0xff00_0203, bg, bg,
            0xff00_0302, 0xff00_0303, bg, bg,
            bg, bg, bg, bg,
        ])
}

@Test func planeHangingOffTheBottomRightIsClipped() {
    let memory = coordinateMemory()
    let frame = compose(
        [memory], width: 4, height: 4, [memory.plane(.xrgb8888, width: 4, height: 4, x: 3, y: 2)],
        background: 0xff77_7777)
    var expected = solid(0xff77_7777, 16)
    expected[2 * 4 + 3] = 0xff00_0000
    expected[3 * 4 + 3] = 0xff00_0100
    #expect(frame.pixels == expected)
}

@Test func cursorOverPrimaryIsClippedAtTheEdge() {
    let primary = Memory(words: solid(0x0010_2030, 8 * 8))
    // Opaque white cursor with a transparent right half.
    let cursor = Memory(words: (0..<16).map { $0 % 4 < 2 ? 0xffff_ffff : 0x0000_0000 })
    let frame = compose(
        [primary, cursor], width: 8, height: 8,
        [
            primary.plane(.xrgb8888, width: 8, height: 8),
            cursor.plane(.argb8888, width: 4, height: 4, x: 5, y: -2, zpos: 1),
        ])
    for y in 0..<8 {
        for x in 0..<8 {
            let white = y < 2 && (x == 5 || x == 6)
            #expect(pixel(frame, x, y) == (white ? 0xffff_ffff : 0xff10_2030), "(\(x), \(y))")
        }
    }
}

@Test func planeEntirelyOffScreenOrHostileGeometryDoesNotCrash() {
    let memory = coordinateMemory()
    var far = memory.plane(.xrgb8888, width: 4, height: 4, x: Int32.min, y: Int32.min)
    far.crtcW = .max
    far.crtcH = .max
    var huge = memory.plane(.xrgb8888, width: 4, height: 4, x: Int32.max, y: Int32.max)
    huge.srcW = .max
    huge.srcH = .max
    var stretched = memory.plane(.xrgb8888, width: 4, height: 4, x: -5, y: -5)
    stretched.srcW = .max
    stretched.crtcW = .max
    stretched.crtcH = .max
    let frame = compose([memory], width: 4, height: 4, [far, huge, stretched], background: 0xff00_0001)
    #expect(frame.width == 4 && frame.height == 4 && frame.pixels.count == 16)
}

@Test func bufferTooSmallForPitchTimesHeightIsSkipped() {
    let lower = Memory(words: solid(0x0000_ff00, 16))
    let memory = coordinateMemory()
    let green = solid(0xff00_ff00, 16)
    let base = lower.plane(.xrgb8888, width: 4, height: 4)

    // 4 rows of pitch 16 need 64 bytes; one byte short.
    let short = memory.plane(.xrgb8888, width: 4, height: 4, bufferSize: 63, zpos: 1)
    #expect(compose([lower, memory], width: 4, height: 4, [base, short]).pixels == green)

    // Pitch larger than the buffer: even row 1 starts outside it.
    let widePitch = memory.plane(.xrgb8888, width: 4, height: 4, pitch: 64, zpos: 1)
    #expect(compose([lower, memory], width: 4, height: 4, [base, widePitch]).pixels == green)

    // Pitch so large that (height − 1) × pitch overflows.
    let overflowing = memory.plane(.xrgb8888, width: 4, height: 4, pitch: .max, zpos: 1)
    #expect(compose([lower, memory], width: 4, height: 4, [base, overflowing]).pixels == green)

    var badOffsets: [ComposerPlane] = []
    for offset in [-4, 4, .max] {
        var plane = memory.plane(.xrgb8888, width: 4, height: 4, zpos: 1)
        plane.offset = offset
        badOffsets.append(plane)
    }
    var zeroPitch = memory.plane(.xrgb8888, width: 4, height: 4, zpos: 1)
    zeroPitch.pitch = 0
    var unknownFormat = memory.plane(.xrgb8888, width: 4, height: 4, zpos: 1)
    unknownFormat.format = 0x3231_564e
    var badBlend = memory.plane(.xrgb8888, width: 4, height: 4, zpos: 1)
    badBlend.blendMode = 3
    let skipped = compose([lower, memory], width: 4, height: 4, [base] + badOffsets + [zeroPitch, unknownFormat, badBlend])
    #expect(skipped.pixels == green)
}

/// Seeded and bounded: mostly sensible planes with each field sometimes hostile (pitch or
/// buffer too small, source past the framebuffer, off-screen, bad blend mode), and every
/// buffer allocated at exactly its stated size so an over-read shows up under
/// `swift test --sanitize=address`.
@Test func randomPlanesNeverReadOutsideTheirBuffer() {
    var state: UInt64 = 0x5eed
    func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
    func hostile() -> Bool { next(6) == 0 }
    func fixed(_ pixels: Int) -> UInt32 { UInt32(pixels) << 16 | (hostile() ? UInt32(next(0x10000)) : 0) }

    var drawn = 0
    for _ in 0..<1000 {
        let width = 1 + next(24)
        let height = 1 + next(16)
        var memory: [Memory] = []
        var planes: [ComposerPlane] = []
        for _ in 0..<(1 + next(3)) {
            let format = PixelFormat.all[next(PixelFormat.all.count)]
            let fbWidth = 1 + next(20)
            let fbHeight = 1 + next(20)
            // Every plane of the format gets its own block, sized right or (hostile) short.
            var memories: [PlaneMemory] = []
            for k in 0..<format.planeCount {
                let columns = k == 0 ? fbWidth : max(1, fbWidth / format.hsub)
                let rows = k == 0 ? fbHeight : max(1, fbHeight / format.vsub)
                let rowBytes = Int(format.minPitch(width: UInt32(columns), plane: k))
                let pitch = rowBytes + (hostile() ? next(8) - 4 : next(8))
                let offset = hostile() ? next(16) : 0
                let needed = offset + (rows - 1) * pitch + rowBytes
                let size = max(0, hostile() ? needed - 1 - next(8) : needed + next(8))
                let block = Memory((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 37) })
                memory.append(block)
                memories.append(PlaneMemory(base: UnsafeRawPointer(block.raw.baseAddress!), size: size, offset: offset, pitch: pitch))
            }
            let srcX = hostile() ? next(fbWidth + 4) : next(fbWidth)
            let srcY = hostile() ? next(fbHeight + 4) : next(fbHeight)
            let srcW = hostile() ? next(fbWidth + 4) : 1 + next(max(1, fbWidth - srcX))
            let srcH = hostile() ? next(fbHeight + 4) : 1 + next(max(1, fbHeight - srcY))
            let rotation = hostile() ? UInt32(next(64)) : UInt32(1 << next(4) | next(4) << 4)
            let quarter = rotation & (ComposerPlane.rotate90 | ComposerPlane.rotate270) != 0
            let (outW, outH) = quarter ? (srcH, srcW) : (srcW, srcH)
            let scaled = hostile()
            var plane = ComposerPlane(
                base: memories[0].base, bufferSize: memories[0].size, offset: memories[0].offset, pitch: memories[0].pitch,
                format: format.fourcc, fbWidth: UInt32(fbWidth), fbHeight: UInt32(fbHeight),
                srcX: fixed(srcX), srcY: fixed(srcY), srcW: fixed(srcW), srcH: fixed(srcH),
                crtcX: Int32(hostile() ? next(width + 40) - 20 : next(width) - outW / 2),
                crtcY: Int32(hostile() ? next(height + 40) - 20 : next(height) - outH / 2),
                crtcW: UInt32(scaled ? next(width + 10) : outW), crtcH: UInt32(scaled ? next(height + 10) : outH),
                zpos: UInt32(next(3)), alpha: hostile() ? UInt16(next(0x10000)) : 0xffff,
                blendMode: UInt8(hostile() ? next(4) : next(3)))
            plane.chroma = Array(memories.dropFirst(hostile() ? 1 : 0).dropFirst())
            plane.rotation = rotation
            plane.colorEncoding = ColorEncoding(rawValue: UInt8(next(3))) ?? .bt601
            plane.colorRange = ColorRange(rawValue: UInt8(next(2))) ?? .full
            planes.append(plane)
        }
        let background = UInt32(truncatingIfNeeded: next(1 << 30)) | 0xff00_0000
        let frame = compose(memory, width: width, height: height, planes, background: background)
        #expect(frame.pixels.count == width * height)
        #expect(frame.pixels.allSatisfy { $0 >> 24 == 0xff })
        if frame.pixels.contains(where: { $0 != background }) { drawn += 1 }
    }
    // Guards against the generator degenerating into planes that are all rejected.
    #expect(drawn > 500, "only \(drawn) of 1000 frames showed a plane")
}

@Test func sourceRectanglePastTheFramebufferIsClipped() {
    let memory = coordinateMemory()
    var plane = memory.plane(.xrgb8888, width: 4, height: 4)
    plane.srcX = 2 << 16  // columns 2 and 3 exist, 4 and 5 do not
    plane.srcY = 3 << 16  // only row 3 exists
    let frame = compose([memory], width: 4, height: 4, [plane], background: 0xff77_7777)
    var expected = solid(0xff77_7777, 16)
    expected[0] = 0xff00_0302
    expected[1] = 0xff00_0303
    #expect(frame.pixels == expected)
}

@Test func mismatchedSizesUseNearestNeighbour() {
    let memory = coordinateMemory()
    // Upscale the top-left 2x2 to 4x4: every source pixel becomes a 2x2 block.
    var up = memory.plane(.xrgb8888, width: 4, height: 4)
    up.srcW = 2 << 16
    up.srcH = 2 << 16
    let upscaled = compose([memory], width: 4, height: 4, [up])
    for y in 0..<4 {
        for x in 0..<4 {
            #expect(pixel(upscaled, x, y) == 0xff00_0000 | UInt32(y / 2) << 8 | UInt32(x / 2))
        }
    }

    // Downscale 4x4 to 2x2: output centres 0.5 and 1.5 land on source columns/rows 1 and 3.
    var down = memory.plane(.xrgb8888, width: 4, height: 4)
    down.crtcW = 2
    down.crtcH = 2
    let downscaled = compose([memory], width: 2, height: 2, [down])
    #expect(downscaled.pixels == [0xff00_0101, 0xff00_0103, 0xff00_0301, 0xff00_0303])

    // A scaled plane through the converting reader (RGB565) as a cursor-like overlay.
    let rgb = Memory([0x00, 0xf8])  // one red pixel
    var dot = rgb.plane(.rgb565, width: 1, height: 1, x: 1, y: 1, zpos: 1)
    dot.crtcW = 2
    dot.crtcH = 2
    let stamped = compose([memory, rgb], width: 4, height: 4, [memory.plane(.xrgb8888, width: 4, height: 4), dot])
    #expect(pixel(stamped, 1, 1) == 0xffff_0000 && pixel(stamped, 2, 2) == 0xffff_0000)
    #expect(pixel(stamped, 3, 3) == 0xff00_0303 && pixel(stamped, 0, 0) == 0xff00_0000)
}

// MARK: - CRC

@Test func crcMatchesZlib() {
    // python3 -c "import zlib,struct; print(hex(zlib.crc32(struct.pack('<4I', 0xffff0000, 0xff00ff00, 0xff0000ff, 0xffffffff))))"
    // → 0x8f3d51ca
    let frame = Frame(width: 2, height: 2, pixels: [0xffff_0000, 0xff00_ff00, 0xff00_00ff, 0xffff_ffff])
    #expect(frame.crc32 == 0x8f3d_51ca)

    // The standard CRC-32 check value: python3 -c "import zlib; print(hex(zlib.crc32(b'123456789')))"
    let check = Array("123456789".utf8).withUnsafeBytes { CRC32.update(0, $0) }
    #expect(check == 0xcbf4_3926)
    #expect(Frame(width: 0, height: 0, pixels: []).crc32 == 0)
}

@Test func crcOverWordsMatchesCRCOverBytes() {
    // The word-at-a-time path must equal the byte-at-a-time one on the little-endian bytes.
    let pixels = (0..<3001).map { UInt32($0) &* 0x9e37_79b9 }
    let bytes = pixels.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
    let direct = bytes.withUnsafeBytes { CRC32.update(0, $0) }
    #expect(Frame(width: 3001, height: 1, pixels: pixels).crc32 == direct)
}

// MARK: - PNG

private func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory
        .appendingPathComponent("fakedrm-composer-\(UUID().uuidString)-\(name)").path
}

@Test func pngRoundTripsAFrame() throws {
    let pixels = (0..<(13 * 7)).map { 0xff00_0000 | UInt32($0) &* 0x0001_0307 & 0x00ff_ffff }
    let frame = Frame(width: 13, height: 7, pixels: pixels)

    let encoded = try PNGWriter.encode(frame)
    #expect(Array(encoded.prefix(8)) == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    let fromMemory = temporaryPath("memory.png")
    defer { try? FileManager.default.removeItem(atPath: fromMemory) }
    #expect(FileManager.default.createFile(atPath: fromMemory, contents: Data(encoded)))
    #expect(try PNGWriter.decode(path: fromMemory) == frame)

    let direct = temporaryPath("direct.png")
    defer { try? FileManager.default.removeItem(atPath: direct) }
    try PNGWriter.write(frame, to: direct)
    #expect(try PNGWriter.decode(path: direct) == frame)
}

@Test func pngRoundTripsAComposedFrame() throws {
    let memory = coordinateMemory()
    let frame = compose([memory], width: 6, height: 5, [memory.plane(.xrgb8888, width: 4, height: 4, x: 1, y: 1)])
    let path = temporaryPath("composed.png")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try PNGWriter.write(frame, to: path)
    let decoded = try PNGWriter.decode(path: path)
    #expect(decoded == frame)
    #expect(decoded.crc32 == frame.crc32)
}

@Test func pngRejectsBadInput() throws {
    #expect(throws: PNGError.self) { try PNGWriter.encode(Frame(width: 0, height: 0, pixels: [])) }
    #expect(throws: PNGError.self) { try PNGWriter.encode(Frame(width: 2, height: 2, pixels: [0, 0, 0])) }
    #expect(throws: PNGError.self) { try PNGWriter.encode(Frame(width: 2_000_000, height: 1, pixels: [])) }
    #expect(throws: PNGError.self) { try PNGWriter.decode(path: temporaryPath("missing.png")) }

    let notPNG = temporaryPath("not.png")
    defer { try? FileManager.default.removeItem(atPath: notPNG) }
    #expect(FileManager.default.createFile(atPath: notPNG, contents: Data("hello".utf8)))
    #expect(throws: PNGError.self) { try PNGWriter.decode(path: notPNG) }
    #expect(throws: PNGError.self) {
        try PNGWriter.write(Frame(width: 1, height: 1, pixels: [0]), to: "/nonexistent-dir/x.png")
    }
}
