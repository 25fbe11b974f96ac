import Synchronization

/// What `fakedrm ctl trace` streams, as dmesg with drm.debug shows a kernel driver's: every
/// rejection (kept in a ring of the last `capacity` lines even with nobody watching) and,
/// while a follower asks for them, every other ioctl with its result.
///
/// Its own lock, not the device's; followers poll it (every 50 ms), so a request never waits
/// for a follower and a follower never sleeps on the device's condition.
public final class IoctlTrace: Sendable {
    public struct Entry: Sendable {
        public let seq: UInt64
        public let timeNs: Int64
        public let file: Int
        public let pid: Int32
        public let ioctl: String
        public let errno: String?
        public let reason: String?
        public let testOnly: Bool

        /// One dmesg-like line: seconds since the daemon started, the file, the request.
        public func line(since startNs: Int64) -> String {
            let t = Double(timeNs - startNs) / 1e9
            let head = "[\(String(format: "%12.6f", t))] file \(file) pid \(pid) \(ioctl)\(testOnly ? " (TEST_ONLY)" : "")"
            guard let errno else { return head + " ok" }
            return head + " \(errno): \(reason ?? "no reason recorded")"
        }
    }

    static let capacity = 4096
    private struct State {
        var ring: [Entry] = []
        var next: UInt64 = 1
    }

    private let state = Mutex(State())
    /// Followers that want successful ioctls too: the dispatcher checks this before building
    /// an entry for a success, so tracing costs nothing while nobody watches.
    private let wantAll = Atomic<Int>(0)
    public let startNs = Monotonic.nowNs()

    var recordsSuccesses: Bool { wantAll.load(ordering: .relaxed) > 0 }

    func record(file: Int, pid: Int32, ioctl: String, errno: String?, reason: String?, testOnly: Bool) {
        let now = Monotonic.nowNs()
        state.withLock { s in
            let e = Entry(seq: s.next, timeNs: now, file: file, pid: pid, ioctl: ioctl, errno: errno, reason: reason, testOnly: testOnly)
            s.next += 1
            if s.ring.count < Self.capacity { s.ring.append(e) } else { s.ring[Int(e.seq % UInt64(Self.capacity))] = e }
        }
    }

    /// Entries after `seq` (oldest first) and how many were overwritten before they were read.
    public func entries(after seq: UInt64) -> (entries: [Entry], lost: UInt64) {
        state.withLock { s in
            let oldest = s.next > UInt64(s.ring.count) ? s.next - UInt64(s.ring.count) : 1
            let from = max(seq + 1, oldest)
            let lost = from > seq + 1 ? from - seq - 1 : 0
            let list = s.ring.filter { $0.seq >= from }.sorted { $0.seq < $1.seq }
            return (list, lost)
        }
    }

    public var lastSeq: UInt64 { state.withLock { $0.next - 1 } }

    public func follow(all: Bool) { if all { wantAll.add(1, ordering: .relaxed) } }
    public func unfollow(all: Bool) { if all { wantAll.subtract(1, ordering: .relaxed) } }
}
