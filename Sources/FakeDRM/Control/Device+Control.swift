
/// What the control socket needs from the card beyond the client-facing API.
extension Device {
    public var isVirtualTime: Bool { lock.withLock { virtualTime } }
    public var crtcCount: Int { lock.withLock { crtcs.count } }

    public struct VblankCount: Codable, Sendable { var crtc: Int; var count: UInt64; var timestampNs: Int64 }

    public func vblankCounts() -> [VblankCount] {
        lock.withLock { vblank.indices.map { VblankCount(crtc: $0, count: vblank[$0].count, timestampNs: vblank[$0].reportedNs) } }
    }

    /// Out-fences of flips not yet complete plus release fences not yet signalled.
    public func pendingFenceCount() -> Int { lock.withLock { unsignalledFences().count } }

    /// Virtual time steps itself `hz` times per real second (0: only explicit steps).
    public func setVirtualVblankRate(_ hz: Double) {
        let generation: Int = lock.withLock {
            virtualRateGeneration += 1
            return virtualRateGeneration
        }
        guard hz > 0 else { return }
        let periodNs = Int64(1e9 / hz)
        startPacedThread(name: "fakedrm-vblank-rate", periodNs: periodNs, firstAfterNs: periodNs) { device in
            guard device.lock.withLock({ device.virtualRateGeneration }) == generation else { return false }
            device.stepVblank()
            return true
        }
    }
}
