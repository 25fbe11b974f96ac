import Testing
@testable import FakeDRM

/// What the cheaper commit path must keep: a latch that takes a commit's state whole only when
/// nothing else differs, garbage collection of unlisted objects without a scan, and mode names
/// kept as the kernel keeps them.
@Suite struct CommitCostTests {
    /// Two CRTCs, each with its own encoder, connector and primary plane.
    static func twoHeads() -> DeviceConfig {
        var cfg = DeviceConfig()
        cfg.crtcs = [.init(), .init()]
        var e1 = DeviceConfig.Encoder()
        e1.crtcs = [1]
        cfg.encoders.append(e1)
        var k1 = DeviceConfig.Connector()
        k1.encoder = 1
        cfg.connectors.append(k1)
        var p1 = DeviceConfig.Plane(type: "primary")
        p1.crtcs = [1]
        cfg.planes = [cfg.planes[0], p1]
        return cfg
    }

    @Test func aFlipOnOneCRTCLatchesOnlyThatCRTC() throws {
        let d = try makeDevice(Self.twoHeads())
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let r = d.objects.resources(c.file)
        let planes = d.objects.planeIDs(c.file)
        let fbs = [try c.makeFB().0, try c.makeFB().0, try c.makeFB().0, try c.makeFB().0]
        let blob = try c.modeBlob()
        func head(_ i: Int, fb: UInt32) -> [(UInt32, [(String, UInt64)])] {
            [(r.connectors[i], [("CRTC_ID", UInt64(r.crtcs[i]))]),
             (r.crtcs[i], [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)]),
             (planes[i], [("FB_ID", UInt64(fb)), ("CRTC_ID", UInt64(r.crtcs[i])), ("CRTC_W", 1024), ("CRTC_H", 768),
                          ("SRC_W", 1024 << 16), ("SRC_H", 768 << 16)])]
        }
        #expect(c.atomic(DRMConst.atomicAllowModeset, head(0, fb: fbs[0]) + head(1, fb: fbs[1])) == 0)
        d.clock.stepVblank()
        // CRTC 1 flips to fbs[3] and waits for its vblank; CRTC 0's flip then latches alone.
        #expect(c.atomic(DRMConst.atomicNonblock, [(planes[1], [("FB_ID", UInt64(fbs[3]))])]) == 0)
        #expect(c.atomic(DRMConst.atomicNonblock, [(planes[0], [("FB_ID", UInt64(fbs[2]))])]) == 0)
        d.clock.stepVblank(crtcIndex: 0)
        #expect(d.lock.withLock { d.pipeline.latched.planes.map(\.fb) } == [fbs[2], fbs[1]])
        d.clock.stepVblank(crtcIndex: 1)
        #expect(d.lock.withLock { d.pipeline.latched.planes.map(\.fb) } == [fbs[2], fbs[3]])
        #expect(d.lock.withLock { d.pipeline.latched == d.pipeline.state })
    }

    @Test func unlistedObjectsAreFreedOnceNoStateShowsThem() throws {
        let (d, c, fbs) = try litCard()
        let blobs = d.lock.withLock { d.objects.blobs.count }
        // Legacy SETCRTC wraps each mode in a kernel blob; the one it replaces dies with the
        // last state using it, every time.
        let modes = try d.objects.connectorInfo(c.file, c.connectorID).modes.filter { $0.hdisplay <= 1024 && $0.vdisplay <= 768 }
        #expect(modes.count >= 3)
        for m in modes.prefix(6) {
            try d.pipeline.setCrtc(c.file, .init(crtcID: c.crtcID, fbID: fbs[0], x: 0, y: 0, mode: m, connectors: [c.connectorID]))
            d.clock.stepVblank()
        }
        // The modeset's own blob stays (its file holds it) and one legacy blob is on screen.
        #expect(d.lock.withLock { d.objects.blobs.count } == blobs + 1)
        #expect(d.lock.withLock { d.objects.unlistedBlobs.count } == 1)
        // A blob destroyed while the state names it stays until a commit replaces it.
        let user = try c.modeBlob(modes[1])
        #expect(c.atomic(DRMConst.atomicAllowModeset, [(c.crtcID, [("MODE_ID", UInt64(user))])]) == 0)
        d.clock.stepVblank()
        try d.objects.destroyBlob(c.file, user)
        #expect(d.lock.withLock { d.objects.blobs[user] } != nil)
        #expect(try c.modeset(fb: fbs[1]) == 0)
        d.clock.stepVblank()
        #expect(d.lock.withLock { d.objects.blobs[user] } == nil)
        #expect(d.lock.withLock { d.objects.unlistedBlobs.contains(user) } == false)
    }

    @Test func modeNamesAreTheKernelsBytes() throws {
        var long = ModeInfo(clock: 65000, h: (1024, 1048, 1184, 1344), v: (768, 771, 777, 806), flags: 0)
        long.name = String(repeating: "x", count: 40)
        // strscpy_pad into char[32]: 31 bytes and the NUL.
        let bytes = long.encode()
        #expect(Array(bytes[ModeInfoLayout.name.offset..<ModeInfoLayout.name.offset + 32]) == [UInt8](repeating: 0x78, count: 31) + [0])
        #expect(long.name.count == 31)
        // Bytes that are not UTF-8 come back as sent.
        var raw = bytes
        raw.replaceSubrange(ModeInfoLayout.name.offset..<ModeInfoLayout.name.offset + 3, with: [0xff, 0xfe, 0x41])
        raw.replaceSubrange(ModeInfoLayout.name.offset + 3..<ModeInfoLayout.name.offset + 32, with: [UInt8](repeating: 0, count: 29))
        let decoded = try #require(ModeInfo.decode(raw))
        #expect(decoded.modeName.bytes == [0xff, 0xfe, 0x41])
        #expect(decoded.encode() == raw)
    }
}
