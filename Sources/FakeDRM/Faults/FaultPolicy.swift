import Logging
import Synchronization

/// The card's fault rules, consulted by the core at named points. Thread-safe on its own
/// (ioctl entry consults it outside the device lock). Deterministic: rule i draws from a
/// generator seeded with (seed, i), so one client replayed gives the same injections.
public final class FaultPolicy: Sendable {
    public struct Injection: Sendable, Codable {
        public let seq: Int
        public let rule: Int
        public let kind: String
        public let spec: String
        public let consultation: Int
        public let atMs: Double
        public let detail: String
    }

    public struct RuleSummary: Sendable, Codable {
        public let id: Int
        public let spec: String
        public let consultations: Int
        public let injections: Int
    }

    struct Rule {
        let id: Int
        let spec: FaultSpec
        let addedNs: Int64
        var consultations = 0
        var matching = 0
        var injections = 0
        var rng: SplitMix64
    }

    struct State {
        var rules: [Rule] = []
        var nextID = 1
        var seed: UInt64 = 1
        /// A ring of the last `logLimit` injections; `logNext` is where the next one goes.
        var log: [Injection] = []
        var logNext = 0
        var injectionCount = 0
    }

    private let state = Locked(State())
    /// Rules present: lets the common case (no rules) skip the mutex at every ioctl and vblank.
    private let ruleCount = Atomic<Int>(0)
    private let startNs = Monotonic.nowNs()
    private let logger = Logger(label: "fakedrm.faults")
    /// Injections kept for `fault log`; older ones are dropped (the count keeps going).
    static let logLimit = 10_000

    public init(seed: UInt64 = 1) {
        state.withLock { $0.seed = seed }
    }

    public func setSeed(_ seed: UInt64) {
        state.withLock { s in
            s.seed = seed
            for i in s.rules.indices { s.rules[i].rng = SplitMix64(seed: seed, stream: UInt64(i)) }
        }
    }

    /// Adds a consulted rule; returns its id.
    @discardableResult
    func add(_ spec: FaultSpec) -> Int {
        state.withLock { s in
            let id = s.nextID
            s.nextID += 1
            s.rules.append(Rule(id: id, spec: spec, addedNs: Monotonic.nowNs(), rng: SplitMix64(seed: s.seed, stream: UInt64(s.rules.count))))
            ruleCount.store(s.rules.count, ordering: .releasing)
            return id
        }
    }

    /// An action kind ran when added: logged as an injection of a rule that is kept for `list`.
    func recordAction(_ spec: FaultSpec, detail: String) -> Int {
        let id = add(spec)
        let entry = state.withLock { s -> Injection? in
            guard let i = s.rules.firstIndex(where: { $0.id == id }) else { return nil }
            s.rules[i].consultations = 1
            s.rules[i].injections = 1
            return append(&s, rule: s.rules[i], detail: detail)
        }
        entry.map(log)
        return id
    }

    /// Logs an injection of rule `id` that its own driver decided (a storm's toggle); false
    /// when the rule is gone.
    func consultRule(id: Int, detail: String) -> Bool {
        let entry = state.withLock { s -> Injection? in
            guard let i = s.rules.firstIndex(where: { $0.id == id }) else { return nil }
            s.rules[i].consultations += 1
            s.rules[i].injections += 1
            return append(&s, rule: s.rules[i], detail: detail)
        }
        entry.map(log)
        return entry != nil
    }

    /// Any rule at all: the query snapshots stand down (docs/snapshot.md).
    var hasRules: Bool { ruleCount.load(ordering: .acquiring) > 0 }

    func clear() {
        state.withLock { s in
            s.rules = []
            ruleCount.store(0, ordering: .releasing)
        }
    }

    public func rules() -> [RuleSummary] {
        state.withLock { s in
            s.rules.map { RuleSummary(id: $0.id, spec: $0.spec.text, consultations: $0.consultations, injections: $0.injections) }
        }
    }

    /// The kept injections, oldest first.
    public func injections() -> [Injection] {
        state.withLock { s in Array(s.log[s.logNext...] + s.log[..<s.logNext]) }
    }

    /// Every injection since the card started (the log keeps only the last `logLimit`).
    public var injectionTotal: Int { state.withLock { $0.injectionCount } }

    /// One consultation at a named point: every rule whose kind `match`es counts it; the first
    /// whose trigger agrees injects. Returns that rule's kind and a uniform draw in [0, 1) from
    /// its generator (for jitter), or nil.
    func consult(_ detail: @autoclosure () -> String, _ match: (FaultSpec.Kind) -> Bool) -> (kind: FaultSpec.Kind, draw: Double)? {
        if ruleCount.load(ordering: .acquiring) == 0 { return nil }
        let (hit, entry) = state.withLock { s -> ((kind: FaultSpec.Kind, draw: Double)?, Injection?) in
            guard !s.rules.isEmpty else { return (nil, nil) }
            let now = Monotonic.nowNs()
            var hit: (FaultSpec.Kind, Double)?
            var entry: Injection?
            for i in s.rules.indices where !s.rules[i].spec.kind.isAction && match(s.rules[i].spec.kind) {
                s.rules[i].consultations += 1
                guard hit == nil, fires(&s.rules[i], now: now) else { continue }
                s.rules[i].injections += 1
                hit = (s.rules[i].spec.kind, s.rules[i].rng.nextUnit())
                entry = append(&s, rule: s.rules[i], detail: detail())
            }
            return (hit, entry)
        }
        // Written after the mutex is released: a slow stderr must not stall every ioctl.
        entry.map(log)
        return hit
    }

    private func fires(_ r: inout Rule, now: Int64) -> Bool {
        let t = r.spec.trigger
        let sinceMs = (now - r.addedNs) / 1_000_000
        if sinceMs < t.startMs { return false }
        if let w = t.forMs, sinceMs >= t.startMs + w { return false }
        if let c = t.count, r.injections >= c { return false }
        r.matching += 1
        if r.matching <= t.after { return false }
        if (r.matching - t.after) % t.every != 0 { return false }
        // Drawn only when everything else agrees, so `p` does not shift other rules' draws.
        if let p = t.probability, r.rng.nextUnit() >= p { return false }
        return true
    }

    private func append(_ s: inout State, rule: Rule, detail: String) -> Injection {
        s.injectionCount += 1
        let entry = Injection(seq: s.injectionCount, rule: rule.id, kind: String(rule.spec.text.prefix { $0 != " " }), spec: rule.spec.text,
                              consultation: rule.consultations,
                              atMs: Double(Monotonic.nowNs() - startNs) / 1e6, detail: detail)
        if s.log.count < Self.logLimit {
            s.log.append(entry)
        } else {
            s.log[s.logNext] = entry
            s.logNext = (s.logNext + 1) % Self.logLimit
        }
        return entry
    }

    private func log(_ e: Injection) {
        logger.notice("fault injected", metadata: ["rule": "\(e.rule)", "spec": "\(e.spec)", "consultation": "\(e.consultation)", "detail": "\(e.detail)"])
    }
}

/// SplitMix64: small, fast, and the same everywhere (the seed is the whole state).
struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64

    init(state: UInt64) { self.state = state }

    init(seed: UInt64, stream: UInt64) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 ^ (stream &+ 1) &* 0xBF58_476D_1CE4_E5B9
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
