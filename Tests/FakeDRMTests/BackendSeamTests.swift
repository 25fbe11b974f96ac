import Dispatch
import Testing
@testable import FakeDRM

/// A backend that completes flips itself (as virtio-gpu's fenced flush does).
final class RecordingBackend: ScanoutBackend, @unchecked Sendable {
    var submits: [(crtc: Int, token: UInt64, planes: Int)] = []
    /// As a host that shows the buffers themselves (the Wayland display's shm path).
    var holds = false
    /// Completes every later submit at once, from another thread (as a host would).
    var autoComplete = false
    weak var device: Device?
    var completesFlips: Bool { true }
    var holdsBuffers: Bool { holds }
    func attach(to device: Device) { self.device = device }
    func present(crtcIndex: Int, scanout: Scanout, timestampNs: Int64) {}
    func submit(crtcIndex: Int, scanout: Scanout, token: UInt64) {
        submits.append((crtcIndex, token, scanout.planes.count))
        guard autoComplete, let d = device else { return }
        DispatchQueue.global().async { d.display.flipDone(crtcIndex: crtcIndex, token: token) }
    }
}

@Suite struct BackendSeamTests {
    @Test func flipsCompleteWhenTheBackendSaysSoAndReleaseFollows() throws {
        let backend = RecordingBackend()
        let d = try Device(config: DeviceConfig(), backend: backend, virtualTime: true)
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let a = try c.makeFB().0, b = try c.makeFB().0
        let rel = c.memory.alloc(4)
        #expect(try c.modeset(fb: a, flags: DRMConst.atomicAllowModeset | DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent,
                              extraCRTC: [("RELEASE_FENCE_PTR", rel)]) == 0)
        let sf = try #require(c.files.syncFile(fd: Int32(bitPattern: LE.u32s(c.memory.bytes(at: rel, count: 4) ?? [])[0])))
        d.clock.stepVblank(count: 5)
        #expect(c.events().isEmpty)  // vblanks alone do not complete it
        #expect(backend.submits.count == 1 && backend.submits[0].planes == 1)
        d.display.flipDone(crtcIndex: 0, token: backend.submits[0].token)
        let first = c.events()
        #expect(first.count == 1)
        #expect(c.atomic(DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent, [(c.plane(.primary), [("FB_ID", UInt64(b))])]) == 0)
        #expect(!sf.isSignalled)
        d.display.flipDone(crtcIndex: 0, token: 999)  // unknown token: ignored
        #expect(!sf.isSignalled)
        d.display.flipDone(crtcIndex: 0, token: backend.submits[1].token)
        #expect(sf.status == 1)  // fb a left the screen when b's flush completed
        // Each backend-completed flip is a frame: sequences and timestamps move on.
        let second = c.events()
        #expect(second.count == 1)
        if let a = first.first, let b = second.first {
            #expect(ArgBuffer(b)[EventVblankLayout.sequence] > ArgBuffer(a)[EventVblankLayout.sequence])
        }
    }

    /// A card on a backend whose host holds the buffers it shows, two fbs, and a release
    /// fence pointer.
    func holdingCard() throws -> (RecordingBackend, Device, DirectClient, UInt32, UInt32, UInt64) {
        let backend = RecordingBackend()
        backend.holds = true
        let d = try Device(config: DeviceConfig(), backend: backend, virtualTime: true)
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        return (backend, d, c, try c.makeFB().0, try c.makeFB().0, c.memory.alloc(4))
    }

    @Test func aHoldingHostsReleaseSignalsTheReleaseFence() throws {
        let (backend, d, c, a, b, rel) = try holdingCard()
        func releaseFence() throws -> SyncFile {
            try #require(c.files.syncFile(fd: Int32(bitPattern: LE.u32s(c.memory.bytes(at: rel, count: 4) ?? [])[0])))
        }
        #expect(try c.modeset(fb: a, flags: DRMConst.atomicAllowModeset | DRMConst.atomicNonblock, extraCRTC: [("RELEASE_FENCE_PTR", rel)]) == 0)
        let first = try releaseFence()
        d.display.flipDone(crtcIndex: 0, token: backend.submits[0].token)
        #expect(c.atomic(DRMConst.atomicNonblock, [(c.plane(.primary), [("FB_ID", UInt64(b))]), (c.crtcID, [("RELEASE_FENCE_PTR", rel)])]) == 0)
        let second = try releaseFence()
        d.display.flipDone(crtcIndex: 0, token: backend.submits[1].token)
        #expect(!first.isSignalled)  // fb a left the planes, but the host still reads it
        d.display.buffersReleased(crtcIndex: 1, throughToken: backend.submits[1].token)
        #expect(!first.isSignalled)  // another CRTC's release says nothing about this one
        d.display.buffersReleased(crtcIndex: 0, throughToken: backend.submits[0].token)
        #expect(first.status == 1)
        #expect(!second.isSignalled)
        // A host lets go of a buffer once it has a newer one, which may be before that newer
        // commit's frame callback: the release alone frees it, but not before its own commit
        // latched.
        #expect(c.atomic(DRMConst.atomicNonblock, [(c.plane(.primary), [("FB_ID", UInt64(a))]), (c.crtcID, [("RELEASE_FENCE_PTR", rel)])]) == 0)
        let third = try releaseFence()
        d.display.buffersReleased(crtcIndex: 0, throughToken: backend.submits[2].token)
        #expect(second.status == 1)  // fb b is still latched: the host's word is enough
        #expect(!third.isSignalled)  // commit 3 has not latched yet
        d.display.flipDone(crtcIndex: 0, token: backend.submits[2].token)
        #expect(third.status == 1)
    }

    @Test func closingTheFileEndsAWaitOnAHostThatNeverReleases() throws {
        let (backend, d, c, a, b, rel) = try holdingCard()
        #expect(try c.modeset(fb: a, flags: DRMConst.atomicAllowModeset | DRMConst.atomicNonblock, extraCRTC: [("RELEASE_FENCE_PTR", rel)]) == 0)
        let sf = try #require(c.files.syncFile(fd: Int32(bitPattern: LE.u32s(c.memory.bytes(at: rel, count: 4) ?? [])[0])))
        d.display.flipDone(crtcIndex: 0, token: backend.submits[0].token)
        #expect(c.atomic(DRMConst.atomicNonblock, [(c.plane(.primary), [("FB_ID", UInt64(b))])]) == 0)
        d.display.flipDone(crtcIndex: 0, token: backend.submits[1].token)
        #expect(!sf.isSignalled)
        #expect(d.lock.withLock { d.pipeline.releaseWaits.count } == 1)
        backend.autoComplete = true  // the close's own commits (its fbs removed) complete
        d.close(c.file)
        #expect(sf.status == 1)
        #expect(d.lock.withLock { d.pipeline.releaseWaits.count } == 0)
    }

    /// A host's presentation stamp older than its frame callback (seen with a host weston in
    /// CI: the guest weston aborted on a flip stamped before the vblank it had been told of).
    @Test func aFlipIsNeverStampedBeforeAVblankAlreadyReported() throws {
        let backend = RecordingBackend()
        let d = try Device(config: DeviceConfig(), backend: backend, virtualTime: false)
        defer { d.shutdown() }
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let a = try c.makeFB().0, b = try c.makeFB().0
        #expect(try c.modeset(fb: a, flags: DRMConst.atomicAllowModeset | DRMConst.atomicNonblock) == 0)
        d.display.flipDone(crtcIndex: 0, token: backend.submits[0].token)
        #expect(c.atomic(DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent, [(c.plane(.primary), [("FB_ID", UInt64(b))])]) == 0)
        // The host's next frame callback, one period after the clock's last vblank: it ticks.
        let callback = d.lock.withLock { d.vblank.clocks[0].lastNs + d.vblank.clocks[0].periodNs }
        d.display.hostFrame(crtcIndex: 0, at: callback)
        let reported = d.lock.withLock { d.vblank.clocks[0].reportedNs }
        #expect(reported >= callback)
        d.display.flipDone(crtcIndex: 0, token: backend.submits[1].token, timestampNs: callback - 5_000_000)
        let event = try #require(c.events().first)
        let e = ArgBuffer(event)
        let stamp = Int64(e[EventVblankLayout.tvSec]) * 1_000_000_000 + Int64(e[EventVblankLayout.tvUsec]) * 1000
        #expect(stamp >= reported / 1000 * 1000)
    }

    /// Host frame stamps that lag behind a vblank the card's own clock already reported (seen
    /// under AddressSanitizer in CI: the second guest weston aborted in
    /// weston_output_finish_frame): the first only takes the host's phase, the second ticks,
    /// and its vblank must not be reported earlier than the one before it.
    @Test func hostFramesNeverMoveTheReportedVblankBack() throws {
        let backend = RecordingBackend()
        let d = try Device(config: DeviceConfig(), backend: backend, virtualTime: false)
        defer { d.shutdown() }
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let a = try c.makeFB().0
        #expect(try c.modeset(fb: a, flags: DRMConst.atomicAllowModeset | DRMConst.atomicNonblock) == 0)
        d.display.flipDone(crtcIndex: 0, token: backend.submits[0].token)
        let (reported, period) = d.lock.withLock { (d.vblank.clocks[0].reportedNs, d.vblank.clocks[0].periodNs) }
        d.display.hostFrame(crtcIndex: 0, at: reported - period)
        d.display.hostFrame(crtcIndex: 0, at: reported - period / 8)
        let after = d.lock.withLock { (d.vblank.clocks[0].reportedNs, d.vblank.clocks[0].count) }
        #expect(after.0 >= reported, "reported vblank went back by \(reported - after.0) ns")
    }

    @Test func backendLossFailsPendingFencesAndDisconnects() throws {
        let backend = RecordingBackend()
        let d = try Device(config: DeviceConfig(), backend: backend, virtualTime: true)
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let a = try c.makeFB().0
        let out = c.memory.alloc(4)
        #expect(try c.modeset(fb: a, flags: DRMConst.atomicAllowModeset | DRMConst.atomicNonblock, extraCRTC: [("OUT_FENCE_PTR", out)]) == 0)
        let sf = try #require(c.files.syncFile(fd: Int32(bitPattern: LE.u32s(c.memory.bytes(at: out, count: 4) ?? [])[0])))
        d.display.lost()
        #expect(sf.status == -19)
        #expect(try d.objects.connectorInfo(c.file, c.connectorID).connection == 2)
        // The card keeps serving: a new backend can be attached and the connector comes back.
        d.display.attach(VirtualBackend())
        d.hotplug.setConnector(index: 0, connected: true)
        #expect(try d.objects.connectorInfo(c.file, c.connectorID).connection == 1)
    }
}

@Suite struct HostFramePacingTests {
    @Test func followsTheHostsPeriodAndIgnoresIdleGaps() {
        var p = HostFramePacing(initialPeriodNs: 16_666_667)
        var t: Int64 = 1_000_000_000
        for _ in 0..<30 { p.frame(at: t); t += 25_600_000 }
        #expect(abs(p.periodNs - 25_600_000) < 100_000)
        t += 2_000_000_000  // nothing committed for 2 s: no frame callbacks
        p.frame(at: t)
        #expect(abs(p.periodNs - 25_600_000) < 100_000)
        for _ in 0..<30 { t += 40_000_000; p.frame(at: t) }
        #expect(abs(p.periodNs - 40_000_000) < 100_000)
    }
}
