import Glibc
import Testing
@testable import FakeDRM

/// Connectors plugged in and unplugged on a running card (`ctl connector add/remove`), on the
/// kernel's terms for MST connectors: a HOTPLUG, the new object in GETRESOURCES with the next
/// free connector_type_id, and a removed one gone (ENOENT) after it is taken off its CRTC.
@Suite struct TopologyTests {
    /// Two CRTCs, each with its own encoder; one Virtual connector on the first.
    func twoCRTCs() throws -> (Device, DirectClient) {
        let config = try DeviceConfig.load(yaml: """
            crtcs: [{writeback: false}, {writeback: false}]
            encoders: [{crtcs: [0]}, {crtcs: [1]}]
            connectors: [{encoder: 0}]
            planes: [{type: primary, crtcs: [0]}, {type: primary, crtcs: [1]}]
            """)
        let d = try makeDevice(config)
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        return (d, c)
    }

    /// A modeset of the second CRTC, its primary plane showing a new fb, through `connector`
    /// at the connector's first mode; returns (CRTC, primary plane).
    func lightSecondHead(_ d: Device, _ c: DirectClient, through connector: UInt32) throws -> (UInt32, UInt32) {
        let crtc2 = d.objects.resources(c.file).crtcs[1]
        let primary2 = d.lock.withLock { d.topology.planes.filter { $0.type == .primary }[1].id }
        let mode = try d.objects.connectorInfo(c.file, connector).modes[0]
        let (fb, _) = try c.makeFB(UInt32(mode.hdisplay), UInt32(mode.vdisplay))
        let blob = try d.objects.createBlob(c.file, data: mode.encode())
        let w = UInt64(mode.hdisplay), h = UInt64(mode.vdisplay)
        #expect(c.atomic(DRMConst.atomicAllowModeset, [
            (connector, [("CRTC_ID", UInt64(crtc2))]),
            (crtc2, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)]),
            (primary2, [("FB_ID", UInt64(fb)), ("CRTC_ID", UInt64(crtc2)), ("CRTC_W", w), ("CRTC_H", h), ("SRC_W", w << 16), ("SRC_H", h << 16)]),
        ]) == 0)
        return (crtc2, primary2)
    }

    func hdmi(encoder: Int = 1) -> DeviceConfig.Connector {
        var spec = DeviceConfig.Connector()
        spec.type = "HDMI-A"
        spec.encoder = encoder
        return spec
    }

    @Test func pluggedConnectorIsAnObjectClientsCanDrive() throws {
        let (d, c) = try twoCRTCs()
        let before = d.hotplug.generation
        let mode = ModeInfo.make(width: 1280, height: 720, refresh: 60, preferred: true)
        #expect(try d.hotplug.addConnector(hdmi(), modes: [mode]) == "HDMI-A-1")
        #expect(d.hotplug.generation == before + 1)
        let ids = d.objects.resources(c.file).connectors
        #expect(ids.count == 2)
        let id = try #require(ids.last)
        let info = try d.objects.connectorInfo(c.file, id)
        #expect(info.type == 11 && info.typeID == 1 && info.connection == 1)
        #expect(info.modes.first?.hdisplay == 1280 && info.modes.first?.vdisplay == 720)
        #expect(c.propValue(id, "EDID").map { $0 != 0 } == true)
        // Driven like any connector: a modeset of the second CRTC through it.
        let crtc2 = d.objects.resources(c.file).crtcs[1]
        let primary2 = d.lock.withLock { d.topology.planes.filter { $0.type == .primary }[1].id }
        let (fb, _) = try c.makeFB(1280, 720)
        let blob = try d.objects.createBlob(c.file, data: mode.encode())
        #expect(c.atomic(DRMConst.atomicAllowModeset, [
            (id, [("CRTC_ID", UInt64(crtc2))]),
            (crtc2, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)]),
            (primary2, [("FB_ID", UInt64(fb)), ("CRTC_ID", UInt64(crtc2)), ("CRTC_W", 1280), ("CRTC_H", 720),
                        ("SRC_W", 1280 << 16), ("SRC_H", 720 << 16)]),
        ]) == 0)
        #expect(d.pipeline.composeLatched(crtcIndex: 1)?.width == 1280)
        // The same checks as the config file: an encoder that does not exist, a writeback type.
        #expect(throws: Hotplug.TopologyError.self) { try d.hotplug.addConnector(hdmi(encoder: 5)) }
        var wb = DeviceConfig.Connector()
        wb.type = "Writeback"
        #expect(throws: Hotplug.TopologyError.self) { try d.hotplug.addConnector(wb) }
        #expect(d.objects.resources(c.file).connectors.count == 2)
    }

    @Test func unpluggedConnectorIsTakenOffItsCRTCThenGone() throws {
        let (d, c) = try twoCRTCs()
        _ = try d.hotplug.addConnector(hdmi())
        let id = try #require(d.objects.resources(c.file).connectors.last)
        let crtcProp = c.prop(id, "CRTC_ID")
        let (crtc2, primary2) = try lightSecondHead(d, c, through: id)
        let before = d.hotplug.generation
        try d.hotplug.removeConnector(named: "HDMI-A-1")
        #expect(d.hotplug.generation == before + 1)
        // The CRTC it drove is off, with its plane; the first head is untouched.
        #expect(c.propValue(crtc2, "ACTIVE") == 0 && c.propValue(primary2, "FB_ID") == 0)
        #expect(!d.objects.resources(c.file).connectors.contains(id))
        #expect(throws: DRMError.notFound) { try d.objects.connectorInfo(c.file, id) }
        #expect(c.atomicRaw(0, objs: [id], counts: [1], props: [crtcProp], values: [0]) == ENOENT)
        #expect(throws: Hotplug.TopologyError.self) { try d.hotplug.removeConnector(named: "HDMI-A-1") }
        // Plugged in again: a new object, the same name (the lowest free connector_type_id).
        #expect(try d.hotplug.addConnector(hdmi()) == "HDMI-A-1")
        let again = try #require(d.objects.resources(c.file).connectors.last)
        #expect(again != id)
        // The card's last connector stays.
        try d.hotplug.removeConnector(named: "HDMI-A-1")
        #expect(throws: Hotplug.TopologyError.self) { try d.hotplug.removeConnector(named: "Virtual-1") }
    }

    /// A commit built before the removal (one that waited behind a flip while `ctl connector
    /// remove` ran) must not put the connector back on a CRTC: "is not registered", EINVAL.
    /// Nor does a display report bring a removed connector back.
    @Test func staleStateCannotBringAnUnpluggedConnectorBack() throws {
        let (d, c) = try twoCRTCs()
        _ = try d.hotplug.addConnector(hdmi())
        let id = try #require(d.objects.resources(c.file).connectors.last)
        _ = try lightSecondHead(d, c, through: id)
        let lit = d.lock.withLock { d.pipeline.state }
        let k = try #require(d.lock.withLock { d.topology.connectors.firstIndex { $0.id == id } })
        try d.hotplug.removeConnector(named: "HDMI-A-1")
        var p = AtomicProposal(new: lit)
        p.touchedConnectors.insert(k)
        p.touchedCRTCs.insert(1)
        #expect(throws: DRMError.invalidArgument) {
            try d.lock.withLock { () throws(DRMError) in try d.pipeline.check(p, flags: DRMConst.atomicAllowModeset, eventCRTCs: []) }
        }
        let generation = d.hotplug.generation
        d.hotplug.setConnector(index: k, connected: true)
        #expect(d.hotplug.generation == generation && !d.objects.resources(c.file).connectors.contains(id))
    }
}

