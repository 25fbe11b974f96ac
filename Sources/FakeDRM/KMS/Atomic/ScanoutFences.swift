/// The card's own fences on what it scans out: a dma-buf exported for writing waits until the
/// buffer is off the screen, and a commit waits for the writers of the buffers it shows
/// (implicit sync). Kept with the pipeline, which knows what is latched and pending.
extension AtomicPipeline {
    /// The buffer is on a latched plane or in a commit still waiting for its vblank.
    func isScannedOut(_ bo: BufferObject) -> Bool {
        func shows(_ s: KMSState) -> Bool {
            s.planes.contains { $0.fb != 0 && objects.framebuffers[$0.fb]?.buffers.contains { $0 === bo } == true }
        }
        return shows(latched) || pendingCommits.contains { $0.map { shows($0.newState) } ?? false }
    }

    /// One fence per buffer while it stays busy; settled with the release fences.
    func scanoutFence(_ bo: BufferObject) -> Fence {
        if let w = scanoutWaits.first(where: { $0.buffer === bo }) { return w.fence }
        let f = Fence(context: Fence.allocateContext(), seqno: 1, timelineName: "scanout", driverName: config.driver.name)
        scanoutWaits.append((bo, f))
        return f
    }

    func settleScanoutWaits(at ts: Int64) {
        guard !scanoutWaits.isEmpty else { return }
        scanoutWaits.removeAll { w in
            guard !isScannedOut(w.buffer) else { return false }
            w.fence.signal(at: ts)
            return true
        }
    }

    /// drm_gem_plane_helper_prepare_fb: a plane of the commit without an explicit IN_FENCE_FD
    /// waits for the writers in its buffers' reservations (implicit sync).
    func addImplicitInFences(_ p: inout AtomicProposal) throws(DRMError) {
        for i in p.touchedPlanes where p.inFences[i] == nil {
            guard i < p.new.planes.count, let fb = objects.framebuffers[p.new.planes[i].fb] else { continue }
            var fences: [Fence] = []
            // Each buffer once (planes of one fb may share a buffer).
            for (k, bo) in fb.buffers.enumerated() {
                guard let bo, !fb.buffers[..<k].contains(where: { $0 === bo }) else { continue }
                fences += bo.reservation.writers
            }
            if !fences.isEmpty { p.inFences[i] = try SyncFile(fences: fences) }
        }
    }
}
