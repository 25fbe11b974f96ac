import Glibc
import Testing
@testable import FakeDRM

/// vgem's fence ioctls through the codec (vgem_fence.c): offered only by a card named vgem,
/// errnos in the kernel's order, the fences in the buffer's reservation, ids never reused,
/// ETIMEDOUT after the 10 s timeout (virtual time: 600 vblanks at 60 Hz).
@Suite struct VgemTests {
    func attach(_ c: DirectClient, _ handle: UInt32, flags: UInt32 = 0, pad: UInt32 = 0) -> (Int32, UInt32) {
        var a = LE.bytes([handle, flags, 0, pad] as [UInt32])
        let e = c.ioctl(req(0x41, 16), &a)
        return (e, LE.u32s(a)[2])
    }

    func signal(_ c: DirectClient, _ fence: UInt32, flags: UInt32 = 0) -> Int32 {
        var a = LE.bytes([fence, flags] as [UInt32])
        return c.ioctl(req(0x42, 8, dir: 1), &a)
    }

    func vgemCard() throws -> (Device, DirectClient) {
        var config = DeviceConfig()
        config.driver.name = "vgem"
        let d = try makeDevice(config)
        return (d, try DirectClient(device: d))
    }

    @Test func onlyACardNamedVgemTakesThem() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        let h = try d.buffers.createDumb(c.file, width: 1, height: 1, bpp: 32).handle
        #expect(attach(c, h).0 == EINVAL)
        #expect(signal(c, 1) == EINVAL)
    }

    @Test func errnosInTheKernelsOrder() throws {
        let (d, c) = try vgemCard()
        let h = try d.buffers.createDumb(c.file, width: 1, height: 1, bpp: 32).handle
        #expect(attach(c, 999, flags: 2).0 == EINVAL)   // flags before the handle
        #expect(attach(c, 999, pad: 1).0 == EINVAL)     // pad before the handle
        #expect(attach(c, 999).0 == ENOENT)
        #expect(signal(c, 1, flags: 1) == EINVAL)
        #expect(signal(c, 1) == ENOENT)
        let (e1, reader) = attach(c, h)
        #expect(e1 == 0 && reader == 1)
        #expect(attach(c, h, flags: 1).0 == EBUSY)      // a writer over an unsignalled reader
        #expect(attach(c, h).0 == 0)                    // readers share
        #expect(signal(c, reader) == 0)
        #expect(signal(c, reader) == ENOENT)            // its slot stays, empty
        let bo = try #require(d.lock.withLock { c.file.handles[h] })
        #expect(d.lock.withLock { bo.reservation.conflicting(forWrite: true).count } == 1)
        #expect(d.lock.withLock { bo.reservation.conflicting(forWrite: false).isEmpty })
    }

    @Test func aWriterBlocksReadersAndTimesOut() throws {
        let (d, c) = try vgemCard()
        let h = try d.buffers.createDumb(c.file, width: 1, height: 1, bpp: 32).handle
        let (e, writer) = attach(c, h, flags: 1)
        #expect(e == 0 && writer == 1)
        #expect(attach(c, h).0 == EBUSY)
        c.setClientCap(3, 1)   // atomic, for the modeset that starts the vblank clock
        let (fb, _) = try c.makeFB()
        #expect(try c.modeset(fb: fb) == 0)
        d.clock.stepVblank(count: 601)                        // 10 s of virtual time at 60 Hz
        #expect(attach(c, h).1 == 2)                    // the writer signalled itself; ids go on
        #expect(signal(c, writer) == ETIMEDOUT)
    }

    @Test func closingTheFileSignalsItsFences() throws {
        let (d, c) = try vgemCard()
        let other = try DirectClient(device: d)
        let h = try d.buffers.createDumb(other.file, width: 1, height: 1, bpp: 32).handle
        let bo = try #require(d.lock.withLock { other.file.handles[h] })
        #expect(attach(other, h, flags: 1).0 == 0)
        #expect(d.lock.withLock { bo.reservation.writers.count } == 1)
        d.close(other.file)
        #expect(d.lock.withLock { bo.reservation.writers.isEmpty })
        _ = c
    }
}
