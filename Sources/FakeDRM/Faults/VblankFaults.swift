/// The vblank interrupt's fault consultation point (lock held): drops, stalls, jumps and
/// jitter of `vblank-*` rules, counted as the kernel counts missed vblanks.
extension VblankCounters {
    static let maxClockOffsetNs: Int64 = 1 << 60

    /// One vblank interrupt on CRTC i at `ts`: nil when a fault swallows it; else the
    /// timestamp clients are given.
    func vblankInterrupt(_ i: Int, at ts: Int64) -> Int64? {
        if clocks[i].dropLeft > 0 {
            clocks[i].dropLeft -= 1
            clocks[i].missed += 1
            return nil
        }
        if ts < clocks[i].stallUntilNs {
            clocks[i].missed += 1
            return nil
        }
        var reported = ts
        let next = clocks[i].count &+ 1 &+ clocks[i].missed
        if let hit = faults.consult("vblank crtc \(i) sequence \(next)", { k in
            switch k {
            case .vblankDrop(_, let c), .vblankJitter(_, let c), .vblankStall(_, let c), .vblankJump(_, let c): c == nil || c == i
            default: false
            }
        }) {
            switch hit.kind {
            case .vblankDrop(let n, _):
                clocks[i].dropLeft = n - 1
                clocks[i].missed += 1
                return nil
            case .vblankStall(let ns, _):
                clocks[i].stallUntilNs = ts + ns
                clocks[i].missed += 1
                return nil
            case .vblankJump(let ns, _):
                // Bounded (2^60 ns, 36 years) so a rule left firing at every vblank cannot
                // overflow the timestamps.
                guard clocks[i].offsetNs <= VblankCounters.maxClockOffsetNs - ns else { break }
                clocks[i].offsetNs += ns
                clocks[i].missed &+= UInt64(ns / max(clocks[i].periodNs, 1))
            case .vblankJitter(let ns, _):
                reported += Int64((hit.draw * 2 - 1) * Double(ns))
            default: break
            }
        }
        return reported + clocks[i].offsetNs
    }
}
