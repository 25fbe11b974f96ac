import Glibc

/// The software composer on one core at 1080p: the scene of a video player under a desktop
/// (XRGB8888 primary, an NV12 overlay, an ARGB cursor), the desktop alone, and a plain copy of
/// one frame measured in the same run as the floor.
public enum ComposeBench {
    public struct Row: Sendable {
        public var name: String
        public var medianNs: Int
    }

    public static let width = 1920, height = 1080

    public static func run(samples: Int) -> [Row] {
        let n = max(samples, 5)
        let primaryBytes = width * height * 4
        let overlayW = 1280, overlayH = 720
        let overlayBytes = overlayW * overlayH * 3 / 2
        let cursorBytes = 64 * 64 * 4
        let memory = UnsafeMutableRawPointer.allocate(byteCount: primaryBytes + overlayBytes + cursorBytes, alignment: 64)
        let copyTarget = UnsafeMutableRawPointer.allocate(byteCount: primaryBytes, alignment: 64)
        defer {
            memory.deallocate()
            copyTarget.deallocate()
        }
        // Patterns with every channel varying, so no reader or blend can shortcut.
        let words = memory.bindMemory(to: UInt32.self, capacity: primaryBytes / 4)
        for i in 0..<(width * height) { words[i] = UInt32(truncatingIfNeeded: i &* 2_654_435_761) | 0xff00_0000 }
        let video = (memory + primaryBytes).bindMemory(to: UInt8.self, capacity: overlayBytes)
        for i in 0..<overlayBytes { video[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 11) }
        let cursor = (memory + primaryBytes + overlayBytes).bindMemory(to: UInt32.self, capacity: 64 * 64)
        for i in 0..<(64 * 64) { cursor[i] = UInt32(i % 64 * 4) << 24 | 0x0080_4020 }

        let base = UnsafeRawPointer(memory)
        let size = primaryBytes + overlayBytes + cursorBytes
        let primary = ComposerPlane(
            base: base, bufferSize: size, pitch: width * 4, format: PixelFormat.xrgb8888.fourcc,
            fbWidth: UInt32(width), fbHeight: UInt32(height), srcX: 0, srcY: 0, srcW: UInt32(width) << 16, srcH: UInt32(height) << 16,
            crtcX: 0, crtcY: 0, crtcW: UInt32(width), crtcH: UInt32(height), zpos: 0)
        var overlay = ComposerPlane(
            base: base, bufferSize: size, offset: primaryBytes, pitch: overlayW, format: PixelFormat.nv12.fourcc,
            fbWidth: UInt32(overlayW), fbHeight: UInt32(overlayH),
            srcX: 0, srcY: 0, srcW: UInt32(overlayW) << 16, srcH: UInt32(overlayH) << 16,
            crtcX: 320, crtcY: 180, crtcW: UInt32(overlayW), crtcH: UInt32(overlayH), zpos: 1)
        overlay.chroma = [PlaneMemory(base: base, size: size, offset: primaryBytes + overlayW * overlayH, pitch: overlayW)]
        overlay.colorRange = .limited
        let pointer = ComposerPlane(
            base: base, bufferSize: size, offset: primaryBytes + overlayBytes, pitch: 256, format: PixelFormat.argb8888.fourcc,
            fbWidth: 64, fbHeight: 64, srcX: 0, srcY: 0, srcW: 64 << 16, srcH: 64 << 16,
            crtcX: 900, crtcY: 500, crtcW: 64, crtcH: 64, zpos: 2)

        func median(_ body: () -> Void) -> Int {
            body()
            var times: [Int] = []
            for _ in 0..<n {
                let t0 = Monotonic.nowNs()
                body()
                times.append(Int(Monotonic.nowNs() - t0))
            }
            times.sort()
            return times[times.count / 2]
        }
        var sink: UInt32 = 0
        let copy = median { copyTarget.copyMemory(from: base, byteCount: primaryBytes) }
        let scene = median { sink &+= Composer.compose(width: width, height: height, planes: [primary, overlay, pointer]).pixels[0] }
        let desktop = median { sink &+= Composer.compose(width: width, height: height, planes: [primary, pointer]).pixels[0] }
        var rotated = overlay
        rotated.rotation = ComposerPlane.rotate90
        (rotated.crtcW, rotated.crtcH, rotated.crtcX, rotated.crtcY) = (UInt32(overlayH), UInt32(overlayW), 600, 0)
        let turned = median { sink &+= Composer.compose(width: width, height: height, planes: [primary, rotated, pointer]).pixels[0] }
        var graded = Scanout(width: width, height: height, active: true, planes: [primary, overlay, pointer], buffers: [])
        graded.gamma = GammaLUT(red: (0..<256).map { UInt16($0 * 257) }, green: (0..<256).map { UInt16($0 * 257) },
                                blue: (0..<256).map { UInt16($0 * 257) })
        let gamma = median { sink &+= Composer.compose(graded).pixels[0] }
        withExtendedLifetime(sink) {}
        return [
            Row(name: "memcpy of the frame (8 MB)", medianNs: copy),
            Row(name: "XR24 primary + NV12 720p overlay + cursor", medianNs: scene),
            Row(name: "XR24 primary + cursor", medianNs: desktop),
            Row(name: "same, NV12 overlay rotated 90", medianNs: turned),
            Row(name: "scene + 256-entry GAMMA_LUT", medianNs: gamma),
        ]
    }
}
