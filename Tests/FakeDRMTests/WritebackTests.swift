import Glibc
import Testing
@testable import FakeDRM

/// The writeback connector through the codec, on drm_writeback.c's and vkms_writeback.c's
/// terms: hidden without the client cap, the composed frame lands in WRITEBACK_FB_ID's buffer
/// and WRITEBACK_OUT_FENCE_PTR's fence signals then; the atomic checks' errnos.
@Suite struct WritebackTests {
    func client() throws -> (Device, DirectClient, UInt32) {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        #expect(c.setClientCap(DRMConst.clientCapWritebackConnectors, 1) == EINVAL) // needs ATOMIC first
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        #expect(c.setClientCap(DRMConst.clientCapWritebackConnectors, 2) == EINVAL)
        #expect(c.setClientCap(DRMConst.clientCapWritebackConnectors, 1) == 0)
        let wb = try #require(d.objects.resources(c.file).connectors.first { (try? d.objects.connectorInfo(c.file, $0))?.type == 18 })
        return (d, c, wb)
    }

    func pixels(_ d: Device, _ c: DirectClient, _ handle: UInt32) throws -> UnsafeMutablePointer<UInt32> {
        let bo = try #require(d.lock.withLock { c.file.handles[handle] })
        return bo.memory.base.bindMemory(to: UInt32.self, capacity: bo.size / 4)
    }

    @Test func connectorShape() throws {
        let (d, c, wb) = try client()
        let info = try d.objects.connectorInfo(c.file, wb)
        #expect(info.connection == 1)
        #expect(info.modes.contains { $0.type & ModeInfo.typePreferred != 0 && $0.hdisplay == 1024 && $0.vdisplay == 768 })
        for name in ["CRTC_ID", "WRITEBACK_OUT_FENCE_PTR", "WRITEBACK_FB_ID", "WRITEBACK_PIXEL_FORMATS"] { #expect(c.prop(wb, name) != 0) }
        #expect(c.prop(wb, "EDID") == 0)
        // WRITEBACK_PIXEL_FORMATS: u32 fourccs, XRGB8888 first as vkms lists it.
        let blob = try #require(c.propValue(wb, "WRITEBACK_PIXEL_FORMATS"))
        let data = try d.objects.blobData(ObjectID(blob))
        #expect(Array(LE.u32s(data).prefix(1)) == [0x3432_5258])
        #expect(c.propValue(wb, "WRITEBACK_FB_ID") == 0)
    }

    @Test func composedFrameLandsInTheBufferAndTheFenceSignals() throws {
        let (d, c, wb) = try client()
        let (scan, scanHandle) = try c.makeFB()
        let src = try pixels(d, c, scanHandle)
        // A pattern the test computes: x and y in the colour channels, garbage in the X byte.
        for y in 0..<768 { for x in 0..<1024 { src[y * 1024 + x] = 0xab00_0000 | UInt32(x & 0xff) << 16 | UInt32(y & 0xff) << 8 | UInt32((x + y) & 0xff) } }
        #expect(try c.modeset(fb: scan) == 0)
        let (target, targetHandle) = try c.makeFB()
        let out = try pixels(d, c, targetHandle)
        for i in 0..<(1024 * 768) { out[i] = 0x1234_5678 }
        let fencePtr = c.memory.alloc(4)
        let r = c.atomic(DRMConst.atomicAllowModeset, [(wb, [("CRTC_ID", UInt64(c.crtcID)), ("WRITEBACK_FB_ID", UInt64(target)),
                                                              ("WRITEBACK_OUT_FENCE_PTR", fencePtr)])])
        #expect(r == 0)
        let fd = Int32(bitPattern: LE.u32s(try #require(c.memory.bytes(at: fencePtr, count: 4)))[0])
        let sf = try #require(c.files.syncFile(fd: fd))
        var p = pollfd(fd: sf.readiness.fd.raw, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 5000) == 1)
        #expect(sf.fences[0].timelineName.hasPrefix("CONNECTOR:\(wb)-Writeback-1"))
        var mismatches = 0
        for y in 0..<768 { for x in 0..<1024 where out[y * 1024 + x] & 0xffffff != src[y * 1024 + x] & 0xffffff { mismatches += 1 } }
        #expect(mismatches == 0)
        // One-shot: the next commit without WRITEBACK_FB_ID writes nothing.
        for i in 0..<(1024 * 768) { out[i] = 0 }
        #expect(c.atomic(0, [(c.plane(.primary), [("FB_ID", UInt64(scan))])]) == 0)
        // The blocking commit is on screen; a queued writeback would have run by now.
        d.pipeline.writebackQueue.sync {}
        #expect(out[1000] == 0)
    }

    @Test func atomicChecksAsTheKernel() throws {
        let (d, c, wb) = try client()
        let (scan, _) = try c.makeFB()
        let (target, _) = try c.makeFB()
        let (small, _) = try c.makeFB(640, 480)
        let (wrongFormat, _) = try c.makeFB(format: 0x2020_3852) // R8: a plane format, not a writeback one
        let fencePtr = c.memory.alloc(4)
        let modeset = DRMConst.atomicAllowModeset
        // A buffer without a CRTC, and one on an inactive CRTC.
        #expect(c.atomic(modeset, [(wb, [("WRITEBACK_FB_ID", UInt64(target))])]) == EINVAL)
        #expect(c.atomic(modeset, [(wb, [("CRTC_ID", UInt64(c.crtcID)), ("WRITEBACK_FB_ID", UInt64(target))])]) == EINVAL)
        #expect(try c.modeset(fb: scan) == 0)
        func attempt(_ props: [(String, UInt64)]) -> Int32 {
            c.atomic(modeset | DRMConst.atomicTestOnly, [(wb, [("CRTC_ID", UInt64(c.crtcID))] + props)])
        }
        #expect(attempt([("WRITEBACK_FB_ID", UInt64(target))]) == 0)
        #expect(attempt([("WRITEBACK_FB_ID", 0), ("WRITEBACK_OUT_FENCE_PTR", fencePtr)]) == EINVAL) // out-fence without fb
        #expect(attempt([("WRITEBACK_FB_ID", UInt64(small))]) == EINVAL)          // not the mode's size
        #expect(attempt([("WRITEBACK_FB_ID", UInt64(wrongFormat))]) == EINVAL)    // not a writeback format
        #expect(attempt([("WRITEBACK_FB_ID", 0xdead_beef)]) == EINVAL)             // no such fb
        // A fence pointer without any job: accepted, nothing installed, the pointer reads -1.
        #expect(attempt([("WRITEBACK_OUT_FENCE_PTR", fencePtr)]) == 0)
        #expect(LE.u32s(try #require(c.memory.bytes(at: fencePtr, count: 4))) == [UInt32.max])
        // Without ALLOW_MODESET the writeback connector cannot join the CRTC.
        #expect(c.atomic(DRMConst.atomicTestOnly, [(wb, [("CRTC_ID", UInt64(c.crtcID)), ("WRITEBACK_FB_ID", UInt64(target))])]) == EINVAL)
    }
}
