import Glibc
import Testing
@testable import FakeDRM

/// Fault rules: the spec language, the triggers, and each consulted kind seen by a client.
@Suite struct FaultTests {
    // MARK: specs and triggers

    @Test func specsParseAndBadWordsAreNamed() throws {
        let s = try FaultSpec(parsing: "ioctl name=MODE_ATOMIC errno=EBUSY every=3")
        #expect(s.kind == .ioctl(nr: 0xBC, errno: EBUSY))
        #expect(s.trigger.every == 3)
        #expect(try FaultSpec(parsing: "ioctl nr=0xA0 errno=5 once").kind == .ioctl(nr: 0xA0, errno: 5))
        #expect(try FaultSpec(parsing: "fence-error which=release errno=ETIMEDOUT").kind == .fenceError(.release, errno: ETIMEDOUT))
        #expect(try FaultSpec(parsing: "vblank-drop frames=2 crtc=0 p=0.5").kind == .vblankDrop(count: 2, crtc: 0))
        #expect(try FaultSpec(parsing: "connector-modes connector=Virtual-1 modes=1280x720@50,640x480").kind
            == .connectorModes(connector: "Virtual-1", modes: [.init(width: 1280, height: 720, refresh: 50), .init(width: 640, height: 480, refresh: 60)]))
        let bad: [(String, String)] = [
            ("", "empty"), ("teleport", "'teleport'"), ("ioctl errno=EBUSY", "name="),
            ("ioctl name=NOPE errno=EBUSY", "NOPE"), ("ioctl name=MODE_ATOMIC errno=EWHAT", "EWHAT"),
            ("commit-late", "ms="), ("commit-late ms=-3", "ms=-3"), ("fence-never which=sideways", "sideways"),
            ("commit-hang colour=red", "'colour'"), ("ioctl name=* errno=EIO p=1.5", "p=1.5"),
            ("commit-hang every=0", "every=0"), ("commit-hang garbage", "'garbage'"),
            ("connector-modes connector=X modes=12x", "12x"), ("commit-hang every=2 every=3", "twice"),
            ("hotplug-storm connector=Virtual-1 rate=0.0001", "rate="), ("vblank-jitter us=2000000", "us="),
            ("commit-hang once count=3", "once"), ("commit-late ms=99999999999", "ms="), ("ioctl nmae=X errno=EIO", "'nmae'"),
        ]
        for (text, needle) in bad {
            do {
                _ = try FaultSpec(parsing: text)
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.message.contains(needle), "\(text): \(error.message)")
            }
        }
    }

    @Test func triggersCombine() {
        let p = FaultPolicy()
        p.add(try! FaultSpec(parsing: "commit-hang after=10 every=2 count=3"))
        var hits: [Int] = []
        for i in 1...30 where p.consult("x", { $0 == .commitHang }) != nil { hits.append(i) }
        #expect(hits == [12, 14, 16])
    }

    @Test func sameSeedSameInjectionsOtherSeedOthers() {
        func pattern(seed: UInt64) -> [Bool] {
            let p = FaultPolicy(seed: seed)
            p.add(try! FaultSpec(parsing: "commit-hang p=0.3"))
            p.add(try! FaultSpec(parsing: "commit-late ms=5 p=0.5"))
            return (0..<200).map { _ in p.consult("x", { $0 == .commitHang }) != nil }
        }
        let a = pattern(seed: 7), b = pattern(seed: 7), c = pattern(seed: 8)
        #expect(a == b)
        #expect(a != c)
        let hits = a.filter { $0 }.count
        #expect(hits > 30 && hits < 90, "p=0.3 of 200 gave \(hits)")
    }

    @Test func malformedSpecChangesNothing() throws {
        let d = try makeDevice()
        try d.addFault("commit-hang once")
        #expect(throws: FaultSpec.ParseError.self) { try d.addFault("commit-hang once extra") }
        #expect(throws: FaultSpec.ParseError.self) { try d.addFault("hotplug-storm connector=Nope-9 rate=5") }
        #expect(d.faults.rules().map(\.spec) == ["commit-hang once"])
    }

    // MARK: consulted kinds through the codec and the core

    func lit() throws -> (Device, DirectClient, [UInt32]) { try litCard() }

    func flip(_ c: DirectClient, _ fb: UInt32, flags: UInt32 = DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent, crtc: [(String, UInt64)] = []) -> Int32 {
        var objs: [(UInt32, [(String, UInt64)])] = [(c.plane(.primary), [("FB_ID", UInt64(fb))])]
        if !crtc.isEmpty { objs.append((c.crtcID, crtc)) }
        return c.atomic(flags, objs)
    }

    func outFence(_ c: DirectClient, _ ptr: UInt64) throws -> SyncFile {
        let fd = Int32(bitPattern: LE.u32s(c.memory.bytes(at: ptr, count: 4) ?? [])[0])
        return try #require(c.files.syncFile(fd: fd))
    }

    @Test func ioctlFaultReturnsErrnoAndLeavesTheStructAlone() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        try d.addFault("ioctl name=GET_CAP errno=EINTR every=2")
        var results: [Int32] = []
        for _ in 0..<4 {
            var a = LE.bytes([UInt64(0x1), UInt64(0x5555)])  // DUMB_BUFFER
            results.append(c.ioctl(req(0x0C, 16), &a))
            if results.last != 0 { #expect(LE.u64s(a)[1] == 0x5555) }
        }
        #expect(results == [0, EINTR, 0, EINTR])
        #expect(d.faults.injections().map(\.consultation) == [2, 4])
        let stats = d.ioctlStats.rows().first { $0.name == "GET_CAP" }
        #expect(stats?.count == 4 && stats?.errors == 2)
    }

    @Test func commitFailAppliesNothingAndSparesTestOnly() throws {
        let (d, c, fbs) = try lit()
        try d.addFault("commit-fail errno=ENOMEM once")
        #expect(flip(c, fbs[1], flags: DRMConst.atomicTestOnly) == 0)
        #expect(flip(c, fbs[1]) == ENOMEM)
        #expect(d.lock.withLock { d.pipeline.state.planes[0].fb } == fbs[0])
        #expect(flip(c, fbs[1]) == 0)
    }

    @Test func commitHangHoldsUntilClearedAndLateWaits() throws {
        let (d, c, fbs) = try lit()
        try d.addFault("commit-hang once")
        #expect(flip(c, fbs[1]) == 0)
        d.clock.stepVblank(count: 5)
        #expect(c.events().isEmpty)
        #expect(flip(c, fbs[0]) == EBUSY)
        d.clearFaults()
        d.clock.stepVblank()
        #expect(c.events().count == 1)

        // Virtual time skips to the frame before the deadline instead of stepping through
        // each: a 10 s delay costs two steps, not 600.
        try d.addFault("commit-late ms=10000")
        let t0 = d.lock.withLock { d.clock.virtualNowNs }
        #expect(flip(c, fbs[0]) == 0)
        var steps = 0
        var events: [[UInt8]] = []
        while events.isEmpty && steps < 5 {
            d.clock.stepVblank()
            steps += 1
            events = c.events()
        }
        #expect(steps <= 2)
        let ev = try #require(events.first)
        let e = ArgBuffer(ev)
        let ts = Int64(e[EventVblankLayout.tvSec]) * 1_000_000_000 + Int64(e[EventVblankLayout.tvUsec]) * 1000
        #expect(ts - t0 >= 10_000_000_000)
        #expect(ts - t0 < 10_000_000_000 + 17_000_000)
    }

    @Test func outFenceFaults() throws {
        let (d, c, fbs) = try lit()
        try d.addFault("fence-error which=out errno=EIO once")
        let p1 = c.memory.alloc(4)
        #expect(flip(c, fbs[1], crtc: [("OUT_FENCE_PTR", p1)]) == 0)
        d.clock.stepVblank()
        #expect(try outFence(c, p1).status == -EIO)
        #expect(c.events().count == 1)  // the event still arrives

        try d.addFault("fence-never which=out once")
        let p2 = c.memory.alloc(4)
        #expect(flip(c, fbs[0], crtc: [("OUT_FENCE_PTR", p2)]) == 0)
        d.clock.stepVblank(count: 3)
        #expect(try outFence(c, p2).status == 0)
        #expect(c.events().count == 1)
    }

    @Test func releaseFenceLate() throws {
        let (d, c, fbs) = try lit()
        try d.addFault("fence-late which=release ms=100")
        let rel = c.memory.alloc(4)
        #expect(flip(c, fbs[1], flags: DRMConst.atomicNonblock, crtc: [("RELEASE_FENCE_PTR", rel)]) == 0)
        d.clock.stepVblank()
        #expect(flip(c, fbs[0], flags: DRMConst.atomicNonblock) == 0)
        d.clock.stepVblank()
        let sf = try outFence(c, rel)
        #expect(!sf.isSignalled)  // off screen, but 100 ms late
        d.clock.stepVblank(count: 7)
        #expect(sf.status == 1)
    }

    @Test func inFenceErrorFailsABlockingCommitBeforeAnythingChanges() throws {
        let (d, c, fbs) = try lit()
        let tl = Timeline(name: "test")
        let fd = try c.files.install(.syncFile(try SyncFile(fences: [tl.createFence(at: 1)])), cloexec: true)
        try d.addFault("fence-error which=in errno=EINTR once")
        let r = c.atomic(0, [(c.plane(.primary), [("FB_ID", UInt64(fbs[1])), ("IN_FENCE_FD", UInt64(fd))])])
        #expect(r == EINTR)
        #expect(d.lock.withLock { d.pipeline.state.planes[0].fb } == fbs[0])
    }

    @Test func vblankDropJumpsTheSequence() throws {
        let (d, c, fbs) = try lit()
        _ = fbs
        let before = d.lock.withLock { d.vblank.clocks[0].count }
        try d.addFault("vblank-drop frames=2 once")
        d.clock.stepVblank()  // lost
        d.clock.stepVblank()  // lost
        #expect(d.lock.withLock { d.vblank.clocks[0].count } == before)
        d.clock.stepVblank()
        #expect(d.lock.withLock { d.vblank.clocks[0].count } == before + 3)
        _ = c
    }

    @Test func masterRevokeGivesEACCESUntilMasterAgain() throws {
        let (d, c, fbs) = try lit()
        try d.addFault("master-revoke")
        #expect(flip(c, fbs[1]) == EACCES)
        var none: [UInt8] = []
        #expect(c.ioctl(req(0x1E, 0, dir: 0), &none) == 0)  // SET_MASTER: it was master before
        #expect(flip(c, fbs[1]) == 0)
    }

    @Test func connectorModesAndHotplugMoveTheEpoch() throws {
        let d = try makeDevice()
        let gen = d.hotplug.generation
        try d.addFault("connector-modes connector=Virtual-1 modes=1280x720@50,640x480")
        let dump = d.stateDump()
        #expect(dump.connectors[0].modes.map(\.name) == ["1280x720", "640x480"])
        #expect(dump.connectors[0].modes.map(\.vrefresh) == [50, 60])
        #expect(d.hotplug.generation == gen + 1)
        let svc = ControlService(device: d)
        #expect(svc.handle(.hotplug(connector: "Virtual-1", connected: false, modes: nil, edidPath: nil)).ok)
        #expect(d.stateDump().connectors[0].status == "disconnected")
        #expect(!svc.handle(.hotplug(connector: "Virtual-1", connected: true, modes: nil, edidPath: "/nonexistent")).ok)
        #expect(d.stateDump().connectors[0].status == "disconnected")  // refused: nothing changed
    }

    @Test func backendErrorSkipsTheFrameAndFailsTheFence() throws {
        let (d, c, fbs) = try lit()
        try d.addFault("backend-error errno=EIO once")
        let p = c.memory.alloc(4)
        #expect(flip(c, fbs[1], crtc: [("OUT_FENCE_PTR", p)]) == 0)
        d.clock.stepVblank()
        #expect(try outFence(c, p).status == -EIO)
        #expect(c.events().count == 1)
    }

    @Test func closingAFileWithAHungCommitLeavesNothing() throws {
        let d = try makeDevice()
        let baseline = d.stateDump().summary
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let fb = try c.makeFB().0
        #expect(try c.modeset(fb: fb) == 0)
        try d.addFault("commit-hang")
        #expect(flip(c, try c.makeFB().0) == 0)
        c.close()
        d.clearFaults()
        d.clock.stepVblank(count: 2)
        // The CRTC stays lit (vkms does too): its mode blob is the one object left.
        var after = d.stateDump().summary
        #expect(after.objects == baseline.objects + 1)
        after.objects = baseline.objects
        #expect(after == baseline)
    }
}
