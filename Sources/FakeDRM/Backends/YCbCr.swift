/// The plane COLOR_ENCODING values (enum drm_color_encoding).
public enum ColorEncoding: UInt8, Sendable, CaseIterable {
    case bt601 = 0, bt709 = 1, bt2020 = 2

    /// Luma weights of red and blue (the standard's Kr, Kb); green's is what is left.
    var weights: (kr: Double, kb: Double) {
        switch self {
        case .bt601: (0.299, 0.114)
        case .bt709: (0.2126, 0.0722)
        case .bt2020: (0.2627, 0.0593)
        }
    }
}

/// The plane COLOR_RANGE values (enum drm_color_range).
public enum ColorRange: UInt8, Sendable, CaseIterable {
    case limited = 0, full = 1
}

/// Y'CbCr → R'G'B' for one encoding and range, as per-sample tables so a pixel costs five
/// loads and three adds. Entries are in 1/256 of a 16-bit output step, fine enough that the
/// rounded sum is the exactly computed value except within 1/100 of a step of a tie.
///
///   R = Y + 2(1−Kr)·Cr          full range:    Y = Y'/255,        C = (C'−128)/255
///   G = Y − 2Kb(1−Kb)/Kg·Cb − 2Kr(1−Kr)/Kg·Cr    limited range: Y = (Y'−16)/219, C = (C'−128)/224
///   B = Y + 2(1−Kb)·Cb
public final class YCbCrConversion: Sendable {
    public let encoding: ColorEncoding
    public let range: ColorRange
    /// y, cr→r, cb→g, cr→g, cb→b; 256 entries each.
    private let tables: [Int32]

    private init(encoding: ColorEncoding, range: ColorRange) {
        self.encoding = encoding
        self.range = range
        let (kr, kb) = encoding.weights
        let kg = 1 - kr - kb
        let unit = 65535.0 * 256
        func luma(_ v: Int) -> Double { range == .full ? Double(v) / 255 : Double(v - 16) / 219 }
        func chroma(_ v: Int) -> Double { Double(v - 128) / (range == .full ? 255 : 224) }
        let factors: [(Int) -> Double] = [
            { luma($0) },
            { 2 * (1 - kr) * chroma($0) },
            { -2 * kb * (1 - kb) / kg * chroma($0) },
            { -2 * kr * (1 - kr) / kg * chroma($0) },
            { 2 * (1 - kb) * chroma($0) },
        ]
        tables = factors.flatMap { f in (0..<256).map { Int32((f($0) * unit).rounded()) } }
    }

    private static let all: [YCbCrConversion] = ColorEncoding.allCases.flatMap { e in
        ColorRange.allCases.map { YCbCrConversion(encoding: e, range: $0) }
    }

    public static func of(encoding: ColorEncoding, range: ColorRange) -> YCbCrConversion {
        all[Int(encoding.rawValue) * ColorRange.allCases.count + Int(range.rawValue)]
    }

    struct Tables {
        let base: UnsafePointer<Int32>

        @inline(__always)
        func convert(_ y: UInt8, _ cb: UInt8, _ cr: UInt8) -> Pixel16 {
            let l = base[Int(y)]
            let r = l &+ base[256 &+ Int(cr)]
            let g = l &+ base[512 &+ Int(cb)] &+ base[768 &+ Int(cr)]
            let b = l &+ base[1024 &+ Int(cb)]
            return Pixel16(a: 0xffff, r: Self.clamp(r), g: Self.clamp(g), b: Self.clamp(b))
        }

        @inline(__always)
        static func clamp(_ v: Int32) -> UInt16 {
            UInt16(truncatingIfNeeded: min(max((v &+ 128) >> 8, 0), 65535))
        }
    }

    func withTables(_ body: (Tables) -> Void) {
        tables.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { body(Tables(base: base)) }
        }
    }
}
