import Testing
@testable import FakeDRM

@Suite struct CodecTests {
    @Test func dispatchIsOnTypeAndNrOnly() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        var a = [UInt8](repeating: 0, count: 16)
        // Another ioctl type: ENOTTY. Unknown DRM nr: EINVAL, and the bytes still come back.
        #expect(c.ioctl(IoctlRequest(dir: 3, type: 0x58, nr: 0x0C, size: 16).raw, &a) == 25)
        a = [UInt8](repeating: 7, count: 16)
        #expect(c.ioctl(req(0x99, 16), &a) == 22)
        #expect(a == [UInt8](repeating: 7, count: 16))
        // GET_CAP encoded with a larger size still dispatches (size comes from the caller).
        var big = LE.bytes([DRMConst.capCursorWidth, 0, 0xffff])
        #expect(c.ioctl(req(0x0C, 24), &big) == 0)
        #expect(LE.u64s(big) == [DRMConst.capCursorWidth, 512, 0xffff])
    }

    @Test func structCopiedBackEvenOnFailure() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        // GETCONNECTOR on a CRTC id fails with ENOENT but the caller's struct is copied back.
        var a = [UInt8](repeating: 0, count: 80)
        a.replaceSubrange(48..<52, with: LE.bytes([c.crtcID]))
        a[76] = 0x5a
        #expect(c.ioctl(req(0xA7, 80), &a) == 2)
        #expect(a.count == 80 && a[76] == 0x5a)
    }

    @Test func oldSyncobjHandleSizeIsZeroExtended() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        var create = LE.bytes([UInt32(0), 1])
        #expect(c.ioctl(req(0xBF, 8), &create) == 0)
        let h = LE.u32s(create)[0]
        // libdrm 2.4.114 encodes drm_syncobj_handle as 16 bytes (0xc01064c1).
        var old = LE.bytes([h, 1, 0, 0])
        #expect(c.ioctl(0xc010_64c1, &old) == 0)
        #expect(old.count == 16)
        let fd = Int32(bitPattern: LE.u32s(old)[2])
        #expect(c.files.syncFile(fd: fd)?.isSignalled == true)
    }

    @Test(arguments: [
        (UInt64(0x1), UInt64(1)), (0x3, 24), (0x5, 3), (0x6, 1), (0x8, 512), (0x9, 512), (0x10, 1), (0x12, 1), (0x15, 0),
    ])
    func capabilities(cap: UInt64, value: UInt64) throws {
        let c = try DirectClient(device: try makeDevice())
        #expect(c.getCap(cap) == (0, value))
    }

    @Test func unknownCapIsEINVALAndRFCModeAnswersOne() throws {
        let c = try DirectClient(device: try makeDevice())
        #expect(c.getCap(0x99).0 == 22)
        var cfg = DeviceConfig()
        cfg.releaseFence.rfc2021Cap = true
        #expect(try DirectClient(device: try makeDevice(cfg)).getCap(0x15) == (0, 1))
    }

    @Test func versionTwoPassAndUniqueRules() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        var v = [UInt8](repeating: 0, count: 64)
        #expect(c.ioctl(req(0x00, 64), &v) == 0)
        let nameLen = Int(ArgBuffer(v).load(UInt64.self, at: 16))
        #expect(nameLen == 7)
        let buf = c.memory.alloc(3)
        var v2 = LE.bytes([Int32(0), 0, 0, 0]) + LE.bytes([UInt64(3), buf, 0, 0, 0, 0])
        #expect(c.ioctl(req(0x00, 64), &v2) == 0)
        #expect(c.memory.bytes(at: buf, count: 3) == Array("fak".utf8))
        // GET_UNIQUE is empty until SET_VERSION 1.1+.
        var u = LE.bytes([UInt64(0), 0])
        #expect(c.ioctl(req(0x01, 16), &u) == 0 && LE.u64s(u)[0] == 0)
        var sv = LE.bytes([Int32(1), 4, -1, -1])
        #expect(c.ioctl(req(0x07, 16), &sv) == 0)
        #expect(c.ioctl(req(0x01, 16), &u) == 0 && LE.u64s(u)[0] == 7)
    }

    @Test func masterAndAuthRules() throws {
        let d = try makeDevice()
        let m = try DirectClient(device: d), o = try DirectClient(device: d, uid: 1000)
        var zero = LE.bytes([UInt32(0)])
        // drmIsMaster: AUTH_MAGIC(0) is EINVAL for the master, EACCES for anyone else.
        #expect(m.ioctl(req(0x11, 4, dir: 1), &zero) == 22)
        #expect(o.ioctl(req(0x11, 4, dir: 1), &zero) == 13)
        var magic = [UInt8](repeating: 0, count: 4)
        #expect(o.ioctl(req(0x02, 4, dir: 2), &magic) == 0)
        #expect(LE.u32s(magic)[0] != 0)
        #expect(m.ioctl(req(0x11, 4, dir: 1), &magic) == 0)
        var none: [UInt8] = []
        #expect(o.ioctl(req(0x1E, 0, dir: 0), &none) == 13)  // never master
        #expect(m.ioctl(req(0x1F, 0, dir: 0), &none) == 0)
        #expect(m.ioctl(req(0x1F, 0, dir: 0), &none) == 22)
        #expect(m.ioctl(req(0x1E, 0, dir: 0), &none) == 0)
        // A privileged opener (uid 0 stands for CAP_SYS_ADMIN) may take master once it is free.
        let root = try DirectClient(device: d, uid: 0)
        #expect(root.ioctl(req(0x1E, 0, dir: 0), &none) == 16)
        #expect(m.ioctl(req(0x1F, 0, dir: 0), &none) == 0)
        #expect(root.ioctl(req(0x1E, 0, dir: 0), &none) == 0)
        #expect(m.ioctl(req(0x1E, 0, dir: 0), &none) == 16)
        // Leases are the master's: an empty one (what wlroots asks for) is granted to it only.
        var lease = [UInt8](repeating: 0, count: 24)
        #expect(root.ioctl(req(0xC6, 24), &lease) == 0)
        lease = [UInt8](repeating: 0, count: 24)
        #expect(m.ioctl(req(0xC6, 24), &lease) == 13)  // not master any more
    }

    @Test func twoPassResourceRules() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        var res = [UInt8](repeating: 0, count: 64)
        #expect(c.ioctl(req(0xA0, 64), &res) == 0)
        #expect(LE.u32s(Array(res[32..<48])) == [0, 1, 1, 2])
        // GETCONNECTOR: modes all-or-nothing, props partial.
        let conn = c.connectorID
        let modesPtr = c.memory.alloc(68 * 2), propsPtr = c.memory.alloc(8), valsPtr = c.memory.alloc(16)
        var g = LE.bytes([UInt64(0), modesPtr, propsPtr, valsPtr]) + LE.bytes([UInt32(2), 2, 0, 0, conn]) + [UInt8](repeating: 0, count: 28)
        #expect(c.ioctl(req(0xA7, 80), &g) == 0)
        let counts = LE.u32s(Array(g[32..<44]))
        #expect(counts[0] > 2)  // actual mode count reported
        #expect(c.memory.bytes(at: modesPtr, count: 68) == [UInt8](repeating: 0, count: 68))  // too small: not filled
        #expect(LE.u32s(c.memory.bytes(at: propsPtr, count: 8) ?? []).allSatisfy { $0 != 0 })  // partial fill
        let first = try d.objects.connectorInfo(c.file, conn).modes[0]
        #expect(first.type & ModeInfo.typePreferred != 0)
        #expect(first.hdisplay == 1024 && first.vdisplay == 768)
        // GETPROPBLOB copies only with the exact length.
        let inFormats = try #require(c.propValue(c.plane(.primary), "IN_FORMATS"))
        let data = c.memory.alloc(256)
        var b = LE.bytes([UInt32(inFormats), 10]) + LE.bytes([data])
        #expect(c.ioctl(req(0xAC, 16), &b) == 0)
        let len = LE.u32s(b)[1]
        // Header, the formats padded to 8 bytes, one modifier entry.
        let formats = DeviceConfig.defaultPrimaryFormats.count
        #expect(len == UInt32(24 + (4 * formats + 7) / 8 * 8 + 24))
        #expect(c.memory.bytes(at: data, count: 4) == [0, 0, 0, 0])
        b = LE.bytes([UInt32(inFormats), len]) + LE.bytes([data])
        #expect(c.ioctl(req(0xAC, 16), &b) == 0)
        #expect(LE.u32s(c.memory.bytes(at: data, count: 8) ?? []) == [1, 0])
    }

    @Test func planesHiddenWithoutUniversalAndAtomicPropsHidden() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        #expect(d.objects.planeIDs(c.file).count == 1)  // overlay only
        let before = try d.objects.objectProperties(c.file, objectID: c.crtcID, type: ObjectType.crtc.rawValue).count
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        #expect(d.objects.planeIDs(c.file).count == 3)
        let after = try d.objects.objectProperties(c.file, objectID: c.crtcID, type: ObjectType.crtc.rawValue).count
        #expect(before < after)
        #expect(c.propValue(c.crtcID, "RELEASE_FENCE_PTR") == 0)
        #expect(c.setClientCap(DRMConst.clientCapCursorPlaneHotspot, 1) == 95)
    }
}
