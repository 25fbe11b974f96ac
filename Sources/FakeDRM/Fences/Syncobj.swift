/// A DRM syncobj: binary (one fence, point 0) or timeline (fences at increasing points).
///
/// @unchecked Sendable: mutated only under the device lock (see Fence).
public final class Syncobj: @unchecked Sendable {
    /// Ascending points; a binary syncobj uses a single entry at point 0.
    private(set) var chain: [(point: UInt64, fence: Fence)] = []

    init(signalled: Bool) {
        if signalled { chain = [(point: 0, fence: Fence.signalled())] }
    }

    /// The fence a binary wait/export sees: the latest one.
    var binaryFence: Fence? { chain.last?.fence }

    func replace(_ fence: Fence?) {
        if let fence { chain = [(point: UInt64(0), fence: fence)] } else { chain = [] }
        notifyEventfds()
    }

    /// Adds a point; points must grow, as dma_fence_chain requires (a smaller point is ignored
    /// by the kernel with a warning; we do the same).
    func add(_ fence: Fence, at point: UInt64) {
        if let last = chain.last, last.point >= point, point != 0 { return }
        // dma_fence_chain collects signalled links as it is walked: keep only the last entry of
        // the signalled prefix, which still answers for every point below it.
        if let firstPending = chain.firstIndex(where: { !$0.fence.isSignalled }) {
            if firstPending > 1 { chain.removeFirst(firstPending - 1) }
        } else if chain.count > 1 {
            chain.removeFirst(chain.count - 1)
        }
        chain.append((point, fence))
        notifyEventfds()
    }

    /// The fence that covers `point`: the first entry at or past it (nil: not submitted yet).
    func fence(at point: UInt64) -> Fence? {
        if point == 0 { return binaryFence }
        return chain.first(where: { $0.point >= point })?.fence
    }

    /// Point `point` is signalled once every fence up to the covering one has signalled.
    func isSignalled(at point: UInt64) -> Bool {
        guard let fences = fences(upTo: point) else { return false }
        return fences.allSatisfy { $0.isSignalled }
    }

    /// The fences a dma_fence_chain node at `point` waits for: every entry up to the covering
    /// one (nil: not submitted yet).
    func fences(upTo point: UInt64) -> [Fence]? {
        guard let i = point == 0 ? (chain.isEmpty ? nil : chain.count - 1) : chain.firstIndex(where: { $0.point >= point }) else {
            return nil
        }
        return chain[...i].map(\.fence)
    }

    /// QUERY: the highest point with everything below signalled; LAST_SUBMITTED: highest point.
    func lastSignalledPoint() -> UInt64 {
        var result: UInt64 = 0
        for entry in chain {
            guard entry.fence.isSignalled else { break }
            result = entry.point
        }
        return result
    }

    var lastSubmittedPoint: UInt64 { chain.last?.point ?? 0 }

    func reset() { replace(nil) }

    // MARK: SYNCOBJ_EVENTFD

    /// Registered eventfds whose point has not been submitted yet (the kernel's ev_fd_list).
    private var eventfds: [(fd: OwnedFD, point: UInt64, availableOnly: Bool)] = []
    /// Daemon fds are finite: beyond this many pending eventfds on one syncobj, ENOMEM.
    static let maxPendingEventfds = 1024

    /// syncobj_eventfd_entry_func: once `point` is submitted the entry leaves the syncobj and
    /// rides on the point's fences (a later reset does not cancel it); WAIT_AVAILABLE signals
    /// at submission, otherwise when every fence up to the point has signalled.
    func addEventfd(_ fd: OwnedFD, point: UInt64, availableOnly: Bool) throws(DRMError) {
        guard eventfds.count < Self.maxPendingEventfds else { throw .noMemory }
        eventfds.append((fd, point, availableOnly))
        notifyEventfds()
    }

    private func notifyEventfds() {
        guard !eventfds.isEmpty else { return }
        var pending: [(fd: OwnedFD, point: UInt64, availableOnly: Bool)] = []
        for e in eventfds {
            guard let fences = fences(upTo: e.point) else { pending.append(e); continue }
            if e.availableOnly { Eventfd.signal(e.fd.raw); continue }
            Self.signal(e.fd, when: fences.filter { !$0.isSignalled })
        }
        eventfds = pending
    }

    private static func signal(_ fd: OwnedFD, when fences: [Fence]) {
        guard let first = fences.first else { return Eventfd.signal(fd.raw) }
        first.onSignal { _ in signal(fd, when: Array(fences.dropFirst()).filter { !$0.isSignalled }) }
    }
}
