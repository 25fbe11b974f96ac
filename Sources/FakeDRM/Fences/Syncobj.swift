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
    }

    /// Adds a point; points must grow, as dma_fence_chain requires (a smaller point is ignored
    /// by the kernel with a warning; we do the same).
    func add(_ fence: Fence, at point: UInt64) {
        if let last = chain.last, last.point >= point, point != 0 { return }
        chain.append((point, fence))
    }

    /// The fence that covers `point`: the first entry at or past it (nil: not submitted yet).
    func fence(at point: UInt64) -> Fence? {
        if point == 0 { return binaryFence }
        return chain.first(where: { $0.point >= point })?.fence
    }

    /// Point `point` is signalled once every fence up to the covering one has signalled.
    func isSignalled(at point: UInt64) -> Bool {
        guard let i = point == 0 ? (chain.isEmpty ? nil : chain.count - 1) : chain.firstIndex(where: { $0.point >= point }) else {
            return false
        }
        return chain[...i].allSatisfy { $0.fence.isSignalled }
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

    func reset() { chain = [] }
}
