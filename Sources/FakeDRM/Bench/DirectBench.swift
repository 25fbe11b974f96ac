import CFakeDRMSys
import Glibc

/// Micro-benchmarks of the Direct path (codec + core), in-process.
public enum DirectBench {
    public struct Measurement: Sendable { public var name: String; public var median: Int; public var p99: Int }

    static func measure(_ name: String, _ n: Int, only: String?, _ body: () throws -> Void) rethrows -> Measurement? {
        try measure(name, n, only: only, setup: {}, { _ in try body() })
    }

    /// `setup` runs outside the timed region, once per sample. `only`: the one row to run (its
    /// exact name), e.g. under callgrind (scripts/bench-instructions.sh); nil for all.
    static func measure<T>(_ name: String, _ n: Int, only: String?, setup: () throws -> T, _ body: (T) throws -> Void) rethrows -> Measurement? {
        if let only, only != name { return nil }
        var samples = [Int]()
        samples.reserveCapacity(n)
        for _ in 0..<min(n / 10 + 1, 1000) { try body(try setup()) }
        for _ in 0..<n {
            let input = try setup()
            let t0 = Monotonic.nowNs()
            try body(input)
            samples.append(Int(Monotonic.nowNs() - t0))
        }
        samples.sort()
        return Measurement(name: name, median: samples[samples.count / 2], p99: samples[min(samples.count - 1, samples.count * 99 / 100)])
    }

    public static func run(iterations n: Int, only: String? = nil) throws -> [Measurement] {
        let device = try Device(config: DeviceConfig(), virtualTime: true)
        device.clock.eagerVirtualTime = true
        defer { device.shutdown() }
        let c = try DirectClient(device: device)
        var out: [Measurement] = []

        // Floor: one eventfd write seen by poll on the same fd.
        let efd = cfd_eventfd(0, 1)
        defer { close(efd) }
        out.append(measure("raw eventfd write -> poll readable", n, only: only) {
            var one: UInt64 = 1
            _ = write(efd, &one, 8)
            var p = pollfd(fd: efd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, -1)
            _ = read(efd, &one, 8)
        })

        var cap = LE.bytes([UInt64(DRMConst.capDumbBuffer), UInt64(0)])
        let getCap = IoctlRequest.drm(0x0C, size: 16).raw
        out.append(measure("GET_CAP", n, only: only) { _ = c.ioctl(getCap, &cap) })

        let ids = c.memory.alloc(64)
        var res = [UInt8](repeating: 0, count: 64)
        for k in 0..<4 { res.replaceSubrange(k * 8..<k * 8 + 8, with: LE.bytes([ids + UInt64(k * 16)])) }
        res.replaceSubrange(32..<48, with: LE.bytes([UInt32(4), 4, 4, 4]))
        let getRes = IoctlRequest.drm(0xA0, size: 64).raw
        out.append(measure("GETRESOURCES (filled)", n, only: only) {
            var a = res
            _ = c.ioctl(getRes, &a)
        })

        // A modeset so flips have a CRTC to complete on.
        let setup = try BenchScene(c)
        out.append(measure("atomic TEST_ONLY (plane flip)", n, only: only) {
            _ = setup.commit(flags: DRMConst.atomicTestOnly)
        })
        out.append(measure("atomic commit -> flip event read", n, only: only) {
            let e = setup.commit(flags: DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent)
            precondition(e == 0, "bench commit failed: \(e)")
            precondition(((try? c.read()) ?? []).count == 32)
        })
        out.append(try measure("fence signal -> eventfd readable", n, only: only, setup: { () throws -> (Fence, SyncFile) in
            let f = Fence(context: 1, seqno: 1, timelineName: "bench", driverName: "fakedrm")
            return (f, try SyncFile(fences: [f]))
        }) { f, sf in
            f.signal()
            var p = pollfd(fd: sf.readiness.fd.raw, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, -1)
        })

        try out += fenceRows(device, c, n, only: only)
        try out += cuseRows(n, only: only)

        // The cost of the fault policy when rules exist but do not fire: every point still
        // consults them (ioctl entry, commit, arm, backend, fences, each vblank).
        for spec in ["ioctl name=MODE_RMFB errno=EIO", "ioctl name=SYNCOBJ_WAIT errno=EIO", "vblank-jitter us=1 crtc=7",
                     "commit-fail errno=EIO after=1000000000", "commit-late ms=1 after=1000000000",
                     "backend-slow ms=1 after=1000000000", "fence-late which=out ms=1 after=1000000000",
                     "fence-error which=release errno=EIO after=1000000000"] {
            try device.addFault(spec)
        }
        out.append(measure("GET_CAP, 8 idle fault rules", n, only: only) { _ = c.ioctl(getCap, &cap) })
        out.append(measure("atomic commit -> flip event read, 8 idle fault rules", n, only: only) {
            let e = setup.commit(flags: DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent)
            precondition(e == 0, "bench commit failed: \(e)")
            precondition(((try? c.read()) ?? []).count == 32)
        })
        return out
    }
}

extension DirectBench {
    /// Fences for clients, each to its wake-up as a client sees it (poll on the fd it holds):
    /// sw_sync INC through the codec to the fence's sync file, the same INC to an eventfd that
    /// SYNCOBJ_EVENTFD registered for the point, and SYNCOBJ_EVENTFD on a signalled point.
    static func fenceRows(_ device: Device, _ c: DirectClient, _ n: Int, only: String?) throws -> [Measurement] {
        var out: [Measurement] = []
        let timeline = SwSync.timeline(named: "bench")
        let inc = IoctlRequest(dir: 1, type: SwSyncCodec.type, nr: 1, size: 4).raw
        let one = LE.bytes([UInt32(1)])
        var next: UInt32 = 0
        func waitReadable(_ fd: Int32) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, -1)
        }
        out.append(try measure("sw_sync INC -> fence fd readable", n, only: only, setup: { () throws -> SyncFile in
            next += 1
            return try SwSync.createFence(device, on: timeline, value: next, name: "bench")
        }) { sf in
            _ = SwSyncCodec.ioctl(device, timeline, request: inc, arg: one, env: c.env)
            waitReadable(sf.readiness.fd.raw)
        })

        // The eventfd the client registered, re-armed per sample (one eventfd, read back).
        let efd = cfd_eventfd(0, 1)
        defer { close(efd) }
        let eventfdReq = IoctlRequest.drm(0xCF, size: 24).raw
        let handle = try device.syncobjs.syncobjCreate(c.file, flags: 0)
        func register(point: UInt64) -> Int32 {
            var a = LE.bytes([handle, 0]) + LE.bytes([point]) + LE.bytes([UInt32(bitPattern: efd), 0])
            return c.ioctl(eventfdReq, &a)
        }
        var point: UInt64 = 0
        out.append(try measure("sw_sync INC -> SYNCOBJ_EVENTFD readable", n, only: only, setup: { () throws in
            next += 1
            point += 1
            let sf = try SwSync.createFence(device, on: timeline, value: next, name: "bench")
            let fd = try c.files.install(.syncFile(sf), cloexec: true)
            _ = try device.syncobjs.syncobjFDToHandle(c.file, fd: fd, flags: 3, handle: handle, point: point, env: c.env)
            c.files.close(fd: fd)
            precondition(register(point: point) == 0, "SYNCOBJ_EVENTFD failed")
        }) { _ in
            _ = SwSyncCodec.ioctl(device, timeline, request: inc, arg: one, env: c.env)
            waitReadable(efd)
            var v: UInt64 = 0
            _ = read(efd, &v, 8)
        })
        out.append(measure("SYNCOBJ_EVENTFD on a signalled point", n, only: only) {
            precondition(register(point: point) == 0, "SYNCOBJ_EVENTFD failed")
            waitReadable(efd)
            var v: UInt64 = 0
            _ = read(efd, &v, 8)
        })
        return out
    }
}

/// One CRTC lit with two framebuffers; `commit` flips between them.
final class BenchScene {
    let c: DirectClient
    var fbs: [UInt32] = []
    var which = 0
    let planeID: UInt32, fbProp: UInt32
    let objsPtr: UInt64, countsPtr: UInt64, propsPtr: UInt64, valuesPtr: UInt64

    init(_ c: DirectClient) throws {
        self.c = c
        let d = c.device
        try d.files.setClientCap(c.file, cap: DRMConst.clientCapAtomic, value: 1)
        for _ in 0..<2 {
            let b = try d.buffers.createDumb(c.file, width: 1024, height: 768, bpp: 32)
            fbs.append(try d.buffers.addFramebuffer(c.file, .init(width: 1024, height: 768, format: 0x3432_5258, flags: 0, handles: [b.handle, 0, 0, 0],
                                                         pitches: [b.pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0])))
        }
        let res = d.objects.resources(c.file)
        let conn = try d.objects.connectorInfo(c.file, res.connectors[0])
        try d.pipeline.setCrtc(c.file, .init(crtcID: res.crtcs[0], fbID: fbs[0], x: 0, y: 0, mode: conn.modes.first, connectors: [res.connectors[0]]))
        planeID = d.objects.planeIDs(c.file)[0]
        let props = try d.objects.objectProperties(c.file, objectID: planeID, type: 0)
        fbProp = props.compactMap { (id, _) in (try? d.objects.property(id))?.name == "FB_ID" ? id : nil }.first ?? 0
        objsPtr = c.memory.map(LE.bytes([planeID]))
        countsPtr = c.memory.map(LE.bytes([UInt32(1)]))
        propsPtr = c.memory.map(LE.bytes([fbProp]))
        valuesPtr = c.memory.alloc(8)
    }

    func commit(flags: UInt32) -> Int32 {
        which ^= 1
        try? c.memory.write(LE.bytes([UInt64(fbs[which])]), at: valuesPtr)
        var a = LE.bytes([flags, 1]) + LE.bytes([objsPtr, countsPtr, propsPtr, valuesPtr, 0, 0])
        return c.ioctl(IoctlRequest.drm(0xBC, size: 56).raw, &a)
    }
}

extension Array where Element == DirectBench.Measurement {
    /// A row that `only` left out adds nothing.
    mutating func append(_ m: DirectBench.Measurement?) {
        if let m { append(m) }
    }
}
