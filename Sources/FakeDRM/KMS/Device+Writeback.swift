/// Writeback connectors (drm_writeback.c, vkms_writeback.c): a commit's WRITEBACK_FB_ID job
/// receives the CRTC's composed frame once the commit is on screen, and its
/// WRITEBACK_OUT_FENCE_PTR fence signals when the frame is in the buffer.
extension Device {
    /// prepare_signaling for connectors: a fence per job that asked for one, by CRTC index.
    func prepareWritebacks(_ p: AtomicProposal, installs: inout [FenceInstall]) throws(DRMError) -> [Int: [WritebackJob]] {
        var out: [Int: [WritebackJob]] = [:]
        for (k, id) in p.writebackJobs.sorted(by: { $0.key < $1.key }) where id != 0 {
            guard let engine = connectors[k].writeback, let fb = framebuffers[id], let bo = fb.buffers.first ?? nil,
                  let c = crtcIndex(of: p.new.connectors[k].crtc) else { continue }
            var fence: Fence?
            if let ptr = p.writebackFencePtrs[k] {
                engine.fenceSeqno += 1
                let f = Fence(context: engine.fenceContext, seqno: engine.fenceSeqno, timelineName: engine.timelineName, driverName: config.driver.name)
                installs.append(FenceInstall(pointer: ptr, syncFile: try SyncFile(fences: [f])))
                fence = f
            }
            out[c, default: []].append(WritebackJob(buffer: bo, format: fb.format, width: Int(fb.width), height: Int(fb.height),
                                                    pitch: Int(fb.pitches[0]), offset: Int(fb.offsets[0]), fence: fence))
        }
        return out
    }

    /// Composes what the CRTC now shows into each job's buffer off the lock, then signals.
    func runWritebacks(_ pc: PendingCommit) {
        guard !pc.writebacks.isEmpty else { return }
        let jobs = pc.writebacks
        pc.writebacks = []
        let scanout = scanout(for: pc.crtcIndex)
        writebackQueue.async { [weak self] in
            let frame = Composer.compose(scanout)
            withExtendedLifetime(scanout.buffers) {}
            for job in jobs { job.write(frame) }
            guard let self else { return }
            self.lock.withLock {
                let ts = self.nowNs()
                for job in jobs { job.fence?.signal(at: ts) }
                self.lock.broadcast()
            }
        }
    }
}
