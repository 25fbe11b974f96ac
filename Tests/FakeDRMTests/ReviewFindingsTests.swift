import Foundation
import Testing
@testable import FakeDRM

/// Regressions for a second review of the core (each failed or crashed before its fix).
@Suite struct ReviewFindingsTests {
    @Test func syncobjWaitWithMinimumTimeoutIsETIME() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        let h = try d.syncobjs.syncobjCreate(c.file, flags: 0)
        let hp = c.memory.map(LE.bytes([h]))
        // timeout_nsec = INT64_MIN used to overflow the remaining-time subtraction (a trap).
        var a = LE.bytes([hp, UInt64(bitPattern: Int64.min)]) + LE.bytes([UInt32(1), 2, 0, 0]) + LE.bytes([UInt64(0)])
        #expect(c.ioctl(req(0xC3, 40), &a) == 62)
    }

    @Test func mapOffsetsDieWithTheirBuffers() throws {
        let d = try makeDevice()
        let live = d.buffers.liveBufferCount()
        let c = try DirectClient(device: d)
        let b = try d.buffers.createDumb(c.file, width: 64, height: 64, bpp: 32)
        let offset = try d.buffers.mapDumb(c.file, handle: b.handle)
        #expect(d.buffers.buffer(atMapOffset: offset) != nil)
        c.close()
        #expect(d.buffers.buffer(atMapOffset: offset) == nil)
        let c2 = try DirectClient(device: d)
        let (fb, handle) = try c2.makeFB(64, 64)
        let o2 = try d.buffers.mapDumb(c2.file, handle: handle)
        try d.buffers.closeHandle(c2.file, handle)
        #expect(d.buffers.buffer(atMapOffset: o2) != nil)  // the fb still holds it
        try d.buffers.removeFramebuffer(c2.file, fb, disablePlanes: true)
        #expect(d.buffers.buffer(atMapOffset: o2) == nil)
        #expect(d.buffers.liveBufferCount() == live)
    }

    @Test func hugeObjectCountStopsAtTheFirstBadIdWithENOENT() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        var objs = [UInt32](repeating: c.crtcID, count: 16)
        objs.append(0)
        let o = c.memory.map(LE.bytes(objs)), n = c.memory.map(LE.bytes([UInt32](repeating: 0, count: 17)))
        let p = c.memory.map(LE.bytes([UInt32](repeating: 0, count: 16))), v = c.memory.map(LE.bytes([UInt64](repeating: 0, count: 16)))
        var a = LE.bytes([UInt32(0), UInt32.max / 4]) + LE.bytes([o, n, p, v, 0, 0])
        #expect(c.ioctl(req(0xBC, 56), &a) == 2)
    }

    @Test func flagCombinationsAreRefusedBeforeObjectLookup() throws {
        let c = try DirectClient(device: try makeDevice())
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        #expect(c.atomicRaw(DRMConst.atomicTestOnly | DRMConst.atomicPageFlipEvent, objs: [0], counts: [0], props: [], values: []) == 22)
        #expect(c.atomicRaw(DRMConst.atomicPageFlipAsync, objs: [0], counts: [0], props: [], values: []) == 22)
    }

    @Test func absoluteVblankInThePastIsPassed() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let (fb, _) = try c.makeFB()
        #expect(try c.modeset(fb: fb) == 0)
        d.clock.stepVblank(count: 5)
        // Absolute 0xFFFFFFF0 while the counter is small: 16 behind in 32-bit space → at once.
        var w = LE.bytes([UInt32(0x0400_0000), 0xFFFF_FFF0]) + LE.bytes([UInt64(9), 0])
        #expect(c.ioctl(req(0x3A, 24), &w) == 0)
        #expect(c.events().count == 1)
    }

    @Test func blockingCommitIsCheckedAgainAfterWaiting() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let (a, _) = try c.makeFB(), (b, _) = try c.makeFB()
        #expect(try c.modeset(fb: a) == 0)
        // A pending flip gated on an in-fence keeps the CRTC busy.
        let tl = Timeline(name: "gate")
        let gate = d.lock.withLock { tl.createFence(at: 1) }
        let fd = try c.files.install(.syncFile(try SyncFile(fences: [gate])), cloexec: true)
        #expect(c.atomic(DRMConst.atomicNonblock, [(c.plane(.primary), [("FB_ID", UInt64(b)), ("IN_FENCE_FD", UInt64(fd))])]) == 0)
        // Meanwhile a blocking cursor update waits; it must not undo the primary plane's fb b.
        let (cur, _) = try c.makeFB(64, 64, format: 0x3432_5241)
        let box = ResultBox(c)
        let t = Thread {
            let r = box.client.atomic(0, [(box.client.plane(.cursor), box.client.planeProps(fb: cur, w: 64, h: 64))])
            box.set(r)
        }
        t.start()
        usleep(50_000)
        #expect(box.get() == -1)  // still waiting for the gated flip
        // The cursor's fb goes away while the commit that shows it waits (RMFB of an fb no
        // state references yet): the commit must not swap a dangling fb id in.
        try d.buffers.removeFramebuffer(c.file, cur, disablePlanes: true)
        d.lock.withLock { tl.advance(by: 1) }
        for _ in 0..<200 where box.get() == -1 { usleep(10_000) }
        #expect(box.get() == 22)
        #expect(c.propValue(c.plane(.primary), "FB_ID") == UInt64(b))
        #expect(c.propValue(c.plane(.cursor), "FB_ID") == 0)
    }
}

/// @unchecked Sendable: the client is used by one thread at a time here (the main thread only
/// reads properties after the worker has finished); the result is guarded by a lock.
final class ResultBox: @unchecked Sendable {
    let client: DirectClient
    private let lock = DeviceLock()
    private var result: Int32 = -1
    init(_ client: DirectClient) { self.client = client }
    func set(_ r: Int32) { lock.withLock { result = r } }
    func get() -> Int32 { lock.withLock { result } }
}
