import Testing
@testable import FakeDRM
@testable import FakeDRMWayland

/// When the Wayland display shows a plane's own memory (no copy) and with which wl_shm
/// buffer parameters; everything else is composed.
@Suite struct DirectScanoutTests {
    let hostFormats: Set<UInt32> = [0, 1, 0x3631_4752]  // ARGB8888, XRGB8888, RGB565

    func scanout(_ c: DirectClient) -> Scanout { c.device.lock.withLock { c.device.pipeline.scanout(for: 0) } }

    func lit(format: UInt32 = 0x3432_5258, fbSize: (UInt32, UInt32) = (1024, 768), src: (UInt64, UInt64) = (0, 0),
             extra: [(String, UInt64)] = []) throws -> DirectClient {
        let d = try Device(config: DeviceConfig(), backend: VirtualBackend(), virtualTime: true)
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let fb = try c.makeFB(fbSize.0, fbSize.1, format: format).0
        #expect(try c.modeset(fb: fb) == 0)
        // Panning: the source window moves inside a larger fb; the mode stays 1024x768.
        let props: [(String, UInt64)] = [("SRC_X", src.0 << 16), ("SRC_Y", src.1 << 16), ("SRC_W", 1024 << 16), ("SRC_H", 768 << 16),
                                         ("CRTC_W", 1024), ("CRTC_H", 768)] + extra
        #expect(c.atomic(0, [(c.plane(.primary), props)]) == 0)
        return c
    }

    @Test func aFullScreenXRGBPlaneGoesOutAsItIs() throws {
        let c = try lit()
        let s = scanout(c)
        let (key, bo) = try #require(DirectScanout.key(for: s, hostFormats: hostFormats))
        #expect(key.offset == 0 && key.width == 1024 && key.height == 768 && key.shmFormat == 1)
        #expect(key.stride == s.planes[0].pitch && bo === s.buffers[0])
    }

    @Test func aPannedPlaneStartsAtItsSourceOrigin() throws {
        let c = try lit(fbSize: (1280, 1024), src: (16, 8))
        let s = scanout(c)
        let (key, _) = try #require(DirectScanout.key(for: s, hostFormats: hostFormats))
        #expect(key.offset == 8 * s.planes[0].pitch + 16 * 4)
        #expect(key.offset + key.stride * key.height <= s.buffers[0].size)
    }

    @Test func alphaIsOnlyShownAsItIsWhereScanoutWouldIgnoreIt() throws {
        let premultiplied = try lit(format: 0x3432_5241)
        #expect(DirectScanout.key(for: scanout(premultiplied), hostFormats: hostFormats)?.0.shmFormat == 1)
        let coverage = try lit(format: 0x3432_5241, extra: [("pixel blend mode", 1)])
        #expect(DirectScanout.key(for: scanout(coverage), hostFormats: hostFormats) == nil)
        let halfAlpha = try lit(extra: [("alpha", 0x8000)])
        #expect(DirectScanout.key(for: scanout(halfAlpha), hostFormats: hostFormats) == nil)
    }

    @Test func overlaysAndUnannouncedFormatsAreComposed() throws {
        let c = try lit()
        let ov = try c.makeFB(64, 64).0
        #expect(c.atomic(0, [(c.plane(.overlay), c.planeProps(fb: ov, w: 64, h: 64))]) == 0)
        #expect(DirectScanout.key(for: scanout(c), hostFormats: hostFormats) == nil)
        let bgr = try lit(format: 0x3432_4258)  // XBGR8888: the host did not announce it
        #expect(DirectScanout.key(for: scanout(bgr), hostFormats: hostFormats) == nil)
        #expect(DirectScanout.key(for: scanout(bgr), hostFormats: hostFormats.union([0x3432_4258]))?.0.shmFormat == 0x3432_4258)
    }
}
