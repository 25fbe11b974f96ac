/// A CRTC: its gamma size, fence timeline and legacy leftovers, and the CRTC's atomic rules:
/// the values it accepts and drm_atomic_crtc_check plus the helpers' modeset rules. Under the device lock.
final class CRTCObject {
    let id: ObjectID
    let index: Int
    let gammaSize: UInt32
    var properties: [ObjectID] = []
    /// One fence context per CRTC for out fences, seqno counted from 1 (as drm_crtc_create_fence).
    let fenceContext: UInt64
    var fenceSeqno: UInt64 = 0
    var legacyGamma: [UInt16]
    /// The last legacy cursor position (crtc->cursor_x/y): a CURSOR_BO without MOVE uses it.
    var cursorX: Int32 = 0
    var cursorY: Int32 = 0

    init(id: ObjectID, index: Int, gammaSize: UInt32, fenceContext: UInt64) {
        self.id = id
        self.index = index
        self.gammaSize = gammaSize
        self.fenceContext = fenceContext
        legacyGamma = (0..<Int(gammaSize) * 3).map { i in
            let n = max(Int(gammaSize) - 1, 1)
            return UInt16(truncatingIfNeeded: (i % Int(max(gammaSize, 1))) * 0xffff / n)
        }
    }

    var timelineName: String { "CRTC:\(id)-crtc-\(index)" }
    /// How drm_dbg names it: "[CRTC:36:crtc-0]".
    var tag: String { "[CRTC:\(id):crtc-\(index)]" }
}

extension CRTCObject {
    /// drm_atomic_crtc_set_property: one value into the proposed state.
    func set(_ prop: PropertyDef, _ v: UInt64, in p: inout AtomicProposal, objects: ModeObjectRegistry) throws(DRMError) {
        let i = index
        switch prop.kind {
        case .active: p.new.crtcs[i].active = v == 1
        case .modeID:
            if v == 0 {
                p.new.crtcs[i].mode = nil
                p.new.crtcs[i].modeBlob = 0
                return
            }
            guard let b = objects.blobs[ObjectID(v)], let mode = ModeInfo.decode(b.data), mode.isValid else {
                throw .invalidArgument.because(.atomic, "\(tag) MODE_ID blob \(v) is not a valid mode")
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
            if v != 0, let b = objects.blobs[ObjectID(v)] {
                if b.data.count % ColorLutLayout.size != 0 || b.data.count / ColorLutLayout.size > Int(gammaSize) {
                    throw .invalidArgument.because(.atomic, "\(tag) GAMMA_LUT blob of \(b.data.count) bytes: not whole entries or above \(gammaSize)")
                }
            }
            p.new.crtcs[i].gammaBlob = ObjectID(v)
        default:
            throw .invalidArgument.because(.atomic, "\(tag) property [PROP:\(prop.id):\(prop.name)] cannot be set")
        }
    }

    /// The CRTC's value of a property, as OBJ_GETPROPERTIES reports it.
    func value(of prop: PropertyDef, in s: CRTCState) -> UInt64 {
        switch prop.kind {
        case .active: return s.active ? 1 : 0
        case .modeID: return UInt64(s.modeBlob)
        case .vrrEnabled: return s.vrrEnabled
        case .gammaLUT: return UInt64(s.gammaBlob)
        case .gammaLUTSize: return UInt64(gammaSize)
        default: return 0
        }
    }

    /// drm_atomic_crtc_check: ACTIVE needs a mode; an event needs the CRTC on before or after.
    func check(_ new: KMSState, old: CRTCState, wantsEvent: Bool) throws(DRMError) {
        let n = new.crtcs[index]
        if n.active && !n.enabled { throw .invalidArgument.because(.atomic, "\(tag) active without enabled") }
        if wantsEvent && !n.active && !old.active { throw .invalidArgument.because(.atomic, "\(tag) requesting event but off") }
    }

    /// drm_atomic_helper_check_modeset for an affected CRTC: connectors iff a mode, a mode the
    /// card can drive, and ALLOW_MODESET for a full modeset.
    func checkModeset(_ new: KMSState, old: KMSState, maxWidth: UInt32, maxHeight: UInt32, topology: Topology, flags: UInt32) throws(DRMError) {
        let n = new.crtcs[index]
        let hasConnector = new.connectors.contains { $0.crtc == id }
        if n.enabled != hasConnector { throw .invalidArgument.because(.modeset, "\(tag) enabled/connectors mismatch") }
        if let m = n.mode, UInt32(m.hdisplay) > maxWidth || UInt32(m.vdisplay) > maxHeight {
            throw .invalidArgument.because(.modeset, "\(tag) mode \(m.hdisplay)x\(m.vdisplay) above the card's maximum \(maxWidth)x\(maxHeight)")
        }
        if needsModeset(new, old: old, topology: topology) && flags & DRMConst.atomicAllowModeset == 0 {
            throw .invalidArgument.because(.atomic, "\(tag) requires full modeset")
        }
    }

    /// drm_atomic_crtc_needs_modeset: ACTIVE, enable, timing or routing change.
    func needsModeset(_ new: KMSState, old: KMSState, topology: Topology) -> Bool {
        let o = old.crtcs[index], n = new.crtcs[index]
        if o.active != n.active || o.enabled != n.enabled { return true }
        if let om = o.mode, let nm = n.mode, !om.sameTiming(nm) { return true }
        for k in topology.connectors.indices where (old.connectors[k].crtc == id) != (new.connectors[k].crtc == id) {
            return true
        }
        return false
    }
}
