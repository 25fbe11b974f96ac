/// A buffer's dma_resv: the fences that use it, each as a writer or a reader, as clients
/// attach them with DMA_BUF_IOCTL_IMPORT_SYNC_FILE. Signalled fences are dropped as they are
/// seen.
///
/// @unchecked Sendable: mutated only under the device lock (see Fence).
final class Reservation: @unchecked Sendable {
    private var entries: [(fence: Fence, write: Bool)] = []

    func add(_ fences: [Fence], write: Bool) {
        for f in fences where !f.isSignalled { entries.append((f, write)) }
    }

    /// dma_resv_usage_rw: an access for writing conflicts with every fence, one for reading
    /// only with the writers.
    func conflicting(forWrite: Bool) -> [Fence] {
        // Most buffers have no fence at all: nothing to drop, nothing to build.
        guard !entries.isEmpty else { return [] }
        entries.removeAll { $0.fence.isSignalled }
        return entries.filter { forWrite || $0.write }.map(\.fence)
    }

    /// The writers, which a commit scanning the buffer out waits for (implicit sync).
    var writers: [Fence] { conflicting(forWrite: false) }
}
