extension Array where Element: FixedWidthInteger {
    /// `count` zeros. Array(repeating:count:) allocates through the standard library's
    /// unspecialized `_allocateBufferUninitialized`, which looks the storage class's metadata up
    /// at runtime on every call (~500 instructions on Linux); growing an empty array goes
    /// through a path specialized here, which does not.
    @inline(__always)
    static func zeroed(_ count: Int) -> [Element] {
        var a: [Element] = []
        a.append(contentsOf: repeatElement(0, count: count))
        return a
    }
}
