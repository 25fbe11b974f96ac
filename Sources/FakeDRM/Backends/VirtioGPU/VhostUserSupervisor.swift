import Dispatch
import Glibc

/// Keeps a card connected to a vhost-user-gpu backend: when the backend dies (killed, crashed,
/// socket closed, stopped answering) the card has already been told (connectors disconnected,
/// fences failed); the supervisor then brings up a new backend — a fresh process in spawn mode,
/// a new connection in socket mode — and attaches it, without restarting the daemon. The new
/// backend reports its displays (connectors come back) and repaints what the card shows.
///
/// @unchecked Sendable: mutable state is touched only on `queue`.
public final class VhostUserSupervisor: @unchecked Sendable {
    public let endpoint: VhostUserTransport.Endpoint
    public let outputs: [(width: Int, height: Int)?]
    public let retryMs: Int
    public let maxAttempts: Int
    private weak var device: Device?
    private let queue = DispatchQueue(label: "fakedrm.vhost-supervisor")
    private var current: VirtioGPUBackend?
    private var stopped = false
    private var restarts = 0

    /// `--capture`, handed to every backend it brings up.
    private let capture: FrameCapture?
    /// `--host-display`: every backend's display also shows its scanouts there.
    private let sink: HostWindowSink?

    public init(device: Device, endpoint: VhostUserTransport.Endpoint, outputs: [(width: Int, height: Int)?],
                retryMs: Int = 200, maxAttempts: Int = 50, capture: FrameCapture? = nil, sink: HostWindowSink? = nil) {
        self.device = device
        self.capture = capture
        self.sink = sink
        self.endpoint = endpoint
        self.outputs = outputs
        self.retryMs = retryMs
        self.maxAttempts = maxAttempts
    }

    /// Brings up the first backend and attaches it.
    public func start() throws(VirtioError) {
        let b = try VirtioGPUBackend.vhostUser(endpoint, outputs: outputs, sink: sink)
        queue.sync { install(b) }
    }

    public var backend: VirtioGPUBackend? { queue.sync { current } }
    public var restartCount: Int { queue.sync { restarts } }

    public func stop() {
        let b: VirtioGPUBackend? = queue.sync {
            stopped = true
            return current
        }
        b?.shutdown()
    }

    private func install(_ b: VirtioGPUBackend) {
        current = b
        b.setCapture(capture)
        b.setLostHandler { [weak self] reason in
            guard let self else { return }
            self.queue.async { self.replace(after: reason) }
        }
        device?.display.attach(b)
    }

    private func replace(after reason: String, attempt: Int = 1) {
        guard !stopped, device != nil else { return }
        do {
            let b = try VirtioGPUBackend.vhostUser(endpoint, outputs: outputs, sink: sink)
            restarts += 1
            FakeDRMLog.warn("vhost-user-gpu backend replaced (was: \(reason))")
            install(b)
        } catch {
            guard attempt < maxAttempts else {
                FakeDRMLog.warn("vhost-user-gpu: giving up after \(attempt) attempts: \(error.message)")
                return
            }
            queue.asyncAfter(deadline: .now() + .milliseconds(retryMs)) { self.replace(after: reason, attempt: attempt + 1) }
        }
    }
}
