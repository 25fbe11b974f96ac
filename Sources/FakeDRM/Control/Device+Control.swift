import Foundation

/// What the control socket needs from the card beyond the client-facing API.
extension Device {
    public var isVirtualTime: Bool { lock.withLock { virtualTime } }
    public var crtcCount: Int { lock.withLock { crtcs.count } }

    func hasEDIDProperty(connector k: Int) -> Bool { lock.withLock { connectors[k].edidBlob != 0 } }

    public struct VblankCount: Codable, Sendable { var crtc: Int; var count: UInt64; var timestampNs: Int64 }

    public func vblankCounts() -> [VblankCount] {
        lock.withLock { vblank.indices.map { VblankCount(crtc: $0, count: vblank[$0].count, timestampNs: vblank[$0].reportedNs) } }
    }

    /// Out-fences of flips not yet complete plus release fences not yet signalled.
    public func pendingFenceCount() -> Int {
        lock.withLock { pendingCommits.compactMap { $0?.outFence }.filter { !$0.isSignalled }.count + releaseWaits.count }
    }

    /// Virtual time steps itself `hz` times per real second (0: only explicit steps).
    public func setVirtualVblankRate(_ hz: Double) {
        let generation: Int = lock.withLock {
            virtualRateGeneration += 1
            return virtualRateGeneration
        }
        guard hz > 0 else { return }
        let t = Thread { [weak self] in
            let periodNs = Int64(1e9 / hz)
            var next = Monotonic.nowNs() + periodNs
            // The device is held only between sleeps of at most 50 ms.
            while let device = self {
                let current = device.lock.withLock { device.shuttingDown ? -1 : device.virtualRateGeneration }
                if current != generation { break }
                let now = Monotonic.nowNs()
                if now >= next {
                    device.stepVblank()
                    next += periodNs
                    // Behind by more than a step (a stalled host): do not burst to catch up.
                    if next < now { next = now + periodNs }
                }
                usleep(useconds_t(max(0, min(next - Monotonic.nowNs(), 50_000_000)) / 1000))
            }
        }
        t.name = "fakedrm-vblank-rate"
        t.start()
    }
}
