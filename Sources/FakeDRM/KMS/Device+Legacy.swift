/// The legacy modeset ioctls, built on atomic proposals as the kernel's atomic helpers do.
extension Device {
    func requireMaster(_ file: FileContext) throws(DRMError) {
        if file === FileContext.kernel { return }
        guard master === file || isActiveLessee(file) else {
            throw .permissionDenied.because(.master, "file \(file.id) (pid \(file.pid)) is not the master of the card")
        }
    }

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
            defer { runEagerClock() }
            try requireMaster(file)
            if r.x & 0xffff_0000 != 0 || r.y & 0xffff_0000 != 0 { throw .outOfRange }
            guard let c = crtcs.firstIndex(where: { $0.id == r.crtcID }) else { throw .notFound }
            guard let primary = planes.firstIndex(where: { $0.type == .primary && $0.possibleCrtcs & (1 << UInt32(c)) != 0 }) else {
                throw .invalidArgument
            }
            // Disabling is allowed without the primary plane in the lease (drm_mode_setcrtc).
            if r.mode != nil { try requireImplicitPlane(file, primary) }
            var p = AtomicProposal(new: state)
            p.touchedCRTCs.insert(c)
            p.touchedPlanes.insert(primary)
            let crtcID = crtcs[c].id
            guard let mode = r.mode else {
                // mode_valid=0: switch the CRTC off and detach everything.
                if !r.connectors.isEmpty || r.fbID != 0 && r.fbID != UInt32.max { throw .invalidArgument }
                p.new.crtcs[c] = CRTCState(gammaBlob: state.crtcs[c].gammaBlob, vrrEnabled: state.crtcs[c].vrrEnabled)
                for i in planes.indices where p.new.planes[i].crtc == crtcID {
                    p.touchedPlanes.insert(i)
                    p.new.planes[i].crtc = 0
                    p.new.planes[i].fb = 0
                }
                for k in connectors.indices where p.new.connectors[k].crtc == crtcID {
                    p.touchedConnectors.insert(k)
                    p.new.connectors[k].crtc = 0
                }
                try commitProposal(p, file: file, flags: DRMConst.atomicAllowModeset, userData: 0)
                return
            }
            let fbID: ObjectID = r.fbID == UInt32.max ? state.planes[primary].fb : r.fbID
            guard fbID != 0 else { throw .invalidArgument }
            guard let fb = framebuffers[fbID] else { throw .notFound }
            guard mode.isValid else { throw .invalidArgument }
            if !file.aspectRatio && mode.flags & ModeInfo.flagPicARMask != 0 { throw .invalidArgument }
            guard planes[primary].formats.contains(fb.format) else { throw .invalidArgument }
            // drm_crtc_check_viewport: a quarter-turned primary covers the mode transposed.
            let turned = state.planes[primary].rotation & UInt64(ComposerPlane.rotate90 | ComposerPlane.rotate270) != 0
            let (viewW, viewH) = turned ? (UInt64(mode.vdisplay), UInt64(mode.hdisplay)) : (UInt64(mode.hdisplay), UInt64(mode.vdisplay))
            if UInt64(r.x) + viewW > UInt64(fb.width) || UInt64(r.y) + viewH > UInt64(fb.height) {
                throw .noSpace
            }
            guard !r.connectors.isEmpty else { throw .invalidArgument }
            if r.connectors.count > connectors.count { throw .invalidArgument }
            var targets: [Int] = []
            for id in r.connectors {
                guard let k = connectorIndex(id: id) else { throw .notFound }
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
            for k in connectors.indices {
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
        let b = Blob(id: allocateID(.blob), data: m.encode(), ownerFile: nil)
        b.listed = false
        blobs[b.id] = b
        return b.id
    }

    /// PAGE_FLIP (drm_mode_page_flip_ioctl), checks in the kernel's order.
    public func pageFlip(_ file: FileContext, crtcID: ObjectID, fbID: ObjectID, flags: UInt32, reserved: UInt32, userData: UInt64) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            defer { runEagerClock() }
            try requireMaster(file)
            let event: UInt32 = 1, async: UInt32 = 2, targetAbs: UInt32 = 4, targetRel: UInt32 = 8
            if flags & ~(event | async | targetAbs | targetRel) != 0 { throw .invalidArgument }
            if reserved != 0 && flags & (targetAbs | targetRel) == 0 { throw .invalidArgument }
            if flags & (targetAbs | targetRel) == (targetAbs | targetRel) { throw .invalidArgument }
            if flags & async != 0 { throw .invalidArgument }
            guard let c = crtcs.firstIndex(where: { $0.id == crtcID }) else { throw .notFound }
            // No PAGE_FLIP_TARGET support: the kernel refuses target flags then.
            if flags & (targetAbs | targetRel) != 0 { throw .invalidArgument }
            guard let primary = planes.firstIndex(where: { $0.type == .primary && state.planes.indices.contains($0.index) && state.planes[$0.index].crtc == crtcID })
                ?? planes.firstIndex(where: { $0.type == .primary && $0.possibleCrtcs & (1 << UInt32(c)) != 0 }) else { throw .invalidArgument }
            try requireImplicitPlane(file, primary)
            let cur = state.planes[primary]
            guard cur.fb != 0, let curFB = framebuffers[cur.fb] else { throw .busy }
            guard let fb = framebuffers[fbID] else { throw .notFound }
            // drm_crtc_check_viewport (ENOSPC) comes before the format check (EINVAL).
            let w = UInt64(cur.srcW >> 16) + UInt64(cur.srcX >> 16), h = UInt64(cur.srcH >> 16) + UInt64(cur.srcY >> 16)
            if w > UInt64(fb.width) || h > UInt64(fb.height) { throw .noSpace }
            if fb.format != curFB.format { throw .invalidArgument }
            // page_flip_common: "disabled, rejecting legacy flip", event or not (DPMS off).
            if !state.crtcs[c].active { throw .invalidArgument }
            if pendingCommits[c] != nil { throw .busy }
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
            defer { runEagerClock() }
            try requireMaster(file)
            guard let i = planes.firstIndex(where: { $0.id == r.planeID }) else { throw .notFound }
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
            guard let c = crtcs.firstIndex(where: { $0.id == r.crtcID }) else { throw .notFound }
            guard let fb = framebuffers[r.fbID] else { throw .notFound }
            if planes[i].possibleCrtcs & (1 << UInt32(c)) == 0 { throw .invalidArgument }
            if !planes[i].formats.contains(fb.format) { throw .invalidArgument }
            if r.crtcW > UInt32(Int32.max) || Int64(r.crtcX) + Int64(r.crtcW) > Int64(Int32.max)
                || r.crtcH > UInt32(Int32.max) || Int64(r.crtcY) + Int64(r.crtcH) > Int64(Int32.max) { throw .outOfRange }
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
            defer { runEagerClock() }
            try requireMaster(file)
            let bo: UInt32 = 1, move: UInt32 = 2
            if flags == 0 || flags & ~(bo | move) != 0 { throw .invalidArgument }
            guard let c = crtcs.firstIndex(where: { $0.id == crtcID }) else { throw .notFound }
            guard let ci = planes.firstIndex(where: { $0.type == .cursor && $0.possibleCrtcs & (1 << UInt32(c)) != 0 }) else {
                throw .noDeviceOrAddress
            }
            try requireImplicitPlane(file, ci)
            var p = AtomicProposal(new: state)
            p.touchedPlanes.insert(ci)
            var s = p.new.planes[ci]
            var fbID = s.fb
            if flags & bo != 0 {
                fbID = 0
                if handle != 0 {
                    if UInt64(width) > config.cursorWidth || UInt64(height) > config.cursorHeight || width == 0 || height == 0 {
                        throw .invalidArgument
                    }
                    guard let buffer = file.handles[handle] else { throw .notFound }
                    guard UInt64(width) * UInt64(height) * 4 <= UInt64(buffer.size) else { throw .invalidArgument }
                    let fb = Framebuffer(id: allocateID(.framebuffer), ownerFile: -1, width: width, height: height,
                                         format: 0x3432_5241, flags: 0, buffers: [buffer, nil, nil, nil],
                                         pitches: [width * 4, 0, 0, 0], offsets: [0, 0, 0, 0], modifier: 0, bpp: 32, depth: 32)
                    // Internal fb: not listed anywhere, dies with the last state showing it.
                    fb.listed = false
                    framebuffers[fb.id] = fb
                    fbID = fb.id
                }
            }
            if let fb = framebuffers[fbID], fbID != 0 {
                s.fb = fbID
                s.crtc = crtcID
                s.crtcX = flags & move != 0 ? x : crtcs[c].cursorX
                s.crtcY = flags & move != 0 ? y : crtcs[c].cursorY
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
                crtcs[c].cursorX = x
                crtcs[c].cursorY = y
            }
        }
    }

    /// Legacy cursor updates are unsynced (the kernel's legacy_cursor_update: no wait for the
    /// vblank, no flip_done): with nothing pending on the CRTC the plane changes on screen at
    /// once and shows from the next frame; compositors and IGT move cursors hundreds of times a
    /// second. Behind a pending flip, or on a display that completes flips itself (virtio-gpu
    /// sends cursors through its own queue), it goes through a normal commit.
    private func commitLegacyCursor(_ p: AtomicProposal, crtcIndex c: Int, planeIndex ci: Int, file: FileContext) throws(DRMError) {
        guard pendingCommits[c] == nil, !backend.completesFlips, state.crtcs[c].active else {
            _ = try commitProposal(p, file: file, flags: 0, userData: 0)
            return
        }
        try check(p, flags: 0, eventCRTCs: [])
        if let e = commitFailFault(testOnly: false, file: file) { throw e }
        state = p.new
        latched.planes[ci] = p.new.planes[ci]
        settleReleases(at: nowNs())
        collectGarbage()
        lock.broadcast()
    }

    public func gamma(_ file: FileContext, crtcID: ObjectID) throws(DRMError) -> (size: UInt32, lut: [UInt16]) {
        try lock.withLock { () throws(DRMError) -> (size: UInt32, lut: [UInt16]) in
            guard let c = crtc(id: crtcID) else { throw .notFound }
            return (c.gammaSize, c.legacyGamma)
        }
    }

    /// SETGAMMA: kept as the legacy table and mirrored into a GAMMA_LUT blob, as the helper does.
    public func setGamma(_ file: FileContext, crtcID: ObjectID, size: UInt32, red: [UInt16], green: [UInt16], blue: [UInt16]) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            defer { runEagerClock() }
            try requireMaster(file)
            guard let c = crtcs.firstIndex(where: { $0.id == crtcID }) else { throw .notFound }
            let obj = crtcs[c]
            guard obj.gammaSize > 0 else { throw .notImplemented }
            guard size == obj.gammaSize, red.count == Int(size), green.count == Int(size), blue.count == Int(size) else { throw .invalidArgument }
            var data = [UInt8]()
            for k in 0..<Int(size) { data += LE.bytes([red[k], green[k], blue[k], 0]) }
            let b = Blob(id: allocateID(.blob), data: data, ownerFile: nil)
            b.listed = false
            blobs[b.id] = b
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
            defer { runEagerClock() }
            try requireMaster(file)
            guard let want = ObjectType(rawValue: objectType), self.objectType(objectID, expecting: want) != nil else { throw .notFound }
            guard let prop = properties[propID], self.objectType(propID) == .property else { throw .notFound }
            guard let attached = visibleProperties(of: objectID, for: file), attached.contains(where: { $0.id == propID }) else {
                throw .invalidArgument
            }
            var p = AtomicProposal(new: state)
            p.allowDPMS = true
            try setProperty(&p, objectID: objectID, prop: prop, value: value)
            if !p.outFencePtrs.isEmpty || !p.releaseFencePtrs.isEmpty { throw .invalidArgument }
            try commitProposal(p, file: file, flags: DRMConst.atomicAllowModeset, userData: 0)
        }
    }
}
