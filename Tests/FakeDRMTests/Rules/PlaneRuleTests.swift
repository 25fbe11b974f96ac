import Testing
@testable import FakeDRM

/// The plane's rules (Objects/Plane.swift: PlaneObject.set and check).
@Suite struct PlaneRuleTests {
    typealias Row = AtomicRuleRow
    static let A = AtomicRuleRow.A
    static let rows: [Row] = [
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
        Row(name: "IN_FENCE_FD that is not a sync file", errno: 22, reason: "is not a sync file") { c, _ in c.atomic(0, [(c.plane(.primary), [("IN_FENCE_FD", 77)])]) },
    ]

    @Test(arguments: rows) func rule(_ row: Row) throws { try row.check() }
}
