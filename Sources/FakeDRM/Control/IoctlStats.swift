
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
    /// Indexed by nr and mutated in place: copying an entry out would copy its samples.
    private let entries = Locked<[Entry]>(Array(repeating: Entry(), count: 256))

    func record(nr: UInt8, ns: Int64, failed: Bool) {
        entries.withLock { all in
            let i = Int(nr)
            all[i].count += 1
            if failed { all[i].errors += 1 }
            all[i].maxNs = max(all[i].maxNs, ns)
            if all[i].recent.count < Self.window {
                all[i].recent.append(ns)
            } else {
                all[i].recent[all[i].next] = ns
                all[i].next = (all[i].next + 1) % Self.window
            }
        }
    }

    public func rows() -> [Row] {
        entries.withLock { all in
            all.indices.filter { all[$0].count > 0 }.map { i in
                let e = all[i]
                let sorted = e.recent.sorted()
                let pick = { (q: Double) -> Int64 in sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
                return Row(name: IoctlNames.name(of: UInt8(i)), count: e.count, errors: e.errors, medianNs: pick(0.5), p99Ns: pick(0.99), maxNs: e.maxNs)
            }
        }
    }
}
