import Glibc
import Testing
@testable import FakeDRM

@Suite struct FlipAndFenceTests {
    func lit() throws -> (Device, DirectClient, [UInt32]) {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let fbs = [try c.makeFB().0, try c.makeFB().0, try c.makeFB().0]
        #expect(try c.modeset(fb: fbs[0]) == 0)
        return (d, c, fbs)
    }

    func flip(_ c: DirectClient, _ fb: UInt32, flags: UInt32 = DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent, crtc: [(String, UInt64)] = [], userData: UInt64 = 0) -> Int32 {
        var objs: [(UInt32, [(String, UInt64)])] = [(c.plane(.primary), [("FB_ID", UInt64(fb))])]
        if !crtc.isEmpty { objs.append((c.crtcID, crtc)) }
        return c.atomic(flags, objs, userData: userData)
    }

    @Test func flipCompletesAtNextVblankWithOutFenceBeforeEvent() throws {
        let (d, c, fbs) = try lit()
        let ptr = c.memory.alloc(4)
        #expect(flip(c, fbs[1], crtc: [("OUT_FENCE_PTR", ptr)], userData: 0xabcd) == 0)
        let fd = Int32(bitPattern: LE.u32s(c.memory.bytes(at: ptr, count: 4) ?? [])[0])
        let sf = try #require(c.files.syncFile(fd: fd))
        #expect(!sf.isSignalled)
        #expect(c.events().isEmpty)
        // A second NONBLOCK commit on the same CRTC while the flip is pending: EBUSY.
        #expect(flip(c, fbs[2]) == 16)
        let before = d.lock.withLock { d.vblank.clocks[0].count }
        d.clock.stepVblank()
        let ev = c.events()
        #expect(ev.count == 1)
        let e = ArgBuffer(try #require(ev.first))
        #expect(e[EventVblankLayout.type] == DRMConst.eventFlipComplete)
        #expect(e[EventVblankLayout.userData] == 0xabcd)
        #expect(e[EventVblankLayout.crtcId] == c.crtcID)
        #expect(UInt64(e[EventVblankLayout.sequence]) == before + 1)
        // Out fence: signalled, same timestamp as the event (µs resolution there).
        #expect(sf.status == 1)
        let evNs = Int64(e[EventVblankLayout.tvSec]) * 1_000_000_000 + Int64(e[EventVblankLayout.tvUsec]) * 1000
        #expect(sf.fences[0].timestampNs / 1000 == evNs / 1000)
        // The sync file's eventfd is readable now.
        var p = pollfd(fd: sf.readiness.fd.raw, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 0) == 1)
        // FILE_INFO through the sync_file codec: obj_name is "CRTC:<id>-crtc-0", driver "fakedrm".
        let infos = c.memory.alloc(80)
        var info = [UInt8](repeating: 0, count: 40) + LE.bytes([UInt32(1), 0]) + LE.bytes([infos])
        #expect(c.syncFileIoctl(fd: fd, IoctlRequest(dir: 3, type: 0x3e, nr: 4, size: 56).raw, &info) == 0)
        let fi = ArgBuffer(c.memory.bytes(at: infos, count: 80) ?? [])
        #expect(fi.string(SyncFenceInfoLayout.objName) == "CRTC:\(c.crtcID)-crtc-0")
        #expect(fi.string(SyncFenceInfoLayout.driverName) == "fakedrm")
        #expect(fi[SyncFenceInfoLayout.status] == 1)
        #expect(flip(c, fbs[2]) == 0)
    }

    @Test func releaseFenceSignalsWhenTheFbLeavesTheScreen() throws {
        let (d, c, fbs) = try lit()
        d.clock.stepVblank()
        _ = c.events()
        let rel = c.memory.alloc(4)
        // Commit N shows fbs[1] and asks for a release fence, without PAGE_FLIP_EVENT.
        #expect(flip(c, fbs[1], flags: DRMConst.atomicNonblock, crtc: [("RELEASE_FENCE_PTR", rel)]) == 0)
        let fd = Int32(bitPattern: LE.u32s(c.memory.bytes(at: rel, count: 4) ?? [])[0])
        let sf = try #require(c.files.syncFile(fd: fd))
        d.clock.stepVblank()
        #expect(!sf.isSignalled)  // on screen now
        // Commit N+1 replaces it; the release fence signals when that flip completes.
        #expect(flip(c, fbs[2]) == 0)
        #expect(!sf.isSignalled)
        d.clock.stepVblank()
        #expect(sf.status == 1)
        #expect(c.events().count == 1)
        // Its own context, not the CRTC's out-fence context.
        #expect(sf.fences[0].context != d.lock.withLock { d.topology.crtcs[0].fenceContext })
    }

    @Test func releaseFenceHonoursHostDelay() throws {
        var cfg = DeviceConfig()
        cfg.releaseFence.hostDelayMs = 5
        let d = try makeDevice(cfg)
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let a = try c.makeFB().0, b = try c.makeFB().0
        let rel = c.memory.alloc(4)
        #expect(try c.modeset(fb: a, flags: DRMConst.atomicAllowModeset | DRMConst.atomicNonblock, extraCRTC: [("RELEASE_FENCE_PTR", rel)]) == 0)
        let sf = try #require(c.files.syncFile(fd: Int32(bitPattern: LE.u32s(c.memory.bytes(at: rel, count: 4) ?? [])[0])))
        d.clock.stepVblank()
        #expect(flip(c, b, flags: DRMConst.atomicNonblock) == 0)
        d.clock.stepVblank()
        #expect(!sf.isSignalled)  // 5 ms of emulated host time still to go (one vblank is 16.7 ms later)
        d.clock.stepVblank()
        #expect(sf.isSignalled)
    }

    @Test func inFenceDelaysTheFlip() throws {
        let (d, c, fbs) = try lit()
        d.clock.stepVblank()
        let tl = Timeline(name: "test")
        let fence = d.lock.withLock { tl.createFence(at: 1) }
        let fd = try c.files.install(.syncFile(try SyncFile(fences: [fence])), cloexec: true)
        #expect(c.atomic(DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent, [(c.plane(.primary), [("FB_ID", UInt64(fbs[1])), ("IN_FENCE_FD", UInt64(fd))])]) == 0)
        d.clock.stepVblank(count: 3)
        #expect(c.events().isEmpty)
        #expect(d.lock.withLock { d.pipeline.latched.planes[0].fb } == fbs[0])
        d.lock.withLock { tl.advance(by: 1) }
        d.clock.stepVblank()
        #expect(c.events().count == 1)
        #expect(d.lock.withLock { d.pipeline.latched.planes[0].fb } == fbs[1])
    }

    @Test func vblankEventsAndSequences() throws {
        let (d, c, _) = try lit()
        // WAIT_VBLANK relative +2 with EVENT, and a CRTC_QUEUE_SEQUENCE relative +1.
        var w = LE.bytes([UInt32(1 | 0x0400_0000), 2]) + LE.bytes([UInt64(77), 0])
        #expect(c.ioctl(req(0x3A, 24), &w) == 0)
        var q = LE.bytes([c.crtcID, 1]) + LE.bytes([UInt64(1), 99])
        #expect(c.ioctl(req(0x3C, 24), &q) == 0)
        d.clock.stepVblank()
        var ev = c.events()
        // The modeset flip completion (no event requested) then the sequence event.
        #expect(ev.count == 1 && ArgBuffer(ev[0])[EventCrtcSequenceLayout.type] == DRMConst.eventCrtcSequence)
        d.clock.stepVblank()
        ev = c.events()
        #expect(ev.count == 1 && ArgBuffer(ev[0])[EventVblankLayout.userData] == 77)
        // Disallowed flag bits and a disabled CRTC: EINVAL.
        var bad = LE.bytes([UInt32(1 | 0x0800_0000), 0]) + LE.bytes([UInt64(0), 0])
        #expect(c.ioctl(req(0x3A, 24), &bad) == 22)
        // Blocking query in virtual time returns a fresh non-zero timestamp.
        var query = LE.bytes([UInt32(1), 0]) + LE.bytes([UInt64(0), 0])
        #expect(c.ioctl(req(0x3A, 24), &query) == 0)
        #expect(LE.u64s(Array(query[8..<16]))[0] > 0)
    }

    @Test func readReturnsWholeEventsOnly() throws {
        let (d, c, fbs) = try lit()
        d.clock.stepVblank()
        #expect(flip(c, fbs[1]) == 0)
        d.clock.stepVblank()
        #expect(try d.files.readEvents(c.file, maxBytes: 16, nonblocking: true).isEmpty)
        #expect(try d.files.readEvents(c.file, maxBytes: 1024, nonblocking: true).count == 32)
        #expect(throws: DRMError.wouldBlock) { try d.files.readEvents(c.file, maxBytes: 1024, nonblocking: true) }
    }

    @Test func syncFileMergeDropsSignalledAndDedupsContexts() throws {
        let d = try makeDevice()
        let tl = Timeline(name: "a"), tl2 = Timeline(name: "b")
        let (f1, f2, f3, g) = d.lock.withLock { (tl.createFence(at: 1), tl.createFence(at: 2), tl.createFence(at: 3), tl2.createFence(at: 1)) }
        let a = try SyncFile(fences: [f1, f2]), b = try SyncFile(fences: [f3, g])
        let m = try SyncFile.merge(a, b, name: "m")
        #expect(m.fences.count == 2)
        #expect(m.fences.contains { $0 === f3 })
        d.lock.withLock { tl.advance(by: 3); tl2.close() }
        #expect(m.status == -2)
        let m2 = try SyncFile.merge(m, m, name: "all signalled")
        #expect(m2.fences.count == 1 && m2.isSignalled)
    }

    @Test func legacyPageFlipRules() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        let (fb, _) = try c.makeFB()
        var pf = LE.bytes([c.crtcID, fb, 1, 0]) + LE.bytes([UInt64(5)])
        #expect(c.ioctl(req(0xB0, 24), &pf) == 16)  // CRTC off: EBUSY
        let mode = try d.objects.connectorInfo(c.file, c.connectorID).modes[0]
        let ids = c.memory.map(LE.bytes([c.connectorID]))
        var sc = LE.bytes([ids]) + LE.bytes([UInt32(1), c.crtcID, fb, 0, 0, 0, 1]) + mode.encode()
        #expect(c.ioctl(req(0xA2, 104), &sc) == 0)
        var async = LE.bytes([c.crtcID, fb, 2, 0]) + LE.bytes([UInt64(5)])
        #expect(c.ioctl(req(0xB0, 24), &async) == 22)
        d.clock.stepVblank()
        let (fb2, _) = try c.makeFB()
        pf = LE.bytes([c.crtcID, fb2, 1, 0]) + LE.bytes([UInt64(5)])
        #expect(c.ioctl(req(0xB0, 24), &pf) == 0)
        var again = pf
        #expect(c.ioctl(req(0xB0, 24), &again) == 16)
        d.clock.stepVblank()
        let ev = c.events()
        #expect(ev.count == 1 && ArgBuffer(ev[0])[EventVblankLayout.userData] == 5)
        // GETCRTC reflects the legacy state; MODE_ID reads back as the same 68-byte mode.
        var gc = [UInt8](repeating: 0, count: 104)
        gc.replaceSubrange(12..<16, with: LE.bytes([c.crtcID]))
        #expect(c.ioctl(req(0xA1, 104), &gc) == 0)
        #expect(LE.u32s(Array(gc[16..<20]))[0] == fb2)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let blob = try #require(c.propValue(c.crtcID, "MODE_ID"))
        #expect(try d.objects.blobData(UInt32(blob)) == Array(gc[36..<104]))
    }
}
