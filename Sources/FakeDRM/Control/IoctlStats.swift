import Synchronization

/// Per-ioctl counts and latencies (handler time inside the daemon, not the round trip) for
/// `fakedrm ctl stats`. The last `window` latencies of each ioctl give the median and p99.
public final class IoctlStats: Sendable {
    public struct Row: Sendable, Codable {
        public let name: String
        public let count: Int
        public let errors: Int
        public let medianNs: Int64
        public let p99Ns: Int64
        public let maxNs: Int64
    }

    struct Entry {
        var count = 0
        var errors = 0
        var maxNs: Int64 = 0
        var recent: [Int64] = []
        var next = 0
    }

    static let window = 1024
    private let entries = Mutex<[UInt8: Entry]>([:])

    func record(nr: UInt8, ns: Int64, failed: Bool) {
        entries.withLock { all in
            var e = all[nr] ?? Entry()
            e.count += 1
            if failed { e.errors += 1 }
            e.maxNs = max(e.maxNs, ns)
            if e.recent.count < Self.window {
                e.recent.append(ns)
            } else {
                e.recent[e.next] = ns
                e.next = (e.next + 1) % Self.window
            }
            all[nr] = e
        }
    }

    public func rows() -> [Row] {
        entries.withLock { all in
            all.sorted { $0.key < $1.key }.map { nr, e in
                let sorted = e.recent.sorted()
                let pick = { (q: Double) -> Int64 in sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
                return Row(name: IoctlNames.name(of: nr), count: e.count, errors: e.errors, medianNs: pick(0.5), p99Ns: pick(0.99), maxNs: e.maxNs)
            }
        }
    }
}
