import Dispatch
import Foundation
import Glibc

/// `fakedrm bench --vhost`: page flips through a real vhost-user-gpu backend, and the
/// release-fence demo (simulated host, see `HoldingHost`).
public enum VhostBench {
    public struct FlipReport: Sendable {
        public var width: Int, height: Int
        public var flips: Int
        public var seconds: Double
        public var flipsPerSecond: Double { Double(flips) / seconds }
        public var flushMedianNs: Int64
        public var flushP99Ns: Int64
        /// Full-frame copies fakedrm itself made per flip (0 on the in-place path).
        public var fakedrmCopiesPerFlip: Double
        public var directFlips: Int, composedFlips: Int
        public var displaySendBuffer: Int
        public var commandErrors: Int
    }

    /// Flips between two full-screen buffers as fast as flips complete, for `seconds`.
    /// `redraw` rewrites one row band per frame (a client that draws) — it does not change
    /// what fakedrm copies, only what the buffer holds.
    public static func flips(endpoint: VhostUserTransport.Endpoint, width: Int, height: Int, seconds: Double,
                             composed: Bool = false) throws -> FlipReport {
        let transport = VhostUserTransport(endpoint: endpoint)
        let backend = try VirtioGPUBackend(transport: transport, display: VirtioDisplay(outputs: [(width, height)]))
        try backend.start()
        defer { backend.shutdown() }
        let device = try Device(config: DeviceConfig(), backend: backend, virtualTime: true)
        defer { device.shutdown() }
        backend.waitIdle()
        let scene = try FlipScene(device: device, width: width, height: height, overlay: composed)
        // Warm up: resources and memory regions are created on first use of each buffer.
        for _ in 0..<4 { try scene.flipAndWait() }
        let before = backend.stats
        let t0 = Monotonic.nowNs(), end = t0 + Int64(seconds * 1e9)
        var n = 0
        while Monotonic.nowNs() < end {
            try scene.flipAndWait()
            n += 1
        }
        let elapsed = Double(Monotonic.nowNs() - t0) / 1e9
        let s = backend.stats
        let lat = Array(s.flushLatencies.dropFirst(before.flushLatencies.count)).sorted()
        return FlipReport(width: width, height: height, flips: n, seconds: elapsed,
                          flushMedianNs: lat.isEmpty ? 0 : lat[lat.count / 2],
                          flushP99Ns: lat.isEmpty ? 0 : lat[min(lat.count - 1, lat.count * 99 / 100)],
                          fakedrmCopiesPerFlip: Double(s.frameCopies - before.frameCopies) / Double(max(n, 1)),
                          directFlips: s.directFlips - before.directFlips, composedFlips: s.composedFlips - before.composedFlips,
                          displaySendBuffer: transport.displaySendBuffer, commandErrors: s.commandErrors)
    }

    public struct ReleaseDemo: Sendable {
        public var renderMs: Double
        public var hostHz: Double
        public var seconds: Double
        public var fpsReleaseTiedToFlip: Double
        public var fpsWithReleaseFence: Double
    }

    /// A double-buffered client that renders `renderMs` per frame against a host that repaints
    /// at `hostHz` and holds the shown buffer until its own next repaint.
    public static func releaseDemo(renderMs: Double, hostHz: Double = 60, seconds: Double = 3) throws -> ReleaseDemo {
        func run(_ tied: Bool) throws -> Double {
            var cfg = DeviceConfig()
            cfg.releaseFence.hostDelayMs = 1  // the host's copy out of the buffer at repaint
            let host = HoldingHost(periodNs: Int64(1e9 / hostHz), tied: tied)
            // Real time: the release fence's hostDelayMs is a timed action on the device clock.
            let device = try Device(config: cfg, backend: host, virtualTime: false)
            defer { device.shutdown(); host.stop() }
            let scene = try FlipScene(device: device, width: 1024, height: 768, overlay: false)
            return try scene.releaseLoop(tied: tied, renderNs: Int64(renderMs * 1e6), seconds: seconds)
        }
        let tied = try run(true)
        let fenced = try run(false)
        return ReleaseDemo(renderMs: renderMs, hostHz: hostHz, seconds: seconds, fpsReleaseTiedToFlip: tied, fpsWithReleaseFence: fenced)
    }
}

extension VhostBench {
    /// The demo's double-buffered client on a lit CRTC of `device`, whatever display is behind
    /// it (`fakedrm bench --wayland` runs it against a real host). Frames per second.
    public static func releaseLoop(device: Device, tied: Bool, renderMs: Double, seconds: Double) throws -> Double {
        let scene = try FlipScene(device: device, width: 1024, height: 768, overlay: false)
        for _ in 0..<4 { try scene.flipAndWait() }
        return try scene.releaseLoop(tied: tied, renderNs: Int64(renderMs * 1e6), seconds: seconds)
    }

    /// Flips between two buffers as fast as the display completes them: flips per second.
    public static func flipRate(device: Device, seconds: Double) throws -> Double {
        let scene = try FlipScene(device: device, width: 1024, height: 768, overlay: false)
        for _ in 0..<4 { try scene.flipAndWait() }
        let t0 = Monotonic.nowNs(), end = t0 + Int64(seconds * 1e9)
        var n = 0
        while Monotonic.nowNs() < end {
            try scene.flipAndWait()
            n += 1
        }
        return Double(n) / (Double(Monotonic.nowNs() - t0) / 1e9)
    }
}

enum BenchError: Error { case failed(String) }

/// A lit CRTC with two full-screen buffers, driven through the Direct front end's codec.
final class FlipScene {
    let c: DirectClient
    let fbs: [UInt32]
    var which = 0
    let primary: UInt32, crtc: UInt32
    let fbProp: UInt32, releaseProp: UInt32

    init(device d: Device, width w: Int, height h: Int, overlay: Bool) throws {
        let c = try DirectClient(device: d)
        self.c = c
        try d.files.setClientCap(c.file, cap: DRMConst.clientCapAtomic, value: 1)
        var ids: [UInt32] = []
        for k in 0..<2 {
            let b = try d.buffers.createDumb(c.file, width: UInt32(w), height: UInt32(h), bpp: 32)
            if let bo = d.lock.withLock({ c.file.handles[b.handle] }) {
                let px = bo.memory.base.assumingMemoryBound(to: UInt32.self)
                for i in 0..<(Int(b.pitch) / 4 * h) { px[i] = UInt32(truncatingIfNeeded: i &* 2654435761) ^ UInt32(k) }
            }
            ids.append(try d.buffers.addFramebuffer(c.file, .init(width: UInt32(w), height: UInt32(h), format: 0x3432_5258, flags: 0, handles: [b.handle, 0, 0, 0],
                                                         pitches: [b.pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0])))
        }
        fbs = ids
        let res = d.objects.resources(c.file)
        let crtc = res.crtcs[0]
        self.crtc = crtc
        let conn = try d.objects.connectorInfo(c.file, res.connectors[0])
        guard let mode = conn.modes.first(where: { Int($0.hdisplay) == w && Int($0.vdisplay) == h }) ?? conn.modes.first else {
            throw BenchError.failed("connector has no modes")
        }
        try d.pipeline.setCrtc(c.file, .init(crtcID: crtc, fbID: fbs[0], x: 0, y: 0, mode: mode, connectors: [res.connectors[0]]))
        let primary = d.lock.withLock { d.topology.planes.first { $0.type == .primary }?.id ?? 0 }
        self.primary = primary
        let prop = { (obj: UInt32, name: String) -> UInt32 in
            ((try? d.objects.objectProperties(c.file, objectID: obj, type: 0)) ?? []).compactMap { (id, _) in (try? d.objects.property(id))?.name == name ? id : nil }.first ?? 0
        }
        fbProp = prop(primary, "FB_ID")
        releaseProp = prop(crtc, "RELEASE_FENCE_PTR")
        if overlay, let ov = d.lock.withLock({ d.topology.planes.first { $0.type == .overlay }?.id }) {
            // An overlay forces the composed path (one compose + one copy per flip).
            let b = try d.buffers.createDumb(c.file, width: 64, height: 64, bpp: 32)
            let fb = try d.buffers.addFramebuffer(c.file, .init(width: 64, height: 64, format: 0x3432_5258, flags: 0, handles: [b.handle, 0, 0, 0],
                                                        pitches: [b.pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0]))
            var objs: [(UInt32, [(UInt32, UInt64)])] = []
            let names = ["FB_ID", "CRTC_ID", "CRTC_X", "CRTC_Y", "CRTC_W", "CRTC_H", "SRC_X", "SRC_Y", "SRC_W", "SRC_H"]
            let values: [UInt64] = [UInt64(fb), UInt64(crtc), 8, 8, 64, 64, 0, 0, 64 << 16, 64 << 16]
            objs.append((ov, zip(names, values).map { (prop(ov, $0.0), $0.1) }))
            guard commit(objs, flags: DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent) == 0 else { throw BenchError.failed("overlay commit") }
            _ = try waitEvent()
        }
    }

    func commit(_ objs: [(UInt32, [(UInt32, UInt64)])], flags: UInt32) -> Int32 {
        let ids = objs.map(\.0), counts = objs.map { UInt32($0.1.count) }
        let props = objs.flatMap { $0.1.map(\.0) }, values = objs.flatMap { $0.1.map(\.1) }
        let m = c.memory
        var a = LE.bytes([flags, UInt32(ids.count)]) + LE.bytes([m.map(LE.bytes(ids)), m.map(LE.bytes(counts)), m.map(LE.bytes(props)), m.map(LE.bytes(values)), 0, 0])
        return c.ioctl(IoctlRequest.drm(0xBC, size: 56).raw, &a)
    }

    /// Waits for one DRM event (flip complete); returns its bytes.
    @discardableResult
    func waitEvent(timeoutMs: Int32 = 3000) throws -> [UInt8] {
        while true {
            if let e = try? c.device.files.readEvents(c.file, maxBytes: 4096, nonblocking: true), !e.isEmpty { return e }
            var p = pollfd(fd: c.file.readiness.fd.raw, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, timeoutMs) == 0 { throw BenchError.failed("no flip event within \(timeoutMs) ms") }
        }
    }

    func flipAndWait() throws {
        which ^= 1
        let e = commit([(primary, [(fbProp, UInt64(fbs[which]))])], flags: DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent)
        guard e == 0 else { throw BenchError.failed("flip failed: errno \(e)") }
        try waitEvent()
    }

    /// The double-buffered client of the release-fence demo. Returns frames per second.
    func releaseLoop(tied: Bool, renderNs: Int64, seconds: Double) throws -> Double {
        var release: [SyncFile?] = [nil, nil]
        var flipPending = false
        var frames = 0
        let relPtr = c.memory.alloc(4)
        let t0 = Monotonic.nowNs(), end = t0 + Int64(seconds * 1e9)
        var back = 1
        while Monotonic.nowNs() < end {
            if tied {
                // No release fence: the back buffer is free once the previous flip completed.
                if flipPending { try waitEvent(); flipPending = false }
            } else if let f = release[back] {
                var p = pollfd(fd: f.readiness.fd.raw, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, 3000)
            }
            spin(renderNs)  // "render" into the back buffer
            if flipPending { try waitEvent(); flipPending = false }
            var props: [(UInt32, [(UInt32, UInt64)])] = [(primary, [(fbProp, UInt64(fbs[back]))])]
            if !tied { props.append((crtc, [(releaseProp, relPtr)])) }
            let e = commit(props, flags: DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent)
            guard e == 0 else { throw BenchError.failed("demo flip failed: errno \(e)") }
            if !tied {
                // This commit's release fence signals when `back` leaves the screen.
                let fd = Int32(bitPattern: LE.u32s(c.memory.bytes(at: relPtr, count: 4) ?? [0, 0, 0, 0])[0])
                release[back] = c.files.syncFile(fd: fd)
                c.files.close(fd: fd)
            }
            flipPending = true
            frames += 1
            back ^= 1
        }
        return Double(frames) / (Double(Monotonic.nowNs() - t0) / 1e9)
    }

    /// Sleeps most of the interval and spins the rest: usleep alone overshoots by ~0.1 ms.
    private func spin(_ ns: Int64) {
        let until = Monotonic.nowNs() + ns
        if ns > 1_000_000 { usleep(UInt32((ns - 1_000_000) / 1000)) }
        while Monotonic.nowNs() < until {}
    }
}

/// The host of the release-fence demo, simulated: it repaints every `periodNs` and at each
/// repaint takes the newest submitted frame. It holds the frame it shows until its own next
/// repaint. `tied`: without a release fence the guest can only learn that the old buffer is
/// free from the flip completion, so the flip completes one repaint after the frame was taken
/// (when the host let go of the previous one). Otherwise the flip completes at the repaint that
/// takes the frame and the core's release fence (+ releaseFence.hostDelayMs) says when the old
/// buffer is free. QEMU 7.2's vhost-user-gpu cannot be used here: it copies at
/// TRANSFER_TO_HOST_2D and never holds guest buffers.
final class HoldingHost: ScanoutBackend, @unchecked Sendable {
    var completesFlips: Bool { true }
    func present(crtcIndex: Int, scanout: Scanout, timestampNs: Int64) {}

    private let lock = DeviceLock()
    private weak var device: Device?
    private var submitted: (crtc: Int, token: UInt64)?
    private var taken: (crtc: Int, token: UInt64)?
    private var running = true
    private let periodNs: Int64
    private let tied: Bool
    private let done = DispatchSemaphore(value: 0)

    init(periodNs: Int64, tied: Bool) {
        self.periodNs = periodNs
        self.tied = tied
        let t = Thread { [self] in
            repaintLoop()
            done.signal()
        }
        t.start()
    }

    func attach(to device: Device) { lock.withLock { self.device = device } }

    func submit(crtcIndex: Int, scanout: Scanout, token: UInt64) { lock.withLock { submitted = (crtcIndex, token) } }

    func stop() {
        lock.withLock { running = false }
        done.wait()
    }

    private func repaintLoop() {
        var next = Monotonic.nowNs() + periodNs
        while lock.withLock({ running }) {
            var ts = timespec(tv_sec: Int(next / 1_000_000_000), tv_nsec: Int(next % 1_000_000_000))
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil)
            let (complete, dev): ([(crtc: Int, token: UInt64)], Device?) = lock.withLock {
                var out: [(crtc: Int, token: UInt64)] = []
                if let t = taken { out.append(t); taken = nil }  // tied: released one repaint later
                if let s = submitted {
                    submitted = nil
                    if tied { taken = s } else { out.append(s) }
                }
                return (out, device)
            }
            // Called outside our lock: the device takes its own.
            for c in complete { dev?.display.flipDone(crtcIndex: c.crtc, token: c.token) }
            next += periodNs
        }
    }
}
