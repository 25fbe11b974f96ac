/// drm.h's ioctl names without the DRM_IOCTL_ prefix, from the codec's table: for fault specs,
/// statistics and the trace.
public enum IoctlNames {
    /// Numbers the front ends answer before the codec (CUSE's attach request).
    static let frontEnd: [UInt8: String] = [0x40: "FAKEDRM_ATTACH"]

    public static func name(of nr: UInt8) -> String {
        UAPICodec.table[Int(nr)]?.name ?? frontEnd[nr] ?? "0x" + String(nr, radix: 16, uppercase: true)
    }

    /// Case-insensitive; accepts the DRM_IOCTL_ prefix too.
    public static func number(of name: String) -> UInt8? {
        var n = name.uppercased()
        if n.hasPrefix("DRM_IOCTL_") { n.removeFirst(10) }
        if let (nr, _) = UAPICodec.table.first(where: { $0.value.name == n }) { return UInt8(nr) }
        return frontEnd.first { $0.value == n }?.key
    }
}
