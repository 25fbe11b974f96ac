import ArgumentParser
import FakeDRM
import FakeDRMWayland
import Foundation
import Glibc
import Logging

/// `--backend`: where the card's scanout goes. Absent: the built-in virtual display.
/// `vhost-user-gpu[=BINARY]` spawns QEMU's backend; `vhost-user=SOCKET` connects to one.
/// The supervisor replaces a backend that dies without restarting the card.
/// `wayland[=DISPLAY][,tied]` shows each CRTC in a window of the host compositor (DISPLAY: a
/// socket name or an absolute path; default $WAYLAND_DISPLAY as the daemon sees it).
struct ScanoutChoice {
    private(set) var supervisor: VhostUserSupervisor?
    private(set) var wayland: WaylandBackend?
    /// `--capture`, whichever backend shows the frames.
    let capture: FrameCapture?

    private(set) var hostWindows: WaylandWindowSink?

    /// `hostDisplay`: `--host-display wayland[=DISPLAY]`, where a vhost-user-gpu backend's
    /// display also shows its scanouts.
    init(spec: String?, hostDisplay: String? = nil, device: Device) throws {
        capture = (device.display.backend as? VirtualBackend)?.capture
        if let hostDisplay {
            guard let w = WaylandSpec(hostDisplay), !w.tied else {
                throw ValidationError("--host-display takes wayland[=DISPLAY], not '\(hostDisplay)'")
            }
            guard let spec, WaylandSpec(spec) == nil, VirtioGPUBackend.endpoint(fromSpec: spec) != nil else {
                throw ValidationError("--host-display is for --backend vhost-user-gpu or vhost-user (the wayland backend has its own windows)")
            }
            do {
                hostWindows = try WaylandWindowSink(display: w.display)
            } catch {
                throw ValidationError("--host-display: \(error)")
            }
        }
        guard let spec else { return }
        if let w = WaylandSpec(spec) {
            wayland = try Self.startWayland(w, device: device, capture: capture)
            return
        }
        guard let endpoint = VirtioGPUBackend.endpoint(fromSpec: spec) else {
            throw ValidationError("--backend takes vhost-user-gpu[=BINARY], vhost-user=SOCKET or wayland[=DISPLAY][,tied], not '\(spec)'")
        }
        // The host display is as large as the connector's preferred mode.
        let c = device.config.connectors.first
        let output = (width: c?.preferredWidth ?? 1024, height: c?.preferredHeight ?? 768)
        // --capture writes what the backend's display shows, as the virtual display would.
        let s = VhostUserSupervisor(device: device, endpoint: endpoint, outputs: [output],
                                    capture: capture, sink: hostWindows)
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

    private static func startWayland(_ w: WaylandSpec, device: Device, capture: FrameCapture?) throws -> WaylandBackend {
        let b: WaylandBackend
        do {
            b = try WaylandBackend(display: w.display, options: .init(releaseTiedToFlip: w.tied), capture: capture)
        } catch {
            throw ValidationError("--backend wayland: \(error)")
        }
        // The host gone: the card keeps serving on the virtual display, its connectors
        // disconnected (Display.lost) until a hotplug brings them back.
        b.setLostHandler { [weak device, name = b.hostName] why in
            Logger(label: "fakedrm.display").warning("wayland display \(name) lost: \(why)")
            device?.display.attach(VirtualBackend(capture: capture))
        }
        device.display.attach(b)
        // `backend-crash` breaks the connection as a dying host would.
        device.display.crashBackendProcess = { [weak b] in b?.breakConnection() ?? false }
        return b
    }

    func stop() {
        supervisor?.stop()
        if let h = hostWindows {
            let (shown, copies) = h.counts
            Logger(label: "fakedrm.display").notice("\("host display \(h.hostName): \(shown) pictures shown, \(copies) copies into its windows")")
            h.shutdown()
        }
        if let w = wayland {
            let s = w.stats
            let lost = s.lostReason.map { "; lost: \($0)" } ?? ""
            let line = "wayland display \(w.hostName): \(s.directFrames + s.composedFrames) frames submitted"
                + " (\(s.directFrames) without a copy, \(s.composedFrames) composed, \(s.frameCopies) copies), \(s.frameCallbacks) frame callbacks,"
                + " \(s.presented) presented, \(s.releases) buffer releases\(lost)"
            Logger(label: "fakedrm.display").notice("\(line)")
            w.shutdown()
        }
    }

    /// Waits until captured frames are on disk.
    func drainCapture() { capture?.drain() }
}

/// `wayland[=DISPLAY][,tied]`.
struct WaylandSpec {
    var display: String?
    var tied = false

    init?(_ spec: String) {
        var parts = spec.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let head = parts.first, head == "wayland" || head.hasPrefix("wayland=") else { return nil }
        parts.removeFirst()
        if head.hasPrefix("wayland=") { display = String(head.dropFirst("wayland=".count)) }
        for p in parts {
            guard p == "tied" else { return nil }
            tied = true
        }
    }
}
