import Glibc
import Testing
@testable import FakeDRM

/// DRM leases through the codec: errnos of drm_lease.c, what a lessee sees, revocation.
@Suite struct LeaseTests {
    /// Two CRTCs, one encoder that can drive both.
    static func twoCRTCs() -> DeviceConfig {
        var cfg = DeviceConfig()
        cfg.crtcs = [.init(), .init()]
        cfg.encoders[0].crtcs = [0, 1]
        var p2 = DeviceConfig.Plane(type: "primary")
        p2.crtcs = [1]
        cfg.planes.append(p2)
        return cfg
    }

    func createLease(_ c: DirectClient, _ ids: [UInt32], flags: UInt32 = UInt32(O_CLOEXEC)) -> (Int32, lessee: UInt32, fd: Int32) {
        let ptr = c.memory.map(LE.bytes(ids))
        var a = LE.bytes([ptr]) + LE.bytes([UInt32(ids.count), flags, 0, 0])
        let e = c.ioctl(req(0xC6, 24), &a)
        let out = LE.u32s(Array(a[16..<24]))
        return (e, out[0], Int32(bitPattern: out[1]))
    }

    func lessee(_ c: DirectClient, fd: Int32) throws -> DirectClient {
        guard case .card(let f)? = c.files.table[fd] else { throw DRMError.badFileDescriptor }
        return DirectClient(device: c.device, file: f)
    }

    func crtcsAndConnectors(_ c: DirectClient) -> (Int, Int) {
        let r = c.device.objects.resources(c.file)
        return (r.crtcs.count, r.connectors.count)
    }

    @Test func createErrnos() throws {
        let d = try makeDevice(Self.twoCRTCs())
        let c = try DirectClient(device: d)
        let res = d.objects.resources(c.file)
        let primary = c.plane(.primary)
        #expect(createLease(c, [primary]).0 == EINVAL)                              // no CRTC, no connector
        #expect(createLease(c, [res.crtcs[0], res.connectors[0], 0xdead]).0 == ENOENT)
        #expect(createLease(c, [res.crtcs[0], res.connectors[0], res.encoders[0]]).0 == EINVAL)  // not leasable
        #expect(createLease(c, [res.crtcs[0], res.crtcs[0], res.connectors[0]]).0 == ENOSPC)  // twice
        #expect(createLease(c, [res.crtcs[0], res.connectors[0]], flags: 0x1).0 == EINVAL)
        let other = try DirectClient(device: d)
        #expect(createLease(other, [res.crtcs[0], res.connectors[0]]).0 == EACCES)  // not master
        let ok = createLease(c, [res.crtcs[0], res.connectors[0]])
        #expect(ok.0 == 0 && ok.lessee == 1)
        #expect(createLease(c, [res.crtcs[0], res.connectors[0]]).0 == EBUSY)
        // An empty lease is valid (wlroots asks for one to get a non-master fd).
        let empty = createLease(c, [])
        #expect(empty.0 == 0 && empty.lessee == 2)
        let l = try lessee(c, fd: empty.fd)
        #expect(crtcsAndConnectors(l) == (0, 0))
        // No sub-leases.
        #expect(createLease(try lessee(c, fd: ok.fd), [res.crtcs[0], res.connectors[0]]).0 == EINVAL)
    }

    @Test func lesseeSeesOnlyItsObjectsAndLosesThemOnRevoke() throws {
        let d = try makeDevice(Self.twoCRTCs())
        let c = try DirectClient(device: d)
        let res = d.objects.resources(c.file)
        let r = createLease(c, [res.crtcs[1], res.connectors[0]])
        #expect(r.0 == 0)
        let l = try lessee(c, fd: r.fd)
        #expect(d.objects.resources(l.file).crtcs == [res.crtcs[1]])
        #expect(d.files.isMaster(l.file))
        var crtc = LE.bytes([UInt64(0)]) + LE.bytes([UInt32(0), res.crtcs[0]]) + [UInt8](repeating: 0, count: 88)
        #expect(l.ioctl(req(0xA1, 104), &crtc) == ENOENT)                         // GETCRTC of another CRTC
        // possible_crtcs in the lessee's numbering: CRTC 1 is its CRTC 0.
        var enc = LE.bytes([res.encoders[0], 0, 0, 0, 0])
        #expect(l.ioctl(req(0xA6, 20), &enc) == 0)
        let globalMask = try d.objects.encoderInfo(res.encoders[0]).possibleCrtcs
        #expect(globalMask == 3)
        #expect(LE.u32s(enc)[3] == 1)
        // LIST_LESSEES, GET_LEASE
        let ids = c.memory.alloc(16)
        var list = LE.bytes([UInt32(4), 0]) + LE.bytes([ids])
        #expect(c.ioctl(req(0xC7, 16), &list) == 0)
        #expect(LE.u32s(list)[0] == 1 && LE.u32s(c.memory.bytes(at: ids, count: 4) ?? [])[0] == r.lessee)
        let objs = l.memory.alloc(32)
        var get = LE.bytes([UInt32(8), 0]) + LE.bytes([objs])
        #expect(l.ioctl(req(0xC8, 16), &get) == 0)
        // A lessor without universal planes leases CRTC 1's primary plane with it
        // (fill_object_idr); CRTC 1 has no cursor plane in this card.
        #expect(LE.u32s(get)[0] == 3)
        let leased = Set(LE.u32s(l.memory.bytes(at: objs, count: 12) ?? []))
        #expect(leased.isSuperset(of: [res.crtcs[1], res.connectors[0]]) && leased.count == 3)
        // REVOKE: gone from the lessee's view; again is ENOENT.
        var rev = LE.bytes([r.lessee])
        #expect(c.ioctl(req(0xC9, 4, dir: 1), &rev) == 0)
        #expect(d.objects.resources(l.file).crtcs.isEmpty)
        #expect(!d.files.isMaster(l.file))
        #expect(c.ioctl(req(0xC9, 4, dir: 1), &rev) == ENOENT)
    }

    @Test func lessorCloseRevokesAndNothingLeaks() throws {
        let d = try makeDevice()
        let baseline = d.stateDump().summary
        let c = try DirectClient(device: d)
        let res = d.objects.resources(c.file)
        let r = createLease(c, [res.crtcs[0], res.connectors[0]])
        let l = try lessee(c, fd: r.fd)
        c.close()
        #expect(d.objects.resources(l.file).crtcs.isEmpty)
        l.close()
        #expect(d.stateDump().summary == baseline)
    }

    /// _drm_lease_revoke empties the lease and leaves the lessee master: its requests pass the
    /// table's DRM_MASTER check and fail at the lookup with ENOENT (IGT's kms_lease@lease-revoke).
    @Test func revokedLesseeGetsEnoentNotEacces() throws {
        let d = try makeDevice(Self.twoCRTCs())
        let c = try DirectClient(device: d)
        let res = d.objects.resources(c.file)
        let made = createLease(c, [res.crtcs[0], res.connectors[0]])
        #expect(made.0 == 0)
        let l = try lessee(c, fd: made.fd)
        var revoke = LE.bytes([made.lessee])
        #expect(c.ioctl(req(0xC9, 4), &revoke) == 0)
        var set = [UInt8](repeating: 0, count: CrtcArg.size)
        set.replaceSubrange(12..<16, with: LE.bytes([res.crtcs[0]]))
        #expect(l.ioctl(req(0xA2, CrtcArg.size), &set) == ENOENT)
        #expect(l.setClientCap(DRMConst.clientCapAtomic, 1) == 0)
        #expect(l.atomic(0, [(res.crtcs[0], [("ACTIVE", 0)])]) == ENOENT)
        // A file that was never master is still refused by the flag.
        let other = try DirectClient(device: d)
        #expect(other.ioctl(req(0xA2, CrtcArg.size), &set) == EACCES)
    }
}
