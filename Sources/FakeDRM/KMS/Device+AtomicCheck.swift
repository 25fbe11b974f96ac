/// The checks of drm_atomic_check_only and the atomic helpers a vkms-like driver uses, in the
/// kernel's order, each with the kernel's errno.
extension Device {
    /// CRTCs a commit involves: set directly, or the old/new CRTC of a touched plane/connector.
    func affectedCRTCs(_ p: AtomicProposal) -> Set<Int> {
        var set = p.touchedCRTCs
        for i in p.touchedPlanes {
            if let c = crtcIndex(of: state.planes[i].crtc) { set.insert(c) }
            if let c = crtcIndex(of: p.new.planes[i].crtc) { set.insert(c) }
        }
        for i in p.touchedConnectors {
            if let c = crtcIndex(of: state.connectors[i].crtc) { set.insert(c) }
            if let c = crtcIndex(of: p.new.connectors[i].crtc) { set.insert(c) }
        }
        return set
    }

    func needsModeset(_ c: Int, _ new: KMSState) -> Bool {
        let o = state.crtcs[c], n = new.crtcs[c]
        if o.active != n.active || o.enabled != n.enabled { return true }
        if let om = o.mode, let nm = n.mode, !om.sameTiming(nm) { return true }
        let crtcID = crtcs[c].id
        for k in connectors.indices where (state.connectors[k].crtc == crtcID) != (new.connectors[k].crtc == crtcID) {
            return true
        }
        return false
    }

    func check(_ p: AtomicProposal, flags: UInt32, eventCRTCs: Set<Int>) throws(DRMError) {
        let new = p.new
        let affected = affectedCRTCs(p)
        // Planes of an affected CRTC are checked too, as the helpers pull them into the state.
        var planesToCheck = p.touchedPlanes
        for i in planes.indices {
            if let c = crtcIndex(of: new.planes[i].crtc), affected.contains(c) { planesToCheck.insert(i) }
        }
        for i in planesToCheck.sorted() { try checkPlane(i, new) }
        for c in affected.sorted() {
            let n = new.crtcs[c]
            if n.active && !n.enabled { throw .invalidArgument.because(.atomic, "\(crtcs[c].tag) active without enabled") }
            if eventCRTCs.contains(c) && !n.active && !state.crtcs[c].active {
                throw .invalidArgument.because(.atomic, "\(crtcs[c].tag) requesting event but off")
            }
        }
        try checkWritebackConnectors(p)
        try checkModeset(new, affected: affected, flags: flags)
        try checkWritebackJobs(p)
    }

    /// drm_atomic_connector_check for writeback connectors: a buffer needs an active CRTC; an
    /// out-fence needs a buffer.
    private func checkWritebackConnectors(_ p: AtomicProposal) throws(DRMError) {
        for (k, fb) in p.writebackJobs {
            if fb == 0 {
                if p.writebackFencePtrs[k] != nil {
                    throw .invalidArgument.because(.atomic, "\(connectors[k].tag) requesting out-fence without framebuffer")
                }
                continue
            }
            guard let c = crtcIndex(of: p.new.connectors[k].crtc) else {
                throw .invalidArgument.because(.atomic, "\(connectors[k].tag) framebuffer without CRTC")
            }
            if !p.new.crtcs[c].active {
                throw .invalidArgument.because(.atomic, "\(connectors[k].tag) has framebuffer, but \(crtcs[c].tag) is off")
            }
        }
    }

    /// vkms_wb_atomic_check: the buffer is the mode's size and of WRITEBACK_PIXEL_FORMATS.
    private func checkWritebackJobs(_ p: AtomicProposal) throws(DRMError) {
        for (k, id) in p.writebackJobs where id != 0 {
            guard let engine = connectors[k].writeback, let fb = framebuffers[id],
                  let c = crtcIndex(of: p.new.connectors[k].crtc), let mode = p.new.crtcs[c].mode else {
                throw .invalidArgument.because(.atomic, "\(connectors[k].tag) writeback job without a framebuffer, CRTC or mode")
            }
            if fb.width != UInt32(mode.hdisplay) || fb.height != UInt32(mode.vdisplay) {
                throw .invalidArgument.because(.atomic, "\(connectors[k].tag) Invalid framebuffer size \(fb.width)x\(fb.height) (mode \(mode.hdisplay)x\(mode.vdisplay))")
            }
            if !engine.formats.contains(fb.format) || fb.modifier != DRMConst.formatModLinear {
                throw .invalidArgument.because(.atomic, "\(connectors[k].tag) Invalid pixel format \(PixelFormat.name(fb.format)), modifier 0x\(String(fb.modifier, radix: 16))")
            }
        }
    }

    private func checkPlane(_ i: Int, _ new: KMSState) throws(DRMError) {
        let s = new.planes[i]
        let old = state.planes[i]
        var tag: String { planes[i].tag }  // built only for a reason
        if s.crtc != 0 && s.fb == 0 { throw .invalidArgument.because(.atomic, "\(tag) CRTC set but no FB") }
        if s.crtc == 0 && s.fb != 0 { throw .invalidArgument.because(.atomic, "\(tag) FB set but no CRTC") }
        if s.crtc == 0 { return }
        guard let c = crtcIndex(of: s.crtc) else { throw .invalidArgument.because(.atomic, "\(tag) CRTC_ID \(s.crtc) is not a CRTC") }
        if planes[i].possibleCrtcs & (1 << UInt32(c)) == 0 { throw .invalidArgument.because(.atomic, "Invalid \(crtcs[c].tag) for \(tag)") }
        if old.crtc != 0 && old.crtc != s.crtc { throw .invalidArgument.because(.atomic, "\(tag) switching CRTC directly") }
        guard let fb = framebuffers[s.fb] else { throw .invalidArgument.because(.atomic, "\(tag) FB_ID \(s.fb) is gone") }
        if !planes[i].formats.contains(fb.format) || fb.modifier != DRMConst.formatModLinear {
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
        if s.damageBlob != 0, let b = blobs[s.damageBlob] {
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

    private func checkModeset(_ new: KMSState, affected: Set<Int>, flags: UInt32) throws(DRMError) {
        var usedEncoders = Set<Int>()
        for k in connectors.indices {
            guard let c = crtcIndex(of: new.connectors[k].crtc) else {
                if new.connectors[k].crtc != 0 {
                    throw .invalidArgument.because(.atomic, "\(connectors[k].tag) CRTC_ID \(new.connectors[k].crtc) is not a CRTC")
                }
                continue
            }
            var tag: String { connectors[k].tag }
            // update_connector_routing (a commit that waited while `ctl connector remove` ran
            // must not put the connector back).
            if connectors[k].removed { throw .invalidArgument.because(.modeset, "\(tag) is not registered") }
            let enc = encoders[connectors[k].encoderIndex]
            if enc.possibleCrtcs & (1 << UInt32(c)) == 0 {
                throw .invalidArgument.because(.modeset, "\(enc.tag) incompatible with \(crtcs[c].tag)")
            }
            if !usedEncoders.insert(enc.index).inserted {
                throw .invalidArgument.because(.modeset, "\(enc.tag) for \(tag) is already in use by another connector")
            }
            if !new.crtcs[c].enabled { throw .invalidArgument.because(.modeset, "\(tag) on disabled \(crtcs[c].tag)") }
        }
        for c in affected {
            let n = new.crtcs[c]
            let hasConnector = new.connectors.contains { $0.crtc == crtcs[c].id }
            if n.enabled != hasConnector { throw .invalidArgument.because(.modeset, "\(crtcs[c].tag) enabled/connectors mismatch") }
            if let m = n.mode, UInt32(m.hdisplay) > config.maxWidth || UInt32(m.vdisplay) > config.maxHeight {
                throw .invalidArgument.because(.modeset, "\(crtcs[c].tag) mode \(m.hdisplay)x\(m.vdisplay) above the card's maximum \(config.maxWidth)x\(config.maxHeight)")
            }
            if needsModeset(c, new) && flags & DRMConst.atomicAllowModeset == 0 {
                throw .invalidArgument.because(.atomic, "\(crtcs[c].tag) requires full modeset")
            }
        }
    }
}
