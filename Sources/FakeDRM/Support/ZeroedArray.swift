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

extension Array where Element == UInt8 {
    /// A copy of raw memory in one memcpy (a slice of a raw buffer is copied byte by byte).
    @inlinable @inline(__always)
    public static func copying(raw: UnsafeRawBufferPointer) -> [UInt8] {
        var a: [UInt8] = []
        a.append(contentsOf: raw.assumingMemoryBound(to: UInt8.self))
        return a
    }
}
