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
    public init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }

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

    public func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var v: T = 0
        for i in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: bytes[offset + i]) << (8 * i) }
        return v
    }

    public mutating func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for i in 0..<MemoryLayout<T>.size { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
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
    public static func u32s(_ bytes: [UInt8]) -> [UInt32] {
        stride(from: 0, to: bytes.count - bytes.count % 4, by: 4).map { i in
            UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
        }
    }

    public static func u64s(_ bytes: [UInt8]) -> [UInt64] {
        stride(from: 0, to: bytes.count - bytes.count % 8, by: 8).map { i in
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[i + k]) << (8 * k) }
            return v
        }
    }

    public static func bytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(values.count * MemoryLayout<T>.size)
        for v in values {
            for k in 0..<MemoryLayout<T>.size { out.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
        }
        return out
    }
}
