/// A display mode (struct drm_mode_modeinfo), compared by content as drm_mode_equal does.
public struct ModeInfo: Sendable, Equatable, Hashable {
    public var clock: UInt32
    public var hdisplay, hsyncStart, hsyncEnd, htotal, hskew: UInt16
    public var vdisplay, vsyncStart, vsyncEnd, vtotal, vscan: UInt16
    public var vrefresh: UInt32
    public var flags: UInt32
    public var type: UInt32
    public var modeName: ModeName
    public var name: String {
        get { modeName.string }
        set { modeName = ModeName(newValue) }
    }

    public static let typePreferred: UInt32 = 0x8
    public static let typeDriver: UInt32 = 0x40
    public static let typeUserdef: UInt32 = 0x20
    public static let typeAll: UInt32 = 0x68 | 0x1 | 0x2 | 0x4 | 0x10
    public static let flagPHSync: UInt32 = 1, flagNHSync: UInt32 = 2, flagPVSync: UInt32 = 4, flagNVSync: UInt32 = 8
    public static let flagInterlace: UInt32 = 0x10, flagDblScan: UInt32 = 0x20
    public static let flagPicARMask: UInt32 = 0x78_0000
    public static let flag3DMask: UInt32 = 0x7_c000
    public static let flagAll: UInt32 = 0x7_f3ff

    public init(clock: UInt32, h: (UInt16, UInt16, UInt16, UInt16), v: (UInt16, UInt16, UInt16, UInt16),
                flags: UInt32, type: UInt32 = ModeInfo.typeDriver, name: String? = nil) {
        self.init(clock: clock, h: h, v: v, flags: flags, type: type, modeName: ModeName(name ?? "\(h.0)x\(v.0)"))
    }

    init(clock: UInt32, h: (UInt16, UInt16, UInt16, UInt16), v: (UInt16, UInt16, UInt16, UInt16),
         flags: UInt32, type: UInt32, modeName: ModeName) {
        self.clock = clock
        (hdisplay, hsyncStart, hsyncEnd, htotal) = h
        (vdisplay, vsyncStart, vsyncEnd, vtotal) = v
        hskew = 0
        vscan = 0
        self.flags = flags
        self.type = type
        self.modeName = modeName
        vrefresh = 0
        vrefresh = computedRefresh
    }

    /// drm_mode_vrefresh: rounded Hz, adjusted for interlace/doublescan/vscan.
    public var computedRefresh: UInt32 {
        guard htotal > 0, vtotal > 0 else { return 0 }
        let num = UInt64(clock) * 1000
        var den = UInt64(htotal) * UInt64(vtotal)
        if flags & ModeInfo.flagInterlace != 0 { den = max(1, den / 2) }
        if flags & ModeInfo.flagDblScan != 0 { den *= 2 }
        if vscan > 1 { den *= UInt64(vscan) }
        // A lying mode (tiny totals, huge clock) must not trap: clamp as the int math would.
        return UInt32(clamping: (num + den / 2) / den)
    }

    /// Frame period in ns: htotal*vtotal/clock (clock in kHz).
    public var framePeriodNs: Int64 {
        guard clock > 0 else { return 16_666_667 }
        let total = Int64(htotal) * Int64(vtotal) * 1_000_000
        var p = total / Int64(clock)
        if flags & ModeInfo.flagInterlace != 0 { p /= 2 }
        if flags & ModeInfo.flagDblScan != 0 { p *= 2 }
        return max(p, 1_000_000)
    }

    /// drm_mode_validate_basic + drm_mode_convert_umode rules; failure is EINVAL for callers.
    public var isValid: Bool {
        if clock == 0 || clock > UInt32(Int32.max) { return false }
        if type & ~ModeInfo.typeAll != 0 { return false }
        if flags & ~(ModeInfo.flagAll | ModeInfo.flagPicARMask) != 0 { return false }
        if (flags & ModeInfo.flag3DMask) >> 14 > 8 { return false }
        if hdisplay == 0 || hsyncStart < hdisplay || hsyncEnd < hsyncStart || htotal < hsyncEnd { return false }
        if vdisplay == 0 || vsyncStart < vdisplay || vsyncEnd < vsyncStart || vtotal < vsyncEnd { return false }
        return true
    }

    /// Content equality used for "needs modeset" (type and name do not count, as drm_mode_equal).
    public func sameTiming(_ o: ModeInfo) -> Bool {
        clock == o.clock && hdisplay == o.hdisplay && hsyncStart == o.hsyncStart && hsyncEnd == o.hsyncEnd
            && htotal == o.htotal && hskew == o.hskew && vdisplay == o.vdisplay && vsyncStart == o.vsyncStart
            && vsyncEnd == o.vsyncEnd && vtotal == o.vtotal && vscan == o.vscan && flags == o.flags
    }

    public func encode() -> [UInt8] {
        var b = ArgBuffer(size: ModeInfoLayout.size)
        b[ModeInfoLayout.clock] = clock
        b[ModeInfoLayout.hdisplay] = hdisplay
        b[ModeInfoLayout.hsyncStart] = hsyncStart
        b[ModeInfoLayout.hsyncEnd] = hsyncEnd
        b[ModeInfoLayout.htotal] = htotal
        b[ModeInfoLayout.hskew] = hskew
        b[ModeInfoLayout.vdisplay] = vdisplay
        b[ModeInfoLayout.vsyncStart] = vsyncStart
        b[ModeInfoLayout.vsyncEnd] = vsyncEnd
        b[ModeInfoLayout.vtotal] = vtotal
        b[ModeInfoLayout.vscan] = vscan
        b[ModeInfoLayout.vrefresh] = vrefresh
        b[ModeInfoLayout.flags] = flags
        b[ModeInfoLayout.type] = type
        b[ModeInfoLayout.name] = modeName.bytes
        return b.bytes
    }

    public static func decode(_ bytes: [UInt8]) -> ModeInfo? {
        guard bytes.count == ModeInfoLayout.size else { return nil }
        let b = ArgBuffer(bytes)
        var m = ModeInfo(
            clock: b[ModeInfoLayout.clock],
            h: (b[ModeInfoLayout.hdisplay], b[ModeInfoLayout.hsyncStart], b[ModeInfoLayout.hsyncEnd], b[ModeInfoLayout.htotal]),
            v: (b[ModeInfoLayout.vdisplay], b[ModeInfoLayout.vsyncStart], b[ModeInfoLayout.vsyncEnd], b[ModeInfoLayout.vtotal]),
            flags: b[ModeInfoLayout.flags], type: b[ModeInfoLayout.type],
            modeName: bytes.withUnsafeBytes { ModeName(raw: UnsafeRawBufferPointer(rebasing: $0[ModeInfoLayout.name.offset..<ModeInfoLayout.name.offset + ModeName.length])) })
        m.hskew = b[ModeInfoLayout.hskew]
        m.vscan = b[ModeInfoLayout.vscan]
        m.vrefresh = b[ModeInfoLayout.vrefresh]
        return m
    }
}

/// The VESA DMT modes at or below 61 Hz: what drm_add_modes_noedid gives a connector without
/// EDID (vkms's Virtual connector). Timings are the published DMT values.
public enum NoEDIDModes {
    static let p = ModeInfo.flagPHSync | ModeInfo.flagPVSync
    static let n = ModeInfo.flagNHSync | ModeInfo.flagNVSync
    static let rb = ModeInfo.flagPHSync | ModeInfo.flagNVSync
    static let cvt = ModeInfo.flagNHSync | ModeInfo.flagPVSync

    public static let dmt: [ModeInfo] = [
        ModeInfo(clock: 25175, h: (640, 656, 752, 800), v: (480, 490, 492, 525), flags: n),
        ModeInfo(clock: 36000, h: (800, 824, 896, 1024), v: (600, 601, 603, 625), flags: p),
        ModeInfo(clock: 40000, h: (800, 840, 968, 1056), v: (600, 601, 605, 628), flags: p),
        ModeInfo(clock: 33750, h: (848, 864, 976, 1088), v: (480, 486, 494, 517), flags: p),
        ModeInfo(clock: 65000, h: (1024, 1048, 1184, 1344), v: (768, 771, 777, 806), flags: n),
        ModeInfo(clock: 68250, h: (1280, 1328, 1360, 1440), v: (768, 771, 778, 790), flags: rb),
        ModeInfo(clock: 79500, h: (1280, 1344, 1472, 1664), v: (768, 771, 778, 798), flags: cvt),
        ModeInfo(clock: 71000, h: (1280, 1328, 1360, 1440), v: (800, 803, 809, 823), flags: rb),
        ModeInfo(clock: 83500, h: (1280, 1352, 1480, 1680), v: (800, 803, 809, 831), flags: cvt),
        ModeInfo(clock: 108000, h: (1280, 1376, 1488, 1800), v: (960, 961, 964, 1000), flags: p),
        ModeInfo(clock: 108000, h: (1280, 1328, 1440, 1688), v: (1024, 1025, 1028, 1066), flags: p),
        ModeInfo(clock: 85500, h: (1360, 1424, 1536, 1792), v: (768, 771, 777, 795), flags: p),
        ModeInfo(clock: 85500, h: (1366, 1436, 1579, 1792), v: (768, 771, 774, 798), flags: p),
        ModeInfo(clock: 101000, h: (1400, 1448, 1480, 1560), v: (1050, 1053, 1057, 1080), flags: rb),
        ModeInfo(clock: 121750, h: (1400, 1488, 1632, 1864), v: (1050, 1053, 1057, 1089), flags: cvt),
        ModeInfo(clock: 88750, h: (1440, 1488, 1520, 1600), v: (900, 903, 909, 926), flags: rb),
        ModeInfo(clock: 106500, h: (1440, 1520, 1672, 1904), v: (900, 903, 909, 934), flags: cvt),
        ModeInfo(clock: 108000, h: (1600, 1624, 1704, 1800), v: (900, 901, 904, 1000), flags: p),
        ModeInfo(clock: 162000, h: (1600, 1664, 1856, 2160), v: (1200, 1201, 1204, 1250), flags: p),
        ModeInfo(clock: 119000, h: (1680, 1728, 1760, 1840), v: (1050, 1053, 1059, 1080), flags: rb),
        ModeInfo(clock: 146250, h: (1680, 1784, 1960, 2240), v: (1050, 1053, 1059, 1089), flags: cvt),
        ModeInfo(clock: 204750, h: (1792, 1920, 2120, 2448), v: (1344, 1345, 1348, 1394), flags: cvt),
        ModeInfo(clock: 218250, h: (1856, 1952, 2176, 2528), v: (1392, 1393, 1396, 1439), flags: cvt),
        ModeInfo(clock: 148500, h: (1920, 2008, 2052, 2200), v: (1080, 1084, 1089, 1125), flags: p),
        ModeInfo(clock: 154000, h: (1920, 1968, 2000, 2080), v: (1200, 1203, 1209, 1235), flags: rb),
        ModeInfo(clock: 193250, h: (1920, 2056, 2256, 2592), v: (1200, 1203, 1209, 1245), flags: cvt),
        ModeInfo(clock: 234000, h: (1920, 2048, 2256, 2600), v: (1440, 1441, 1444, 1500), flags: cvt),
        ModeInfo(clock: 162000, h: (2048, 2074, 2154, 2250), v: (1152, 1153, 1156, 1200), flags: p),
        ModeInfo(clock: 268500, h: (2560, 2608, 2640, 2720), v: (1600, 1603, 1609, 1646), flags: rb),
        ModeInfo(clock: 348500, h: (2560, 2752, 3032, 3504), v: (1600, 1603, 1609, 1658), flags: cvt),
        ModeInfo(clock: 533000, h: (3840, 3888, 3920, 4000), v: (2400, 2403, 2409, 2469), flags: rb),
    ]

    /// Modes no larger than max, preferred one marked, sorted as drm_mode_sort does
    /// (preferred first, then larger area, then higher refresh, then higher clock).
    public static func list(maxWidth: Int, maxHeight: Int, preferredWidth: Int, preferredHeight: Int) -> [ModeInfo] {
        var modes = dmt.filter { Int($0.hdisplay) <= maxWidth && Int($0.vdisplay) <= maxHeight }
        if let i = modes.firstIndex(where: { Int($0.hdisplay) == preferredWidth && Int($0.vdisplay) == preferredHeight }) {
            modes[i].type |= ModeInfo.typePreferred
        }
        return sortModes(modes)
    }

    public static func sortModes(_ modes: [ModeInfo]) -> [ModeInfo] {
        modes.sorted { a, b in
            let ap = a.type & ModeInfo.typePreferred != 0, bp = b.type & ModeInfo.typePreferred != 0
            if ap != bp { return ap }
            let aa = Int(a.hdisplay) * Int(a.vdisplay), ba = Int(b.hdisplay) * Int(b.vdisplay)
            if aa != ba { return aa > ba }
            if a.vrefresh != b.vrefresh { return a.vrefresh > b.vrefresh }
            return a.clock > b.clock
        }
    }
}
