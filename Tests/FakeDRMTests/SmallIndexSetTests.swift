import Testing
@testable import FakeDRM

@Suite struct SmallIndexSetTests {
    @Test func behavesAsASetInIncreasingOrder() {
        var s: SmallIndexSet = [5, 0, 63]
        #expect(s.insert(5).inserted == false)
        #expect(s.insert(64).inserted)
        #expect(s.insert(200).inserted)
        #expect(s.insert(200).inserted == false)
        #expect(Array(s) == [0, 5, 63, 64, 200])
        #expect(s.count == 5)
        #expect(s.contains(63) && s.contains(200) && !s.contains(1) && !s.contains(65))
        #expect(!s.isEmpty && SmallIndexSet().isEmpty)
        // The same elements in any order of insertion are the same set.
        var t = SmallIndexSet()
        for i in [200, 64, 63, 5, 0] { t.insert(i) }
        #expect(s == t)
        #expect(Array(s) == Array(Set([0, 5, 63, 64, 200])).sorted())
    }
}
