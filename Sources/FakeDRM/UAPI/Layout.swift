/// One field of a C uAPI struct as the codec reads and writes it. The layout test compiles the
/// real headers and checks every `FieldInfo` of every `UAPIStruct` against offsetof/sizeof.
public struct FieldInfo: Sendable, Equatable {
    public let name: String
    public let offset: Int
    /// Bytes of the whole member (element size × count for arrays).
    public let size: Int
}

public struct Field<T: FixedWidthInteger & Sendable>: Sendable {
    public let name: String
    public let offset: Int
    public let count: Int
    public init(_ name: String, _ offset: Int, count: Int = 1) {
        self.name = name
        self.offset = offset
        self.count = count
    }
    public var info: FieldInfo { FieldInfo(name: name, offset: offset, size: MemoryLayout<T>.size * count) }
}

/// Raw bytes inside a struct (names, nested structs).
public struct BytesField: Sendable {
    public let name: String
    public let offset: Int
    public let length: Int
    public init(_ name: String, _ offset: Int, _ length: Int) {
        self.name = name
        self.offset = offset
        self.length = length
    }
    public var info: FieldInfo { FieldInfo(name: name, offset: offset, size: length) }
}

public protocol UAPIStruct {
    /// `struct drm_mode_card_res` → "struct drm_mode_card_res"; unions say "union ...".
    static var cName: String { get }
    static var size: Int { get }
    static var fields: [FieldInfo] { get }
    /// The struct (or its tail) is newer than Debian 12's libdrm-dev 2.4.114 headers.
    static var absentFromOldHeaders: Bool { get }
    /// Bytes the 2.4.114 headers declare when the struct grew since (syncobj structs).
    static var oldHeaderSize: Int? { get }
}

extension UAPIStruct {
    public static var absentFromOldHeaders: Bool { false }
    public static var oldHeaderSize: Int? { nil }
}

/// An ioctl argument as bytes, little-endian, sized to the kernel's struct (zero-extended).
public struct ArgBuffer: Sendable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(size: Int) { bytes = .zeroed(size) }

    public subscript<T>(_ f: Field<T>) -> T {
        get { self[f, 0] }
        set { self[f, 0] = newValue }
    }

    public subscript<T>(_ f: Field<T>, index: Int) -> T {
        get { load(T.self, at: f.offset + index * MemoryLayout<T>.size) }
        set { store(newValue, at: f.offset + index * MemoryLayout<T>.size) }
    }

    public subscript(_ f: BytesField) -> [UInt8] {
        get { Array(bytes[f.offset..<f.offset + f.length]) }
        set {
            for i in 0..<f.length { bytes[f.offset + i] = i < newValue.count ? newValue[i] : 0 }
        }
    }

    // One bounds check and one unaligned load per field: the byte-by-byte loop checked bounds
    // eight times per UInt64 and was 4 % of an atomic commit's instructions.
    public func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= bytes.count, "field outside the argument")
        return T(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) })
    }

    public mutating func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= bytes.count, "field outside the argument")
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
    }

    /// A C string field: bytes up to the first NUL.
    public func string(_ f: BytesField) -> String {
        let raw = self[f]
        let end = raw.firstIndex(of: 0) ?? raw.count
        return String(decoding: raw[..<end], as: UTF8.self)
    }

    /// Writes a NUL-terminated, truncated C string into a fixed field.
    public mutating func setString(_ f: BytesField, _ s: String) {
        var b = Array(s.utf8.prefix(f.length - 1))
        b.append(0)
        self[f] = b
    }
}

/// Little-endian helpers for arrays that live in client memory.
public enum LE {
    public static func u32s(_ bytes: [UInt8]) -> [UInt32] { values(bytes) }

    public static func u64s(_ bytes: [UInt8]) -> [UInt64] { values(bytes) }

    /// Whole little-endian values; a partial one at the end is dropped.
    static func values<T: FixedWidthInteger>(_ bytes: [UInt8]) -> [T] {
        let n = bytes.count / MemoryLayout<T>.size
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
    }

    /// An array or a prefix of one. Allocated the fast way (`Array.zeroed`; the uninitialized-
    /// capacity initializer takes the runtime's slow metadata lookup).
    public static func bytes<C: Collection>(_ values: C) -> [UInt8] where C.Element: FixedWidthInteger {
        let size = MemoryLayout<C.Element>.size
        var out = [UInt8].zeroed(values.count * size)
        out.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() { raw.storeBytes(of: v.littleEndian, toByteOffset: i * size, as: C.Element.self) }
        }
        return out
    }
}
