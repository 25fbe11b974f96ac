/// The pipeline's fault consultation points (lock held): a commit failed after its check,
/// in-fence waits late, failed or never, commits held or late, out and release fences faulted.
extension AtomicPipeline {
    /// `commit-fail`, after the check passed.
    func commitFailFault(testOnly: Bool, file: FileContext) -> DRMError? {
        guard file !== FileContext.kernel else { return nil }
        guard let hit = faults.consult("commit by file \(file.id)\(testOnly ? " (TEST_ONLY)" : "")", { k in
            if case .commitFail(_, let withTests) = k { return withTests || !testOnly }
            return false
        }), case .commitFail(let e, _) = hit.kind else { return nil }
        return .injected(e)
    }

    /// What a fault does to in-fence waiting, decided before the swap.
    enum InFenceFault { case none, late(Int64), error(Int32), never }

    func inFenceFault(file: FileContext) -> InFenceFault {
        guard file !== FileContext.kernel, let hit = faults.consult("in-fence wait, file \(file.id)", { FaultSpec.isFenceFault($0, .in) }) else { return .none }
        switch hit.kind {
        case .fenceLate(_, let ns): return .late(ns)
        case .fenceError(_, let e): return .error(e)
        case .fenceNever: return .never
        default: return .none
        }
    }

    /// `commit-hang`, `commit-late`, `backend-slow`, `backend-error` for a commit about to arm.
    func applyArmFaults(_ commits: [PendingCommit], file: FileContext) {
        guard file !== FileContext.kernel, !commits.isEmpty, faults.hasRules else { return }
        let crtcList = commits.map { String($0.crtcIndex) }.joined(separator: ",")
        if let hit = faults.consult("commit on crtc \(crtcList)", { k in
            switch k { case .commitHang, .commitLate: true; default: false }
        }) {
            switch hit.kind {
            case .commitHang: for pc in commits { pc.held = true }
            case .commitLate(let ns): for pc in commits { pc.notBeforeNs = max(pc.notBeforeNs, clock.nowNs() + ns) }
            default: break
            }
        }
        if let hit = faults.consult("backend submit crtc \(crtcList)", { k in
            switch k { case .backendError, .backendSlow: true; default: false }
        }) {
            switch hit.kind {
            case .backendError(let e): for pc in commits { pc.backendError = -e }
            case .backendSlow(let ns): for pc in commits { pc.notBeforeNs = max(pc.notBeforeNs, clock.nowNs() + ns) }
            default: break
            }
        }
    }

    /// Signals an out or release fence the device made, unless a rule delays, fails or
    /// swallows it.
    func signalFence(_ f: Fence, _ which: FaultSpec.FenceKind, at ts: Int64, error: Int32 = 0, extraDelayNs: Int64 = 0) {
        var delay = extraDelayNs
        var err = error
        if err == 0, let hit = faults.consult("\(which) fence \(f.timelineName) seqno \(f.seqno)", { FaultSpec.isFenceFault($0, which) }) {
            switch hit.kind {
            case .fenceLate(_, let ns): delay += ns
            case .fenceError(_, let e): err = -e
            case .fenceNever: return
            default: break
            }
        }
        if delay > 0 {
            clock.schedule(after: delay) { [weak device = self.device] in f.signal(at: device?.clock.nowNs() ?? ts, error: err) }
        } else {
            f.signal(at: ts, error: err)
        }
    }
}

extension FaultSpec {
    static func isFenceFault(_ k: FaultSpec.Kind, _ which: FaultSpec.FenceKind) -> Bool {
        switch k {
        case .fenceLate(let w, _), .fenceError(let w, _), .fenceNever(let w): w == which
        default: false
        }
    }
}
