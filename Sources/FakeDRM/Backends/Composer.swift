/// A composed CRTC image. Pixels are 0xAARRGGBB words, row-major with no padding, alpha
/// always 0xff: scanout has no alpha, and a fixed value keeps CRCs and PNGs independent of
/// what the planes' alpha bytes held.
public struct Frame: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt32]

    public init(width: Int, height: Int, pixels: [UInt32]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// One plane as scanout sees it after an atomic commit: which memory, how to read it, where it
/// lands. Values are the raw KMS property values, not yet validated; the composer skips or
/// clips whatever it cannot honour instead of trusting them.
public struct ComposerPlane: Sendable {
    /// The framebuffer's backing memory. Raw pointers are not Sendable; this one is only read,
    /// and only inside `Composer.compose`, while the device that built the plane keeps the
    /// mapping alive, so crossing isolation with it cannot race on anything the composer owns.
    public nonisolated(unsafe) var base: UnsafeRawPointer
    /// Bytes readable from `base`. No read ever leaves `base ..< base + bufferSize`.
    public var bufferSize: Int
    public var offset: Int
    public var pitch: Int
    public var format: UInt32
    public var fbWidth: UInt32
    public var fbHeight: UInt32
    /// Source rectangle in 16.16 fixed point, as in the SRC_* properties.
    public var srcX: UInt32
    public var srcY: UInt32
    public var srcW: UInt32
    public var srcH: UInt32
    public var crtcX: Int32
    public var crtcY: Int32
    public var crtcW: UInt32
    public var crtcH: UInt32
    public var zpos: UInt32
    /// The plane "alpha" property; 0xffff is opaque.
    public var alpha: UInt16
    /// The "pixel blend mode" property, with the kernel's values (drm_blend.h).
    public var blendMode: UInt8
    /// Set for the CRTC's cursor plane: a display with a hardware cursor channel (virtio-gpu's
    /// cursor queue) sends it apart from the frame; the composer itself ignores it.
    public var isCursor: Bool = false

    public static let blendPremultiplied: UInt8 = 0
    public static let blendCoverage: UInt8 = 1
    public static let blendNone: UInt8 = 2

    public init(
        base: UnsafeRawPointer, bufferSize: Int, offset: Int = 0, pitch: Int, format: UInt32,
        fbWidth: UInt32, fbHeight: UInt32,
        srcX: UInt32, srcY: UInt32, srcW: UInt32, srcH: UInt32,
        crtcX: Int32, crtcY: Int32, crtcW: UInt32, crtcH: UInt32,
        zpos: UInt32 = 0, alpha: UInt16 = 0xffff, blendMode: UInt8 = ComposerPlane.blendPremultiplied
    ) {
        self.base = base
        self.bufferSize = bufferSize
        self.offset = offset
        self.pitch = pitch
        self.format = format
        self.fbWidth = fbWidth
        self.fbHeight = fbHeight
        self.srcX = srcX
        self.srcY = srcY
        self.srcW = srcW
        self.srcH = srcH
        self.crtcX = crtcX
        self.crtcY = crtcY
        self.crtcW = crtcW
        self.crtcH = crtcH
        self.zpos = zpos
        self.alpha = alpha
        self.blendMode = blendMode
    }
}

/// Software scanout: blends planes into one frame the way vkms does, through the common
/// 16-bit line format, so it never depends on a particular pixel format.
public enum Composer {
    public static func compose(
        width: Int, height: Int, planes: [ComposerPlane], background: UInt32 = 0xff00_0000
    ) -> Frame {
        guard width > 0, height > 0 else {
            return Frame(width: max(width, 0), height: max(height, 0), pixels: [])
        }
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow else { return Frame(width: 0, height: 0, pixels: []) }

        // Stable: equal zpos keeps array order, which is the kernel's tie-break by plane index.
        let ordered = planes.enumerated()
            .sorted { ($0.element.zpos, $0.offset) < ($1.element.zpos, $1.offset) }
            .compactMap { Layer(plane: $0.element, width: width, height: height) }

        // Everything under the topmost opaque full-screen plane is invisible; starting there
        // turns "primary plane + cursor" into row copies plus a small blended patch.
        let baseIndex = ordered.lastIndex { $0.isOpaque && $0.coversOutput(width: width, height: height) }
        let base = baseIndex.map { ordered[$0] }
        let layers = Array(ordered[(baseIndex.map { $0 + 1 } ?? 0)...])

        let scratchSource = max(1, ordered.reduce(0) { max($0, $1.scaledX ? $1.spanCount : 0) })
        let line = UnsafeMutablePointer<Pixel16>.allocate(capacity: width)
        let fetched = UnsafeMutablePointer<Pixel16>.allocate(capacity: width)
        let source = UnsafeMutablePointer<Pixel16>.allocate(capacity: scratchSource)
        defer {
            line.deallocate()
            fetched.deallocate()
            source.deallocate()
        }

        let backgroundWord = background | 0xff00_0000
        let background16 = Pixel16(argb8888: backgroundWord)

        let pixels = [UInt32](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let out = buffer.baseAddress else { return }
            for y in 0..<height {
                let row = out + y * width

                // `line` holds this row at 16-bit precision only when the base needed
                // converting; otherwise `row` is exact and can be widened again losslessly.
                var lineHoldsRow = false
                if let base {
                    if base.isStraightCopy {
                        if !base.copyRow(y, to: row) { row.update(repeating: backgroundWord, count: width) }
                    } else if base.fetch(y, into: line, scratch: source) {
                        narrow(line, to: row, count: width)
                        lineHoldsRow = true
                    } else {
                        row.update(repeating: backgroundWord, count: width)
                    }
                } else {
                    row.update(repeating: backgroundWord, count: width)
                }

                var spanStart = width
                var spanEnd = 0
                for layer in layers where layer.y0 <= y && y < layer.y1 {
                    spanStart = min(spanStart, layer.x0)
                    spanEnd = max(spanEnd, layer.x1)
                }
                guard spanStart < spanEnd else { continue }

                if !lineHoldsRow {
                    if base == nil {
                        (line + spanStart).update(repeating: background16, count: spanEnd - spanStart)
                    } else {
                        widen(row + spanStart, to: line + spanStart, count: spanEnd - spanStart)
                    }
                }
                for layer in layers where layer.y0 <= y && y < layer.y1 {
                    guard layer.fetch(y, into: fetched, scratch: source) else { continue }
                    blend(
                        into: line + layer.x0, from: fetched, count: layer.x1 - layer.x0,
                        planeAlpha: layer.alpha, mode: layer.blendMode)
                }
                narrow(line + spanStart, to: row + spanStart, count: spanEnd - spanStart)
            }
            initialized = count
        }
        return Frame(width: width, height: height, pixels: pixels)
    }

    // MARK: - Line helpers

    @inline(__always)
    static func narrow(_ line: UnsafePointer<Pixel16>, to row: UnsafeMutablePointer<UInt32>, count: Int) {
        for i in 0..<count {
            let p = line[i]
            row[i] = 0xff00_0000 | UInt32(p.r >> 8) << 16 | UInt32(p.g >> 8) << 8 | UInt32(p.b >> 8)
        }
    }

    @inline(__always)
    static func widen(_ row: UnsafePointer<UInt32>, to line: UnsafeMutablePointer<Pixel16>, count: Int) {
        for i in 0..<count { line[i] = Pixel16(argb8888: row[i]) }
    }

    /// The three "pixel blend mode" equations from drm_blend.c, in 16-bit fixed point with
    /// rounding. Only the destination's colour is used: the background and the line are
    /// opaque, so out.alpha stays 1.
    ///
    ///   Pre-multiplied: plane_alpha·fg.rgb + (1 − plane_alpha·fg.alpha)·bg.rgb
    ///   Coverage:       plane_alpha·fg.alpha·fg.rgb + (1 − plane_alpha·fg.alpha)·bg.rgb
    ///   None:           plane_alpha·fg.rgb + (1 − plane_alpha)·bg.rgb
    ///
    /// plane_alpha·fg.alpha is rounded to 16 bits once and reused, so coverage can differ from
    /// the exact product by one 16-bit step; that is far below the 8-bit output resolution.
    /// The loops are branch-free unsigned arithmetic so the compiler can vectorise them.
    static func blend(
        into dst: UnsafeMutablePointer<Pixel16>, from src: UnsafePointer<Pixel16>, count: Int,
        planeAlpha: Int, mode: UInt8
    ) {
        let pa = UInt32(truncatingIfNeeded: planeAlpha) & 0xffff
        switch mode {
        case ComposerPlane.blendCoverage:
            for i in 0..<count {
                let s = src[i]
                let d = dst[i]
                let a = div65535(pa &* UInt32(s.a) &+ 32767)
                let inv = 65535 &- a
                dst[i] = Pixel16(
                    a: 0xffff, r: mix(a, s.r, inv, d.r), g: mix(a, s.g, inv, d.g), b: mix(a, s.b, inv, d.b))
            }
        case ComposerPlane.blendNone:
            let inv = 65535 &- pa
            for i in 0..<count {
                let s = src[i]
                let d = dst[i]
                dst[i] = Pixel16(
                    a: 0xffff, r: mix(pa, s.r, inv, d.r), g: mix(pa, s.g, inv, d.g), b: mix(pa, s.b, inv, d.b))
            }
        default:  // pre-multiplied, the kernel's default
            for i in 0..<count {
                let s = src[i]
                let d = dst[i]
                let inv = 65535 &- div65535(pa &* UInt32(s.a) &+ 32767)
                dst[i] = Pixel16(
                    a: 0xffff, r: mixSaturating(pa, s.r, inv, d.r), g: mixSaturating(pa, s.g, inv, d.g),
                    b: mixSaturating(pa, s.b, inv, d.b))
            }
        }
    }

    /// ⌊x / 65535⌋ without a division, exact for every x ≤ 0xFFFE8000 (checked exhaustively),
    /// which covers 65535² plus the rounding half.
    @inline(__always)
    static func div65535(_ x: UInt32) -> UInt32 {
        (x &+ (x >> 16) &+ 1) >> 16
    }

    /// (f·fg + b·bg) / 65535, rounded, for f + b = 65535: the sum is then at most 65535², so
    /// 32-bit arithmetic cannot overflow.
    @inline(__always)
    static func mix(_ f: UInt32, _ fg: UInt16, _ b: UInt32, _ bg: UInt16) -> UInt16 {
        UInt16(truncatingIfNeeded: div65535(f &* UInt32(fg) &+ b &* UInt32(bg) &+ 32767))
    }

    /// Pre-multiplied variant: f + b can exceed 65535 when a buffer's colour is larger than its
    /// alpha (not really pre-multiplied), so widen and saturate the way scanout hardware clamps.
    @inline(__always)
    static func mixSaturating(_ f: UInt32, _ fg: UInt16, _ b: UInt32, _ bg: UInt16) -> UInt16 {
        let sum = UInt64(f &* UInt32(fg)) &+ UInt64(b &* UInt32(bg)) &+ 32767
        return UInt16(truncatingIfNeeded: min(sum / 65535, 65535))
    }

    /// Nearest-neighbour source coordinate (whole pixels) for output step `d` of `outputs`,
    /// sampling at the centre of the output pixel. Full-width arithmetic because hostile
    /// 32-bit sizes overflow 64 bits in the product; `d < outputs` keeps the quotient below
    /// `length`, so the division cannot trap.
    @inline(__always)
    static func nearest(_ d: Int, start: UInt32, length: UInt32, outputs: UInt32) -> Int {
        let product = UInt64(2 * d + 1).multipliedFullWidth(by: UInt64(length))
        let quotient = (2 * UInt64(outputs)).dividingFullWidth(product).quotient
        return Int((UInt64(start) + quotient) >> 16)
    }
}

/// A plane reduced to what the row loop needs, with every range already clipped to the output,
/// the framebuffer and the buffer. Built only for planes that are safe to read.
private struct Layer {
    let base: UnsafeRawPointer
    let bufferSize: Int
    let offset: Int
    let pitch: Int
    let cpp: Int
    let fbHeight: Int
    let read: PixelFormat.LineReader
    let isXRGB8888Layout: Bool
    let hasAlpha: Bool
    let alpha: Int
    let blendMode: UInt8

    /// Visible output columns x0..<x1 and rows y0..<y1.
    let x0: Int
    let x1: Int
    let y0: Int
    let y1: Int

    /// Source columns read for every row: one contiguous span, sampled through `columns`
    /// when scaling.
    let spanStart: Int
    let spanCount: Int
    let scaledX: Bool
    let columns: [Int]

    let crtcY: Int
    let scaledY: Bool
    let srcYWhole: Int
    let srcY: UInt32
    let srcH: UInt32
    let crtcH: UInt32

    init?(plane p: ComposerPlane, width: Int, height: Int) {
        guard let format = PixelFormat.lookup(p.format),
            p.blendMode <= ComposerPlane.blendNone, p.alpha > 0,
            p.pitch > 0, p.offset >= 0, p.bufferSize >= 0,
            p.fbWidth > 0, p.fbHeight > 0, p.srcW > 0, p.srcH > 0, p.crtcW > 0, p.crtcH > 0
        else { return nil }
        let cpp = format.bytesPerPixel
        let fbWidth = Int(p.fbWidth)
        let fbHeight = Int(p.fbHeight)

        // The kernel refuses a framebuffer whose last row ends past its buffer (ADDFB), so a
        // plane failing this is a broken fb: skip it whole rather than show part of it.
        let (lastRow, o1) = (fbHeight - 1).multipliedReportingOverflow(by: p.pitch)
        let (lastRowStart, o2) = lastRow.addingReportingOverflow(p.offset)
        let (end, o3) = lastRowStart.addingReportingOverflow(fbWidth * cpp)
        guard !o1, !o2, !o3, end <= p.bufferSize else { return nil }

        let crtcX = Int(p.crtcX)
        let crtcY = Int(p.crtcY)
        let x0 = max(0, crtcX)
        var x1 = min(width, crtcX + Int(p.crtcW))
        let y0 = max(0, crtcY)
        var y1 = min(height, crtcY + Int(p.crtcH))
        guard x0 < x1, y0 < y1 else { return nil }

        // Source columns past the framebuffer's edge are clipped (the KMS core should have
        // rejected them; scanout must not read them either way). The source coordinate only
        // grows with the output coordinate, so the bad ones are always a suffix.
        let scaledX = UInt64(p.srcW) != UInt64(p.crtcW) << 16
        var columns: [Int] = []
        if scaledX {
            columns.reserveCapacity(x1 - x0)
            for x in x0..<x1 {
                let column = Composer.nearest(x - crtcX, start: p.srcX, length: p.srcW, outputs: p.crtcW)
                if column >= fbWidth { break }
                columns.append(column)
            }
            guard let first = columns.first, let last = columns.last else { return nil }
            x1 = x0 + columns.count
            spanStart = first
            spanCount = last - first + 1
        } else {
            let srcXWhole = Int(p.srcX >> 16)
            x1 = min(x1, crtcX + fbWidth - srcXWhole)
            guard x0 < x1 else { return nil }
            spanStart = srcXWhole + (x0 - crtcX)
            spanCount = x1 - x0
        }

        let scaledY = UInt64(p.srcH) != UInt64(p.crtcH) << 16
        let srcYWhole = Int(p.srcY >> 16)
        if scaledY {
            while y1 > y0,
                Composer.nearest(y1 - 1 - crtcY, start: p.srcY, length: p.srcH, outputs: p.crtcH) >= fbHeight
            {
                y1 -= 1
            }
        } else {
            y1 = min(y1, crtcY + fbHeight - srcYWhole)
        }
        guard y0 < y1 else { return nil }

        base = p.base
        bufferSize = p.bufferSize
        offset = p.offset
        pitch = p.pitch
        self.cpp = cpp
        self.fbHeight = fbHeight
        read = format.readLine
        isXRGB8888Layout = format.isXRGB8888Layout
        hasAlpha = format.hasAlpha
        alpha = Int(p.alpha)
        blendMode = p.blendMode
        self.x0 = x0
        self.x1 = x1
        self.y0 = y0
        self.y1 = y1
        self.scaledX = scaledX
        self.columns = columns
        self.crtcY = crtcY
        self.scaledY = scaledY
        self.srcYWhole = srcYWhole
        srcY = p.srcY
        srcH = p.srcH
        crtcH = p.crtcH
    }

    /// Hides everything beneath it: all three blend equations reduce to fg.rgb when plane
    /// alpha is 1 and either the format has no alpha or the mode ignores it.
    var isOpaque: Bool {
        alpha == 0xffff && (!hasAlpha || blendMode == ComposerPlane.blendNone)
    }

    var isStraightCopy: Bool { isXRGB8888Layout && !scaledX }

    func coversOutput(width: Int, height: Int) -> Bool {
        x0 == 0 && x1 == width && y0 == 0 && y1 == height
    }

    /// Start of the span for output row `y`, or nil if it would leave the buffer. The
    /// constructor's checks already imply it never does; this is the check the raw read
    /// actually relies on, so it stands on its own (overflow included) rather than trusting
    /// that reasoning.
    @inline(__always)
    func rowPointer(_ y: Int) -> UnsafeRawPointer? {
        let row = scaledY
            ? Composer.nearest(y - crtcY, start: srcY, length: srcH, outputs: crtcH)
            : srcYWhole + (y - crtcY)
        guard row >= 0, row < fbHeight else { return nil }
        let (rowOffset, o1) = row.multipliedReportingOverflow(by: pitch)
        let (start, o2) = rowOffset.addingReportingOverflow(offset + spanStart * cpp)
        let (end, o3) = start.addingReportingOverflow(spanCount * cpp)
        guard !o1, !o2, !o3, start >= 0, end <= bufferSize else { return nil }
        return base + start
    }

    /// Writes output columns x0..<x1 of row `y` to `destination` as 0xffRRGGBB words.
    @inline(__always)
    func copyRow(_ y: Int, to destination: UnsafeMutablePointer<UInt32>) -> Bool {
        guard let source = rowPointer(y) else { return false }
        let out = destination + x0
        for i in 0..<spanCount {
            out[i] = UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)) | 0xff00_0000
        }
        return true
    }

    /// Reads output columns x0..<x1 of row `y` into `destination[0 ..< x1 - x0]`.
    @inline(__always)
    func fetch(_ y: Int, into destination: UnsafeMutablePointer<Pixel16>, scratch: UnsafeMutablePointer<Pixel16>) -> Bool {
        guard let source = rowPointer(y) else { return false }
        if scaledX {
            read(source, spanCount, scratch)
            for (i, column) in columns.enumerated() { destination[i] = scratch[column - spanStart] }
        } else {
            read(source, spanCount, destination)
        }
        return true
    }
}
