import Foundation
import Testing
@testable import FakeDRM

/// One row per kernel rule of the ATOMIC ioctl, each with the errno the kernel returns and a
/// piece of the reason fakedrm gives (the file's last rejection, as `ctl state` shows it).
@Suite struct AtomicRuleTests {
    struct Row: CustomTestStringConvertible, Sendable {
        let name: String
        let errno: Int32
        /// A word or two of the reason the rejection logs: the rule that failed is this one.
        let reason: String?
        let run: @Sendable (DirectClient, UInt32) throws -> Int32
        var testDescription: String { name }

        init(name: String, errno: Int32, reason: String? = nil, run: @escaping @Sendable (DirectClient, UInt32) throws -> Int32) {
            self.name = name
            self.errno = errno
            self.reason = reason
            self.run = run
        }
    }

    static let A = DRMConst.atomicAllowModeset
    static let rows: [Row] = [
        Row(name: "valid modeset", errno: 0) { c, fb in try c.modeset(fb: fb) },
        Row(name: "modeset without ALLOW_MODESET", errno: 22, reason: "requires full modeset") { c, fb in try c.modeset(fb: fb, flags: 0) },
        Row(name: "unknown flag bits", errno: 22, reason: "outside DRM_MODE_ATOMIC_FLAGS") { c, fb in try c.modeset(fb: fb, flags: A | 0x8000) },
        Row(name: "TEST_ONLY with PAGE_FLIP_EVENT", errno: 22, reason: "TEST_ONLY with PAGE_FLIP_EVENT") { c, fb in try c.modeset(fb: fb, flags: A | 0x100 | 1) },
        Row(name: "ASYNC without async support", errno: 22, reason: "no async flips") { c, fb in try c.modeset(fb: fb, flags: A | 2) },
        Row(name: "empty request", errno: 0) { c, _ in c.atomic(0, []) },
        Row(name: "event with no CRTC", errno: 22, reason: "requesting event but no CRTC") { c, _ in c.atomic(1, []) },
        Row(name: "object id 0", errno: 2, reason: "[OBJECT:0] not found") { c, _ in c.atomicRaw(0, objs: [0], counts: [0], props: [], values: []) },
        Row(name: "fb id as object", errno: 2, reason: "not found") { c, fb in c.atomicRaw(0, objs: [fb], counts: [0], props: [], values: []) },
        Row(name: "CRTC with zero props", errno: 0) { c, _ in c.atomicRaw(0, objs: [c.crtcID], counts: [0], props: [], values: []) },
        Row(name: "property not on object", errno: 2, reason: "has no property") { c, _ in c.atomicRaw(0, objs: [c.crtcID], counts: [1], props: [c.prop(c.plane(.primary), "FB_ID")], values: [0]) },
        Row(name: "object id as property id", errno: 2, reason: "has no property") { c, _ in c.atomicRaw(0, objs: [c.crtcID], counts: [1], props: [c.crtcID], values: [0]) },
        Row(name: "NULL objs pointer", errno: 14, reason: "cannot read") { c, _ in
            var a = LE.bytes([UInt32(0), 4]) + LE.bytes([UInt64(0), 0, 0, 0, 0, 0])
            return c.ioctl(req(0xBC, 56), &a)
        },
        Row(name: "reserved != 0", errno: 22, reason: "reserved is not 0") { c, _ in
            var a = LE.bytes([UInt32(0), 0]) + LE.bytes([UInt64(0), 0, 0, 0, 1, 0])
            return c.ioctl(req(0xBC, 56), &a)
        },
        Row(name: "FB_ID is a plane id", errno: 22, reason: "not an object of the property's type") { c, _ in c.atomic(0, [(c.plane(.primary), [("FB_ID", UInt64(c.plane(.primary)))])]) },
        Row(name: "CRTC_ID is a connector id", errno: 22, reason: "not an object of the property's type") { c, _ in c.atomic(0, [(c.plane(.primary), [("CRTC_ID", UInt64(c.connectorID))])]) },
        Row(name: "MODE_ID is a plane id", errno: 22, reason: "does not exist") { c, _ in c.atomic(A, [(c.crtcID, [("MODE_ID", UInt64(c.plane(.primary)))])]) },
        Row(name: "MODE_ID blob of 67 bytes", errno: 22, reason: "is not a valid mode") { c, _ in
            let b = try c.device.objects.createBlob(c.file, data: [UInt8](repeating: 1, count: 67))
            return c.atomic(A, [(c.crtcID, [("MODE_ID", UInt64(b))])])
        },
        Row(name: "MODE_ID with invalid timings", errno: 22, reason: "is not a valid mode") { c, _ in
            var m = try c.device.objects.connectorInfo(c.file, c.connectorID).modes[0]
            m.hsyncStart = m.hdisplay - 1
            return c.atomic(A, [(c.crtcID, [("MODE_ID", UInt64(try c.modeBlob(m)))])])
        },
        Row(name: "ACTIVE without a mode", errno: 22, reason: "active without enabled") { c, _ in c.atomic(A, [(c.crtcID, [("ACTIVE", 1)])]) },
        Row(name: "plane with FB but no CRTC", errno: 22, reason: "FB set but no CRTC") { c, fb in c.atomic(0, [(c.plane(.overlay), [("FB_ID", UInt64(fb))])]) },
        Row(name: "src outside fb", errno: 28, reason: "invalid source coordinates") { c, fb in
            let (small, _) = try c.makeFB(100, 100)
            _ = fb
            let blob = try c.modeBlob()
            return c.atomic(A, [(c.connectorID, [("CRTC_ID", UInt64(c.crtcID))]), (c.crtcID, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)]),
                                (c.plane(.primary), c.planeProps(fb: small, w: 1024, h: 768))])
        },
        Row(name: "crtc_x + crtc_w overflows", errno: 34, reason: "invalid CRTC coordinates") { c, fb in
            let blob = try c.modeBlob()
            return c.atomic(A, [(c.connectorID, [("CRTC_ID", UInt64(c.crtcID))]), (c.crtcID, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)]),
                                (c.plane(.primary), c.planeProps(fb: fb, w: 1024, h: 768, x: Int32.max - 10))])
        },
        Row(name: "scaling is not supported", errno: 34, reason: "Invalid scaling of plane") { c, fb in
            let blob = try c.modeBlob()
            var props = c.planeProps(fb: fb, w: 1024, h: 768)
            props.append(("CRTC_W", 512))
            return c.atomic(A, [(c.connectorID, [("CRTC_ID", UInt64(c.crtcID))]), (c.crtcID, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)]),
                                (c.plane(.primary), props)])
        },
        Row(name: "format the plane lacks", errno: 22, reason: "invalid pixel format") { c, _ in
            let (xrgb, _) = try c.makeFB(64, 64)  // XRGB8888: not on this card's cursor plane
            return c.atomic(A, [(c.plane(.cursor), [("FB_ID", UInt64(xrgb)), ("CRTC_ID", UInt64(c.crtcID))])])
        },
        Row(name: "CRTC enabled without connectors", errno: 22, reason: "enabled/connectors mismatch") { c, fb in
            let blob = try c.modeBlob()
            return c.atomic(A, [(c.crtcID, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)]), (c.plane(.primary), c.planeProps(fb: fb, w: 1024, h: 768))])
        },
        Row(name: "event on a CRTC that stays off", errno: 22, reason: "requesting event but off") { c, _ in c.atomic(1 | 0x200, [(c.crtcID, [("ACTIVE", 0)])]) },
        Row(name: "connector DPMS through atomic", errno: 22, reason: "DPMS") { c, _ in c.atomic(0, [(c.connectorID, [("DPMS", 0)])]) },
        Row(name: "immutable property", errno: 22, reason: "is immutable") { c, _ in c.atomic(0, [(c.plane(.primary), [("type", 1)])]) },
        Row(name: "IN_FENCE_FD that is not a sync file", errno: 22, reason: "is not a sync file") { c, _ in c.atomic(0, [(c.plane(.primary), [("IN_FENCE_FD", 77)])]) },
        Row(name: "OUT_FENCE_PTR into read-only memory", errno: 14, reason: "is not writable") { c, fb in
            let ro = c.memory.map([0, 0, 0, 0], writable: false)
            return try c.modeset(fb: fb, extraCRTC: [("OUT_FENCE_PTR", ro)])
        },
        Row(name: "identical MODE_ID re-sent is not a modeset", errno: 0) { c, fb in
            #expect(try c.modeset(fb: fb) == 0)
            return c.atomic(0, [(c.crtcID, [("MODE_ID", UInt64(try c.modeBlob())), ("ACTIVE", 1)])])
        },
    ]

    @Test(arguments: rows)
    func rule(_ row: Row) throws {
        // A cursor plane that takes ARGB8888 only (as vkms's did before 6.8), so the format
        // rule has a format the card knows and the plane lacks.
        var config = DeviceConfig()
        for i in config.planes.indices where config.planes[i].type == "cursor" { config.planes[i].formats = ["AR24"] }
        let d = try makeDevice(config)
        defer { d.shutdown() }
        let c = try DirectClient(device: d)
        #expect(c.setClientCap(DRMConst.clientCapAtomic, 1) == 0)
        let (fb, _) = try c.makeFB()
        #expect(try row.run(c, fb) == row.errno, "\(row.name)")
        if let want = row.reason {
            let got = d.lock.withLock { c.file.lastRejection }
            #expect(got?.reason.contains(want) == true, "\(row.name): reason '\(got?.reason ?? "none")', want '\(want)'")
            #expect(got?.errno == DRMError(errno: row.errno)?.errnoName)
        }
    }

    @Test func atomicNeedsTheClientCap() throws {
        let c = try DirectClient(device: try makeDevice())
        #expect(c.atomic(0, []) == 22)
    }

    @Test func testOnlyChangesNothingAndOutFenceStaysMinusOne() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let (fb, _) = try c.makeFB()
        let ptr = c.memory.map(LE.bytes([Int32(1234)]))
        #expect(try c.modeset(fb: fb, flags: DRMConst.atomicAllowModeset | DRMConst.atomicTestOnly, extraCRTC: [("OUT_FENCE_PTR", ptr)]) == 0)
        #expect(LE.u32s(c.memory.bytes(at: ptr, count: 4) ?? []) == [UInt32(bitPattern: -1)])
        #expect(c.propValue(c.crtcID, "ACTIVE") == 0)
        #expect(c.files.table.isEmpty)
    }

    /// `ctl state` names the file's last rejection: the ioctl, errno, reason and whether it was
    /// a TEST_ONLY probe; a later success leaves it (it is the last rejection, not the last call).
    @Test func lastRejectionInCtlState() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let (fb, _) = try c.makeFB()
        #expect(try c.modeset(fb: fb, flags: DRMConst.atomicTestOnly) == EINVAL)
        #expect(try c.modeset(fb: fb) == 0)
        let json = ControlService(device: d).handle(.state).output
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let files = try #require(doc["files"] as? [[String: Any]])
        let last = try #require(files.first?["last_rejection"] as? [String: Any])
        #expect(last["ioctl"] as? String == "MODE_ATOMIC")
        #expect(last["errno"] as? String == "EINVAL")
        #expect(last["test_only"] as? Bool == true)
        #expect((last["reason"] as? String)?.hasSuffix("requires full modeset") == true)
        #expect(last["area"] as? String == "atomic")
    }
}
