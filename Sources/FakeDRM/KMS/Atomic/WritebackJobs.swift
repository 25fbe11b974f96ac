/// Writeback jobs in the pipeline: made at commit from each connector's WRITEBACK_FB_ID
/// (Objects/Writeback.swift has the rules), run once the commit is on screen, off the lock.
extension AtomicPipeline {
    /// prepare_signaling for connectors: a job (and fence) per WRITEBACK_FB_ID, by CRTC index.
    func prepareWritebacks(_ p: AtomicProposal, installs: inout [FenceInstall]) throws(DRMError) -> [Int: [WritebackJob]] {
        var out: [Int: [WritebackJob]] = [:]
        for (k, id) in p.writebackJobs.sorted(by: { $0.key < $1.key }) where id != 0 {
            guard let engine = topology.connectors[k].writeback, let fb = objects.framebuffers[id],
                  let c = topology.crtcIndex(of: p.new.connectors[k].crtc),
                  let job = try engine.makeJob(fb, fencePointer: p.writebackFencePtrs[k], driverName: config.driver.name, installs: &installs)
            else { continue }
            out[c, default: []].append(job)
        }
        return out
    }

    /// Composes what the CRTC now shows into each job's buffer off the lock, then signals.
    func runWritebacks(_ pc: PendingCommit) {
        guard !pc.writebacks.isEmpty else { return }
        let jobs = pc.writebacks
        pc.writebacks = []
        let scanout = scanout(for: pc.crtcIndex)
        writebackQueue.async { [weak device = self.device] in
            let frame = Composer.compose(scanout)
            withExtendedLifetime(scanout.buffers) {}
            for job in jobs { job.write(frame) }
            guard let device else { return }
            device.lock.withLock {
                let ts = device.clock.nowNs()
                for job in jobs { job.fence?.signal(at: ts) }
                device.lock.broadcast()
            }
        }
    }
}
