import Synchronization

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
        notifySubmitted()
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
        notifySubmitted()
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
    private var eventfds: [(target: EventfdTarget, point: UInt64, availableOnly: Bool)] = []

    /// syncobj_eventfd_entry_func: once `point` is submitted the entry leaves the syncobj and
    /// rides on the point's fences (a later reset does not cancel it); WAIT_AVAILABLE signals
    /// at submission, otherwise when every fence up to the point has signalled.
    func addEventfd(_ target: EventfdTarget, point: UInt64, availableOnly: Bool) {
        eventfds.append((target, point, availableOnly))
        notifySubmitted()
    }

    /// Host waits (SYNCOBJ_WAIT with WAIT_FOR_SUBMIT) that have not seen their point yet:
    /// each takes the first fences submitted for it, as syncobj_wait_syncobj_func does.
    private var submitWatchers: [(id: UInt64, point: UInt64, take: ([Fence]) -> Void)] = []
    private var nextWatcher: UInt64 = 0

    func watchSubmit(point: UInt64, _ take: @escaping ([Fence]) -> Void) -> UInt64 {
        nextWatcher += 1
        submitWatchers.append((nextWatcher, point, take))
        return nextWatcher
    }

    func unwatch(_ id: UInt64) { submitWatchers.removeAll { $0.id == id } }

    /// After every change of the chain: watchers and eventfds whose point is now submitted.
    private func notifySubmitted() {
        if !submitWatchers.isEmpty {
            submitWatchers.removeAll { w in
                guard let fences = fences(upTo: w.point) else { return false }
                w.take(fences)
                return true
            }
        }
        guard !eventfds.isEmpty else { return }
        var pending: [(target: EventfdTarget, point: UInt64, availableOnly: Bool)] = []
        for e in eventfds {
            guard let fences = fences(upTo: e.point) else { pending.append(e); continue }
            if e.availableOnly { e.target.signal(); continue }
            Self.signal(e.target, when: fences.filter { !$0.isSignalled })
        }
        eventfds = pending
    }

    private static func signal(_ target: EventfdTarget, when fences: [Fence]) {
        guard let first = fences.first else { return target.signal() }
        first.onSignal { _ in signal(target, when: Array(fences.dropFirst()).filter { !$0.isSignalled }) }
    }
}

/// How many daemon copies of client eventfds one file holds: each registration keeps one until
/// it fires (or its fence and syncobj go), so a client registering without bound gets ENOMEM.
public final class EventfdBudget: Sendable {
    let limit: Int
    let live = Atomic<Int>(0)
    init(limit: Int) { self.limit = limit }
}

/// One registration's eventfd, counted against its file's budget while it lives.
final class EventfdTarget: @unchecked Sendable {
    let fd: OwnedFD
    private let budget: EventfdBudget

    init(_ fd: OwnedFD, budget: EventfdBudget) throws(DRMError) {
        guard budget.live.add(1, ordering: .relaxed).newValue <= budget.limit else {
            budget.live.subtract(1, ordering: .relaxed)
            throw .noMemory.because(.fences, "the file already holds limits.eventfdsPerFile (\(budget.limit)) eventfd registrations")
        }
        self.fd = fd
        self.budget = budget
    }

    func signal() { Eventfd.signal(fd.raw) }

    deinit { budget.live.subtract(1, ordering: .relaxed) }
}
