extension ModeInfo {
    /// A mode for WxH@HZ: the DMT entry when there is one, else reduced-blanking timings
    /// (CVT-RB shape: 160-pixel horizontal blank, at least 460 µs of vertical blank).
    public static func make(width: Int, height: Int, refresh: Int, preferred: Bool) -> ModeInfo {
        let extra = preferred ? ModeInfo.typePreferred : 0
        if var m = NoEDIDModes.list(maxWidth: width, maxHeight: height, preferredWidth: 0, preferredHeight: 0)
            .first(where: { Int($0.hdisplay) == width && Int($0.vdisplay) == height && Int($0.vrefresh) == refresh }) {
            m.type |= extra
            return m
        }
        let htotal = width + 160
        let vblankLines = max(Int((460e-6 * Double(refresh) * Double(height) / (1 - 460e-6 * Double(refresh))).rounded(.up)), 13)
        let vtotal = height + vblankLines
        let clockKHz = UInt32((Double(htotal * vtotal * refresh) / 1000).rounded())
        return ModeInfo(clock: max(clockKHz, 1),
                        h: (UInt16(width), UInt16(width + 48), UInt16(width + 80), UInt16(htotal)),
                        v: (UInt16(height), UInt16(height + 3), UInt16(height + 7), UInt16(vtotal)),
                        flags: ModeInfo.flagPHSync | ModeInfo.flagNVSync, type: ModeInfo.typeDriver | extra)
    }
}
