/// A plane: what the hardware offers (type, CRTCs, formats) and the plane's atomic rules: the
/// values it accepts, drm_atomic_plane_check and vkms's plane check. Under the device lock.
final class PlaneObject {
    let id: ObjectID
    let index: Int
    let type: PlaneType
    let possibleCrtcs: UInt32
    let formats: [UInt32]
    var inFormatsBlob: ObjectID = 0
    var properties: [ObjectID] = []

    init(id: ObjectID, index: Int, type: PlaneType, possibleCrtcs: UInt32, formats: [UInt32]) {
        self.id = id
        self.index = index
        self.type = type
        self.possibleCrtcs = possibleCrtcs
        self.formats = formats
    }

    var tag: String { "[PLANE:\(id):plane-\(index)]" }
}

extension PlaneObject {
    /// drm_atomic_plane_set_property: one value into the proposed state.
    func set(_ prop: PropertyDef, _ v: UInt64, in p: inout AtomicProposal, objects: ModeObjectRegistry) throws(DRMError) {
        let i = index
        switch prop.kind {
        case .fbID: p.new.planes[i].fb = ObjectID(v)
        case .crtcID: p.new.planes[i].crtc = ObjectID(v)
        case .crtcX: p.new.planes[i].crtcX = Int32(truncatingIfNeeded: Int64(bitPattern: v))
        case .crtcY: p.new.planes[i].crtcY = Int32(truncatingIfNeeded: Int64(bitPattern: v))
        case .crtcW: p.new.planes[i].crtcW = UInt32(truncatingIfNeeded: v)
        case .crtcH: p.new.planes[i].crtcH = UInt32(truncatingIfNeeded: v)
        case .srcX: p.new.planes[i].srcX = UInt32(truncatingIfNeeded: v)
        case .srcY: p.new.planes[i].srcY = UInt32(truncatingIfNeeded: v)
        case .srcW: p.new.planes[i].srcW = UInt32(truncatingIfNeeded: v)
        case .srcH: p.new.planes[i].srcH = UInt32(truncatingIfNeeded: v)
        case .zpos: p.new.planes[i].zpos = v
        case .alpha: p.new.planes[i].alpha = v
        case .blendMode: p.new.planes[i].blendMode = v
        case .rotation:
            // drm_atomic_plane_set_property: exactly one rotation, any reflections.
            if (v & UInt64(ComposerPlane.rotateMask)).nonzeroBitCount != 1 {
                throw .invalidArgument.because(.atomic, "\(tag) bad rotation bitmask: 0x\(String(v, radix: 16))")
            }
            p.new.planes[i].rotation = v
        case .colorEncoding: p.new.planes[i].colorEncoding = v
        case .colorRange: p.new.planes[i].colorRange = v
        case .damageClips:
            if v != 0, let b = objects.blobs[ObjectID(v)], b.data.count % ModeRectLayout.size != 0 {
                throw .invalidArgument.because(.atomic, "\(tag) FB_DAMAGE_CLIPS blob of \(b.data.count) bytes is not whole drm_mode_rects")
            }
            p.new.planes[i].damageBlob = ObjectID(v)
        case .inFenceFD:
            let fd = Int64(bitPattern: v)
            if fd == -1 { return }
            // Setting it twice in one commit is refused, as the kernel does.
            if p.inFences[i] != nil { throw .invalidArgument.because(.atomic, "\(tag) IN_FENCE_FD set twice") }
            guard fd >= 0, fd <= Int64(Int32.max), let sf = p.resolvedInFences[Int32(fd)] else {
                throw .invalidArgument.because(.atomic, "\(tag) IN_FENCE_FD \(fd) is not a sync file")
            }
            p.inFences[i] = sf
        default:
            throw .invalidArgument.because(.atomic, "\(tag) property [PROP:\(prop.id):\(prop.name)] cannot be set")
        }
    }

    /// The plane's value of a property, as OBJ_GETPROPERTIES reports it.
    func value(of prop: PropertyDef, in s: PlaneState) -> UInt64 {
        switch prop.kind {
        case .planeType: return type.rawValue
        case .fbID: return UInt64(s.fb)
        case .crtcID: return UInt64(s.crtc)
        case .inFenceFD: return UInt64(bitPattern: -1)
        case .crtcX: return UInt64(bitPattern: Int64(s.crtcX))
        case .crtcY: return UInt64(bitPattern: Int64(s.crtcY))
        case .crtcW: return UInt64(s.crtcW)
        case .crtcH: return UInt64(s.crtcH)
        case .srcX: return UInt64(s.srcX)
        case .srcY: return UInt64(s.srcY)
        case .srcW: return UInt64(s.srcW)
        case .srcH: return UInt64(s.srcH)
        case .inFormats: return UInt64(inFormatsBlob)
        case .zpos: return s.zpos
        case .alpha: return s.alpha
        case .blendMode: return s.blendMode
        case .rotation: return s.rotation
        case .colorEncoding: return s.colorEncoding
        case .colorRange: return s.colorRange
        case .damageClips: return UInt64(s.damageBlob)
        default: return 0
        }
    }

    /// drm_atomic_plane_check, drm_atomic_helper_check_plane_state and vkms's no-scaling rule,
    /// on the plane's proposed state `new.planes[index]` against its current `old`.
    func check(_ new: KMSState, old: PlaneState, topology: Topology, objects: ModeObjectRegistry) throws(DRMError) {
        let s = new.planes[index]
        if s.crtc != 0 && s.fb == 0 { throw .invalidArgument.because(.atomic, "\(tag) CRTC set but no FB") }
        if s.crtc == 0 && s.fb != 0 { throw .invalidArgument.because(.atomic, "\(tag) FB set but no CRTC") }
        if s.crtc == 0 { return }
        guard let c = topology.crtcIndex(of: s.crtc) else { throw .invalidArgument.because(.atomic, "\(tag) CRTC_ID \(s.crtc) is not a CRTC") }
        if possibleCrtcs & (1 << UInt32(c)) == 0 { throw .invalidArgument.because(.atomic, "Invalid \(topology.crtcs[c].tag) for \(tag)") }
        if old.crtc != 0 && old.crtc != s.crtc { throw .invalidArgument.because(.atomic, "\(tag) switching CRTC directly") }
        guard let fb = objects.framebuffers[s.fb] else { throw .invalidArgument.because(.atomic, "\(tag) FB_ID \(s.fb) is gone") }
        if !formats.contains(fb.format) || fb.modifier != DRMConst.formatModLinear {
            throw .invalidArgument.because(.atomic, "\(tag) invalid pixel format \(PixelFormat.name(fb.format)), modifier 0x\(String(fb.modifier, radix: 16))")
        }
        if s.crtcW > UInt32(Int32.max) || Int64(s.crtcX) + Int64(s.crtcW) > Int64(Int32.max)
            || s.crtcH > UInt32(Int32.max) || Int64(s.crtcY) + Int64(s.crtcH) > Int64(Int32.max) {
            throw .outOfRange.because(.atomic, "\(tag) invalid CRTC coordinates \(s.crtcW)x\(s.crtcH)+\(s.crtcX)+\(s.crtcY)")
        }
        let fbW = UInt64(fb.width) << 16, fbH = UInt64(fb.height) << 16
        if UInt64(s.srcW) > fbW || UInt64(s.srcX) > fbW - UInt64(s.srcW)
            || UInt64(s.srcH) > fbH || UInt64(s.srcY) > fbH - UInt64(s.srcH) {
            func fixed(_ v: UInt32) -> String { "\(v >> 16).\(String(format: "%06u", UInt64(v & 0xffff) * 15625 >> 10))" }
            throw .noSpace.because(.atomic, "\(tag) invalid source coordinates \(fixed(s.srcW))x\(fixed(s.srcH))+\(fixed(s.srcX))+\(fixed(s.srcY)) (fb \(fb.width)x\(fb.height))")
        }
        if s.damageBlob != 0, let b = objects.blobs[s.damageBlob] {
            let a = ArgBuffer(b.data)
            for k in 0..<(b.data.count / ModeRectLayout.size) {
                let o = k * ModeRectLayout.size
                let x1 = a.load(Int32.self, at: o), y1 = a.load(Int32.self, at: o + 4)
                let x2 = a.load(Int32.self, at: o + 8), y2 = a.load(Int32.self, at: o + 12)
                if x1 < 0 || y1 < 0 || x1 >= x2 || y1 >= y2 || UInt32(x2) > fb.width || UInt32(y2) > fb.height {
                    throw .invalidArgument.because(.atomic, "\(tag) invalid damage clip \(x1) \(y1) \(x2) \(y2)")
                }
            }
        }
        // vkms: no scaling (DRM_PLANE_NO_SCALING) for a plane that will be visible, measured
        // on the source as rotated (drm_rect_rotate before drm_rect_calc_hscale).
        if new.crtcs[c].enabled, s.crtcW != 0 || s.srcW != 0 {
            let quarterTurn = s.rotation & UInt64(ComposerPlane.rotate90 | ComposerPlane.rotate270) != 0
            let (w, h) = quarterTurn ? (s.srcH, s.srcW) : (s.srcW, s.srcH)
            if UInt64(w) != UInt64(s.crtcW) << 16 || UInt64(h) != UInt64(s.crtcH) << 16 {
                throw .outOfRange.because(.atomic, "\(tag) Invalid scaling of plane (no scaling: source \(w >> 16)x\(h >> 16), CRTC \(s.crtcW)x\(s.crtcH))")
            }
        }
    }

    /// IN_FORMATS: header, formats, then one modifier entry (LINEAR) covering every format.
    static func inFormatsBlob(formats: [UInt32]) -> [UInt8] {
        let count = min(formats.count, 64)
        let modsOffset = (24 + 4 * count + 7) & ~7
        var b = ArgBuffer(size: modsOffset + FormatModifierLayout.size)
        b[FormatModifierBlobLayout.version] = 1
        b[FormatModifierBlobLayout.flags] = 0
        b[FormatModifierBlobLayout.countFormats] = UInt32(count)
        b[FormatModifierBlobLayout.formatsOffset] = 24
        b[FormatModifierBlobLayout.countModifiers] = 1
        b[FormatModifierBlobLayout.modifiersOffset] = UInt32(modsOffset)
        for (i, f) in formats.prefix(count).enumerated() { b.store(f, at: 24 + 4 * i) }
        let mask: UInt64 = count == 64 ? .max : (1 << UInt64(count)) - 1
        b.store(mask, at: modsOffset + FormatModifierLayout.formats.offset)
        b.store(UInt32(0), at: modsOffset + FormatModifierLayout.offset.offset)
        b.store(DRMConst.formatModLinear, at: modsOffset + FormatModifierLayout.modifier.offset)
        return b.bytes
    }
}
