/// DRM_IOCTL_MODE_ATOMIC: decode into a proposal, check, prepare signalling, swap, and hand the
/// new configuration to the display at the next vblank once in-fences have signalled.
extension Device {
    /// Returns the sync files to install for OUT_FENCE_PTR/RELEASE_FENCE_PTR; the front end
    /// installs them outside the lock and writes the fd numbers.
    public func atomic(_ file: FileContext, _ req: AtomicRequest) throws(DRMError) -> [FenceInstall] {
        try lock.withLock { () throws(DRMError) -> [FenceInstall] in
            defer { runEagerClock() }
            var p = AtomicProposal(new: state)
            p.resolvedInFences = req.inFences
            for obj in req.objects {
                guard let type = objectType(obj.id), [.crtc, .plane, .connector].contains(type), leaseHeld(file, obj.id) else {
                    throw .notFound.because(.atomic, "[OBJECT:\(obj.id)] is not a CRTC, plane or connector this file may use")
                }
                let attached = visibleProperties(of: obj.id, for: file) ?? []
                for (propID, value) in obj.props {
                    guard let prop = attached.first(where: { $0.id == propID }) else {
                        throw .notFound.because(.atomic, "[OBJECT:\(obj.id)] has no property [PROP:\(propID)]")
                    }
                    try setProperty(&p, objectID: obj.id, prop: prop, value: value)
                }
            }
            return try commitProposal(p, file: file, flags: req.flags, userData: req.userData)
        }
    }

    /// drm_mode_atomic_ioctl's flag rules, before anything else (also the codec's first step).
    static func checkAtomicFlags(_ flags: UInt32) throws(DRMError) {
        if flags & ~DRMConst.atomicFlags != 0 {
            throw .invalidArgument.because(.atomic, "commit flags 0x\(String(flags, radix: 16)) outside DRM_MODE_ATOMIC_FLAGS")
        }
        // No async flips on this device (ATOMIC_ASYNC_PAGE_FLIP is 0).
        if flags & DRMConst.atomicPageFlipAsync != 0 { throw .invalidArgument.because(.atomic, "DRM_MODE_PAGE_FLIP_ASYNC: no async flips on this card") }
        if flags & DRMConst.atomicTestOnly != 0 && flags & DRMConst.atomicPageFlipEvent != 0 {
            throw .invalidArgument.because(.atomic, "TEST_ONLY with PAGE_FLIP_EVENT")
        }
    }

    /// Check and (unless TEST_ONLY) apply a proposal. Shared by atomic and the legacy paths.
    @discardableResult
    func commitProposal(_ proposal: AtomicProposal, file: FileContext, flags: UInt32, userData: UInt64) throws(DRMError) -> [FenceInstall] {
        var p = proposal
        try Self.checkAtomicFlags(flags)
        var affected = affectedCRTCs(p)
        let wantsEvent = flags & DRMConst.atomicPageFlipEvent != 0
        if wantsEvent && affected.isEmpty { throw .invalidArgument.because(.atomic, "requesting event but no CRTC in the commit") }
        try check(p, flags: flags, eventCRTCs: wantsEvent ? affected : [])
        if let e = commitFailFault(testOnly: flags & DRMConst.atomicTestOnly != 0, file: file) { throw e }
        if flags & DRMConst.atomicTestOnly != 0 { return [] }

        if flags & DRMConst.atomicNonblock != 0 {
            if let c = affected.sorted().first(where: { pendingCommits[$0] != nil }) {
                throw .busy.because(.atomic, "\(crtcs[c].tag) busy with a previous commit")
            }
        } else {
            // The kernel stalls on the previous commit with the modeset locks held; here the
            // lock is released while waiting, so the proposal is replayed onto whatever was
            // committed meanwhile and checked again (an fb removed meanwhile fails the check).
            var waited = false
            while affected.contains(where: { pendingCommits[$0] != nil }) {
                // The previous commit's in-fences may take any time; once it is armed, its flip
                // gets the kernel's 10 s (stall_checks/wait_for_dependencies log "timed out"
                // and go on): a flip a fault holds or never finishes is abandoned, its event
                // and fence never come, and this commit proceeds.
                _ = waitUntil(timeoutNs: .max / 4, crtcIndex: nil) {
                    affected.allSatisfy { pendingCommits[$0]?.armed ?? true } || shuttingDown
                }
                let finished = waitUntil(timeoutNs: Self.flipDoneTimeoutNs, crtcIndex: nil) {
                    affected.allSatisfy { pendingCommits[$0] == nil } || shuttingDown
                }
                if shuttingDown { throw .noDevice.because(.atomic, "the card is shutting down") }
                if !finished {
                    for c in affected { if let stuck = pendingCommits[c] { abandon(stuck) } }
                }
                waited = true
                if state != p.base {
                    p = p.rebased(onto: state)
                    affected = affectedCRTCs(p)
                }
            }
            // Anything may have gone while the lock was released (an fb removed, a blob
            // destroyed): check again what is about to be swapped in.
            if waited {
                if wantsEvent && affected.isEmpty { throw .invalidArgument.because(.atomic, "requesting event but no CRTC in the commit") }
                try check(p, flags: flags, eventCRTCs: wantsEvent ? affected : [])
            }
        }

        // A fault in waiting for in-fences: a blocking commit waits before it swaps, so an
        // error ends it here with nothing applied; a nonblocking one ignores it, as the kernel.
        try addImplicitInFences(&p)
        let inFault = p.inFences.isEmpty ? .none : inFenceFault(file: file)
        if case .error(let e) = inFault, flags & DRMConst.atomicNonblock == 0 { throw .injected(e) }

        // prepare_signaling: reserve event space, create the fences.
        let eventSize = EventVblankLayout.size
        if wantsEvent {
            guard file.eventSpace >= eventSize * affected.count else {
                throw .noMemory.because(.atomic, "file \(file.id) has no event space left (unread events)")
            }
        }
        var installs: [FenceInstall] = []
        var outFences: [Int: Fence] = [:]
        var releaseFences: [Int: Fence] = [:]
        for c in affected.sorted() {
            guard let ptr = p.outFencePtrs[c] else { continue }
            let crtc = crtcs[c]
            crtc.fenceSeqno += 1
            let f = Fence(context: crtc.fenceContext, seqno: crtc.fenceSeqno, timelineName: crtc.timelineName, driverName: config.driver.name)
            installs.append(FenceInstall(pointer: ptr, syncFile: try SyncFile(fences: [f])))
            outFences[c] = f
        }
        // Release fences may also name CRTCs outside `affected` (nothing changes there);
        // each gets its own context since release order is independent of flip order.
        for (c, ptr) in p.releaseFencePtrs.sorted(by: { $0.key < $1.key }) {
            let f = Fence(context: Fence.allocateContext(), seqno: 1, timelineName: "release-\(crtcs[c].timelineName)", driverName: config.driver.name)
            installs.append(FenceInstall(pointer: ptr, syncFile: try SyncFile(fences: [f])))
            releaseFences[c] = f
        }
        let writebacks = try prepareWritebacks(p, installs: &installs)
        if wantsEvent { file.eventSpace -= eventSize * affected.count }

        // Swap: the software state is the new one from now on.
        state = p.new
        for c in affected { updateVblankClock(c) }
        let inFences = Array(p.inFences.values)
        for c in affected.sorted() {
            let active = p.new.crtcs[c].active
            let pc = PendingCommit(crtcIndex: c, newState: p.new, events: wantsEvent ? [(file, userData)] : [],
                                   outFence: outFences[c], waitsForVblank: active, token: nextCommitToken)
            nextCommitToken += 1
            pc.ownerFile = file.id
            pc.writebacks = writebacks[c] ?? []
            if case .never = inFault { pc.held = true }
            pendingCommits[c] = pc
        }
        // Release fences: remember which fbs the commit leaves on each CRTC's planes.
        for (c, f) in releaseFences {
            let crtcID = crtcs[c].id
            let shown = p.new.planes.enumerated().filter { $0.element.crtc == crtcID && $0.element.fb != 0 }.map { (planeIndex: $0.offset, fb: $0.element.fb) }
            releaseWaits.append(ReleaseWait(fence: f, shown: shown, armedAfter: pendingCommits[c]))
        }
        let commits = affected.compactMap { pendingCommits[$0] }
        applyArmFaults(commits, file: file)
        let arm = { [weak self] in
            // Also breaks the cycle commit -> deferredArm -> this closure -> commits.
            for pc in commits { pc.deferredArm = nil }
            guard let self else { return }
            for pc in commits where !pc.armed {
                pc.armed = true
                self.startFlip(pc)
            }
            self.lock.broadcast()
        }
        if inFences.isEmpty {
            arm()
        } else {
            var left = inFences.count
            let lateNs: Int64 = if case .late(let ns) = inFault { ns } else { 0 }
            for sf in inFences {
                sf.onSignalled { [weak self] in
                    left -= 1
                    guard left == 0 else { return }
                    if lateNs > 0, let self {
                        for pc in commits { pc.deferredArm = arm }
                        self.schedule(after: lateNs, arm)
                    } else {
                        arm()
                    }
                }
            }
        }
        if affected.isEmpty { settleReleases(at: nowNs()) }
        collectGarbage()

        if flags & DRMConst.atomicNonblock == 0 {
            // Blocking commits return once the new configuration is on screen, however long
            // in-fences take (the kernel waits for them without a limit too).
            // Then drm_atomic_helper_wait_for_flip_done gives the flip 10 s, logs, and the
            // ioctl returns 0 with the flip still pending (it only matters under faults).
            _ = waitUntil(timeoutNs: .max / 4, crtcIndex: nil) { commits.allSatisfy(\.armed) || shuttingDown }
            _ = waitUntil(timeoutNs: Self.flipDoneTimeoutNs, crtcIndex: nil) { commits.allSatisfy(\.done) || shuttingDown }
        }
        return installs
    }

    /// drm_atomic_helper_wait_for_flip_done's and stall_checks' limit.
    static let flipDoneTimeoutNs: Int64 = 10_000_000_000

    /// An armed commit goes to the display: submitted to a flip-completing backend, or
    /// completed now when it needs no vblank. Held commits wait for `releaseHeld`.
    func startFlip(_ pc: PendingCommit) {
        guard pc.armed, !pc.held, !pc.done else { return }
        let wait = pc.notBeforeNs - nowNs()
        if backend.completesFlips {
            if pc.backendError != 0 {
                // Nothing reaches the display; the flip still completes, its fence failed.
                completeWithoutVblank(pc)
            } else if wait > 0 {
                schedule(after: wait) { [weak self] in self?.submitToBackend(pc) }
            } else {
                submitToBackend(pc)
            }
        }
        if !pc.waitsForVblank && !pc.done {
            if wait > 0 {
                schedule(after: wait) { [weak self] in self?.completeWithoutVblank(pc) }
            } else {
                completeWithoutVblank(pc)
            }
        }
    }

    /// Completes now, at the CRTC's current count: a commit that needs no vblank.
    private func completeWithoutVblank(_ pc: PendingCommit) {
        completeFlip(pc, sequence: vblank[pc.crtcIndex].count, at: nowNs())
    }

    private func submitToBackend(_ pc: PendingCommit) {
        guard !pc.done else { return }
        backend.submit(crtcIndex: pc.crtcIndex, scanout: scanout(for: pc.crtcIndex, in: pc.newState), token: pc.token)
    }

    /// A commit held by a fault goes on (rules cleared, or its file closed).
    func releaseHeld(_ pc: PendingCommit) {
        pc.held = false
        startFlip(pc)
    }

    /// A flip that will never complete, given up by a later commit as the kernel does after
    /// its 10 s timeouts: no latch, no event (the space reserved for it is returned), and its
    /// out-fence never signals.
    func abandon(_ pc: PendingCommit) {
        guard !pc.done else { return }
        pc.done = true
        if pendingCommits[pc.crtcIndex] === pc { pendingCommits[pc.crtcIndex] = nil }
        for (file, _) in pc.events { file.eventSpace += EventVblankLayout.size }
        pc.events = []
        lock.broadcast()
    }

    /// Flip completion, in the order of §6.7: flip_done, out fence (same timestamp), event.
    func completeFlip(_ pc: PendingCommit, sequence: UInt64, at ts: Int64) {
        guard !pc.done else { return }
        pc.done = true
        if pendingCommits[pc.crtcIndex] === pc { pendingCommits[pc.crtcIndex] = nil }
        latch(pc)
        runWritebacks(pc)
        if let f = pc.outFence { signalFence(f, .out, at: ts, error: pc.backendError) }
        for (file, ud) in pc.events where !file.closed {
            file.eventSpace += EventVblankLayout.size
            file.queue(event: Device.vblankEvent(type: DRMConst.eventFlipComplete, userData: ud, ts: ts,
                                                 sequence: UInt32(truncatingIfNeeded: sequence), crtcID: crtcs[pc.crtcIndex].id))
            file.eventSpace -= EventVblankLayout.size
        }
        settleReleases(at: ts)
        collectGarbage()
        lock.broadcast()
    }

    /// The display now shows the commit's configuration on this CRTC.
    private func latch(_ pc: PendingCommit) {
        let c = pc.crtcIndex
        let crtcID = crtcs[c].id
        latched.crtcs[c] = pc.newState.crtcs[c]
        for i in planes.indices where latched.planes[i].crtc == crtcID || pc.newState.planes[i].crtc == crtcID {
            latched.planes[i] = pc.newState.planes[i]
        }
        for k in connectors.indices where latched.connectors[k].crtc == crtcID || pc.newState.connectors[k].crtc == crtcID {
            latched.connectors[k] = pc.newState.connectors[k]
        }
        if !backend.completesFlips && pc.backendError == 0 { backend.present(crtcIndex: c, scanout: scanout(for: c), timestampNs: nowNs()) }
    }

    /// A flip-completing backend finished showing the commit named by `token`.
    public func backendFlipDone(crtcIndex c: Int, token: UInt64, timestampNs: Int64? = nil) {
        lock.withLock {
            guard c >= 0, c < pendingCommits.count, let pc = pendingCommits[c], pc.token == token, pc.armed else { return }
            var ts = timestampNs ?? nowNs()
            if virtualTime && pc.waitsForVblank {
                // Virtual time has no vblank thread: the backend's completion is the frame, so
                // the counter and the clock advance with it and events carry distinct sequences.
                vblank[c].count &+= 1
                virtualNowNs = max(virtualNowNs, vblank[c].lastNs + vblank[c].periodNs)
                vblank[c].lastNs = virtualNowNs
                ts = virtualNowNs
            }
            completeFlip(pc, sequence: vblank[c].count, at: ts)
        }
    }

    /// The display behind the card went away (backend killed, socket closed): connectors turn
    /// disconnected, pending flips complete with their fences signalled in error so no client
    /// waits forever, and release fences fail with ENODEV. The KMS side keeps serving.
    public func backendLost(error: Int32 = -19) {
        lock.withLock {
            let ts = nowNs()
            for c in pendingCommits.indices {
                guard let pc = pendingCommits[c] else { continue }
                pc.outFence?.signal(at: ts, error: error)
                completeFlip(pc, sequence: vblank[c].count, at: ts)
            }
            for w in releaseWaits { w.fence.signal(at: ts, error: error) }
            releaseWaits = []
            for k in connectors.indices where connectors[k].status != .disconnected && !connectors[k].removed {
                connectors[k].status = .disconnected
                connectors[k].epoch += 1
            }
            hotplugGeneration += 1
            announceHotplug(connector: nil)
            lock.broadcast()
        }
    }

    /// Connector status and modes as the display reports them (virtio GET_DISPLAY_INFO, or a
    /// hotplug from the control path).
    /// `connected: nil` keeps the status (a mode list or EDID change alone).
    public func setConnector(index k: Int, connected: Bool?, modes: [ModeInfo]? = nil, edid: [UInt8]? = nil) {
        lock.withLock {
            guard k >= 0, k < connectors.count, !connectors[k].removed else { return }
            if let connected { connectors[k].status = connected ? .connected : .disconnected }
            if let modes, !modes.isEmpty { connectors[k].modes = NoEDIDModes.sortModes(modes) }
            if let edid, connectors[k].edidBlob != 0 {
                // A new blob id, as drm_connector_update_edid_property replaces the blob.
                let old = connectors[k].edidBlob
                connectors[k].edidBlob = makeKernelBlob(edid)
                blobs[old] = nil
                freeID(old)
            }
            connectors[k].epoch += 1
            hotplugGeneration += 1
            announceHotplug(connector: connectors[k].id)
            lock.broadcast()
        }
    }

    /// Signals release fences whose fbs are all off the display (optionally after the
    /// emulated host delay).
    func settleReleases(at ts: Int64) {
        var keep: [ReleaseWait] = []
        for var w in releaseWaits {
            if let gate = w.armedAfter, !gate.done { keep.append(w); continue }
            w.armedAfter = nil
            w.shown.removeAll { latched.planes[$0.planeIndex].fb != $0.fb }
            if w.shown.isEmpty {
                signalFence(w.fence, .release, at: ts, extraDelayNs: Int64(config.releaseFence.hostDelayMs) * 1_000_000)
            } else {
                keep.append(w)
            }
        }
        releaseWaits = keep
        settleScanoutWaits(at: ts)
    }
}
