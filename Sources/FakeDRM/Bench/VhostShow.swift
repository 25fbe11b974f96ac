import Glibc

/// `fakedrm vhost-show`: lights a CRTC through the Direct front end on a card whose display is
/// a vhost-user-gpu backend, flips animated frames with a moving cursor, and captures what
/// the display socket delivered as a PNG. A smoke test a person can look at.
public enum VhostShow {
    public struct Summary: Sendable {
        public var frames: Int
        public var matchesComposedFrame: Bool
        public var png: String?
        public var restarts: Int
        public var stats: VirtioGPUBackend.Stats
    }

    public static func run(endpoint: VhostUserTransport.Endpoint, width: Int, height: Int, frames: Int,
                           png: String?, verbose: Bool = false) throws -> Summary {
        let device = try Device(config: DeviceConfig(), virtualTime: true)
        defer { device.shutdown() }
        let sup = VhostUserSupervisor(device: device, endpoint: endpoint, outputs: [(width, height)])
        try sup.start()
        defer { sup.stop() }
        sup.backend?.waitIdle()
        let scene = try FlipScene(device: device, width: width, height: height, overlay: false)
        let c = scene.c
        // A 64×64 ARGB cursor: a translucent ring.
        let cb = try device.buffers.createDumb(c.file, width: 64, height: 64, bpp: 32)
        if let bo = device.lock.withLock({ c.file.handles[cb.handle] }) {
            let px = bo.memory.base.assumingMemoryBound(to: UInt32.self)
            for y in 0..<64 {
                for x in 0..<64 {
                    let r2 = (x - 32) * (x - 32) + (y - 32) * (y - 32)
                    px[y * Int(cb.pitch) / 4 + x] = (r2 < 900 && r2 > 400) ? 0xc0c0_c000 : 0
                }
            }
        }
        let cursorFB = try device.buffers.addFramebuffer(c.file, .init(width: 64, height: 64, format: 0x3432_5241, flags: 0, handles: [cb.handle, 0, 0, 0],
                                                               pitches: [cb.pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0]))
        let cursorPlane = device.lock.withLock { device.topology.planes.first { $0.type == .cursor }?.id ?? 0 }
        let props = ((try? device.objects.objectProperties(c.file, objectID: cursorPlane, type: 0)) ?? []).reduce(into: [String: UInt32]()) { m, p in
            if let name = try? device.objects.property(p.0).name { m[name] = p.0 }
        }
        for n in 0..<max(frames, 1) {
            scene.which ^= 1
            let target = device.lock.withLock { () -> (BufferObject, Int)? in
                guard let fb = device.objects.framebuffers[scene.fbs[scene.which]], let bo = fb.buffers.first ?? nil else { return nil }
                return (bo, Int(fb.pitches[0]) / 4)
            }
            if let (bo, stride) = target {  // a moving gradient
                let px = bo.memory.base.assumingMemoryBound(to: UInt32.self)
                for y in 0..<height { for x in 0..<width { px[y * stride + x] = UInt32(truncatingIfNeeded: ((x + n * 4) & 0xff) << 16 | (y & 0xff) << 8 | (n & 0xff)) } }
            }
            let cx = UInt64(bitPattern: Int64((n * 7) % max(width, 1))), cy = UInt64(bitPattern: Int64((n * 3) % max(height, 1)))
            var cursorProps: [(UInt32, UInt64)] = []
            for (k, v) in [("FB_ID", UInt64(cursorFB)), ("CRTC_ID", UInt64(scene.crtc)), ("CRTC_X", cx), ("CRTC_Y", cy), ("CRTC_W", 64), ("CRTC_H", 64),
                           ("SRC_X", 0), ("SRC_Y", 0), ("SRC_W", 64 << 16), ("SRC_H", 64 << 16)] {
                if let id = props[k] { cursorProps.append((id, v)) }
            }
            let e = scene.commit([(scene.primary, [(scene.fbProp, UInt64(scene.fbs[scene.which]))]), (cursorPlane, cursorProps)],
                                 flags: DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent)
            guard e == 0 else { throw BenchError.failed("flip \(n) failed: errno \(e)") }
            try scene.waitEvent()
        }
        guard let backend = sup.backend else { throw BenchError.failed("no backend") }
        backend.waitIdle()
        let shown = backend.display.frame(scanout: 0)
        let matches = shown != nil && shown == device.pipeline.composeLatched()
        if let png { _ = try backend.display.capturePNG(scanout: 0, to: png) }
        return Summary(frames: frames, matchesComposedFrame: matches, png: png, restarts: sup.restartCount, stats: backend.stats)
    }
}
