/// A minimal EDID 1.4 base block for connectors that are not Virtual: what a monitor would
/// report, so compositors find a make, a model and a preferred timing (weston and wlroots
/// name outputs from it). Manufacturer "FDM", monitor name "fakedrm", the connector's physical
/// size, and the preferred mode as the first detailed timing descriptor.
enum EDID {
    static func baseBlock(preferred m: ModeInfo?, mmWidth: UInt32, mmHeight: UInt32, serial: UInt32) -> [UInt8] {
        var e = [UInt8](repeating: 0, count: 128)
        e[0...7] = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]
        // Manufacturer ID: three letters, 5 bits each ('A' = 1), big-endian.
        let id = "FDM".utf8.reduce(UInt16(0)) { $0 << 5 | UInt16($1 - 64) }
        e[8] = UInt8(id >> 8)
        e[9] = UInt8(id & 0xff)
        e[10] = 0x01  // product code
        for k in 0..<4 { e[12 + k] = UInt8(truncatingIfNeeded: serial >> (8 * k)) }
        e[16] = 1            // week
        e[17] = 36           // year of manufacture - 1990 (2026)
        e[18] = 1
        e[19] = 4            // EDID 1.4
        e[20] = 0xa5         // digital input, 8 bits per colour, DisplayPort-agnostic
        e[21] = UInt8(min((mmWidth + 5) / 10, 255))   // cm
        e[22] = UInt8(min((mmHeight + 5) / 10, 255))
        e[23] = 120          // gamma 2.2
        e[24] = 0x06         // RGB 4:4:4, preferred timing mode in the first descriptor
        // sRGB chromaticity (standard values, 10-bit fixed point).
        e[25...34] = [0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54]
        for k in 38..<54 { e[k] = 0x01 }  // no standard timings
        var d = 54
        if let m { e.replaceSubrange(d..<d + 18, with: detailedTiming(m, mmWidth: mmWidth, mmHeight: mmHeight)); d += 18 }
        e.replaceSubrange(d..<d + 18, with: textDescriptor(0xfc, "fakedrm"))
        d += 18
        e.replaceSubrange(d..<d + 18, with: textDescriptor(0xff, String(serial)))
        d += 18
        while d < 126 {
            e.replaceSubrange(d..<d + 18, with: [0, 0, 0, 0x10] + [UInt8](repeating: 0, count: 14))  // dummy descriptor
            d += 18
        }
        e[126] = 0  // no extensions
        e[127] = UInt8(truncatingIfNeeded: 256 - Int(e[0..<127].reduce(0) { ($0 + Int($1)) % 256 }))
        return e
    }

    static func detailedTiming(_ m: ModeInfo, mmWidth: UInt32, mmHeight: UInt32) -> [UInt8] {
        var t = [UInt8](repeating: 0, count: 18)
        let clock = UInt16(clamping: m.clock / 10)  // 10 kHz units
        t[0] = UInt8(clock & 0xff)
        t[1] = UInt8(clock >> 8)
        let ha = Int(m.hdisplay), hb = Int(m.htotal) - ha, va = Int(m.vdisplay), vb = Int(m.vtotal) - va
        t[2] = UInt8(ha & 0xff); t[3] = UInt8(hb & 0xff); t[4] = UInt8((ha >> 8) << 4 | (hb >> 8) & 0xf)
        t[5] = UInt8(va & 0xff); t[6] = UInt8(vb & 0xff); t[7] = UInt8((va >> 8) << 4 | (vb >> 8) & 0xf)
        let hso = Int(m.hsyncStart) - ha, hsw = Int(m.hsyncEnd) - Int(m.hsyncStart)
        let vso = Int(m.vsyncStart) - va, vsw = Int(m.vsyncEnd) - Int(m.vsyncStart)
        t[8] = UInt8(hso & 0xff); t[9] = UInt8(hsw & 0xff)
        t[10] = UInt8((vso & 0xf) << 4 | vsw & 0xf)
        let hsoHi = (hso >> 8) & 3, hswHi = (hsw >> 8) & 3, vsoHi = (vso >> 4) & 3, vswHi = (vsw >> 4) & 3
        t[11] = UInt8(hsoHi << 6 | hswHi << 4 | vsoHi << 2 | vswHi)
        let w = Int(min(mmWidth, 4095)), h = Int(min(mmHeight, 4095))
        t[12] = UInt8(w & 0xff); t[13] = UInt8(h & 0xff); t[14] = UInt8((w >> 8) << 4 | (h >> 8))
        // Digital separate sync with the mode's polarities.
        let vPos: UInt8 = m.flags & ModeInfo.flagPVSync != 0 ? 0x04 : 0
        let hPos: UInt8 = m.flags & ModeInfo.flagPHSync != 0 ? 0x02 : 0
        t[17] = 0x18 | vPos | hPos
        return t
    }

    /// A display descriptor holding up to 13 characters, newline-terminated, space-padded.
    static func textDescriptor(_ tag: UInt8, _ text: String) -> [UInt8] {
        let b: [UInt8] = [0, 0, 0, tag, 0]
        var chars = Array(text.utf8.prefix(13))
        if chars.count < 13 { chars.append(0x0a) }
        while chars.count < 13 { chars.append(0x20) }
        return b + chars
    }
}
