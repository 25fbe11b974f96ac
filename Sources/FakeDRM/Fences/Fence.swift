import Synchronization

/// A dma_fence: (context, seqno), signalled once, optionally with an error, with a timestamp.
///
/// @unchecked Sendable: every mutation happens under the owning device's lock; front ends
/// only carry references between threads.
public final class Fence: @unchecked Sendable {
    static let nextContext = Atomic<UInt64>(1)

    public static func allocateContext() -> UInt64 {
        nextContext.add(1, ordering: .relaxed).oldValue
    }

    public let context: UInt64
    public let seqno: UInt64
    public let timelineName: String
    public let driverName: String
    /// 0 active, 1 signalled, <0 signalled with that errno negated.
    public private(set) var status: Int32 = 0
    public private(set) var timestampNs: Int64 = 0
    private var callbacks: [(Fence) -> Void] = []

    public init(context: UInt64, seqno: UInt64, timelineName: String, driverName: String) {
        self.context = context
        self.seqno = seqno
        self.timelineName = timelineName
        self.driverName = driverName
    }


    public static func signalled(timelineName: String = "stub", driverName: String = "fakedrm", at ts: Int64 = Monotonic.nowNs()) -> Fence {
        let f = Fence(context: allocateContext(), seqno: 1, timelineName: timelineName, driverName: driverName)
        f.signal(at: ts)
        return f
    }

    public var isSignalled: Bool { status != 0 }

    /// Signals once; later calls are ignored, as dma_fence_signal on a signalled fence.
    public func signal(at ts: Int64 = Monotonic.nowNs(), error: Int32 = 0) {
        guard status == 0 else { return }
        status = error < 0 ? error : 1
        timestampNs = ts
        let cbs = callbacks
        callbacks = []
        for cb in cbs { cb(self) }
    }

    /// Runs `cb` when signalled (immediately if already signalled).
    public func onSignal(_ cb: @escaping (Fence) -> Void) {
        if status != 0 { cb(self) } else { callbacks.append(cb) }
    }

    /// "Later" on a 64-bit timeline.
    func isLater(than other: Fence) -> Bool { seqno > other.seqno }
}

/// A software timeline (what sw_sync gives igt): points become fences that signal in order
/// as the timeline value advances. Tests use it for in-fences.
public final class Timeline: @unchecked Sendable {
    public let context = Fence.allocateContext()
    public let name: String
    public private(set) var value: UInt64 = 0
    private var pending: [Fence] = []

    public init(name: String) { self.name = name }

    public func createFence(at point: UInt64) -> Fence {
        let f = Fence(context: context, seqno: point, timelineName: name, driverName: "sw_sync")
        if point <= value { f.signal() } else { pending.append(f); pending.sort { $0.seqno < $1.seqno } }
        return f
    }

    public func advance(by n: UInt64, at ts: Int64 = Monotonic.nowNs()) {
        value &+= n
        while let f = pending.first, f.seqno <= value {
            pending.removeFirst()
            f.signal(at: ts)
        }
    }

    /// Closing a sw_sync timeline signals what is left with -ENOENT.
    public func close() {
        let left = pending
        pending = []
        for f in left { f.signal(error: -2) }
    }
}
