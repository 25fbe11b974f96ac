import Testing
@testable import FakeDRM

@Suite struct LifetimeTests {
    @Test func closingTheFileReleasesEverythingAndDarkensTheScreen() throws {
        let d = try makeDevice()
        let baseline = d.counts()
        let bos = d.buffers.liveBufferCount()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let (fb, _) = try c.makeFB()
        #expect(try c.modeset(fb: fb) == 0)
        _ = try d.objects.createBlob(c.file, data: [1, 2, 3])
        d.clock.stepVblank()
        #expect(d.counts() != baseline)
        c.close()
        d.clock.stepVblank()
        // RMFB semantics on close: the plane showing the fb is disabled, the fb is gone.
        let p = d.lock.withLock { d.pipeline.state.planes[0] }
        #expect(p.fb == 0 && p.crtc == 0)
        #expect(d.counts().framebuffers == baseline.framebuffers)
        #expect(d.counts().pendingCommits == 0)
        #expect(d.buffers.liveBufferCount() == bos)
    }

    @Test func handlesAndFramebuffersArePerFile() throws {
        let d = try makeDevice()
        let a = try DirectClient(device: d), b = try DirectClient(device: d)
        let (fb, handle) = try a.makeFB(64, 64)
        var map = LE.bytes([handle, 0]) + LE.bytes([UInt64(0)])
        #expect(b.ioctl(req(0xB3, 16), &map) == 2)  // other file's handle: ENOENT
        var rm = LE.bytes([fb])
        #expect(b.ioctl(req(0xAF, 4), &rm) == 2)  // RMFB by a non-owner: ENOENT
        var close = LE.bytes([handle, 0])
        #expect(b.ioctl(req(0x09, 8, dir: 1), &close) == 22)  // GEM_CLOSE unknown: EINVAL
        #expect(a.ioctl(req(0xAF, 4), &rm) == 0)
        #expect(d.objects.resources(a.file).fbs.isEmpty)
        // Blobs: another file's blob → EPERM.
        let blob = try d.objects.createBlob(a.file, data: [1])
        var destroy = LE.bytes([blob])
        #expect(b.ioctl(req(0xBE, 4), &destroy) == 1)
        #expect(a.ioctl(req(0xBE, 4), &destroy) == 0)
    }

    @Test func primeExportImportGivesTheSameHandle() throws {
        let d = try makeDevice()
        let a = try DirectClient(device: d)
        let b = try d.buffers.createDumb(a.file, width: 16, height: 16, bpp: 32)
        var ex = LE.bytes([b.handle, 0x80000, 0])
        #expect(a.ioctl(req(0x2D, 12), &ex) == 0)
        let fd = LE.u32s(ex)[2]
        var im = LE.bytes([0, 0, fd])
        #expect(a.ioctl(req(0x2E, 12), &im) == 0)
        #expect(LE.u32s(im)[0] == b.handle)
        var badFlags = LE.bytes([b.handle, 0x1, 0])
        #expect(a.ioctl(req(0x2D, 12), &badFlags) == 22)
    }

    @Test func dumbBufferPolicy() throws {
        let d = try makeDevice()
        let a = try DirectClient(device: d)
        var cd = LE.bytes([UInt32(768), 1023, 32, 0, 0xffff, 0xffff]) + LE.bytes([UInt64.max])
        #expect(a.ioctl(req(0xB2, 32), &cd) == 0)
        let out = LE.u32s(cd)
        #expect(out[5] == 4096 && LE.u64s(Array(cd[24..<32]))[0] == 4096 * 768)
        var zero = LE.bytes([UInt32(0), 10, 32, 0, 0, 0]) + LE.bytes([UInt64(0)])
        #expect(a.ioctl(req(0xB2, 32), &zero) == 22)
        var huge = LE.bytes([UInt32.max, UInt32.max, 32, 0, 0, 0]) + LE.bytes([UInt64(0)])
        #expect(a.ioctl(req(0xB2, 32), &huge) == 22)
    }
}
