/// One open file's ioctls between two CUSE retries, keyed the way the kernel re-issues them: a
/// thread is in one ioctl at a time, and the retry repeats cmd and arg. Only a few are pending
/// at once (one per caller thread mid-ioctl), so a list searched in order: hashing the key cost
/// more than the search. A plan a killed caller left stays until its file closes, as before.
public struct PendingRetries: Sendable {
    /// A struct, not a tuple: arrays of tuples are destroyed through the runtime's generic
    /// tuple witnesses.
    private struct Entry: Sendable {
        let tid: Int32
        let plan: IoctlRetryPlan
    }
    private var entries: [Entry] = []

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }

    /// The plan the last round of this (thread, request, arg) left, removed.
    public mutating func take(tid: Int32, request: UInt32, arg: UInt64) -> IoctlRetryPlan? {
        guard let i = entries.firstIndex(where: { $0.tid == tid && $0.plan.request == request && $0.plan.arg == arg }) else { return nil }
        // Order does not matter: the last entry takes the slot (the storage is kept).
        entries.swapAt(i, entries.count - 1)
        return entries.removeLast().plan
    }

    public mutating func put(_ plan: IoctlRetryPlan, tid: Int32) {
        entries.append(Entry(tid: tid, plan: plan))
    }
}
