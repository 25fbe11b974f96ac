/// drm_mode_modeinfo.name: up to 31 bytes and a NUL, kept as the kernel keeps them (raw bytes,
/// truncated by strscpy_pad). Stored inline so a mode, and the CRTC state holding one, copies
/// without reference counting: every commit copies the CRTC states.
public struct ModeName: Sendable, Equatable, Hashable {
    public static let length = 32
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    /// The bytes up to the first NUL, at most 31 of them.
    public init<C: Collection>(bytes: C) where C.Element == UInt8 {
        withUnsafeMutableBytes(of: &words) { raw in
            for (i, b) in bytes.prefix(Self.length - 1).enumerated() {
                if b == 0 { break }
                raw[i] = b
            }
        }
    }

    public init(_ s: String) { self.init(bytes: s.utf8) }

    /// The name field of a struct in place (decoding a mode: no slice, no generic walk).
    init(raw: UnsafeRawBufferPointer) {
        withUnsafeMutableBytes(of: &words) { out in
            for i in 0..<min(raw.count, Self.length - 1) {
                if raw[i] == 0 { break }
                out[i] = raw[i]
            }
        }
    }

    /// The name's bytes without the NUL padding.
    public var bytes: [UInt8] {
        withUnsafeBytes(of: words) { raw in Array(raw.prefix { $0 != 0 }) }
    }

    public var string: String { String(decoding: bytes, as: UTF8.self) }

    public static func == (a: ModeName, b: ModeName) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into h: inout Hasher) {
        h.combine(words.0)
        h.combine(words.1)
        h.combine(words.2)
        h.combine(words.3)
    }
}
