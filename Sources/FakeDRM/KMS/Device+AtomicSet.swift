/// Property writes into a proposed state: one function per object kind, each value checked
/// the way drm_atomic_set_property and drm_property_change_valid_get do.
extension Device {
    func setProperty(_ p: inout AtomicProposal, objectID: ObjectID, prop: PropertyDef, value: UInt64) throws(DRMError) {
        var tag: String { "[PROP:\(prop.id):\(prop.name)]" }  // built only for a reason
        guard prop.valueIsInRange(value) else { throw .invalidArgument.because(.atomic, "\(tag) value 0x\(String(value, radix: 16)) out of range on [OBJECT:\(objectID)]") }
        if prop.isImmutable { throw .invalidArgument.because(.atomic, "\(tag) is immutable") }
        try validateObjectValue(prop, value)
        if let i = planes.firstIndex(where: { $0.id == objectID }) {
            p.touchedPlanes.insert(i)
            try setPlaneProperty(&p, i, prop, value)
        } else if let i = crtcs.firstIndex(where: { $0.id == objectID }) {
            p.touchedCRTCs.insert(i)
            try setCRTCProperty(&p, i, prop, value)
        } else if let i = connectorIndex(id: objectID) {
            p.touchedConnectors.insert(i)
            try setConnectorProperty(&p, i, prop, value)
        } else {
            throw .notFound.because(.atomic, "[OBJECT:\(objectID)] has no atomic state")
        }
    }

    /// OBJECT and BLOB values must name an existing object of the right type (else EINVAL).
    private func validateObjectValue(_ prop: PropertyDef, _ value: UInt64) throws(DRMError) {
        if prop.typeBits == PropertyDef.object, value != 0 {
            guard value <= UInt64(UInt32.max), let want = prop.values.first.flatMap({ ObjectType(rawValue: UInt32(truncatingIfNeeded: $0)) }),
                  objectType(ObjectID(value), expecting: want) != nil else {
                throw .invalidArgument.because(.atomic, "[PROP:\(prop.id):\(prop.name)] \(value) is not an object of the property's type")
            }
        }
        if prop.typeBits == PropertyDef.blob, value != 0 {
            guard value <= UInt64(UInt32.max), blobs[ObjectID(value)] != nil else {
                throw .invalidArgument.because(.atomic, "[PROP:\(prop.id):\(prop.name)] blob \(value) does not exist")
            }
        }
    }

    private func setPlaneProperty(_ p: inout AtomicProposal, _ i: Int, _ prop: PropertyDef, _ v: UInt64) throws(DRMError) {
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
                throw .invalidArgument.because(.atomic, "\(planes[i].tag) bad rotation bitmask: 0x\(String(v, radix: 16))")
            }
            p.new.planes[i].rotation = v
        case .colorEncoding: p.new.planes[i].colorEncoding = v
        case .colorRange: p.new.planes[i].colorRange = v
        case .damageClips:
            if v != 0, let b = blobs[ObjectID(v)], b.data.count % ModeRectLayout.size != 0 {
                throw .invalidArgument.because(.atomic, "\(planes[i].tag) FB_DAMAGE_CLIPS blob of \(b.data.count) bytes is not whole drm_mode_rects")
            }
            p.new.planes[i].damageBlob = ObjectID(v)
        case .inFenceFD:
            let fd = Int64(bitPattern: v)
            if fd == -1 { return }
            // Setting it twice in one commit is refused, as the kernel does.
            if p.inFences[i] != nil { throw .invalidArgument.because(.atomic, "\(planes[i].tag) IN_FENCE_FD set twice") }
            guard fd >= 0, fd <= Int64(Int32.max), let sf = p.resolvedInFences[Int32(fd)] else {
                throw .invalidArgument.because(.atomic, "\(planes[i].tag) IN_FENCE_FD \(fd) is not a sync file")
            }
            p.inFences[i] = sf
        default:
            throw .invalidArgument.because(.atomic, "\(planes[i].tag) property [PROP:\(prop.id):\(prop.name)] cannot be set")
        }
    }

    private func setCRTCProperty(_ p: inout AtomicProposal, _ i: Int, _ prop: PropertyDef, _ v: UInt64) throws(DRMError) {
        switch prop.kind {
        case .active: p.new.crtcs[i].active = v == 1
        case .modeID:
            if v == 0 {
                p.new.crtcs[i].mode = nil
                p.new.crtcs[i].modeBlob = 0
                return
            }
            guard let b = blobs[ObjectID(v)], let mode = ModeInfo.decode(b.data), mode.isValid else {
                throw .invalidArgument.because(.atomic, "\(crtcs[i].tag) MODE_ID blob \(v) is not a valid mode")
            }
            p.new.crtcs[i].mode = mode
            p.new.crtcs[i].modeBlob = ObjectID(v)
        case .outFencePtr, .releaseFencePtr:
            if v == 0 {
                if prop.kind == .outFencePtr { p.outFencePtrs[i] = nil } else { p.releaseFencePtrs[i] = nil }
                return
            }
            // The front end has already written -1 there (EFAULT for a bad pointer), as the
            // kernel does at property-set time.
            if prop.kind == .outFencePtr { p.outFencePtrs[i] = v } else { p.releaseFencePtrs[i] = v }
        case .vrrEnabled: p.new.crtcs[i].vrrEnabled = v
        case .gammaLUT:
            if v != 0, let b = blobs[ObjectID(v)] {
                if b.data.count % ColorLutLayout.size != 0 || b.data.count / ColorLutLayout.size > Int(crtcs[i].gammaSize) {
                    throw .invalidArgument.because(.atomic, "\(crtcs[i].tag) GAMMA_LUT blob of \(b.data.count) bytes: not whole entries or above \(crtcs[i].gammaSize)")
                }
            }
            p.new.crtcs[i].gammaBlob = ObjectID(v)
        default:
            throw .invalidArgument.because(.atomic, "\(crtcs[i].tag) property [PROP:\(prop.id):\(prop.name)] cannot be set")
        }
    }

    private func setConnectorProperty(_ p: inout AtomicProposal, _ i: Int, _ prop: PropertyDef, _ v: UInt64) throws(DRMError) {
        switch prop.kind {
        case .crtcID: p.new.connectors[i].crtc = ObjectID(v)
        case .linkStatus:
            // Userspace may only reset to Good; Bad is ignored (drm_atomic_connector_set_property).
            if v == 0 { p.new.connectors[i].linkStatus = 0 }
        case .dpms:
            guard p.allowDPMS else { throw .invalidArgument.because(.atomic, "\(connectors[i].tag) DPMS is legacy-only for atomic clients") }
            if let c = crtcIndex(of: p.new.connectors[i].crtc) { p.new.crtcs[c].active = v == 0 }
        case .writebackFBID:
            // drm_writeback_set_fb: the job exists from here on, with or without a framebuffer.
            p.writebackJobs[i] = ObjectID(v)
        case .writebackOutFencePtr:
            // Written -1 by the front end already; kept per connector as the kernel does.
            p.writebackFencePtrs[i] = v == 0 ? nil : v
        default:
            throw .invalidArgument.because(.atomic, "\(connectors[i].tag) property [PROP:\(prop.id):\(prop.name)] cannot be set")
        }
    }

    func crtcIndex(of id: ObjectID) -> Int? {
        id == 0 ? nil : crtcs.firstIndex { $0.id == id }
    }

    /// Current value of a property on an object, as OBJ_GETPROPERTIES reports it.
    func propertyValue(_ prop: PropertyDef, objectID: ObjectID) -> UInt64 {
        if let i = planes.firstIndex(where: { $0.id == objectID }) {
            let s = state.planes[i]
            switch prop.kind {
            case .planeType: return planes[i].type.rawValue
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
            case .inFormats: return UInt64(planes[i].inFormatsBlob)
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
        if let i = crtcs.firstIndex(where: { $0.id == objectID }) {
            let s = state.crtcs[i]
            switch prop.kind {
            case .active: return s.active ? 1 : 0
            case .modeID: return UInt64(s.modeBlob)
            case .vrrEnabled: return s.vrrEnabled
            case .gammaLUT: return UInt64(s.gammaBlob)
            case .gammaLUTSize: return UInt64(crtcs[i].gammaSize)
            default: return 0
            }
        }
        if let i = connectorIndex(id: objectID) {
            let s = state.connectors[i]
            switch prop.kind {
            case .crtcID: return UInt64(s.crtc)
            case .linkStatus: return s.linkStatus
            case .edid: return UInt64(connectors[i].edidBlob)
            case .writebackPixelFormats: return UInt64(connectors[i].writeback?.formatsBlob ?? 0)
            // WRITEBACK_FB_ID is one-shot ("write and forget") and reads 0, as the fence pointer.
            case .dpms:
                let on = crtcIndex(of: s.crtc).map { state.crtcs[$0].active } ?? false
                return on ? 0 : 3
            default: return 0
            }
        }
        return 0
    }

    /// Properties attached to an object that this file may see (ATOMIC ones need the cap).
    func visibleProperties(of objectID: ObjectID, for file: FileContext) -> [PropertyDef]? {
        if let attached = attachedProperties[objectID] { return file.atomic ? attached.all : attached.legacy }
        return objectTypes[objectID] != nil ? [] : nil
    }

    /// Per object, its properties in attachment order, all of them and the legacy-visible ones:
    /// built once, since attachments never change after the device is built.
    func indexAttachedProperties() {
        func entry(_ ids: [ObjectID]) -> (all: [PropertyDef], legacy: [PropertyDef]) {
            let all = ids.compactMap { properties[$0] }
            return (all, all.filter { !$0.isAtomicOnly })
        }
        for c in crtcs { attachedProperties[c.id] = entry(c.properties) }
        for p in planes { attachedProperties[p.id] = entry(p.properties) }
        for c in connectors { attachedProperties[c.id] = entry(c.properties) }
    }
}

extension Device {
    /// (object, property, kind) for every fence property the request names on an object it is
    /// attached to, so the front end can do the client-side work before the lock is taken.
    func fenceProperties(in req: AtomicRequest) -> [(ObjectID, ObjectID, PropertyKind)] {
        lock.withLock {
            var out: [(ObjectID, ObjectID, PropertyKind)] = []
            for obj in req.objects {
                let attached = crtc(id: obj.id)?.properties ?? plane(id: obj.id)?.properties ?? connector(id: obj.id)?.properties ?? []
                for (propID, _) in obj.props where attached.contains(propID) {
                    guard let kind = properties[propID]?.kind,
                          [.inFenceFD, .outFencePtr, .releaseFencePtr, .writebackOutFencePtr].contains(kind) else { continue }
                    if !out.contains(where: { $0.0 == obj.id && $0.1 == propID }) { out.append((obj.id, propID, kind)) }
                }
            }
            return out
        }
    }
}
