import ArgumentParser
import FakeDRM
import Foundation
import Glibc

/// `fakedrm serve`: the daemon alone, for clients started by hand with
/// `LD_PRELOAD=libfakedrm-preload.so FAKEDRM_SOCKET=PATH`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the fake card on a unix socket (for libfakedrm-preload.so).")

    @Option(help: "Socket path to listen on (mode 0600; 0666 with --allow-uid, peers checked by uid).") var socket: String
    @Option(help: "Card configuration (YAML); default: the vkms-shaped card.") var config: String?
    @Flag(help: "Virtual vblank time that steps itself whenever work is pending.") var virtualTime = false
    @Flag(help: "Virtual vblank time advanced only by `fakedrm ctl vblank step|rate`.") var manualVblank = false
    @Option(help: "Control socket for `fakedrm ctl` (default: SOCKET.control).") var control: String?
    @Option(help: "Write every presented frame as PNG into this directory.") var capture: String?
    @Option(name: .customLong("allow-uid"), help: "Also accept peers with this uid (repeatable).") var allowUIDs: [UInt32] = []
    @Option(help: "Scanout backend: vhost-user-gpu[=BINARY] or vhost-user=SOCKET (default: the virtual display).") var backend: String?

    @OptionGroup var log: LogOptions

    func run() throws {
        try log.bootstrap()
        let signals = SignalForwarding.blockTerminationSignals()
        let device = try makeDevice(config: config, capture: capture, virtualTime: virtualTime, manualVblank: manualVblank)
        let scanout = try ScanoutChoice(spec: backend, device: device)
        defer { scanout.stop() }
        let shared = ClientEnvironment.shared(socket: socket, control: control)
        let server = SocketServer(device: device, path: socket, allowedUIDs: Set(allowUIDs))
        try server.start()
        // The sysfs and debugfs views clients get from `fakedrm run --attach` / `fakedrm env`,
        // written once the socket is ours (a second serve on it must not take a live daemon's).
        try? FileManager.default.removeItem(atPath: shared.views)
        try shared.writeViews(driver: device.config.driver.name, crtcCount: device.config.crtcs.count)
        defer { try? FileManager.default.removeItem(atPath: shared.views) }
        let controlServer = ControlServer(device: device, path: shared.control)
        try controlServer.start()
        FileHandle.standardError.write(Data("fakedrm: serving \(device.config.driver.name) on \(socket) (control: \(controlServer.path)); clients: fakedrm run --attach \(socket) -- CMD, or eval \"$(fakedrm env \(socket))\"\n".utf8))
        let sig = SignalForwarding.wait(signals)
        FileHandle.standardError.write(Data("fakedrm: signal \(sig), stopping\n".utf8))
        controlServer.stop()
        server.stop()
        device.shutdown()
        scanout.drainCapture()
    }
}

/// `virtualTime`: eager virtual time; `manualVblank`: virtual time that only `fakedrm ctl
/// vblank step|rate` advances.
func makeDevice(config: String?, capture: String?, virtualTime: Bool, manualVblank: Bool = false) throws -> Device {
    var cfg = DeviceConfig()
    if let config {
        cfg = try DeviceConfig.load(yaml: String(contentsOfFile: config, encoding: .utf8))
    }
    if let capture {
        try FileManager.default.createDirectory(atPath: capture, withIntermediateDirectories: true)
    }
    let backend = VirtualBackend(captureDirectory: capture)
    let device = try Device(config: cfg, backend: backend, virtualTime: virtualTime || manualVblank ? true : nil)
    if virtualTime && !manualVblank { device.clock.eagerVirtualTime = true }
    return device
}

/// SIGINT/SIGTERM handling without async-signal code: the signals are blocked in every
/// thread (block before creating any) and collected with sigwait.
enum SignalForwarding {
    static func blockTerminationSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        return set
    }

    static func wait(_ set: sigset_t) -> Int32 {
        var s = set
        var sig: Int32 = 0
        while sigwait(&s, &sig) != 0 {}
        return sig
    }
}
