import CFakeDRMSys
import Glibc

/// The display end of virtio-gpu: what a user would see. It answers the device's display-info
/// question from the configured outputs, and keeps, per scanout, the latest pixels the device
/// sent (UPDATE) plus the cursor (CURSOR_UPDATE/CURSOR_POS). Fed by the vhost-user display
/// socket reader or, in tests, by the loopback device.
///
/// @unchecked Sendable: every mutable field is guarded by `lock`.
public final class VirtioDisplay: @unchecked Sendable {
    struct Image {
        var width = 0
        var height = 0
        /// Resource coordinates of the scanout's top-left corner (SCANOUT carries no origin,
        /// so the driver tells us what it asked for in SET_SCANOUT).
        var originX = 0
        var originY = 0
        var fourcc: UInt32 = 0x3432_5258
        /// Raw device bytes, stride = width × 4.
        var bytes: [UInt8] = []
        var updates = 0
        /// With a host window: how many of `updates` the host has shown.
        var shownUpdates = 0
    }

    struct Cursor {
        var scanout = 0
        var x: Int32 = 0
        var y: Int32 = 0
        var hotX = 0
        var hotY = 0
        var visible = false
        var bytes = [UInt8](repeating: 0, count: 64 * 64 * 4)
    }

    /// A scanout the backend shares as a dmabuf (its GBM/udmabuf path), mapped read-only.
    final class DMABuf {
        let fd: OwnedFD
        let map: UnsafeMutableRawPointer
        let mapSize: Int
        let x: Int, y: Int, stride: Int, fdWidth: Int, fdHeight: Int
        init(fd: OwnedFD, map: UnsafeMutableRawPointer, mapSize: Int, x: Int, y: Int, stride: Int, fdWidth: Int, fdHeight: Int) {
            self.fd = fd; self.map = map; self.mapSize = mapSize; self.x = x; self.y = y
            self.stride = stride; self.fdWidth = fdWidth; self.fdHeight = fdHeight
        }
        deinit { munmap(map, mapSize) }
    }

    private let lock = DeviceLock()
    private var dmabufs: [Int: DMABuf] = [:]
    private var outputs: [(width: Int, height: Int)?]
    private var images: [Int: Image] = [:]
    private var cursor = Cursor()
    private var cursorMessages = 0
    private var errors: [String] = []
    private var progress: (@Sendable () -> Void)?
    private var sink: HostWindowSink?

    /// Largest scanout the display accepts: bounds what the device may make us allocate.
    public static let maxDimension = 16384

    /// `outputs[i]` is the size of host output i (nil: nothing plugged in).
    public init(outputs: [(width: Int, height: Int)?]) {
        self.outputs = Array(outputs.prefix(VirtioGPUWire.maxScanouts))
    }

    public func setOutputs(_ o: [(width: Int, height: Int)?]) { lock.withLock { outputs = Array(o.prefix(VirtioGPUWire.maxScanouts)) } }

    func setProgressHandler(_ h: (@Sendable () -> Void)?) { lock.withLock { progress = h } }

    /// Where the pictures also go (a host window); a picture then counts as shown, for the
    /// flips waiting on it, once the window has shown it.
    public func setSink(_ s: HostWindowSink?) { lock.withLock { sink = s } }

    /// The 408-byte GET_DISPLAY_INFO answer.
    public func displayInfo() -> [UInt8] { lock.withLock { VirtioGPUWire.displayInfo(outputs) } }

    /// Driver side: what SET_SCANOUT is about to ask for (origin and format are not in SCANOUT).
    func prepareScanout(_ id: Int, originX: Int, originY: Int, fourcc: UInt32) {
        lock.withLock {
            images[id, default: Image()].originX = originX
            images[id, default: Image()].originY = originY
            images[id, default: Image()].fourcc = fourcc
        }
    }

    /// SCANOUT(id, w, h); 0×0 disables it.
    func scanout(_ id: Int, width: Int, height: Int) -> Bool {
        guard id >= 0, id < VirtioGPUWire.maxScanouts, width >= 0, height >= 0,
              width <= Self.maxDimension, height <= Self.maxDimension else {
            note("SCANOUT \(id) \(width)x\(height) out of range")
            return false
        }
        lock.withLock {
            var img = images[id] ?? Image()
            if img.width != width || img.height != height {
                img.width = width
                img.height = height
                img.bytes = [UInt8](repeating: 0, count: width * height * 4)
            }
            images[id] = img
            lock.broadcast()
        }
        if width == 0 || height == 0 { lock.withLock { sink }?.hide(scanout: id) }
        return true
    }

    /// UPDATE(id, rect) whose width×height×4 pixel bytes `fill` produces. `fill(dst, n)`
    /// writes exactly n bytes to dst (false: the source failed; the frame is then partial).
    /// Rows or columns outside the scanout are consumed and dropped.
    func update(_ id: Int, x: Int, y: Int, width: Int, height: Int, fill: (UnsafeMutableRawPointer, Int) -> Bool) -> Bool {
        let rowBytes = width * 4
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(rowBytes, 4), alignment: 16)
        defer { scratch.deallocate() }
        let ok: Bool = lock.withLock {
            var img = images[id] ?? Image()
            images[id] = nil  // take it out so `bytes` is uniquely referenced while we write
            defer { images[id] = img }
            let sx = x - img.originX, sy = y - img.originY
            let iw = img.width, ih = img.height, stride = iw * 4
            return img.bytes.withUnsafeMutableBytes { dst -> Bool in
                guard let base = dst.baseAddress else {
                    // No scanout of that size: consume and drop.
                    for _ in 0..<height where !fill(scratch, rowBytes) { return false }
                    return true
                }
                if sx == 0, width == iw, sy >= 0, sy + height <= ih {
                    return fill(base + sy * stride, rowBytes * height)  // contiguous: straight in
                }
                for r in 0..<height {
                    let row = sy + r
                    if row >= 0, row < ih, sx >= 0, sx + width <= iw {
                        if !fill(base + row * stride + sx * 4, rowBytes) { return false }
                        continue
                    }
                    if !fill(scratch, rowBytes) { return false }
                    guard row >= 0, row < ih else { continue }
                    let c0 = max(sx, 0), c1 = min(sx + width, iw)
                    if c0 < c1 { (base + row * stride + c0 * 4).copyMemory(from: scratch + (c0 - sx) * 4, byteCount: (c1 - c0) * 4) }
                }
                return true
            }
        }
        lock.withLock {
            images[id, default: Image()].updates += 1
            lock.broadcast()
        }
        pictureChanged(id)
        return ok
    }

    /// A complete picture: to the host window when there is one, else shown now.
    private func pictureChanged(_ id: Int) {
        guard let (sink, n) = lock.withLock({ sink.map { ($0, images[id]?.updates ?? 0) } }) else {
            notifyProgress()
            return
        }
        let shown: @Sendable () -> Void = { [weak self] in
            guard let self else { return }
            self.lock.withLock {
                if let shown = self.images[id]?.shownUpdates, shown < n { self.images[id]?.shownUpdates = n }
                self.lock.broadcast()
            }
            self.notifyProgress()
        }
        // No picture to show (the scanout went meanwhile): nothing for the window to wait for.
        guard let f = frame(scanout: id) else { return shown() }
        sink.show(scanout: id, frame: f, shown: shown)
    }

    /// DMABUF_SCANOUT: the scanout shows rect (x, y, width, height) of a dmabuf; width 0 or no
    /// fd disables it. Every field is checked before the fd is mapped.
    func dmabufScanout(_ id: Int, x: Int, y: Int, width: Int, height: Int, fdWidth: Int, fdHeight: Int,
                       stride: Int, fourcc: UInt32, fd: OwnedFD?) -> Bool {
        let maxD = Self.maxDimension
        guard id >= 0, id < VirtioGPUWire.maxScanouts else { note("DMABUF_SCANOUT for scanout \(id)"); return false }
        guard let fd, width > 0, height > 0 else {
            lock.withLock { dmabufs[id] = nil }
            return scanout(id, width: 0, height: 0)
        }
        guard fdWidth > 0, fdHeight > 0, fdWidth <= maxD, fdHeight <= maxD, stride >= fdWidth * 4, stride <= maxD * 8,
              x >= 0, y >= 0, width <= maxD, height <= maxD, x + width <= fdWidth, y + height <= fdHeight,
              PixelFormat.lookup(fourcc).map({ $0.planeCount == 1 && $0.bytesPerPixel == 4 }) == true else {
            note("DMABUF_SCANOUT \(width)x\(height)+\(x)+\(y) of \(fdWidth)x\(fdHeight) stride \(stride) fourcc \(fourcc): rejected")
            return false
        }
        let size = stride * fdHeight
        guard let m = mmap(nil, size, PROT_READ, MAP_SHARED, fd.raw, 0), m != MAP_FAILED else {
            note("DMABUF_SCANOUT: mmap of the dmabuf failed (errno \(errno))")
            return false
        }
        let buf = DMABuf(fd: fd, map: m, mapSize: size, x: x, y: y, stride: stride, fdWidth: fdWidth, fdHeight: fdHeight)
        guard scanout(id, width: width, height: height) else { return false }
        lock.withLock {
            dmabufs[id] = buf
            images[id, default: Image()].fourcc = fourcc
            images[id, default: Image()].originX = x
            images[id, default: Image()].originY = y
        }
        return true
    }

    /// DMABUF_UPDATE: copy the rect (buffer coordinates) out of the mapped dmabuf, clipped to
    /// both the buffer and the scanout.
    func dmabufUpdate(_ id: Int, x: Int, y: Int, width: Int, height: Int) {
        lock.withLock {
            guard let buf = dmabufs[id], var img = images[id] else { return }
            images[id] = nil
            defer { images[id] = img }
            var sync: UInt64 = 1  // DMA_BUF_SYNC_START | READ: coherent reads on GPU buffers
            _ = cfd_ioctl_ptr(buf.fd.raw, 0x4008_6200, &sync)
            let x0 = max(x, buf.x), y0 = max(y, buf.y)
            let x1 = min(x + width, buf.x + img.width, buf.fdWidth), y1 = min(y + height, buf.y + img.height, buf.fdHeight)
            if x0 < x1, y0 < y1 {
                let iw = img.width
                img.bytes.withUnsafeMutableBytes { dst in
                    guard let d = dst.baseAddress else { return }
                    for row in y0..<y1 {
                        (d + ((row - buf.y) * iw + (x0 - buf.x)) * 4).copyMemory(from: buf.map + row * buf.stride + x0 * 4, byteCount: (x1 - x0) * 4)
                    }
                }
            }
            sync = 1 | 4  // SYNC_END | READ
            _ = cfd_ioctl_ptr(buf.fd.raw, 0x4008_6200, &sync)
            img.updates += 1
            lock.broadcast()
        }
        pictureChanged(id)
        notifyProgress()
    }

    func cursorPosition(scanout: Int, x: Int32, y: Int32, visible: Bool) {
        lock.withLock {
            cursor.scanout = scanout
            cursor.x = x
            cursor.y = y
            cursor.visible = visible
            cursorMessages += 1
            lock.broadcast()
        }
        notifyProgress()
    }

    /// CURSOR_UPDATE: 64×64 pixels from `fill`.
    func cursorImage(scanout: Int, x: Int32, y: Int32, hotX: Int, hotY: Int, fill: (UnsafeMutableRawPointer, Int) -> Bool) -> Bool {
        let ok: Bool = lock.withLock {
            cursor.scanout = scanout
            cursor.x = x
            cursor.y = y
            cursor.hotX = hotX
            cursor.hotY = hotY
            cursor.visible = true
            cursorMessages += 1
            let ok = cursor.bytes.withUnsafeMutableBytes { b in b.baseAddress.map { fill($0, 64 * 64 * 4) } ?? false }
            lock.broadcast()
            return ok
        }
        notifyProgress()
        return ok
    }

    func note(_ error: String) {
        lock.withLock {
            if errors.count < 100 { errors.append(error) }
        }
        FakeDRMLog.warn("virtio-gpu display: \(error)")
    }

    private func notifyProgress() {
        let p = lock.withLock { progress }
        p?()
    }

    // MARK: what the user sees

    /// UPDATEs shown for a scanout so far: received, or with a host window, shown there.
    public func updateCount(scanout: Int) -> Int {
        lock.withLock { sink == nil ? images[scanout]?.updates ?? 0 : images[scanout]?.shownUpdates ?? 0 }
    }
    public func cursorMessageCount() -> Int { lock.withLock { cursorMessages } }
    public func protocolErrors() -> [String] { lock.withLock { errors } }
    public func scanoutSize(_ id: Int) -> (width: Int, height: Int)? {
        lock.withLock { images[id].flatMap { $0.width > 0 ? ($0.width, $0.height) : nil } }
    }

    /// The raw bytes the device sent for a scanout (stride = width × 4).
    public func scanoutBytes(_ id: Int) -> [UInt8]? { lock.withLock { images[id].flatMap { $0.width > 0 ? $0.bytes : nil } } }

    /// The cursor image bytes (64×64 ARGB8888) and placement, if one is shown on `scanout`.
    public func cursorState(scanout: Int) -> (x: Int32, y: Int32, hotX: Int, hotY: Int, bytes: [UInt8])? {
        lock.withLock { cursor.visible && cursor.scanout == scanout ? (cursor.x, cursor.y, cursor.hotX, cursor.hotY, cursor.bytes) : nil }
    }

    /// Waits until `scanout` has seen at least `count` UPDATEs; false on timeout.
    public func waitForUpdates(scanout: Int, atLeast count: Int, timeoutMs: Int = 5000) -> Bool {
        let deadline = Monotonic.nowNs() + Int64(timeoutMs) * 1_000_000
        return lock.withLock {
            while (images[scanout]?.updates ?? 0) < count {
                if !lock.wait(untilMonotonicNs: deadline) && Monotonic.nowNs() >= deadline { return false }
            }
            return true
        }
    }

    /// Writes what `scanout` shows (frame + cursor) as a PNG; false when nothing is shown.
    public func capturePNG(scanout id: Int, to path: String) throws(PNGError) -> Bool {
        guard let f = frame(scanout: id) else { return false }
        try PNGWriter.write(f, to: path)
        return true
    }

    /// The picture on `scanout`: the frame the device sent with the cursor blended on top,
    /// through the same Composer the card uses (alpha forced to opaque, as for any scanout).
    public func frame(scanout id: Int) -> Frame? {
        lock.withLock { () -> Frame? in
            guard let img = images[id], img.width > 0, img.height > 0 else { return nil }
            return img.bytes.withUnsafeBytes { px -> Frame? in
                guard let pbase = px.baseAddress else { return nil }
                let w = UInt32(img.width), h = UInt32(img.height)
                var planes = [ComposerPlane(base: pbase, bufferSize: px.count, pitch: img.width * 4, format: img.fourcc,
                                            fbWidth: w, fbHeight: h, srcX: 0, srcY: 0, srcW: w << 16, srcH: h << 16,
                                            crtcX: 0, crtcY: 0, crtcW: w, crtcH: h, zpos: 0)]
                return cursor.bytes.withUnsafeBytes { cb -> Frame in
                    if cursor.visible, cursor.scanout == id, let cbase = cb.baseAddress {
                        planes.append(ComposerPlane(base: cbase, bufferSize: cb.count, pitch: 256, format: 0x3432_5241,
                                                    fbWidth: 64, fbHeight: 64, srcX: 0, srcY: 0, srcW: 64 << 16, srcH: 64 << 16,
                                                    crtcX: cursor.x - Int32(cursor.hotX), crtcY: cursor.y - Int32(cursor.hotY),
                                                    crtcW: 64, crtcH: 64, zpos: 1))
                    }
                    return Composer.compose(width: img.width, height: img.height, planes: planes)
                }
            }
        }
    }
}

/// Backend diagnostics go to stderr: a daemon's log, and visible in test output.
public enum FakeDRMLog {
    public static func warn(_ s: String) {
        let line = "fakedrm: \(s)\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
