/// WAIT_VBLANK and the CRTC sequence ioctls (drm_wait_vblank_ioctl, drm_crtc_get/queue_sequence_ioctl).
extension VblankCounters {
    public struct VblankReply: Sendable { public var sequence: UInt32; public var timestampNs: Int64 }

    /// drm_wait_vblank_ioctl. `type` carries the flags; the pipe is decoded from it.
    public func waitVblank(_ file: FileContext, type: UInt32, sequence: UInt32, signal: UInt64) throws(DRMError) -> VblankReply {
        try lock.withLock { () throws(DRMError) -> VblankReply in
            defer { clock.runEagerClock() }
            let relative: UInt32 = 1, event: UInt32 = 0x0400_0000, nextOnMiss: UInt32 = 0x1000_0000
            let secondary: UInt32 = 0x2000_0000, highMask: UInt32 = 0x3e
            let allowed: UInt32 = 0x7400_003f
            if type & ~allowed != 0 || type & 0x4000_0000 != 0 {
                throw .invalidArgument.because(.fences, type & ~allowed != 0
                    ? "Unsupported type value 0x\(String(type, radix: 16)), supported mask 0x\(String(allowed, radix: 16))"
                    : "_DRM_VBLANK_SIGNAL is not supported (type 0x\(String(type, radix: 16)))")
            }
            let high = (type & highMask) >> 1
            let pipe = high != 0 ? Int(high) : (type & secondary != 0 ? 1 : 0)
            guard pipe < topology.crtcs.count else {
                throw .invalidArgument.because(.fences, "vblank pipe \(pipe) but the card has \(topology.crtcs.count) CRTCs")
            }
            guard clocks[pipe].running else {
                throw .invalidArgument.because(.fences, "crtc \(pipe) failed to acquire vblank counter: \(topology.crtcs[pipe].tag) is off")
            }
            let current = clocks[pipe].count
            var target: UInt64
            if type & relative != 0 {
                target = current &+ UInt64(sequence)
            } else {
                // 32-bit sequence space, as vblank_passed(): up to 2^23 behind counts as passed.
                let cur32 = UInt32(truncatingIfNeeded: current)
                let behind = cur32 &- sequence
                target = behind <= 1 << 23 ? current - min(UInt64(behind), current) : current &+ UInt64(sequence &- cur32)
            }
            if type & nextOnMiss != 0 && target <= current { target = current + 1 }
            if type & event != 0 {
                guard file.eventSpace >= EventVblankLayout.size else {
                    throw .noMemory.because(.fences, "file \(file.id) has no event space left (\(file.eventSpace) bytes) for a vblank event")
                }
                file.eventSpace -= EventVblankLayout.size
                if target <= current {
                    file.queue(event: DRMEvent.vblank(type: DRMConst.eventVblank, userData: signal, ts: clocks[pipe].reportedNs,
                                                         sequence: UInt32(truncatingIfNeeded: current), crtcID: topology.crtcs[pipe].id))
                } else {
                    waiters.append(VblankWaiter(file: file, crtcIndex: pipe, target: target, kind: .vblankEvent(userData: signal)))
                }
                return VblankReply(sequence: UInt32(truncatingIfNeeded: target), timestampNs: 0)
            }
            if target > current {
                let ok = clock.waitUntil(crtcIndex: pipe, stepsVblanks: true) { clocks[pipe].count >= target || !clocks[pipe].running }
                if !ok {
                    throw .busy.because(.fences, "\(topology.crtcs[pipe].tag) vblank wait for \(target) timed out at \(clocks[pipe].count)")
                }
                if !clocks[pipe].running {
                    throw .invalidArgument.because(.fences, "\(topology.crtcs[pipe].tag) was switched off during the vblank wait")
                }
            }
            return VblankReply(sequence: UInt32(truncatingIfNeeded: clocks[pipe].count), timestampNs: clocks[pipe].reportedNs)
        }
    }

    public struct SequenceReply: Sendable { public var active: Bool; public var sequence: UInt64; public var timestampNs: Int64 }

    public func crtcSequence(crtcID: ObjectID) throws(DRMError) -> SequenceReply {
        try lock.withLock { () throws(DRMError) -> SequenceReply in
            guard let c = topology.crtcIndex(of: crtcID) else {
                throw .notFound.because(.fences, "Unknown CRTC ID \(crtcID)")
            }
            return SequenceReply(active: clocks[c].running, sequence: clocks[c].count, timestampNs: clocks[c].reportedNs)
        }
    }

    public func queueSequence(_ file: FileContext, crtcID: ObjectID, flags: UInt32, sequence: UInt64, userData: UInt64) throws(DRMError) -> UInt64 {
        try lock.withLock { () throws(DRMError) -> UInt64 in
            defer { clock.runEagerClock() }
            let relative: UInt32 = 1, nextOnMiss: UInt32 = 2
            if flags & ~(relative | nextOnMiss) != 0 {
                throw .invalidArgument.because(.fences, "CRTC_QUEUE_SEQUENCE flags 0x\(String(flags, radix: 16)) beyond RELATIVE | NEXT_ON_MISS")
            }
            guard let c = topology.crtcIndex(of: crtcID) else {
                throw .notFound.because(.fences, "Unknown CRTC ID \(crtcID)")
            }
            guard clocks[c].running else {
                throw .invalidArgument.because(.fences, "crtc \(c) failed to acquire vblank counter: \(topology.crtcs[c].tag) is off")
            }
            guard file.eventSpace >= EventCrtcSequenceLayout.size else {
                throw .noMemory.because(.fences, "file \(file.id) has no event space left (\(file.eventSpace) bytes) for a sequence event")
            }
            file.eventSpace -= EventCrtcSequenceLayout.size
            let current = clocks[c].count
            var target = flags & relative != 0 ? current &+ sequence : sequence
            if flags & nextOnMiss != 0 && target <= current { target = current + 1 }
            if target <= current {
                file.queue(event: DRMEvent.crtcSequence(userData: userData, ts: clocks[c].reportedNs, sequence: current))
            } else {
                waiters.append(VblankWaiter(file: file, crtcIndex: c, target: target, kind: .sequenceEvent(userData: userData)))
            }
            return target
        }
    }
}
