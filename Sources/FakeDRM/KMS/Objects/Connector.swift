/// A connector: status, modes, EDID and (for writeback) its engine, and the connector's atomic
/// rules: the values it accepts and the routing check of update_connector_routing. Under the device lock.
final class ConnectorObject {
    let id: ObjectID
    let index: Int
    let kind: ConnectorKind
    let typeIndex: UInt32
    let encoderIndex: Int
    var status: ConnectorStatus
    var modes: [ModeInfo]
    let mmWidth: UInt32
    let mmHeight: UInt32
    var properties: [ObjectID] = []
    /// The EDID blob (0 for Virtual connectors, which have no EDID property).
    var edidBlob: ObjectID = 0
    /// drm_connector's epoch_counter: bumped by every status, mode or EDID change.
    var epoch: UInt64 = 0
    /// Set for a writeback connector: what its engine writes and its out-fence timeline.
    var writeback: WritebackEngine?
    /// Unplugged at runtime (`ctl connector remove`): no longer an object clients can find. The
    /// entry stays so connector indices (and the state arrays they index) never shift.
    var removed = false

    init(id: ObjectID, index: Int, kind: ConnectorKind, typeIndex: UInt32, encoderIndex: Int,
         status: ConnectorStatus, modes: [ModeInfo], mmWidth: UInt32, mmHeight: UInt32) {
        self.id = id
        self.index = index
        self.kind = kind
        self.typeIndex = typeIndex
        self.encoderIndex = encoderIndex
        self.status = status
        self.modes = modes
        self.mmWidth = mmWidth
        self.mmHeight = mmHeight
    }

    var name: String { "\(kind.kernelName)-\(typeIndex)" }
    var tag: String { "[CONNECTOR:\(id):\(name)]" }
}

extension ConnectorObject {
    /// drm_atomic_connector_set_property: one value into the proposed state.
    func set(_ prop: PropertyDef, _ v: UInt64, in p: inout AtomicProposal, topology: Topology) throws(DRMError) {
        let i = index
        switch prop.kind {
        case .crtcID: p.new.connectors[i].crtc = ObjectID(v)
        case .linkStatus:
            // Userspace may only reset to Good; Bad is ignored (drm_atomic_connector_set_property).
            if v == 0 { p.new.connectors[i].linkStatus = 0 }
        case .dpms:
            guard p.allowDPMS else { throw .invalidArgument.because(.atomic, "\(tag) DPMS is legacy-only for atomic clients") }
            if let c = topology.crtcIndex(of: p.new.connectors[i].crtc) { p.new.crtcs[c].active = v == 0 }
        case .writebackFBID:
            // drm_writeback_set_fb: the job exists from here on, with or without a framebuffer.
            p.writebackJobs[i] = ObjectID(v)
        case .writebackOutFencePtr:
            // Written -1 by the front end already; kept per connector as the kernel does.
            p.writebackFencePtrs[i] = v == 0 ? nil : v
        default:
            throw .invalidArgument.because(.atomic, "\(tag) property [PROP:\(prop.id):\(prop.name)] cannot be set")
        }
    }

    /// The connector's value of a property, as OBJ_GETPROPERTIES reports it.
    func value(of prop: PropertyDef, in state: KMSState, topology: Topology) -> UInt64 {
        let s = state.connectors[index]
        switch prop.kind {
        case .crtcID: return UInt64(s.crtc)
        case .linkStatus: return s.linkStatus
        case .edid: return UInt64(edidBlob)
        case .writebackPixelFormats: return UInt64(writeback?.formatsBlob ?? 0)
        // WRITEBACK_FB_ID is one-shot ("write and forget") and reads 0, as the fence pointer.
        case .dpms:
            let on = topology.crtcIndex(of: s.crtc).map { state.crtcs[$0].active } ?? false
            return on ? 0 : 3
        default: return 0
        }
    }

    /// update_connector_routing and the encoder checks of drm_atomic_helper_check_modeset:
    /// a registered connector, on a CRTC its encoder can drive, one connector per encoder,
    /// and the CRTC enabled.
    func checkRouting(_ new: KMSState, usedEncoders: inout SmallIndexSet, topology: Topology) throws(DRMError) {
        let crtcID = new.connectors[index].crtc
        guard let c = topology.crtcIndex(of: crtcID) else {
            if crtcID != 0 { throw .invalidArgument.because(.atomic, "\(tag) CRTC_ID \(crtcID) is not a CRTC") }
            return
        }
        // A commit that waited while `ctl connector remove` ran must not put the connector back.
        if removed { throw .invalidArgument.because(.modeset, "\(tag) is not registered") }
        let enc = topology.encoders[encoderIndex]
        if enc.possibleCrtcs & (1 << UInt32(c)) == 0 {
            throw .invalidArgument.because(.modeset, "\(enc.tag) incompatible with \(topology.crtcs[c].tag)")
        }
        if !usedEncoders.insert(enc.index).inserted {
            throw .invalidArgument.because(.modeset, "\(enc.tag) for \(tag) is already in use by another connector")
        }
        if !new.crtcs[c].enabled { throw .invalidArgument.because(.modeset, "\(tag) on disabled \(topology.crtcs[c].tag)") }
    }
}
