/// Replays a recording (IoctlRecording) on a fresh card through the Direct front end, and
/// checks what must hold for any input: only the kernel's errnos, and once every file is
/// closed no commit, waiter, framebuffer or buffer left and the card itself freed. The fuzz
/// target (Sources/FakeDRMFuzz) and the corpus test run it; single-threaded, its own card.
public enum RecordingReplay {
    public struct Outcome: Sendable {
        public var ioctls = 0
        public var errnos: [Int32: Int] = [:]
        /// The first broken rule, nil when none.
        public var violation: String?
    }

    /// What drm_ioctl and the handlers fakedrm models can return (EINTR and EAGAIN included:
    /// waits and nonblocking paths).
    public static let kernelErrnos: Set<Int32> = [0, 1, 2, 4, 6, 9, 11, 12, 13, 14, 16, 19, 22, 25, 28, 34, 38, 62, 95]

    /// At most this many open files; later file numbers wrap onto them.
    static let maxFiles = 8

    public static func run(_ ops: [IoctlRecording.Op], config: DeviceConfig = DeviceConfig()) throws -> Outcome {
        var outcome = Outcome()
        weak var released: Device?
        do {
            let device = try Device(config: config, virtualTime: true)
            device.clock.eagerVirtualTime = true
            released = device
            let baseline = device.counts()
            replay(ops, on: device, &outcome)
            device.clock.stepVblank(count: 3)
            let after = device.counts()
            if outcome.violation == nil {
                if after.pendingCommits != 0 || after.waiters != 0 {
                    outcome.violation = "after close: \(after) (pending commits or waiters left)"
                } else if after.framebuffers != baseline.framebuffers {
                    outcome.violation = "after close: \(after.framebuffers) framebuffers, \(baseline.framebuffers) before"
                } else if device.buffers.liveBufferCount() != 0 {
                    outcome.violation = "after close: \(device.buffers.liveBufferCount()) buffers alive"
                }
            }
            device.shutdown()
        }
        if outcome.violation == nil, released != nil { outcome.violation = "the card is not freed after shutdown (a reference cycle)" }
        return outcome
    }

    private static func replay(_ ops: [IoctlRecording.Op], on device: Device, _ outcome: inout Outcome) {
        var clients: [DirectClient?] = Array(repeating: nil, count: maxFiles)
        defer { for c in clients { c?.close() } }
        var memory: [(address: UInt64, bytes: [UInt8])] = []
        func client(_ slot: UInt8) -> DirectClient? {
            let i = Int(slot) % maxFiles
            if clients[i] == nil { clients[i] = try? DirectClient(device: device, files: DirectFiles(realFDs: false)) }
            return clients[i]
        }
        for op in ops {
            switch op {
            case .memory(let address, let bytes):
                memory.append((address, bytes))
            case .ioctl(let slot, let request, var arg):
                defer { memory = [] }
                guard let c = client(slot) else { continue }
                c.memory.replace(with: memory)
                boundWaits(request, &arg)
                let e = c.ioctl(request, &arg)
                outcome.ioctls += 1
                outcome.errnos[e, default: 0] += 1
                if outcome.violation == nil, !kernelErrnos.contains(e) {
                    outcome.violation = "ioctl \(String(request, radix: 16)) gave errno \(e)"
                }
            case .read(let slot, let max):
                _ = try? client(slot)?.read(max: Int(max))
            }
        }
    }

    /// A syncobj wait with nothing left to signal it would block until its timeout: replayed
    /// with at most a millisecond. A WAIT_VBLANK for a far sequence steps virtual time up to
    /// the core's 3 s real-time limit: replayed at most 8 vblanks ahead. So no input hangs.
    private static func boundWaits(_ request: UInt32, _ arg: inout [UInt8]) {
        let req = IoctlRequest(request)
        guard req.type == IoctlRequest.drmType else { return }
        if req.nr == 0x3A, arg.count >= 8 {
            // drm_wait_vblank_request: type (u32), sequence (u32); relative or absolute.
            let seq = LE.u32s(Array(arg[4..<8]))[0]
            if seq > 8 { arg.replaceSubrange(4..<8, with: LE.bytes([seq % 8])) }
            return
        }
        let offset: Int
        switch req.nr {
        case 0xC3: offset = SyncobjWaitArg.timeoutNsec.offset
        case 0xCA: offset = SyncobjTimelineWaitArg.timeoutNsec.offset
        default: return
        }
        guard arg.count >= offset + 8 else { return }
        let limit = Monotonic.nowNs() + 1_000_000
        let t = Int64(bitPattern: LE.u64s(Array(arg[offset..<offset + 8]))[0])
        if t > limit { arg.replaceSubrange(offset..<offset + 8, with: LE.bytes([UInt64(bitPattern: limit)])) }
    }
}
