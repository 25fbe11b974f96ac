import Testing
@testable import FakeDRM

/// The CRTC's rules (Objects/CRTC.swift: CRTCObject.set, check and checkModeset).
@Suite struct CRTCRuleTests {
    typealias Row = AtomicRuleRow
    static let A = AtomicRuleRow.A
    static let rows: [Row] = [
        Row(name: "valid modeset", errno: 0) { c, fb in try c.modeset(fb: fb) },
        Row(name: "modeset without ALLOW_MODESET", errno: 22, reason: "requires full modeset") { c, fb in try c.modeset(fb: fb, flags: 0) },
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
        Row(name: "CRTC enabled without connectors", errno: 22, reason: "enabled/connectors mismatch") { c, fb in
            let blob = try c.modeBlob()
            return c.atomic(A, [(c.crtcID, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)]), (c.plane(.primary), c.planeProps(fb: fb, w: 1024, h: 768))])
        },
        Row(name: "event on a CRTC that stays off", errno: 22, reason: "requesting event but off") { c, _ in c.atomic(1 | 0x200, [(c.crtcID, [("ACTIVE", 0)])]) },
        Row(name: "identical MODE_ID re-sent is not a modeset", errno: 0) { c, fb in
            #expect(try c.modeset(fb: fb) == 0)
            return c.atomic(0, [(c.crtcID, [("MODE_ID", UInt64(try c.modeBlob())), ("ACTIVE", 1)])])
        },
    ]

    @Test(arguments: rows) func rule(_ row: Row) throws { try row.check() }
}
