import Foundation
import Testing
@testable import FakeDRM

/// The request-level rules of the ATOMIC ioctl (flags, objects, property lookup and values, the
/// codec's reads and writes); each object kind's own rules are in Rules/.
@Suite struct AtomicRuleTests {
    typealias Row = AtomicRuleRow
    static let A = AtomicRuleRow.A
    static let rows: [Row] = [
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
        Row(name: "immutable property", errno: 22, reason: "is immutable") { c, _ in c.atomic(0, [(c.plane(.primary), [("type", 1)])]) },
        Row(name: "OUT_FENCE_PTR into read-only memory", errno: 14, reason: "is not writable") { c, fb in
            let ro = c.memory.map([0, 0, 0, 0], writable: false)
            return try c.modeset(fb: fb, extraCRTC: [("OUT_FENCE_PTR", ro)])
        },
    ]

    @Test(arguments: rows) func rule(_ row: Row) throws { try row.check() }

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
