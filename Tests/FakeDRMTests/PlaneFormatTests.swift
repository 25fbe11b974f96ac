import Glibc
import Testing
@testable import FakeDRM

/// Multi-planar framebuffers, rotation and colour properties through the device, on the
/// kernel's terms: framebuffer_check's and drm_gem_fb_init_with_funcs's errnos, GETFB/GETFB2
/// for multi-planar buffers, drm_atomic_plane_set_property's rotation rule, the no-scaling
/// check on the rotated source, and what the composed frame shows.
@Suite struct PlaneFormatTests {
    let nv12: UInt32 = 0x3231_564e, yu12: UInt32 = 0x3231_5559, xr24: UInt32 = 0x3432_5258

    func client() throws -> (Device, DirectClient) {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        return (d, c)
    }

    /// One dumb buffer of `bytes` bytes (as 1-byte-per-pixel rows of 4096).
    func buffer(_ d: Device, _ c: DirectClient, bytes: Int) throws -> UInt32 {
        try d.buffers.createDumb(c.file, width: 4096, height: UInt32((bytes + 4095) / 4096), bpp: 8).handle
    }

    func addFB(_ d: Device, _ c: DirectClient, _ w: UInt32, _ h: UInt32, _ format: UInt32, handles: [UInt32], pitches: [UInt32],
               offsets: [UInt32] = [0, 0, 0, 0], flags: UInt32 = 0, modifiers: [UInt64] = [0, 0, 0, 0]) -> Result<UInt32, DRMError> {
        Result { () throws(DRMError) -> UInt32 in
            try d.buffers.addFramebuffer(c.file, .init(width: w, height: h, format: format, flags: flags, handles: handles,
                                               pitches: pitches, offsets: offsets, modifiers: modifiers))
        }
    }

    func errno(_ r: Result<UInt32, DRMError>) -> Int32 {
        switch r {
        case .success: 0
        case .failure(let e): e.errno
        }
    }

    @Test func multiPlanarAddFBChecks() throws {
        let (d, c) = try client()
        let h = try buffer(d, c, bytes: 64 * 48 * 3 / 2)
        let tiny = try buffer(d, c, bytes: 4096)
        // NV12 64x48 in one buffer: luma 64x48, CbCr 32x24 pairs at offset 3072.
        #expect(errno(addFB(d, c, 64, 48, nv12, handles: [h, h, 0, 0], pitches: [64, 64, 0, 0], offsets: [0, 3072, 0, 0])) == 0)
        // No handle for the chroma plane; a chroma pitch below 2 × ceil(w / 2).
        #expect(errno(addFB(d, c, 64, 48, nv12, handles: [h, 0, 0, 0], pitches: [64, 64, 0, 0], offsets: [0, 3072, 0, 0])) == EINVAL)
        #expect(errno(addFB(d, c, 63, 48, nv12, handles: [h, h, 0, 0], pitches: [64, 62, 0, 0], offsets: [0, 3072, 0, 0])) == EINVAL)
        #expect(errno(addFB(d, c, 63, 48, nv12, handles: [h, h, 0, 0], pitches: [64, 64, 0, 0], offsets: [0, 3072, 0, 0])) == 0)
        // A chroma offset that leaves its last row past the buffer (8192 bytes).
        #expect(errno(addFB(d, c, 64, 48, nv12, handles: [h, h, 0, 0], pitches: [64, 64, 0, 0], offsets: [0, 8192 - 64 * 23, 0, 0])) == EINVAL)
        #expect(errno(addFB(d, c, 64, 48, nv12, handles: [h, h, 0, 0], pitches: [64, 64, 0, 0], offsets: [0, 8192 - 64 * 24, 0, 0])) == 0)
        // Chroma in a buffer too small, or a handle that does not exist.
        let big = try buffer(d, c, bytes: 64 * 192)
        #expect(errno(addFB(d, c, 64, 192, nv12, handles: [big, tiny, 0, 0], pitches: [64, 64, 0, 0])) == EINVAL)
        #expect(errno(addFB(d, c, 64, 128, nv12, handles: [big, tiny, 0, 0], pitches: [64, 64, 0, 0])) == 0)
        #expect(errno(addFB(d, c, 64, 48, nv12, handles: [h, 999, 0, 0], pitches: [64, 64, 0, 0], offsets: [0, 3072, 0, 0])) == ENOENT)
        // Offsets whose height × pitch + offset passes 32 bits: ERANGE, before any lookup.
        #expect(errno(addFB(d, c, 64, 48, nv12, handles: [h, 999, 0, 0], pitches: [64, 64, 0, 0], offsets: [0, 0xffff_fff0, 0, 0])) == ERANGE)
        // Three planes; the fourth entry must be empty when FB_MODIFIERS says the struct is clean.
        let y = try buffer(d, c, bytes: 64 * 48), u = try buffer(d, c, bytes: 32 * 24), v = try buffer(d, c, bytes: 32 * 24)
        #expect(errno(addFB(d, c, 64, 48, yu12, handles: [y, u, v, 0], pitches: [64, 32, 32, 0])) == 0)
        #expect(errno(addFB(d, c, 64, 48, yu12, handles: [y, u, 0, 0], pitches: [64, 32, 32, 0])) == EINVAL)
        #expect(errno(addFB(d, c, 64, 48, yu12, handles: [y, u, v, y], pitches: [64, 32, 32, 0], flags: DRMConst.fbModifiers)) == EINVAL)
        #expect(errno(addFB(d, c, 64, 48, yu12, handles: [y, u, v, y], pitches: [64, 32, 32, 0])) == 0)  // pre-modifier garbage
        #expect(errno(addFB(d, c, 64, 48, yu12, handles: [y, u, v, 0], pitches: [64, 32, 32, 0], flags: DRMConst.fbModifiers,
                            modifiers: [0, 0, 1, 0])) == EINVAL)
        // A format the card does not know.
        #expect(errno(addFB(d, c, 16, 16, 0x5659_5559, handles: [h, 0, 0, 0], pitches: [64, 0, 0, 0])) == EINVAL)
        // R1: eight pixels per byte, so 64 pixels need an 8-byte pitch.
        #expect(errno(addFB(d, c, 64, 16, 0x2020_3152, handles: [h, 0, 0, 0], pitches: [7, 0, 0, 0])) == EINVAL)
        #expect(errno(addFB(d, c, 64, 16, 0x2020_3152, handles: [h, 0, 0, 0], pitches: [8, 0, 0, 0])) == 0)
    }

    /// drm_gem_fb_init_with_funcs: a format the card can read but no plane offers is refused.
    @Test func addFBNeedsAPlaneThatTakesTheFormat() throws {
        var config = DeviceConfig()
        for i in config.planes.indices { config.planes[i].formats = ["XR24", "AR24"] }
        let d = try makeDevice(config)
        let c = try DirectClient(device: d)
        let h = try buffer(d, c, bytes: 64 * 48 * 4)
        #expect(errno(addFB(d, c, 64, 48, 0x3631_4752, handles: [h, 0, 0, 0], pitches: [128, 0, 0, 0])) == EINVAL)  // RG16
        #expect(errno(addFB(d, c, 64, 48, xr24, handles: [h, 0, 0, 0], pitches: [256, 0, 0, 0])) == 0)
        // Legacy ADDFB maps (16, 16) to RG16: refused the same way.
        #expect(throws: DRMError.invalidArgument) {
            try d.buffers.addLegacyFramebuffer(c.file, width: 64, height: 48, pitch: 128, bpp: 16, depth: 16, handle: h)
        }
    }

    @Test func getFBOfMultiPlanarBuffers() throws {
        let (d, c) = try client()
        try d.files.setMaster(c.file)
        let h = try buffer(d, c, bytes: 64 * 48 * 3 / 2)
        let fb = try addFB(d, c, 64, 48, nv12, handles: [h, h, 0, 0], pitches: [64, 64, 0, 0], offsets: [0, 3072, 0, 0]).get()
        // GETFB cannot describe it; GETFB2 gives one new handle for the buffer both planes share.
        #expect(throws: DRMError.invalidArgument) { try d.buffers.framebufferInfo(c.file, fb, legacy: true) }
        let info = try d.buffers.framebufferInfo(c.file, fb)
        #expect(info.handles[0] != 0 && info.handles[0] != h && info.handles[1] == info.handles[0] && info.handles[2] == 0)
        #expect(info.pitches == [64, 64, 0, 0] && info.offsets == [0, 3072, 0, 0])
        let y = try buffer(d, c, bytes: 64 * 48), u = try buffer(d, c, bytes: 32 * 24), v = try buffer(d, c, bytes: 32 * 24)
        let three = try addFB(d, c, 64, 48, yu12, handles: [y, u, v, 0], pitches: [64, 32, 32, 0]).get()
        let handles = try d.buffers.framebufferInfo(c.file, three).handles
        #expect(Set(handles.prefix(3)).count == 3 && !handles.prefix(3).contains(0) && handles[3] == 0)
    }

    @Test func planePropertiesAsVkms() throws {
        let (d, c) = try client()
        for type in [PlaneType.primary, .overlay, .cursor] {
            let plane = c.plane(type)
            #expect(c.propValue(plane, "rotation") == 1)
            #expect(c.propValue(plane, "COLOR_ENCODING") == 0)
            #expect(c.propValue(plane, "COLOR_RANGE") == 1)
            // IN_FORMATS lists every format of current vkms on every plane type.
            let blob = try d.objects.blobData(ObjectID(try #require(c.propValue(plane, "IN_FORMATS"))))
            let count = Int(LE.u32s(Array(blob[8..<12]))[0])
            let formats = Set(LE.u32s(Array(blob[24..<(24 + 4 * count)])))
            for name in ["AR24", "XR24", "AB24", "XR48", "AR48", "RG16", "NV12", "NV16", "NV24", "NV21", "NV61", "NV42",
                         "YU12", "YU16", "YU24", "YV12", "YV16", "YV24", "R1", "R2", "R4", "R8"] {
                #expect(formats.contains(try #require(FourCC.parse(name))), "\(type) lacks \(name)")
            }
        }
        let rotation = try d.objects.property(c.prop(c.plane(.primary), "rotation"))
        #expect(rotation.typeBits == PropertyDef.bitmask)
        #expect(rotation.enums.map(\.name) == ["rotate-0", "rotate-90", "rotate-180", "rotate-270", "reflect-x", "reflect-y"])
        let encoding = try d.objects.property(c.prop(c.plane(.primary), "COLOR_ENCODING"))
        #expect(encoding.enums.map(\.name) == ["ITU-R BT.601 YCbCr", "ITU-R BT.709 YCbCr", "ITU-R BT.2020 YCbCr"])
        let range = try d.objects.property(c.prop(c.plane(.primary), "COLOR_RANGE"))
        #expect(range.enums.map(\.name) == ["YCbCr limited range", "YCbCr full range"])
    }

    @Test func rotationRulesAndTheRotatedNoScalingCheck() throws {
        let (d, c) = try client()
        let (fb, _) = try c.makeFB()
        #expect(try c.modeset(fb: fb) == 0)
        let overlay = c.plane(.overlay)
        let (small, _) = try c.makeFB(64, 32)
        let test = DRMConst.atomicTestOnly
        func commit(_ rotation: UInt64, w: UInt32, h: UInt32) -> Int32 {
            c.atomic(test, [(overlay, [("FB_ID", UInt64(small)), ("CRTC_ID", UInt64(c.crtcID)), ("CRTC_W", UInt64(w)), ("CRTC_H", UInt64(h)),
                                       ("SRC_W", 64 << 16), ("SRC_H", 32 << 16), ("rotation", rotation)])])
        }
        // Exactly one rotation bit; reflections on top are fine; bits past reflect-y are not.
        #expect(commit(0, w: 64, h: 32) == EINVAL)
        #expect(commit(0x3, w: 64, h: 32) == EINVAL)
        #expect(commit(0x10, w: 64, h: 32) == EINVAL)
        #expect(commit(0x41, w: 64, h: 32) == EINVAL)
        #expect(commit(0x31, w: 64, h: 32) == 0)
        #expect(commit(0x4 | 0x20, w: 64, h: 32) == 0)
        // A quarter turn makes the 64x32 source 32x64 on the CRTC; vkms does not scale.
        #expect(commit(0x2, w: 32, h: 64) == 0)
        #expect(commit(0x8 | 0x10, w: 32, h: 64) == 0)
        #expect(commit(0x2, w: 64, h: 32) == ERANGE)
        #expect(commit(0x1, w: 32, h: 64) == ERANGE)
        // Colour properties take their enum values only.
        #expect(c.atomic(test, [(overlay, [("COLOR_ENCODING", 3)])]) == EINVAL)
        #expect(c.atomic(test, [(overlay, [("COLOR_RANGE", 2)])]) == EINVAL)
        #expect(c.atomic(test, [(overlay, [("COLOR_ENCODING", 2), ("COLOR_RANGE", 0)])]) == 0)
        // A failed commit leaves the state as it was.
        #expect(c.propValue(overlay, "rotation") == 1)
    }

    @Test func yuvOverlayAndGammaInTheComposedFrame() throws {
        let (d, c) = try client()
        let (fb, primary) = try c.makeFB()
        let bo = try #require(d.lock.withLock { c.file.handles[primary] })
        let px = bo.memory.base.bindMemory(to: UInt32.self, capacity: bo.size / 4)
        for i in 0..<(1024 * 768) { px[i] = 0x0040_4040 }
        #expect(try c.modeset(fb: fb) == 0)
        // A 32x16 NV12 overlay of limited-range white, rotated a quarter turn (16x32 on the
        // CRTC), at (100, 50).
        let h = try buffer(d, c, bytes: 32 * 16 * 3 / 2)
        let nvbo = try #require(d.lock.withLock { c.file.handles[h] })
        nvbo.memory.base.initializeMemory(as: UInt8.self, repeating: 235, count: 32 * 16)
        (nvbo.memory.base + 32 * 16).initializeMemory(as: UInt8.self, repeating: 128, count: 32 * 8)
        let nv = try addFB(d, c, 32, 16, nv12, handles: [h, h, 0, 0], pitches: [32, 32, 0, 0], offsets: [0, 512, 0, 0]).get()
        let overlay = c.plane(.overlay)
        let props: [(String, UInt64)] = [("FB_ID", UInt64(nv)), ("CRTC_ID", UInt64(c.crtcID)), ("CRTC_X", 100), ("CRTC_Y", 50),
                                         ("CRTC_W", 16), ("CRTC_H", 32), ("SRC_W", 32 << 16), ("SRC_H", 16 << 16),
                                         ("rotation", 0x2), ("COLOR_RANGE", 0)]
        #expect(c.atomic(0, [(overlay, props)]) == 0)
        var frame = try #require(d.pipeline.composeLatched())
        #expect(frame.pixels[50 * 1024 + 100] == 0xffff_ffff)
        #expect(frame.pixels[81 * 1024 + 115] == 0xffff_ffff)
        #expect(frame.pixels[82 * 1024 + 115] == 0xff40_4040 && frame.pixels[50 * 1024 + 116] == 0xff40_4040)
        // Full range reads 235 as 235.
        #expect(c.atomic(0, [(overlay, [("COLOR_RANGE", 1)])]) == 0)
        frame = try #require(d.pipeline.composeLatched())
        #expect(frame.pixels[50 * 1024 + 100] == 0xffeb_ebeb)
        // A two-entry inverting GAMMA_LUT applies to the whole frame.
        let lut = LE.bytes([UInt16(0xffff), 0xffff, 0xffff, 0, 0, 0, 0, 0])
        let blob = try d.objects.createBlob(c.file, data: lut)
        #expect(c.atomic(0, [(c.crtcID, [("GAMMA_LUT", UInt64(blob))])]) == 0)
        frame = try #require(d.pipeline.composeLatched())
        #expect(frame.pixels[0] == 0xffbf_bfbf)
        #expect(frame.pixels[50 * 1024 + 100] == 0xff14_1414)
        // A LUT blob of the wrong length is refused and changes nothing.
        let bad = try d.objects.createBlob(c.file, data: Array(lut.prefix(12)))
        #expect(c.atomic(0, [(c.crtcID, [("GAMMA_LUT", UInt64(bad))])]) == EINVAL)
        #expect(c.propValue(c.crtcID, "GAMMA_LUT") == UInt64(blob))
    }

    /// kmssink sets plane properties, then SETCRTC: __drm_atomic_helper_set_config keeps them,
    /// and reads a quarter-turned primary's source transposed.
    @Test func setCrtcKeepsThePrimarysRotationAndColour() throws {
        let (d, c) = try client()
        try d.files.setMaster(c.file)
        let primary = c.plane(.primary)
        #expect(c.atomic(0, [(primary, [("rotation", 0x8), ("COLOR_RANGE", 0)])]) == 0)
        let mode = try d.objects.connectorInfo(c.file, c.connectorID).modes[0]
        let (wide, _) = try c.makeFB(1024, 768)
        let (tall, _) = try c.makeFB(768, 1024)
        func setCrtc(_ fb: UInt32) -> DRMError? {
            do { try d.pipeline.setCrtc(c.file, .init(crtcID: c.crtcID, fbID: fb, x: 0, y: 0, mode: mode, connectors: [c.connectorID])) }
            catch { return error }
            return nil
        }
        #expect(setCrtc(wide) == .noSpace)  // drm_crtc_check_viewport on the rotated view
        #expect(setCrtc(tall) == nil)
        #expect(c.propValue(primary, "rotation") == 0x8)
        #expect(c.propValue(primary, "COLOR_RANGE") == 0)
        #expect(c.propValue(primary, "SRC_W") == 768 << 16 && c.propValue(primary, "SRC_H") == 1024 << 16)
        #expect(c.propValue(primary, "CRTC_W") == 1024 && c.propValue(primary, "CRTC_H") == 768)
    }

    /// IGT kms_atomic@plane-overlay-legacy: a legacy SETPLANE disable is
    /// __drm_atomic_helper_disable_plane, which zeroes both rectangles; the plane's colour
    /// properties set through OBJ_SETPROPERTY in between stay.
    @Test func legacyDisableZeroesThePlaneRectangles() throws {
        let (d, c) = try client()
        try d.files.setMaster(c.file)
        let (fb, _) = try c.makeFB()
        #expect(try c.modeset(fb: fb) == 0)
        let overlay = c.plane(.overlay)
        let (small, _) = try c.makeFB(512, 384)
        try d.pipeline.setPlane(c.file, .init(planeID: overlay, crtcID: c.crtcID, fbID: small, crtcX: 256, crtcY: 192, crtcW: 512, crtcH: 384,
                                     srcX: 0, srcY: 0, srcW: 512 << 16, srcH: 384 << 16))
        try d.pipeline.setObjectProperty(c.file, objectID: overlay, objectType: ObjectType.plane.rawValue, propID: c.prop(overlay, "COLOR_ENCODING"), value: 1)
        try d.pipeline.setPlane(c.file, .init(planeID: overlay, crtcID: 0, fbID: 0, crtcX: 0, crtcY: 0, crtcW: 0, crtcH: 0, srcX: 0, srcY: 0, srcW: 0, srcH: 0))
        for name in ["FB_ID", "CRTC_ID", "CRTC_X", "CRTC_Y", "CRTC_W", "CRTC_H", "SRC_X", "SRC_Y", "SRC_W", "SRC_H"] {
            #expect(c.propValue(overlay, name) == 0, "\(name)")
        }
        #expect(c.propValue(overlay, "COLOR_ENCODING") == 1)
    }
}

