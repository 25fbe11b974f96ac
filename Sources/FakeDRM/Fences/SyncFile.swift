/// A sync_file: a set of leaf fences (merges are flattened), pollable through an eventfd that
/// becomes readable once every fence has signalled (with or without error).
///
/// @unchecked Sendable: mutated only under the device lock (see Fence).
public final class SyncFile: @unchecked Sendable {
    public let name: String
    public let fences: [Fence]
    public let readiness: ReadinessFlag
    private var remaining: Int

    public init(name: String? = nil, fences: [Fence]) throws(DRMError) {
        self.fences = fences
        self.name = name ?? fences.first.map { "\($0.driverName)-\($0.timelineName)\($0.context)-\($0.seqno)" } ?? "stub"
        readiness = try ReadinessFlag(reserving: true)
        remaining = fences.count
        if remaining == 0 { readiness.set() }
        for f in fences {
            f.onSignal { [weak self] _ in
                guard let self else { return }
                self.remaining -= 1
                if self.remaining == 0 { self.readiness.set() }
            }
        }
    }

    /// 1 when all signalled OK, the first error otherwise, 0 while any is active.
    public var status: Int32 {
        var s: Int32 = 1
        for f in fences {
            if f.status < 0 { return f.status }
            if f.status == 0 { s = 0 }
        }
        return s
    }

    public var isSignalled: Bool { fences.allSatisfy(\.isSignalled) }

    /// Runs `cb` once every fence has signalled.
    public func onSignalled(_ cb: @escaping () -> Void) {
        var left = fences.count
        if left == 0 { cb(); return }
        for f in fences {
            f.onSignal { _ in
                left -= 1
                if left == 0 { cb() }
            }
        }
    }

    /// SYNC_IOC_MERGE as recent kernels do it: signalled fences dropped, one fence kept per
    /// context (the later one), sorted by context; nothing left gives a signalled stub.
    public static func merge(_ a: SyncFile, _ b: SyncFile, name: String) throws(DRMError) -> SyncFile {
        var byContext: [UInt64: Fence] = [:]
        var latestTs: Int64 = 0
        for f in a.fences + b.fences {
            if f.isSignalled {
                latestTs = max(latestTs, f.timestampNs)
                continue
            }
            if let old = byContext[f.context], !f.isLater(than: old) { continue }
            byContext[f.context] = f
        }
        var kept = byContext.values.sorted { $0.context < $1.context }
        if kept.isEmpty { kept = [Fence.signalled(at: latestTs == 0 ? Monotonic.nowNs() : latestTs)] }
        return try SyncFile(name: name, fences: kept)
    }
}
