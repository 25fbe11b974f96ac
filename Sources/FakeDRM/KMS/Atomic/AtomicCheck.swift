/// drm_atomic_check_only and the helpers a vkms-like driver uses, in the kernel's order: which
/// objects a commit pulls in, then each object kind's own rules (Objects/), each with its errno.
extension AtomicPipeline {
    /// CRTCs a commit involves: set directly, or the old/new CRTC of a touched plane/connector.
    func affectedCRTCs(_ p: AtomicProposal) -> SmallIndexSet {
        var set = p.touchedCRTCs
        let t = topology
        for i in p.touchedPlanes {
            if let c = t.crtcIndex(of: state.planes[i].crtc) { set.insert(c) }
            if let c = t.crtcIndex(of: p.new.planes[i].crtc) { set.insert(c) }
        }
        for i in p.touchedConnectors {
            if let c = t.crtcIndex(of: state.connectors[i].crtc) { set.insert(c) }
            if let c = t.crtcIndex(of: p.new.connectors[i].crtc) { set.insert(c) }
        }
        return set
    }

    func check(_ p: AtomicProposal, flags: UInt32, eventCRTCs: SmallIndexSet) throws(DRMError) {
        let new = p.new
        let affected = affectedCRTCs(p)
        let t = topology, o: ModeObjectRegistry = objects
        // Planes of an affected CRTC are checked too, as the helpers pull them into the state.
        var planesToCheck = p.touchedPlanes
        for i in t.planes.indices {
            if let c = t.crtcIndex(of: new.planes[i].crtc), affected.contains(c) { planesToCheck.insert(i) }
        }
        for i in planesToCheck { try t.planes[i].check(new, old: state.planes[i], topology: t, objects: o) }
        for c in affected { try t.crtcs[c].check(new, old: state.crtcs[c], wantsEvent: eventCRTCs.contains(c)) }
        for (k, fb) in p.writebackJobs { try WritebackEngine.checkConnector(t.connectors[k], p, fb: fb, topology: t) }
        var usedEncoders = SmallIndexSet()
        for k in t.connectors.indices { try t.connectors[k].checkRouting(new, usedEncoders: &usedEncoders, topology: t) }
        for c in affected { try t.crtcs[c].checkModeset(new, old: state, maxWidth: config.maxWidth, maxHeight: config.maxHeight, topology: t, flags: flags) }
        for (k, id) in p.writebackJobs where id != 0 {
            guard let engine = t.connectors[k].writeback else {
                throw .invalidArgument.because(.atomic, "\(t.connectors[k].tag) writeback job without a framebuffer, CRTC or mode")
            }
            try engine.checkJob(t.connectors[k], p, fb: id, topology: t, objects: o)
        }
    }
}
