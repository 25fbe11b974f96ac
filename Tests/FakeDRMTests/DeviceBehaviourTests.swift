import Glibc
import Testing
@testable import FakeDRM

@Suite struct DeviceBehaviourTests {
    @Test func partialConfigTakesDefaultsAndBadConfigsSayWhy() throws {
        let c = try DeviceConfig.load(yaml: """
            driver: {name: vkms}
            planes:
              - type: primary
              - type: overlay
                formats: [AR24]
            connectors:
              - type: HDMI-A
                modes:
                  - {clock: 148500, h: [1920, 2008, 2052, 2200], v: [1080, 1084, 1089, 1125], preferred: true}
            """)
        #expect(c.driver.name == "vkms" && c.driver.major == 1)
        #expect(c.planes.count == 2 && c.planes[1].crtcs == [0])
        let d = try makeDevice(c)
        let cl = try DirectClient(device: d)
        let info = try d.objects.connectorInfo(cl.file, cl.connectorID)
        #expect(info.modes.count == 1 && info.modes[0].vrefresh == 60 && info.type == ConnectorKind.hdmiA.rawValue)
        // HDMI connectors carry EDID; Virtual ones do not.
        #expect(cl.prop(cl.connectorID, "EDID") != 0)
        #expect(throws: DeviceConfig.Invalid.self) { try DeviceConfig.load(yaml: "planes: [{type: overlay}]") }
        #expect(throws: DeviceConfig.Invalid.self) { try DeviceConfig.load(yaml: "connectors: [{type: Nope}]") }
        #expect(throws: (any Error).self) { try DeviceConfig.load(yaml: "- just a list") }
    }

    @Test func defaultTopologyIsVkmsShaped() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        // The writeback connector is hidden without DRM_CLIENT_CAP_WRITEBACK_CONNECTORS; its
        // encoder is listed anyway (drm_mode_getresources filters connectors only).
        let res = d.objects.resources(c.file)
        #expect((res.crtcs.count, res.connectors.count, res.encoders.count) == (1, 1, 2))
        c.setClientCap(DRMConst.clientCapWritebackConnectors, 1)
        #expect(d.objects.resources(c.file).connectors.count == 2)
        #expect(d.objects.planeIDs(c.file).count == 3)
        let info = try d.objects.connectorInfo(c.file, c.connectorID)
        #expect(info.type == 15 && info.typeID == 1 && info.connection == 1)
        #expect(info.modes.filter { $0.type & ModeInfo.typePreferred != 0 }.count == 1)
        #expect(info.modes.allSatisfy { $0.vrefresh <= 61 })
        #expect(try d.objects.encoderInfo(res.encoders[0]).type == 5)
        let names = Set((try d.objects.objectProperties(c.file, objectID: c.plane(.primary), type: 0)).compactMap { try? d.objects.property($0.0).name })
        #expect(names.isSuperset(of: ["type", "FB_ID", "CRTC_ID", "IN_FENCE_FD", "SRC_X", "SRC_W", "CRTC_X", "CRTC_H", "IN_FORMATS", "zpos", "alpha"]))
    }

    @Test func composedFrameShowsThePlanesPixels() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let b = try d.buffers.createDumb(c.file, width: 1024, height: 768, bpp: 32)
        let bo = try #require(d.lock.withLock { c.file.handles[b.handle] })
        let px = bo.memory.base.bindMemory(to: UInt32.self, capacity: bo.size / 4)
        for y in 0..<768 { for x in 0..<1024 { px[y * Int(b.pitch / 4) + x] = x < 512 ? 0x00ff_0000 : 0x0000_ff00 } }
        let fb = try d.buffers.addFramebuffer(c.file, .init(width: 1024, height: 768, format: 0x3432_5258, flags: 0, handles: [b.handle, 0, 0, 0],
                                                    pitches: [b.pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0]))
        // A 32x32 half-transparent ARGB cursor at (100, 100) over the red half.
        let cur = try d.buffers.createDumb(c.file, width: 32, height: 32, bpp: 32)
        let cbo = try #require(d.lock.withLock { c.file.handles[cur.handle] })
        let cp = cbo.memory.base.bindMemory(to: UInt32.self, capacity: 32 * 32)
        for i in 0..<(32 * 32) { cp[i] = 0x8000_00ff }
        let cfb = try d.buffers.addFramebuffer(c.file, .init(width: 32, height: 32, format: 0x3432_5241, flags: 0, handles: [cur.handle, 0, 0, 0],
                                                     pitches: [cur.pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0]))
        #expect(try c.modeset(fb: fb) == 0)
        #expect(c.atomic(0, [(c.plane(.cursor), c.planeProps(fb: cfb, w: 32, h: 32, x: 100, y: 100))]) == 0)
        d.clock.stepVblank()
        let frame = try #require(d.pipeline.composeLatched())
        #expect(frame.width == 1024 && frame.height == 768)
        #expect(frame.pixels[10] == 0xffff_0000)
        #expect(frame.pixels[700] == 0xff00_ff00)
        // Pre-multiplied blend of 0x800000ff over red: 0xff - 0x80 of red left, 0xff of blue.
        let p = frame.pixels[110 * 1024 + 110]
        #expect(p == 0xff7f_00ff || p == 0xff7e_00ff || p == 0xff80_00ff)
        #expect(frame.crc32 != 0)
    }

    @Test func realtimeClockDeliversFlipEvents() throws {
        let d = try Device(config: DeviceConfig(), virtualTime: false)
        defer { d.shutdown() }
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let (fb, _) = try c.makeFB()
        #expect(try c.modeset(fb: fb) == 0)  // blocking commit returns after the flip latched
        let (fb2, _) = try c.makeFB()
        #expect(c.atomic(DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent, [(c.plane(.primary), [("FB_ID", UInt64(fb2))])]) == 0)
        // The card's readiness eventfd becomes readable when the event is queued.
        var p = pollfd(fd: c.file.readiness.fd.raw, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 2000) == 1)
        #expect(c.events().count == 1)
        #expect(poll(&p, 1, 0) == 0)
    }

    @Test func cursorStacksAboveOverlaysByDefault() throws {
        // IGT's kms_plane_cursor@overlay: the cursor must show over the overlay, as vkms blends.
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let z = [PlaneType.primary, .overlay, .cursor].map { c.propValue(c.plane($0), "zpos") }
        #expect(z == [0, 1, 2])
    }

    @Test func syncobjBinaryAndTimeline() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        let h = try d.syncobjs.syncobjCreate(c.file, flags: 0)
        // No fence yet: WAIT without WAIT_FOR_SUBMIT is EINVAL; signal, then it succeeds.
        #expect(throws: DRMError.invalidArgument) { try d.syncobjs.syncobjWait(c.file, handles: [h], points: nil, timeoutNs: 0, flags: 0) }
        try d.syncobjs.syncobjSignal(c.file, handles: [h])
        #expect(try d.syncobjs.syncobjWait(c.file, handles: [h], points: nil, timeoutNs: 0, flags: 1) == 0)
        let t = try d.syncobjs.syncobjCreate(c.file, flags: 0)
        try d.syncobjs.syncobjSignal(c.file, handles: [t], points: [5])
        #expect(try d.syncobjs.syncobjQuery(c.file, handles: [t], lastSubmitted: false) == [5])
        #expect(throws: DRMError.timeExpired) {
            try d.syncobjs.syncobjWait(c.file, handles: [t], points: [6], timeoutNs: Monotonic.nowNs() + 1_000_000, flags: 2)
        }
        try d.syncobjs.syncobjTransfer(c.file, src: t, srcPoint: 5, dst: h, dstPoint: 0, flags: 0, pad: 0)
        // Export as sync file, import into another file's syncobj.
        let fd = try d.syncobjs.syncobjHandleToFD(c.file, handle: t, flags: 3, point: 5, env: c.env)
        #expect(c.files.syncFile(fd: fd)?.isSignalled == true)
        let objFD = try d.syncobjs.syncobjHandleToFD(c.file, handle: t, flags: 0, point: 0, env: c.env)
        let h2 = try d.syncobjs.syncobjFDToHandle(c.file, fd: objFD, flags: 0, handle: 0, point: 0, env: c.env)
        #expect(h2 != t)
        #expect(try d.syncobjs.syncobjQuery(c.file, handles: [h2], lastSubmitted: true) == [5])
        try d.syncobjs.syncobjDestroy(c.file, handle: h2, pad: 0)
        #expect(throws: DRMError.invalidArgument) { try d.syncobjs.syncobjDestroy(c.file, handle: h2, pad: 0) }
    }

    @Test func rmfbOfOnScreenFbDisablesThePlaneButCloseFbDoesNot() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let (a, _) = try c.makeFB()
        #expect(try c.modeset(fb: a) == 0)
        var close = LE.bytes([a, 0])
        #expect(c.ioctl(req(0xD0, 8), &close) == 0)
        #expect(c.propValue(c.plane(.primary), "FB_ID") == UInt64(a))  // still scanned out
        #expect(d.objects.resources(c.file).fbs.isEmpty)
        let (b, _) = try c.makeFB()
        #expect(c.atomic(DRMConst.atomicNonblock, [(c.plane(.primary), [("FB_ID", UInt64(b))])]) == 0)
        d.clock.stepVblank()
        #expect(d.lock.withLock { d.objects.framebuffers[a] } == nil)  // died with its last state
        var rm = LE.bytes([b])
        #expect(c.ioctl(req(0xAF, 4), &rm) == 0)
        d.clock.stepVblank()
        #expect(c.propValue(c.plane(.primary), "FB_ID") == 0)
    }
}

@Suite struct ModeInfoTests {
    /// Found by a 1,000,000-request fuzz run: a 1x1-total mode with a huge clock trapped while
    /// computing its refresh rate.
    @Test func absurdTimingsDoNotTrap() throws {
        let m = ModeInfo(clock: UInt32(Int32.max), h: (1, 1, 1, 1), v: (1, 1, 1, 1), flags: 0)
        #expect(m.vrefresh == UInt32.max)
        #expect(ModeInfo.decode(m.encode())?.clock == UInt32(Int32.max))
        #expect(m.framePeriodNs >= 1_000_000)
    }

    @Test func refreshOfTheDefaultModes() {
        let m = NoEDIDModes.dmt.first { $0.hdisplay == 1920 && $0.vdisplay == 1080 }
        #expect(m?.vrefresh == 60)
        #expect(m?.framePeriodNs == 16_666_666)
    }
}

@Suite struct EDIDTests {
    @Test func nonVirtualConnectorsCarryAValidEDID() throws {
        var cfg = DeviceConfig()
        cfg.connectors[0].type = "HDMI-A"
        cfg.connectors[0].mmWidth = 597
        cfg.connectors[0].mmHeight = 336
        cfg.connectors[0].preferredWidth = 1920
        cfg.connectors[0].preferredHeight = 1080
        let d = try makeDevice(cfg)
        let c = try DirectClient(device: d)
        let blob = try #require(c.propValue(c.connectorID, "EDID"))
        let e = try d.objects.blobData(UInt32(blob))
        #expect(e.count == 128)
        #expect(Array(e[0..<8]) == [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0])
        #expect(e.reduce(0) { ($0 + Int($1)) % 256 } == 0)  // checksum
        #expect(Array(e[8..<10]) == [0x18, 0x8d])  // "FDM": 6<<10 | 4<<5 | 13
        // DTD 1: pixel clock 148.50 MHz in 10 kHz units, 1920 active, 280 blanking.
        #expect(Int(e[54]) | Int(e[55]) << 8 == 14850)
        #expect(Int(e[56]) | Int(e[58] >> 4) << 8 == 1920)
        #expect(Int(e[57]) | Int(e[58] & 0xf) << 8 == 280)
        #expect(e[75] == 0xfc && Array(e[77..<85]) == Array("fakedrm\n".utf8))
        // Virtual connectors have no EDID property at all, as in the kernel.
        let v = try DirectClient(device: try makeDevice())
        #expect(v.prop(v.connectorID, "EDID") == 0)
    }
}
