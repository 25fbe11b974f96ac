/// Flip completion: a swapped commit goes to the display, completes at its vblank (or when a
/// flip-completing backend says so), latches, and signals its events and fences in the kernel's order.
extension AtomicPipeline {

    /// An armed commit goes to the display: submitted to a flip-completing backend, or
    /// completed now when it needs no vblank. Held commits wait for `releaseHeld`.
    func startFlip(_ pc: PendingCommit) {
        guard pc.armed, !pc.held, !pc.done else { return }
        let wait = pc.notBeforeNs - clock.nowNs()
        if display.backend.completesFlips {
            if pc.backendError != 0 {
                // Nothing reaches the display; the flip still completes, its fence failed.
                completeWithoutVblank(pc)
            } else if wait > 0 {
                clock.schedule(after: wait) { [weak device = self.device] in device?.pipeline.submitToBackend(pc) }
            } else {
                submitToBackend(pc)
            }
        }
        if !pc.waitsForVblank && !pc.done {
            if wait > 0 {
                clock.schedule(after: wait) { [weak device = self.device] in device?.pipeline.completeWithoutVblank(pc) }
            } else {
                completeWithoutVblank(pc)
            }
        }
    }

    /// Completes now, at the CRTC's current count: a commit that needs no vblank.
    private func completeWithoutVblank(_ pc: PendingCommit) {
        completeFlip(pc, sequence: vblank.clocks[pc.crtcIndex].count, at: clock.nowNs())
    }

    private func submitToBackend(_ pc: PendingCommit) {
        guard !pc.done else { return }
        display.backend.submit(crtcIndex: pc.crtcIndex, scanout: scanout(for: pc.crtcIndex, in: pc.newState), token: pc.token)
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
            file.queue(event: DRMEvent.vblank(type: DRMConst.eventFlipComplete, userData: ud, ts: ts,
                                                 sequence: UInt32(truncatingIfNeeded: sequence), crtcID: topology.crtcs[pc.crtcIndex].id))
            file.eventSpace -= EventVblankLayout.size
        }
        settleReleases(at: ts)
        collectGarbage()
        lock.broadcast()
    }

    /// The display now shows the commit's configuration on this CRTC.
    private func latch(_ pc: PendingCommit) {
        let c = pc.crtcIndex
        let display: Display = display
        let crtcID = topology.crtcs[c].id
        if latchesWhole(pc.newState, crtcID: crtcID, crtcIndex: c) {
            // Shares the commit's arrays instead of copying the latched ones to change them.
            latched = pc.newState
        } else {
            latchPart(pc.newState, crtcID: crtcID, crtcIndex: c)
        }
        if !display.backend.completesFlips && pc.backendError == 0 { display.backend.present(crtcIndex: c, scanout: scanout(for: c), timestampNs: clock.nowNs()) }
    }

    /// The commit's state differs from the latched one only in objects of this CRTC (always so
    /// with one CRTC): latching it is taking it whole.
    private func latchesWhole(_ new: KMSState, crtcID: ObjectID, crtcIndex c: Int) -> Bool {
        guard latched.crtcs.count == new.crtcs.count, latched.planes.count == new.planes.count,
              latched.connectors.count == new.connectors.count else { return false }
        for i in latched.crtcs.indices where i != c && latched.crtcs[i] != new.crtcs[i] { return false }
        for i in latched.planes.indices where latched.planes[i].crtc != crtcID && new.planes[i].crtc != crtcID && latched.planes[i] != new.planes[i] { return false }
        for k in latched.connectors.indices where latched.connectors[k].crtc != crtcID && new.connectors[k].crtc != crtcID && latched.connectors[k] != new.connectors[k] { return false }
        return true
    }

    private func latchPart(_ new: KMSState, crtcID: ObjectID, crtcIndex c: Int) {
        latched.crtcs[c] = new.crtcs[c]
        for i in topology.planes.indices where latched.planes[i].crtc == crtcID || new.planes[i].crtc == crtcID {
            latched.planes[i] = new.planes[i]
        }
        for k in topology.connectors.indices where latched.connectors[k].crtc == crtcID || new.connectors[k].crtc == crtcID {
            latched.connectors[k] = new.connectors[k]
        }
    }

    /// Signals release fences whose commit latched and whose fbs are all off the display or,
    /// with a buffer-holding backend, released by its host (optionally after the emulated host
    /// delay).
    func settleReleases(at ts: Int64) {
        var keep: [ReleaseWait] = []
        for var w in releaseWaits {
            if let gate = w.armedAfter, !gate.done { keep.append(w); continue }
            w.armedAfter = nil
            w.shown.removeAll { latched.planes[$0.planeIndex].fb != $0.fb }
            if w.hostHolds ? w.hostReleased : w.shown.isEmpty {
                signalFence(w.fence, .release, at: ts, extraDelayNs: Int64(config.releaseFence.hostDelayMs) * 1_000_000)
            } else {
                keep.append(w)
            }
        }
        releaseWaits = keep
        settleScanoutWaits(at: ts)
    }
}
