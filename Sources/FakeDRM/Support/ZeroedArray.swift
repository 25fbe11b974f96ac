extension Array where Element: FixedWidthInteger {
    /// A copy of `c`, allocated the fast way for the same reason as `zeroed` (Array(slice)
    /// goes through the same unspecialized allocation).
    @inlinable @inline(__always)
    public static func copying<C: Collection>(_ c: C) -> [Element] where C.Element == Element {
        var a: [Element] = []
        a.append(contentsOf: c)
        return a
    }

    /// `count` zeros. Array(repeating:count:) allocates through the standard library's
    /// unspecialized `_allocateBufferUninitialized`, which looks the storage class's metadata up
    /// at runtime on every call (~500 instructions on Linux); growing an empty array goes
    /// through a path specialized here, which does not.
    @inlinable @inline(__always)
    public static func zeroed(_ count: Int) -> [Element] {
        var a: [Element] = []
        a.append(contentsOf: repeatElement(0, count: count))
        return a
    }
}
