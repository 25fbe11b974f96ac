/// The legacy modeset ioctls, built on atomic proposals as the kernel's atomic helpers do.
extension AtomicPipeline {
    public struct SetCrtcRequest: Sendable {
        public var crtcID: ObjectID
        public var fbID: UInt32
        public var x: UInt32, y: UInt32
        public var mode: ModeInfo?
        public var connectors: [ObjectID]
    }

    /// SETCRTC (drm_mode_setcrtc + drm_atomic_helper_set_config).
    public func setCrtc(_ file: FileContext, _ r: SetCrtcRequest) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            defer { clock.runEagerClock() }
            if r.x & 0xffff_0000 != 0 || r.y & 0xffff_0000 != 0 {
                throw .outOfRange.because(.modeset, "SETCRTC offset +\(r.x)+\(r.y) does not fit 16.16 plane source coordinates")
            }
            guard let c = files.crtcIndex(r.crtcID, for: file) else {
                throw .notFound.because(.modeset, "Unknown CRTC ID \(r.crtcID)")
            }
            guard let primary = topology.planes.firstIndex(where: { $0.type == .primary && $0.possibleCrtcs & (1 << UInt32(c)) != 0 }) else {
                throw .invalidArgument.because(.modeset, "\(topology.crtcs[c].tag) has no primary plane")
            }
            // Disabling is allowed without the primary plane in the lease (drm_mode_setcrtc).
            if r.mode != nil { try files.requireImplicitPlane(file, primary) }
            var p = AtomicProposal(new: state)
            p.touchedCRTCs.insert(c)
            p.touchedPlanes.insert(primary)
            let crtcID = topology.crtcs[c].id
            guard let mode = r.mode else {
                // mode_valid=0: switch the CRTC off and detach everything.
                if !r.connectors.isEmpty || r.fbID != 0 && r.fbID != UInt32.max {
                    throw .invalidArgument.because(.modeset, r.connectors.isEmpty
                        ? "\(topology.crtcs[c].tag) FB_ID \(r.fbID) set without a mode"
                        : "Count connectors is \(r.connectors.count) but no mode or fb set")
                }
                p.new.crtcs[c] = CRTCState(gammaBlob: state.crtcs[c].gammaBlob, vrrEnabled: state.crtcs[c].vrrEnabled)
                for i in topology.planes.indices where p.new.planes[i].crtc == crtcID {
                    p.touchedPlanes.insert(i)
                    p.new.planes[i].crtc = 0
                    p.new.planes[i].fb = 0
                }
                for k in topology.connectors.indices where p.new.connectors[k].crtc == crtcID {
                    p.touchedConnectors.insert(k)
                    p.new.connectors[k].crtc = 0
                }
                try commitProposal(p, file: file, flags: DRMConst.atomicAllowModeset, userData: 0)
                return
            }
            let fbID: ObjectID = r.fbID == UInt32.max ? state.planes[primary].fb : r.fbID
            guard fbID != 0 else {
                throw .invalidArgument.because(.modeset, r.fbID == UInt32.max
                    ? "\(topology.crtcs[c].tag) CRTC doesn't have current FB"
                    : "\(topology.crtcs[c].tag) mode set without a framebuffer (FB_ID 0)")
            }
            guard let fb = objects.framebuffers[fbID] else { throw .notFound.because(.modeset, "Unknown FB ID \(fbID)") }
            guard mode.isValid else {
                throw .invalidArgument.because(.modeset, "Invalid mode \"\(mode.name)\" \(mode.hdisplay)x\(mode.vdisplay) clock \(mode.clock) flags 0x\(String(mode.flags, radix: 16)) type 0x\(String(mode.type, radix: 16))")
            }
            if !file.aspectRatio && mode.flags & ModeInfo.flagPicARMask != 0 {
                throw .invalidArgument.because(.modeset, "Unexpected aspect-ratio flag bits (mode flags 0x\(String(mode.flags, radix: 16)), no DRM_CLIENT_CAP_ASPECT_RATIO)")
            }
            guard topology.planes[primary].formats.contains(fb.format) else {
                throw .invalidArgument.because(.modeset, "\(topology.planes[primary].tag) Invalid pixel format \(PixelFormat.name(fb.format)), modifier 0x\(String(fb.modifier, radix: 16))")
            }
            // drm_crtc_check_viewport: a quarter-turned primary covers the mode transposed.
            let turned = state.planes[primary].rotation & UInt64(ComposerPlane.rotate90 | ComposerPlane.rotate270) != 0
            let (viewW, viewH) = turned ? (UInt64(mode.vdisplay), UInt64(mode.hdisplay)) : (UInt64(mode.hdisplay), UInt64(mode.vdisplay))
            if UInt64(r.x) + viewW > UInt64(fb.width) || UInt64(r.y) + viewH > UInt64(fb.height) {
                throw .noSpace.because(.modeset, "Invalid fb size \(fb.width)x\(fb.height) for CRTC viewport \(viewW)x\(viewH)+\(r.x)+\(r.y)\(turned ? " (due to rotation)" : "") on \(topology.crtcs[c].tag)")
            }
            guard !r.connectors.isEmpty else { throw .invalidArgument.because(.modeset, "Count connectors is 0 but mode set") }
            if r.connectors.count > topology.connectors.count {
                throw .invalidArgument.because(.modeset, "Count connectors is \(r.connectors.count), more than the card's \(topology.connectors.count)")
            }
            var targets: [Int] = []
            for id in r.connectors {
                guard let k = files.connectorIndex(id, for: file) else { throw .notFound.because(.modeset, "Connector id \(id) unknown") }
                targets.append(k)
            }
            var m = mode
            m.type &= ModeInfo.typeAll
            p.new.crtcs[c].mode = m
            p.new.crtcs[c].modeBlob = makeLegacyModeBlob(m)
            p.new.crtcs[c].active = true
            // __drm_atomic_helper_set_config: the primary's other properties (zpos, alpha,
            // rotation, colour) stay; a quarter-turned primary reads the mode's size transposed.
            var primaryState = state.planes[primary]
            let quarterTurn = primaryState.rotation & UInt64(ComposerPlane.rotate90 | ComposerPlane.rotate270) != 0
            primaryState.crtc = crtcID
            primaryState.fb = fbID
            (primaryState.crtcX, primaryState.crtcY) = (0, 0)
            (primaryState.crtcW, primaryState.crtcH) = (UInt32(m.hdisplay), UInt32(m.vdisplay))
            (primaryState.srcX, primaryState.srcY) = (r.x << 16, r.y << 16)
            (primaryState.srcW, primaryState.srcH) = quarterTurn
                ? (UInt32(m.vdisplay) << 16, UInt32(m.hdisplay) << 16) : (UInt32(m.hdisplay) << 16, UInt32(m.vdisplay) << 16)
            primaryState.damageBlob = 0
            p.new.planes[primary] = primaryState
            for k in topology.connectors.indices {
                let wanted = targets.contains(k)
                if wanted || p.new.connectors[k].crtc == crtcID {
                    p.touchedConnectors.insert(k)
                    p.new.connectors[k].crtc = wanted ? crtcID : 0
                    if wanted { p.new.connectors[k].linkStatus = 0 }
                }
            }
            try commitProposal(p, file: file, flags: DRMConst.atomicAllowModeset, userData: 0)
        }
    }

    /// The kernel wraps a legacy mode in a blob it owns; it dies with the last state using it.
    func makeLegacyModeBlob(_ m: ModeInfo) -> ObjectID {
        let b = Blob(id: objects.allocateID(.blob), data: m.encode(), ownerFile: nil)
        objects.blobs[b.id] = b
        objects.unlist(b)
        return b.id
    }

    /// PAGE_FLIP (drm_mode_page_flip_ioctl), checks in the kernel's order.
    public func pageFlip(_ file: FileContext, crtcID: ObjectID, fbID: ObjectID, flags: UInt32, reserved: UInt32, userData: UInt64) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            defer { clock.runEagerClock() }
            let event: UInt32 = 1, async: UInt32 = 2, targetAbs: UInt32 = 4, targetRel: UInt32 = 8
            if flags & ~(event | async | targetAbs | targetRel) != 0 {
                throw .invalidArgument.because(.modeset, "PAGE_FLIP flags 0x\(String(flags, radix: 16)) outside the valid mask 0x\(String(event | async | targetAbs | targetRel, radix: 16))")
            }
            if reserved != 0 && flags & (targetAbs | targetRel) == 0 {
                throw .invalidArgument.because(.modeset, "PAGE_FLIP sequence \(reserved) without a PAGE_FLIP_TARGET flag")
            }
            if flags & (targetAbs | targetRel) == (targetAbs | targetRel) {
                throw .invalidArgument.because(.modeset, "PAGE_FLIP_TARGET_ABSOLUTE and PAGE_FLIP_TARGET_RELATIVE are exclusive")
            }
            if flags & async != 0 {
                throw .invalidArgument.because(.modeset, "PAGE_FLIP_ASYNC is not supported (DRM_CAP_ASYNC_PAGE_FLIP is 0)")
            }
            guard let c = files.crtcIndex(crtcID, for: file) else {
                throw .notFound.because(.modeset, "Unknown CRTC ID \(crtcID)")
            }
            // No PAGE_FLIP_TARGET support: the kernel refuses target flags then.
            if flags & (targetAbs | targetRel) != 0 {
                throw .invalidArgument.because(.modeset, "\(topology.crtcs[c].tag) does not support PAGE_FLIP_TARGET (DRM_CAP_PAGE_FLIP_TARGET is 0)")
            }
            guard let primary = topology.planes.firstIndex(where: { $0.type == .primary && state.planes.indices.contains($0.index) && state.planes[$0.index].crtc == crtcID })
                ?? topology.planes.firstIndex(where: { $0.type == .primary && $0.possibleCrtcs & (1 << UInt32(c)) != 0 }) else {
                throw .invalidArgument.because(.modeset, "\(topology.crtcs[c].tag) has no primary plane")
            }
            try files.requireImplicitPlane(file, primary)
            let cur = state.planes[primary]
            guard cur.fb != 0, let curFB = objects.framebuffers[cur.fb] else {
                throw .busy.because(.modeset, "\(topology.crtcs[c].tag) primary \(topology.planes[primary].tag) has no framebuffer to flip from")
            }
            guard let fb = objects.framebuffers[fbID] else { throw .notFound.because(.modeset, "Unknown FB ID \(fbID)") }
            // drm_crtc_check_viewport (ENOSPC) comes before the format check (EINVAL).
            let w = UInt64(cur.srcW >> 16) + UInt64(cur.srcX >> 16), h = UInt64(cur.srcH >> 16) + UInt64(cur.srcY >> 16)
            if w > UInt64(fb.width) || h > UInt64(fb.height) {
                throw .noSpace.because(.modeset, "Invalid source coordinates \(cur.srcW >> 16)x\(cur.srcH >> 16)+\(cur.srcX >> 16)+\(cur.srcY >> 16) (fb \(fb.width)x\(fb.height)) for [FB:\(fbID)] on \(topology.planes[primary].tag)")
            }
            if fb.format != curFB.format {
                throw .invalidArgument.because(.modeset, "Page flip is not allowed to change frame buffer format: [FB:\(fbID)] is \(PixelFormat.name(fb.format)), [FB:\(cur.fb)] \(PixelFormat.name(curFB.format))")
            }
            // page_flip_common: "disabled, rejecting legacy flip", event or not (DPMS off).
            if !state.crtcs[c].active { throw .invalidArgument.because(.modeset, "\(topology.crtcs[c].tag) disabled, rejecting legacy flip") }
            if pendingCommits[c] != nil { throw .busy.because(.modeset, "\(topology.crtcs[c].tag) busy with a previous commit") }
            var p = AtomicProposal(new: state)
            p.touchedPlanes.insert(primary)
            p.new.planes[primary].fb = fbID
            let f = (flags & event != 0 ? DRMConst.atomicPageFlipEvent : 0) | DRMConst.atomicNonblock
            try commitProposal(p, file: file, flags: f, userData: userData)
        }
    }

    public struct SetPlaneRequest: Sendable {
        public var planeID, crtcID, fbID: ObjectID
        public var crtcX, crtcY: Int32
        public var crtcW, crtcH, srcX, srcY, srcW, srcH: UInt32
    }

    /// SETPLANE (drm_mode_setplane + drm_atomic_helper_update_plane).
    public func setPlane(_ file: FileContext, _ r: SetPlaneRequest) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            defer { clock.runEagerClock() }
            guard let i = files.planeIndex(r.planeID, for: file) else {
                throw .notFound.because(.modeset, "Unknown plane ID \(r.planeID)")
            }
            var p = AtomicProposal(new: state)
            p.touchedPlanes.insert(i)
            if r.fbID == 0 {
                // __drm_atomic_helper_disable_plane: no fb, no CRTC, both rectangles zeroed.
                p.new.planes[i].fb = 0
                p.new.planes[i].crtc = 0
                (p.new.planes[i].crtcX, p.new.planes[i].crtcY, p.new.planes[i].crtcW, p.new.planes[i].crtcH) = (0, 0, 0, 0)
                (p.new.planes[i].srcX, p.new.planes[i].srcY, p.new.planes[i].srcW, p.new.planes[i].srcH) = (0, 0, 0, 0)
                try commitProposal(p, file: file, flags: 0, userData: 0)
                return
            }
            guard let c = files.crtcIndex(r.crtcID, for: file) else {
                throw .notFound.because(.modeset, "Unknown crtc ID \(r.crtcID)")
            }
            guard let fb = objects.framebuffers[r.fbID] else { throw .notFound.because(.modeset, "Unknown framebuffer ID \(r.fbID)") }
            if topology.planes[i].possibleCrtcs & (1 << UInt32(c)) == 0 {
                throw .invalidArgument.because(.modeset, "Invalid crtc for plane: \(topology.planes[i].tag) cannot be used on \(topology.crtcs[c].tag)")
            }
            if !topology.planes[i].formats.contains(fb.format) {
                throw .invalidArgument.because(.modeset, "\(topology.planes[i].tag) Invalid pixel format \(PixelFormat.name(fb.format)), modifier 0x\(String(fb.modifier, radix: 16))")
            }
            if r.crtcW > UInt32(Int32.max) || Int64(r.crtcX) + Int64(r.crtcW) > Int64(Int32.max)
                || r.crtcH > UInt32(Int32.max) || Int64(r.crtcY) + Int64(r.crtcH) > Int64(Int32.max) {
                throw .outOfRange.because(.modeset, "\(topology.planes[i].tag) Invalid CRTC coordinates \(r.crtcW)x\(r.crtcH)+\(r.crtcX)+\(r.crtcY)")
            }
            var s = p.new.planes[i]
            // The helper disables then re-enables a plane moved between CRTCs; one CRTC here.
            s.crtc = r.crtcID
            s.fb = r.fbID
            (s.crtcX, s.crtcY, s.crtcW, s.crtcH) = (r.crtcX, r.crtcY, r.crtcW, r.crtcH)
            (s.srcX, s.srcY, s.srcW, s.srcH) = (r.srcX, r.srcY, r.srcW, r.srcH)
            if state.planes[i].crtc != 0 && state.planes[i].crtc != r.crtcID {
                s.crtc = r.crtcID
            }
            p.new.planes[i] = s
            if state.planes[i].crtc != 0 && state.planes[i].crtc != r.crtcID {
                // Legacy SETPLANE may move a plane; do it in two commits as the kernel allows.
                var off = AtomicProposal(new: state)
                off.touchedPlanes.insert(i)
                off.new.planes[i].crtc = 0
                off.new.planes[i].fb = 0
                try commitProposal(off, file: file, flags: 0, userData: 0)
                p.new = state
                p.base = state
                p.new.planes[i] = s
            }
            try commitProposal(p, file: file, flags: 0, userData: 0)
        }
    }

    /// CURSOR/CURSOR2 through the cursor plane (drm_mode_cursor_universal): BO sets or clears
    /// the image (a new internal fb), MOVE the position (else the last one is kept); no fb
    /// disables the plane with every coordinate zeroed, as __drm_atomic_helper_disable_plane.
    public func cursor(_ file: FileContext, crtcID: ObjectID, flags: UInt32, x: Int32, y: Int32, width: UInt32, height: UInt32, handle: UInt32) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            defer { clock.runEagerClock() }
            let bo: UInt32 = 1, move: UInt32 = 2
            if flags == 0 || flags & ~(bo | move) != 0 {
                throw .invalidArgument.because(.modeset, "CURSOR flags 0x\(String(flags, radix: 16)) invalid: BO (0x1) and/or MOVE (0x2) expected")
            }
            guard let c = files.crtcIndex(crtcID, for: file) else {
                throw .notFound.because(.modeset, "Unknown CRTC ID \(crtcID)")
            }
            guard let ci = topology.planes.firstIndex(where: { $0.type == .cursor && $0.possibleCrtcs & (1 << UInt32(c)) != 0 }) else {
                throw .noDeviceOrAddress.because(.modeset, "\(topology.crtcs[c].tag) has no cursor plane")
            }
            try files.requireImplicitPlane(file, ci)
            var p = AtomicProposal(new: state)
            p.touchedPlanes.insert(ci)
            var s = p.new.planes[ci]
            var fbID = s.fb
            if flags & bo != 0 {
                fbID = 0
                if handle != 0 {
                    if UInt64(width) > config.cursorWidth || UInt64(height) > config.cursorHeight || width == 0 || height == 0 {
                        throw .invalidArgument.because(.modeset, "\(topology.crtcs[c].tag) cursor size \(width)x\(height) outside 1x1..\(config.cursorWidth)x\(config.cursorHeight)")
                    }
                    guard let buffer = file.handles[handle] else {
                        throw .notFound.because(.modeset, "Failed to lookup GEM object: cursor handle \(handle)")
                    }
                    guard UInt64(width) * UInt64(height) * 4 <= UInt64(buffer.size) else {
                        throw .invalidArgument.because(.modeset, "GEM object size (\(buffer.size)) smaller than minimum size (\(UInt64(width) * UInt64(height) * 4)) for \(width)x\(height) cursor handle \(handle)")
                    }
                    let fb = Framebuffer(id: objects.allocateID(.framebuffer), ownerFile: -1, width: width, height: height,
                                         format: 0x3432_5241, flags: 0, buffers: [buffer, nil, nil, nil],
                                         pitches: [width * 4, 0, 0, 0], offsets: [0, 0, 0, 0], modifier: 0, bpp: 32, depth: 32)
                    // Internal fb: not listed anywhere, dies with the last state showing it.
                    objects.framebuffers[fb.id] = fb
                    objects.unlist(fb)
                    fbID = fb.id
                }
            }
            if let fb = objects.framebuffers[fbID], fbID != 0 {
                s.fb = fbID
                s.crtc = crtcID
                s.crtcX = flags & move != 0 ? x : topology.crtcs[c].cursorX
                s.crtcY = flags & move != 0 ? y : topology.crtcs[c].cursorY
                s.crtcW = fb.width
                s.crtcH = fb.height
                (s.srcX, s.srcY, s.srcW, s.srcH) = (0, 0, fb.width << 16, fb.height << 16)
            } else {
                s.fb = 0
                s.crtc = 0
                (s.crtcX, s.crtcY, s.crtcW, s.crtcH) = (0, 0, 0, 0)
                (s.srcX, s.srcY, s.srcW, s.srcH) = (0, 0, 0, 0)
            }
            p.new.planes[ci] = s
            do throws(DRMError) {
                try commitLegacyCursor(p, crtcIndex: c, planeIndex: ci, file: file)
            } catch {
                collectGarbage()
                throw error
            }
            if flags & move != 0 {
                topology.crtcs[c].cursorX = x
                topology.crtcs[c].cursorY = y
            }
        }
    }

    /// Legacy cursor updates are unsynced (the kernel's legacy_cursor_update: no wait for the
    /// vblank, no flip_done): with nothing pending on the CRTC the plane changes on screen at
    /// once and shows from the next frame; compositors and IGT move cursors hundreds of times a
    /// second. Behind a pending flip, or on a display that completes flips itself (virtio-gpu
    /// sends cursors through its own queue), it goes through a normal commit.
    private func commitLegacyCursor(_ p: AtomicProposal, crtcIndex c: Int, planeIndex ci: Int, file: FileContext) throws(DRMError) {
        guard pendingCommits[c] == nil, !display.backend.completesFlips, state.crtcs[c].active else {
            _ = try commitProposal(p, file: file, flags: 0, userData: 0)
            return
        }
        try check(p, flags: 0, eventCRTCs: [])
        if let e = commitFailFault(testOnly: false, file: file) { throw e }
        state = p.new
        latched.planes[ci] = p.new.planes[ci]
        settleReleases(at: clock.nowNs())
        collectGarbage()
        lock.broadcast()
    }

    public func gamma(_ file: FileContext, crtcID: ObjectID) throws(DRMError) -> (size: UInt32, lut: [UInt16]) {
        try lock.withLock { () throws(DRMError) -> (size: UInt32, lut: [UInt16]) in
            guard let i = files.crtcIndex(crtcID, for: file) else { throw .notFound.because(.modeset, "Unknown CRTC ID \(crtcID)") }
            return (topology.crtcs[i].gammaSize, topology.crtcs[i].legacyGamma)
        }
    }

    /// SETGAMMA: kept as the legacy table and mirrored into a GAMMA_LUT blob, as the helper does.
    public func setGamma(_ file: FileContext, crtcID: ObjectID, size: UInt32, red: [UInt16], green: [UInt16], blue: [UInt16]) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            defer { clock.runEagerClock() }
            guard let c = files.crtcIndex(crtcID, for: file) else {
                throw .notFound.because(.modeset, "Unknown CRTC ID \(crtcID)")
            }
            let obj = topology.crtcs[c]
            guard obj.gammaSize > 0 else { throw .notImplemented.because(.modeset, "\(obj.tag) has no legacy gamma table") }
            guard size == obj.gammaSize, red.count == Int(size), green.count == Int(size), blue.count == Int(size) else {
                throw .invalidArgument.because(.modeset, "\(obj.tag) gamma size \(size) does not match its \(obj.gammaSize) entries")
            }
            var data = [UInt8]()
            for k in 0..<Int(size) { data += LE.bytes([red[k], green[k], blue[k], 0]) }
            let b = Blob(id: objects.allocateID(.blob), data: data, ownerFile: nil)
            objects.blobs[b.id] = b
            objects.unlist(b)
            var p = AtomicProposal(new: state)
            p.touchedCRTCs.insert(c)
            p.new.crtcs[c].gammaBlob = b.id
            do throws(DRMError) {
                try commitProposal(p, file: file, flags: 0, userData: 0)
            } catch {
                collectGarbage()
                throw error
            }
            obj.legacyGamma = red + green + blue
        }
    }

    /// SETPROPERTY / OBJ_SETPROPERTY: a one-property commit (DPMS maps to ACTIVE).
    public func setObjectProperty(_ file: FileContext, objectID: ObjectID, objectType: UInt32, propID: ObjectID, value: UInt64) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            defer { clock.runEagerClock() }
            guard let want = ObjectType(rawValue: objectType), objects.objectType(objectID, expecting: want) != nil, files.leaseHeld(file, objectID) else {
                throw .notFound.because(.modeset, "[OBJECT:\(objectID)] not found as type 0x\(String(objectType, radix: 16))")
            }
            guard let prop = objects.properties[propID], objects.objectType(propID) == .property else {
                throw .notFound.because(.modeset, "Unknown property ID \(propID)")
            }
            guard let attached = objects.visibleProperties(of: objectID, for: file), attached.contains(where: { $0.id == propID }) else {
                throw .invalidArgument.because(.modeset, "[PROP:\(propID):\(prop.name)] is not a property of [OBJECT:\(objectID)]")
            }
            var p = AtomicProposal(new: state)
            p.allowDPMS = true
            try setProperty(&p, objectID: objectID, prop: prop, value: value)
            if !p.outFencePtrs.isEmpty || !p.releaseFencePtrs.isEmpty {
                throw .invalidArgument.because(.modeset, "[PROP:\(propID):\(prop.name)] is a fence pointer, which only the atomic ioctl may set")
            }
            try commitProposal(p, file: file, flags: DRMConst.atomicAllowModeset, userData: 0)
        }
    }
}
