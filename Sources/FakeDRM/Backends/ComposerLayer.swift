/// One output axis of a plane: how output pixels along it map to framebuffer pixels along the
/// framebuffer axis it walks after rotation. Nearest-neighbour sampling at the centre of each
/// output pixel; a reversed axis (rotate-180, reflect, or the rotated axis of 90/270) counts
/// from the far edge of the source rectangle.
struct LayerAxis {
    /// Output pixels along this axis (CRTC_W or CRTC_H).
    let outputs: UInt32
    /// Source start and length (16.16) along the framebuffer axis this output axis walks.
    let start: UInt32
    let length: UInt32
    let reversed: Bool
    /// One source pixel per output pixel: the whole-pixel start is used, as vkms does, so a
    /// fractional SRC_X does not shift an unscaled plane by half a pixel.
    let unscaled: Bool

    init(outputs: UInt32, start: UInt32, length: UInt32, reversed: Bool) {
        self.outputs = outputs
        self.start = start
        self.length = length
        self.reversed = reversed
        unscaled = UInt64(length) == UInt64(outputs) << 16
    }

    /// Framebuffer coordinate for output step `d` (0 ≤ d < outputs). Full-width arithmetic
    /// because hostile 32-bit sizes overflow 64 bits in the product; `d < outputs` keeps the
    /// quotient below `length`, so the division cannot trap and `length − quotient` is positive.
    @inline(__always)
    func map(_ d: Int) -> Int {
        if unscaled {
            let first = Int(start >> 16)
            return reversed ? first + Int(outputs) - 1 - d : first + d
        }
        let product = UInt64(2 * d + 1).multipliedFullWidth(by: UInt64(length))
        let quotient = (2 * UInt64(outputs)).dividingFullWidth(product).quotient
        let position = reversed ? UInt64(length) - quotient : quotient
        return Int((UInt64(start) + position) >> 16)
    }

    var isIdentity: Bool { unscaled && !reversed }
}

/// A plane reduced to what the row loop needs, with every range already clipped to the output,
/// the framebuffer and the buffer. Built only for planes that are safe to read.
struct Layer {
    let planes: [PlaneMemory]
    let read: PixelFormat.LineReader
    let ycbcr: YCbCrConversion?
    let bytesPerPixel: Int
    let vsub: Int
    let lastChromaRow: Int
    let lastChromaColumn: Int
    let fbWidth: Int
    let fbHeight: Int
    let isXRGB8888Layout: Bool
    let hasAlpha: Bool
    let alpha: Int
    let blendMode: UInt8

    /// Visible output columns x0..<x1 and rows y0..<y1.
    let x0: Int
    let x1: Int
    let y0: Int
    let y1: Int

    /// rotate-90/270: an output row walks a framebuffer column, so pixels are read one by one.
    let transposed: Bool
    /// For each output column x0..<x1, the framebuffer coordinate it samples: a column, or a
    /// row when transposed.
    let columns: [Int]
    /// The other axis: output row → framebuffer row (or column when transposed).
    let rowAxis: LayerAxis
    let crtcY: Int
    /// Untransposed only: the framebuffer columns a row reads, and whether they are exactly
    /// the output columns in order (then the reader writes straight into the line).
    let spanStart: Int
    let spanCount: Int
    let direct: Bool

    init?(plane p: ComposerPlane, width: Int, height: Int) {
        guard let format = PixelFormat.lookup(p.format),
            p.blendMode <= ComposerPlane.blendNone, p.alpha > 0,
            p.chroma.count >= format.planeCount - 1,
            p.fbWidth > 0, p.fbHeight > 0, p.srcW > 0, p.srcH > 0, p.crtcW > 0, p.crtcH > 0,
            (p.rotation & ComposerPlane.rotateMask).nonzeroBitCount == 1
        else { return nil }
        let fbWidth = Int(p.fbWidth)
        let fbHeight = Int(p.fbHeight)

        // Each plane's last row must end inside its buffer; the kernel refuses such a
        // framebuffer at ADDFB, so a plane failing this is broken: skip it whole rather than
        // show part of it. Chroma planes have width/hsub × height/vsub samples (at least one),
        // the sizes drm_gem_fb_init_with_funcs checks.
        let memories = [p.memory] + p.chroma.prefix(format.planeCount - 1)
        let chromaRows = max(1, fbHeight / format.vsub), chromaColumns = max(1, fbWidth / format.hsub)
        for (k, m) in memories.enumerated() {
            let rows = k == 0 ? fbHeight : chromaRows
            let rowBytes = format.minPitch(width: UInt32(k == 0 ? fbWidth : chromaColumns), plane: k)
            guard m.pitch > 0, m.offset >= 0, m.size >= 0, rowBytes <= UInt64(Int.max) else { return nil }
            let (lastRow, o1) = (rows - 1).multipliedReportingOverflow(by: m.pitch)
            let (lastRowStart, o2) = lastRow.addingReportingOverflow(m.offset)
            let (end, o3) = lastRowStart.addingReportingOverflow(Int(rowBytes))
            guard !o1, !o2, !o3, end <= m.size else { return nil }
        }

        // drm_rect_rotate: reflection first, then a counter-clockwise rotation. Undoing it for
        // an output pixel gives the source pixel; each output axis walks one framebuffer axis.
        let rotate = p.rotation & ComposerPlane.rotateMask
        let transposed = rotate == ComposerPlane.rotate90 || rotate == ComposerPlane.rotate270
        var reverseU = rotate == ComposerPlane.rotate180 || rotate == ComposerPlane.rotate270
        var reverseV = rotate == ComposerPlane.rotate180 || rotate == ComposerPlane.rotate90
        // Reflection flips a framebuffer axis: the output axis walking it flips with it.
        if p.rotation & ComposerPlane.reflectX != 0 { if transposed { reverseV.toggle() } else { reverseU.toggle() } }
        if p.rotation & ComposerPlane.reflectY != 0 { if transposed { reverseU.toggle() } else { reverseV.toggle() } }
        let xSource = (start: p.srcX, length: p.srcW), ySource = (start: p.srcY, length: p.srcH)
        let uSource = transposed ? ySource : xSource, vSource = transposed ? xSource : ySource
        let columnAxis = LayerAxis(outputs: p.crtcW, start: uSource.start, length: uSource.length, reversed: reverseU)
        let rowAxis = LayerAxis(outputs: p.crtcH, start: vSource.start, length: vSource.length, reversed: reverseV)
        let columnLimit = transposed ? fbHeight : fbWidth, rowLimit = transposed ? fbWidth : fbHeight

        let crtcX = Int(p.crtcX)
        let crtcY = Int(p.crtcY)
        var x0 = max(0, crtcX)
        var x1 = min(width, crtcX + Int(p.crtcW))
        var y0 = max(0, crtcY)
        var y1 = min(height, crtcY + Int(p.crtcH))
        guard x0 < x1, y0 < y1 else { return nil }

        // Source pixels past the framebuffer's edge are clipped (the KMS core should have
        // rejected them; scanout must not read them either way). The mapping is monotonic, so
        // the bad ones are a prefix or a suffix of each axis.
        var columns = (x0..<x1).map { columnAxis.map($0 - crtcX) }
        let firstGood = columns.firstIndex { $0 < columnLimit } ?? columns.count
        let lastGood = columns.lastIndex { $0 < columnLimit } ?? -1
        guard firstGood <= lastGood else { return nil }
        columns = Array(columns[firstGood...lastGood])
        x1 = x0 + lastGood + 1
        x0 += firstGood
        while y0 < y1, rowAxis.map(y0 - crtcY) >= rowLimit { y0 += 1 }
        while y1 > y0, rowAxis.map(y1 - 1 - crtcY) >= rowLimit { y1 -= 1 }
        guard y0 < y1 else { return nil }

        if transposed {
            spanStart = 0
            spanCount = 0
            direct = false
        } else {
            let low = columns.min() ?? 0, high = columns.max() ?? 0
            spanStart = low
            spanCount = high - low + 1
            direct = columnAxis.isIdentity
        }

        planes = memories
        read = format.readLine
        ycbcr = format.isYUV ? YCbCrConversion.of(encoding: p.colorEncoding, range: p.colorRange) : nil
        bytesPerPixel = format.bytesPerPixel
        vsub = format.vsub
        lastChromaRow = chromaRows - 1
        lastChromaColumn = chromaColumns - 1
        self.fbWidth = fbWidth
        self.fbHeight = fbHeight
        isXRGB8888Layout = format.isXRGB8888Layout
        hasAlpha = format.hasAlpha
        alpha = Int(p.alpha)
        blendMode = p.blendMode
        self.x0 = x0
        self.x1 = x1
        self.y0 = y0
        self.y1 = y1
        self.transposed = transposed
        self.columns = columns
        self.rowAxis = rowAxis
        self.crtcY = crtcY
    }

    /// Hides everything beneath it: all three blend equations reduce to fg.rgb when plane
    /// alpha is 1 and either the format has no alpha or the mode ignores it.
    var isOpaque: Bool {
        alpha == 0xffff && (!hasAlpha || blendMode == ComposerPlane.blendNone)
    }

    var isStraightCopy: Bool { isXRGB8888Layout && direct }

    /// Pixels of scratch a fetch needs: a gathered row reads its whole span first.
    var scratchNeeded: Int { transposed || direct ? 0 : spanCount }

    func coversOutput(width: Int, height: Int) -> Bool {
        x0 == 0 && x1 == width && y0 == 0 && y1 == height
    }

    /// Framebuffer row `row` of every plane, or nil outside the framebuffer. The constructor
    /// checked that every row of every plane lies inside its buffer.
    @inline(__always)
    func source(row: Int, x: Int) -> LineSource? {
        guard row >= 0, row < fbHeight else { return nil }
        let chromaRow = min(row / vsub, lastChromaRow)
        let p0 = planes[0].base + (planes[0].offset + row * planes[0].pitch)
        let p1 = planes.count > 1 ? planes[1].base + (planes[1].offset + chromaRow * planes[1].pitch) : p0
        let p2 = planes.count > 2 ? planes[2].base + (planes[2].offset + chromaRow * planes[2].pitch) : p1
        return LineSource(rows: (p0, p1, p2), x: x, lastChromaColumn: lastChromaColumn, ycbcr: ycbcr)
    }

    /// Writes output columns x0..<x1 of row `y` to `destination` as 0xffRRGGBB words.
    @inline(__always)
    func copyRow(_ y: Int, to destination: UnsafeMutablePointer<UInt32>) -> Bool {
        guard let s = source(row: rowAxis.map(y - crtcY), x: spanStart) else { return false }
        let p = s.rows.0 + spanStart &* 4
        let out = destination + x0
        for i in 0..<spanCount {
            out[i] = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)) | 0xff00_0000
        }
        return true
    }

    /// Reads output columns x0..<x1 of row `y` into `destination[0 ..< x1 - x0]`.
    @inline(__always)
    func fetch(_ y: Int, into destination: UnsafeMutablePointer<Pixel16>, scratch: UnsafeMutablePointer<Pixel16>) -> Bool {
        let outer = rowAxis.map(y - crtcY)
        if transposed {
            // `outer` is a framebuffer column; each output pixel is a different row.
            guard outer >= 0, outer < fbWidth else { return false }
            for (i, row) in columns.enumerated() {
                guard let s = source(row: row, x: outer) else { return false }
                read(s, 1, destination + i)
            }
            return true
        }
        guard let s = source(row: outer, x: spanStart) else { return false }
        if direct {
            read(s, spanCount, destination)
        } else {
            read(s, spanCount, scratch)
            for (i, column) in columns.enumerated() { destination[i] = scratch[column - spanStart] }
        }
        return true
    }
}
