import FakeDRM

/// When a CRTC's picture is one plane's buffer as it is, so the host can show the guest's
/// memory without a copy: one visible plane covering the whole mode 1:1 from whole pixels, no
/// rotation, opaque, no gamma, a single-plane RGB format the host takes. Anything else is
/// composed.
enum DirectScanout {
    static let xrgb8888: UInt32 = 0x3432_5258
    static let argb8888: UInt32 = 0x3432_5241

    static func key(for s: Scanout, hostFormats: Set<UInt32>) -> (DirectKey, BufferObject)? {
        guard s.active, s.planes.count == 1, s.buffers.count == 1, s.chromaBuffers.isEmpty, s.gamma == nil else { return nil }
        let p = s.planes[0], bo = s.buffers[0]
        let w = s.width, h = s.height
        guard w > 0, h > 0, p.chroma.isEmpty, p.rotation == ComposerPlane.rotate0, p.alpha == 0xffff,
              p.crtcX == 0, p.crtcY == 0, p.crtcW == UInt32(w), p.crtcH == UInt32(h),
              p.srcW == UInt32(w) << 16, p.srcH == UInt32(h) << 16, p.srcX & 0xffff == 0, p.srcY & 0xffff == 0,
              let shmFormat = shmFormat(p, hostFormats: hostFormats),
              let info = PixelFormat.lookup(p.format), info.bytesPerPixel > 0 else { return nil }
        // wl_shm's own checks (a failed one is a protocol error that ends the connection):
        // stride >= width, offset + stride * height within the pool, sizes within Int32.
        let cpp = info.bytesPerPixel
        let (x, y) = (Int(p.srcX >> 16), Int(p.srcY >> 16))
        let offset = p.offset + y * p.pitch + x * cpp
        // A whole number of pixels per row too, as host renderers need.
        guard p.pitch >= w * cpp, p.pitch % cpp == 0, offset >= 0, bo.size <= Int(Int32.max),
              offset + p.pitch * h <= bo.size, x + w <= Int(p.fbWidth), y + h <= Int(p.fbHeight) else { return nil }
        return (DirectKey(serial: bo.serial, offset: offset, width: w, height: h, stride: p.pitch, shmFormat: shmFormat), bo)
    }

    /// The wl_shm code showing the plane as scanout would: wl_shm's ARGB8888/XRGB8888 are 0
    /// and 1, its other codes are DRM fourccs. A scanout has no alpha, so ARGB8888 goes out as
    /// XRGB8888: exact for premultiplied or no blending over the CRTC's black, not for coverage.
    static func shmFormat(_ p: ComposerPlane, hostFormats: Set<UInt32>) -> UInt32? {
        switch p.format {
        case xrgb8888: return 1
        case argb8888: return p.blendMode == ComposerPlane.blendCoverage ? nil : 1
        default:
            guard let info = PixelFormat.lookup(p.format), !info.hasAlpha, !info.isYUV, info.planeCount == 1,
                  hostFormats.contains(p.format) else { return nil }
            return p.format
        }
    }
}
