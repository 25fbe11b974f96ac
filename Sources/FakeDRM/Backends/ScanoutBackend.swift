/// What a CRTC scans out after a flip: the mode and the visible planes, with their memory.
public struct Scanout: Sendable {
    public var width: Int
    public var height: Int
    public var active: Bool
    public var planes: [ComposerPlane]
    /// The CRTC's GAMMA_LUT, applied after blending; nil when none is set.
    public var gamma: GammaLUT? = nil
    /// Plane 0's buffer of each entry of `planes`, alive while a backend holds this scanout.
    public var buffers: [BufferObject]
    /// The chroma planes' buffers, held for the same reason.
    public var chromaBuffers: [BufferObject] = []
}

/// A display behind the card. Calls come under the device lock; implementations must not call
/// back into the device synchronously (completions arrive later, from their own threads).
public protocol ScanoutBackend: AnyObject, Sendable {
    /// false: a flip completes at the next vblank of the CRTC's clock and `present` reports it.
    /// true: the backend decides: the device calls `submit` once a commit's in-fences have
    /// signalled, and the flip completes when the backend calls `Display.flipDone`.
    var completesFlips: Bool { get }
    /// Gives the backend its device (keep it weak) before the first submit.
    func attach(to device: Device)
    func present(crtcIndex: Int, scanout: Scanout, timestampNs: Int64)
    func submit(crtcIndex: Int, scanout: Scanout, token: UInt64)
    /// true: a host shows the buffers themselves (no copy), so a release fence also waits for
    /// `Display.buffersReleased` naming its commit, not only for its fbs to leave the planes.
    var holdsBuffers: Bool { get }
}

extension ScanoutBackend {
    public var completesFlips: Bool { false }
    public func attach(to device: Device) {}
    public func submit(crtcIndex: Int, scanout: Scanout, token: UInt64) {}
    public var holdsBuffers: Bool { false }
}
