import ArgumentParser
import FakeDRM
import Glibc

/// `--backend`: where the card's scanout goes. Absent: the built-in virtual display.
/// `vhost-user-gpu[=BINARY]` spawns QEMU's backend; `vhost-user=SOCKET` connects to one.
/// The supervisor replaces a backend that dies without restarting the card.
struct ScanoutChoice {
    private(set) var supervisor: VhostUserSupervisor?
    /// `--capture`, whichever backend shows the frames.
    let capture: FrameCapture?

    init(spec: String?, device: Device) throws {
        capture = (device.display.backend as? VirtualBackend)?.capture
        guard let spec else { return }
        guard let endpoint = VirtioGPUBackend.endpoint(fromSpec: spec) else {
            throw ValidationError("--backend takes vhost-user-gpu[=BINARY] or vhost-user=SOCKET, not '\(spec)'")
        }
        // The host display is as large as the connector's preferred mode.
        let c = device.config.connectors.first
        let output = (width: c?.preferredWidth ?? 1024, height: c?.preferredHeight ?? 768)
        // --capture writes what the backend's display shows, as the virtual display would.
        let s = VhostUserSupervisor(device: device, endpoint: endpoint, outputs: [output],
                                    capture: capture)
        do {
            try s.start()
        } catch {
            throw ValidationError("cannot start the \(spec) backend: \(error.message)")
        }
        supervisor = s
        // `backend-crash` kills the spawned process; the supervisor then brings up a new one.
        device.display.crashBackendProcess = { [weak s] in
            guard let pid = (s?.backend?.transport as? VhostUserTransport)?.childPID else { return false }
            return kill(pid, SIGKILL) == 0
        }
    }

    func stop() { supervisor?.stop() }

    /// Waits until captured frames are on disk.
    func drainCapture() { capture?.drain() }
}
