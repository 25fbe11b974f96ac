/// Software scanout: blends planes into one frame the way vkms does, through the common
/// 16-bit line format, so it never depends on a particular pixel format.
public enum Composer {
    /// What CRTC scanout `s` shows, gamma included.
    public static func compose(_ s: Scanout) -> Frame {
        compose(width: s.width, height: s.height, planes: s.planes, gamma: s.gamma)
    }

    public static func compose(
        width: Int, height: Int, planes: [ComposerPlane], background: UInt32 = 0xff00_0000, gamma: GammaLUT? = nil
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

        let scratchSource = max(1, ordered.reduce(0) { max($0, $1.scratchNeeded) })
        let line = UnsafeMutablePointer<Pixel16>.allocate(capacity: width)
        let fetched = UnsafeMutablePointer<Pixel16>.allocate(capacity: width)
        let source = UnsafeMutablePointer<Pixel16>.allocate(capacity: scratchSource)
        defer {
            line.deallocate()
            fetched.deallocate()
            source.deallocate()
        }

        let gamma = gamma?.expanded
        let backgroundWord = background | 0xff00_0000
        let background16 = Pixel16(argb8888: backgroundWord)

        let pixels = [UInt32](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let out = buffer.baseAddress else { return }
            for y in 0..<height {
                let row = out + y * width

                if let gamma {
                    // The LUT applies to every pixel of the row, so build all of it at 16 bits.
                    composeFullLine(y, base: base, layers: layers, width: width, background16: background16,
                                    line: line, fetched: fetched, scratch: source)
                    gamma.apply(to: line, count: width)
                    narrow(line, to: row, count: width)
                    continue
                }

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
                    draw(layer, row: y, into: line, fetched: fetched, scratch: source)
                }
                narrow(line + spanStart, to: row + spanStart, count: spanEnd - spanStart)
            }
            initialized = count
        }
        return Frame(width: width, height: height, pixels: pixels)
    }

    /// Row `y` entirely in `line`, at 16 bits: the slow path, for post-blend stages.
    private static func composeFullLine(
        _ y: Int, base: Layer?, layers: [Layer], width: Int, background16: Pixel16,
        line: UnsafeMutablePointer<Pixel16>, fetched: UnsafeMutablePointer<Pixel16>, scratch: UnsafeMutablePointer<Pixel16>
    ) {
        if !(base?.fetch(y, into: line, scratch: scratch) ?? false) {
            line.update(repeating: background16, count: width)
        }
        for layer in layers where layer.y0 <= y && y < layer.y1 {
            draw(layer, row: y, into: line, fetched: fetched, scratch: scratch)
        }
    }

    /// One layer's part of row `y` onto `line`. An opaque layer's blend is its own pixels
    /// (every equation reduces to fg.rgb), so it is read straight into the line.
    @inline(__always)
    private static func draw(
        _ layer: Layer, row y: Int, into line: UnsafeMutablePointer<Pixel16>,
        fetched: UnsafeMutablePointer<Pixel16>, scratch: UnsafeMutablePointer<Pixel16>
    ) {
        if layer.isOpaque {
            _ = layer.fetch(y, into: line + layer.x0, scratch: scratch)
            return
        }
        guard layer.fetch(y, into: fetched, scratch: scratch) else { return }
        blend(into: line + layer.x0, from: fetched, count: layer.x1 - layer.x0, planeAlpha: layer.alpha, mode: layer.blendMode)
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
}
