/// A set of small non-negative indices (planes, CRTCs, connectors of one commit) as a bit mask,
/// iterated in increasing order (so callers need no `sorted()`, which would allocate). A commit
/// builds several per request; as `Set<Int>` they cost
/// hashing and an allocation each (a fifth of TEST_ONLY's instructions). Indices from 64 up,
/// which only connectors plugged in at runtime reach, go to an overflow set.
struct SmallIndexSet: Sequence, Equatable, ExpressibleByArrayLiteral, Sendable {
    private var low: UInt64 = 0
    private var high: Set<Int> = []

    init() {}
    init(arrayLiteral elements: Int...) { for e in elements { insert(e) } }

    var isEmpty: Bool { low == 0 && high.isEmpty }
    var count: Int { low.nonzeroBitCount + high.count }

    func contains(_ i: Int) -> Bool { i < 64 ? low & (1 << UInt64(i)) != 0 : high.contains(i) }

    @discardableResult
    mutating func insert(_ i: Int) -> (inserted: Bool, memberAfterInsert: Int) {
        precondition(i >= 0, "an index is never negative")
        if i >= 64 { return (high.insert(i).inserted, i) }
        let bit: UInt64 = 1 << UInt64(i)
        defer { low |= bit }
        return (low & bit == 0, i)
    }

    struct Iterator: IteratorProtocol {
        var bits: UInt64
        var rest: IndexingIterator<[Int]>
        mutating func next() -> Int? {
            if bits != 0 {
                let i = bits.trailingZeroBitCount
                bits &= bits - 1
                return i
            }
            return rest.next()
        }
    }

    // The overflow set is nearly always empty: sorting it anyway cost ~90 instructions per loop.
    func makeIterator() -> Iterator { Iterator(bits: low, rest: (high.isEmpty ? [] : high.sorted()).makeIterator()) }
}
