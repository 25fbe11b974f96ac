/// A CRTC's GAMMA_LUT (an array of struct drm_color_lut), applied to the blended frame before
/// it leaves the CRTC, as vkms's post-blend stage does: each channel indexes the table at
/// value × (n − 1) / 0xffff and interpolates linearly between the two entries around it.
public struct GammaLUT: Sendable, Equatable {
    public let red: [UInt16]
    public let green: [UInt16]
    public let blue: [UInt16]
    /// Every 16-bit input through the tables, built once per LUT (the device caches LUTs per
    /// blob, so a CRTC composing 60 frames a second does not rebuild it each frame).
    let expanded: Expanded

    public init?(red: [UInt16], green: [UInt16], blue: [UInt16]) {
        guard !red.isEmpty, red.count == green.count, red.count == blue.count else { return nil }
        self.red = red
        self.green = green
        self.blue = blue
        expanded = Expanded(red: red, green: green, blue: blue)
    }

    public static func == (a: GammaLUT, b: GammaLUT) -> Bool {
        a.red == b.red && a.green == b.green && a.blue == b.blue
    }

    /// From a blob of drm_color_lut entries (red, green, blue, reserved: four u16 each).
    public init?(blob: [UInt8]) {
        let n = blob.count / 8
        guard n > 0, blob.count % 8 == 0 else { return nil }
        func channel(_ k: Int) -> [UInt16] {
            (0..<n).map { UInt16(blob[$0 * 8 + 2 * k]) | UInt16(blob[$0 * 8 + 2 * k + 1]) << 8 }
        }
        self.init(red: channel(0), green: channel(1), blue: channel(2))
    }

    /// One channel through one table.
    @inline(__always)
    static func lookup(_ v: UInt16, _ table: UnsafeBufferPointer<UInt16>) -> UInt16 {
        let last = table.count - 1
        guard last > 0 else { return table[0] }
        let position = UInt64(v) * UInt64(last)
        let index = Int(position / 65535), fraction = Int64(position % 65535)
        guard index < last else { return table[last] }
        let a = Int64(table[index]), b = Int64(table[index + 1])
        let step = (b - a) * fraction
        return UInt16(truncatingIfNeeded: a + (step + (step >= 0 ? 32767 : -32767)) / 65535)
    }

    /// Every 16-bit input of each channel through its table, so a pixel costs three loads
    /// instead of three interpolations.
    struct Expanded: Sendable {
        private let table: [UInt16]

        init(red: [UInt16], green: [UInt16], blue: [UInt16]) {
            var t = [UInt16](repeating: 0, count: 3 * 65536)
            for (k, channel) in [red, green, blue].enumerated() {
                channel.withUnsafeBufferPointer { c in
                    for v in 0...65535 { t[k * 65536 + v] = GammaLUT.lookup(UInt16(v), c) }
                }
            }
            table = t
        }

        func apply(to line: UnsafeMutablePointer<Pixel16>, count: Int) {
            table.withUnsafeBufferPointer { t in
                for i in 0..<count {
                    let p = line[i]
                    line[i] = Pixel16(a: p.a, r: t[Int(p.r)], g: t[65536 &+ Int(p.g)], b: t[131_072 &+ Int(p.b)])
                }
            }
        }
    }
}
