
/// What the control socket needs from the card beyond the client-facing API.
extension Device {
    public var crtcCount: Int { lock.withLock { topology.crtcs.count } }

    public struct VblankCount: Codable, Sendable { var crtc: Int; var count: UInt64; var timestampNs: Int64 }

    public func vblankCounts() -> [VblankCount] {
        lock.withLock { vblank.clocks.indices.map { VblankCount(crtc: $0, count: vblank.clocks[$0].count, timestampNs: vblank.clocks[$0].reportedNs) } }
    }

    /// Out-fences of flips not yet complete plus release fences not yet signalled.
    public func pendingFenceCount() -> Int { lock.withLock { unsignalledFences().count } }
}
