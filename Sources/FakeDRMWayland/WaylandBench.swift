import FakeDRM

/// `fakedrm bench --wayland`: the release-fence demo's double-buffered client against a real
/// host compositor, once with the flip waiting for the host to release the older buffer (a
/// driver without release fences) and once with the release fence.
public enum WaylandBench {
    public struct Case: Sendable {
        public var fps: Double
        public var hostFrameCallbacks: Int
        public var presented: Int
        public var framesSubmitted: Int
        public var copiesPerFrame: Double
    }

    public struct Report: Sendable {
        public var hostName: String
        /// Flips per second when the client does not render at all: the host's own rate.
        public var hostFps: Double
        public var renderMs: Double
        public var seconds: Double
        public var releaseTiedToFlip: Case
        public var withReleaseFence: Case
    }

    /// `renderMs` nil: the host's frame period: a client that renders for one whole host frame,
    /// the RFC's case (the guest can keep up with the host only if rendering overlaps the flip).
    public static func run(display: String?, renderMs: Double?, seconds: Double) throws -> Report {
        func onHost<T>(tied: Bool, _ body: (Device) throws -> T) throws -> (T, WaylandBackend.Stats, String) {
            let backend = try WaylandBackend(display: display, options: .init(releaseTiedToFlip: tied))
            let device = try Device(config: DeviceConfig(), backend: backend, virtualTime: false)
            defer {
                device.shutdown()
                backend.shutdown()
            }
            let before = backend.stats
            let out = try body(device)
            var s = backend.stats
            s.frameCallbacks -= before.frameCallbacks
            return (out, s, backend.hostName)
        }
        let (hostFps, _, name) = try onHost(tied: false) { try VhostBench.flipRate(device: $0, seconds: 1) }
        let render = renderMs ?? 1000 / max(hostFps, 1)
        func measure(_ tied: Bool) throws -> Case {
            let (fps, s, _) = try onHost(tied: tied) { try VhostBench.releaseLoop(device: $0, tied: tied, renderMs: render, seconds: seconds) }
            let frames = s.directFrames + s.composedFrames
            return Case(fps: fps, hostFrameCallbacks: s.frameCallbacks, presented: s.presented, framesSubmitted: frames,
                        copiesPerFrame: Double(s.frameCopies) / Double(max(frames, 1)))
        }
        let tied = try measure(true)
        let fenced = try measure(false)
        return Report(hostName: name, hostFps: hostFps, renderMs: render, seconds: seconds, releaseTiedToFlip: tied, withReleaseFence: fenced)
    }
}
