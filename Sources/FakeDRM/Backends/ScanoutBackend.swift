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
    /// What `fakedrm ctl state` shows of the display (nil: nothing beyond the card's state).
    /// Called under the device lock: take only the backend's own locks.
    var summary: DisplaySummary? { get }
}

/// The display behind the card as `fakedrm ctl state` shows it.
public struct DisplaySummary: Codable, Sendable {
    public var kind: String
    public var host: String?
    public var windows: Int
    public var framesSubmitted: Int
    /// Full-frame copies fakedrm made (0 per frame when the host shows guest buffers as they are).
    public var frameCopies: Int
    public var frameCallbacks: Int
    /// Guest buffers the host holds: attached and not yet released.
    public var hostHeldBuffers: Int
    public var lost: String?

    public init(kind: String, host: String?, windows: Int, framesSubmitted: Int, frameCopies: Int, frameCallbacks: Int,
                hostHeldBuffers: Int, lost: String?) {
        self.kind = kind
        self.host = host
        self.windows = windows
        self.framesSubmitted = framesSubmitted
        self.frameCopies = frameCopies
        self.frameCallbacks = frameCallbacks
        self.hostHeldBuffers = hostHeldBuffers
        self.lost = lost
    }
}

extension ScanoutBackend {
    public var completesFlips: Bool { false }
    public func attach(to device: Device) {}
    public func submit(crtcIndex: Int, scanout: Scanout, token: UInt64) {}
    public var holdsBuffers: Bool { false }
    public var summary: DisplaySummary? { nil }
}
