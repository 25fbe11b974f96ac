import Glibc
import Testing
@testable import FakeDRM

/// GEM_FLINK / GEM_OPEN through the codec, as drm_gem.c: DRM_AUTH, one name per buffer, a new
/// handle per open, the name gone with the buffer's last handle.
@Suite struct GemNameTests {
    static let flinkReq = req(0x0A, 8)
    static let openReq = req(0x0B, 16)
    static let closeReq = req(0x09, 8, dir: 1)

    func flink(_ c: DirectClient, _ handle: UInt32) -> (Int32, UInt32) {
        var a = LE.bytes([handle, 0 as UInt32])
        let e = c.ioctl(Self.flinkReq, &a)
        return (e, LE.u32s(a)[1])
    }

    func open(_ c: DirectClient, _ name: UInt32) -> (Int32, UInt32, UInt64) {
        var a = LE.bytes([name, 0 as UInt32]) + LE.bytes([0 as UInt64])
        let e = c.ioctl(Self.openReq, &a)
        return (e, LE.u32s(Array(a[4..<8]))[0], LE.u64s(Array(a[8..<16]))[0])
    }

    func close(_ c: DirectClient, _ handle: UInt32) -> Int32 {
        var a = LE.bytes([handle, 0 as UInt32])
        return c.ioctl(Self.closeReq, &a)
    }

    @Test func nameIsStableAndOpensANewHandle() throws {
        let d = try makeDevice()
        let a = try DirectClient(device: d)
        let b = try DirectClient(device: d)  // same uid as the owner: authenticated at open
        let buf = try d.buffers.createDumb(a.file, width: 64, height: 64, bpp: 32)
        let (e1, name) = flink(a, buf.handle)
        #expect(e1 == 0 && name == 1)
        #expect(flink(a, buf.handle) == (0, name), "the same name again")
        let (e2, h, size) = open(b, name)
        #expect(e2 == 0 && h != 0 && size == buf.size)
        let (e3, h2, _) = open(b, name)
        #expect(e3 == 0 && h2 != h, "GEM_OPEN makes a new handle each time")
        #expect(flink(b, h) == (0, name), "flink from the other file names the same buffer")
        #expect(flink(a, 77).0 == ENOENT)
        #expect(open(b, 99).0 == ENOENT)
    }

    @Test func nameGoesWithTheLastHandle() throws {
        let d = try makeDevice()
        let a = try DirectClient(device: d)
        let b = try DirectClient(device: d)
        let (fb, handle) = try a.makeFB(64, 64)
        let (_, name) = flink(a, handle)
        let (_, hb, _) = open(b, name)
        #expect(close(a, handle) == 0)
        #expect(open(b, name).0 == 0, "b still holds a handle: the name lives")
        b.close()
        _ = hb
        // The framebuffer still holds the buffer, but no handle does: the name is gone.
        #expect(d.lock.withLock { d.buffers.flinkNames.isEmpty })
        let c = try DirectClient(device: d)
        #expect(open(c, name).0 == ENOENT)
        // Names are reused lowest first.
        let other = try d.buffers.createDumb(c.file, width: 8, height: 8, bpp: 32)
        #expect(flink(c, other.handle) == (0, name))
        _ = fb
    }

    @Test func unauthenticatedFileGetsEACCES() throws {
        var cfg = DeviceConfig()
        cfg.ownerIsPrivileged = false
        let d = try makeDevice(cfg)
        let master = try DirectClient(device: d)
        let other = try DirectClient(device: d, uid: 4242)
        let mine = try d.buffers.createDumb(other.file, width: 8, height: 8, bpp: 32)
        let buf = try d.buffers.createDumb(master.file, width: 8, height: 8, bpp: 32)
        let (e, name) = flink(master, buf.handle)
        #expect(e == 0)
        #expect(flink(other, mine.handle).0 == EACCES)
        #expect(open(other, name).0 == EACCES)
        // Authenticated by the master (GET_MAGIC + AUTH_MAGIC), it may.
        let magic = d.files.getMagic(other.file)
        try d.files.authMagic(master.file, magic)
        let (e2, _, size) = open(other, name)
        #expect(e2 == 0 && size == buf.size)
    }

    /// drm_mode_create_lease_ioctl authenticates the lessee: DRM_AUTH ioctls work on it.
    @Test func lesseeIsAuthenticated() throws {
        var cfg = DeviceConfig()
        cfg.ownerIsPrivileged = false
        let d = try makeDevice(cfg)
        let master = try DirectClient(device: d)
        let res = d.objects.resources(master.file)
        // Without universal planes the CRTC's primary plane comes along implicitly.
        let (lesseeFile, _) = try d.files.createLease(master.file, objects: [res.crtcs[0], res.connectors[0]], flags: 0)
        let lessee = DirectClient(device: d, file: lesseeFile)
        let buf = try d.buffers.createDumb(lessee.file, width: 8, height: 8, bpp: 32)
        #expect(flink(lessee, buf.handle).0 == 0)
    }

    /// A request that runs on a file already closed (CUSE's release racing an ioctl) leaves no
    /// handle behind.
    @Test func closedFileMakesNoHandles() throws {
        let d = try makeDevice()
        let a = try DirectClient(device: d)
        let b = try DirectClient(device: d)
        let buf = try d.buffers.createDumb(a.file, width: 8, height: 8, bpp: 32)
        let (_, name) = flink(a, buf.handle)
        b.close()
        #expect(throws: DRMError.noDevice) { try d.buffers.createDumb(b.file, width: 8, height: 8, bpp: 32) }
        #expect(throws: DRMError.noDevice) { try d.buffers.gemOpen(b.file, name: name) }
        #expect(d.lock.withLock { b.file.handles.isEmpty })
    }
}
