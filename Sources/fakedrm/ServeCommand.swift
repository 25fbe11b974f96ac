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
    @Option(help: "Serve this many cards from one daemon, each its own device on SOCKET0, SOCKET1, … (with control sockets SOCKETn.control).")
    var cards = 1
    @Option(help: "Card configuration (YAML); default: the vkms-shaped card.") var config: String?
    @Flag(help: "Virtual vblank time that steps itself whenever work is pending.") var virtualTime = false
    @Flag(help: "Virtual vblank time advanced only by `fakedrm ctl vblank step|rate`.") var manualVblank = false
    @Option(help: "Control socket for `fakedrm ctl` (default: SOCKET.control).") var control: String?
    @Option(help: "Write every presented frame as PNG into this directory.") var capture: String?
    @Option(name: .customLong("allow-uid"), help: "Also accept peers with this uid (repeatable).") var allowUIDs: [UInt32] = []
    @Option(help: "Scanout backend: vhost-user-gpu[=BINARY], vhost-user=SOCKET or wayland[=DISPLAY][,tied] (default: the virtual display).") var backend: String?
    @Option(help: ArgumentHelp("With a vhost-user-gpu backend: also show its display's scanouts as windows of a host compositor, wayland[=DISPLAY].", valueName: "display")) var hostDisplay: String?

    @OptionGroup var log: LogOptions

    func validate() throws {
        guard (1...256).contains(cards) else { throw ValidationError("--cards must be 1 to 256") }
        if cards > 1 && control != nil { throw ValidationError("--control names one card's control socket; with --cards each card has SOCKETn.control") }
        if cards > 1 && capture != nil { throw ValidationError("--capture is for one card") }
    }

    func run() throws {
        try log.bootstrap()
        let signals = SignalForwarding.blockTerminationSignals()
        // One card keeps the socket as given; a fleet numbers them, each a device of its own
        // with its own socket, control socket, views and vblank thread.
        let paths = cards == 1 ? [socket] : (0..<cards).map { "\(socket)\($0)" }
        var served: [ServedCard] = []
        defer { for card in served.reversed() { card.stop() } }
        for path in paths {
            served.append(try ServedCard(socket: path, control: cards == 1 ? control : nil, options: self))
        }
        if let card = served.first, cards == 1 {
            FileHandle.standardError.write(Data("fakedrm: serving \(card.device.config.driver.name) on \(socket) (control: \(card.control.path)); clients: fakedrm run --attach \(socket) -- CMD, or eval \"$(fakedrm env \(socket))\"\n".utf8))
        } else {
            FileHandle.standardError.write(Data("fakedrm: serving \(cards) cards on \(socket)0 … \(socket)\(cards - 1) (controls: SOCKETn.control); clients: fakedrm run --attach \(socket)N -- CMD\n".utf8))
        }
        let sig = SignalForwarding.wait(signals)
        FileHandle.standardError.write(Data("fakedrm: signal \(sig), stopping\n".utf8))
    }
}

/// One card of a serving daemon: its device, backend, socket server, views and control socket.
private final class ServedCard {
    let device: Device
    let scanout: ScanoutChoice
    let server: SocketServer
    let control: ControlServer
    let views: String

    init(socket: String, control: String?, options o: ServeCommand) throws {
        device = try makeDevice(config: o.config, capture: o.capture, virtualTime: o.virtualTime, manualVblank: o.manualVblank)
        scanout = try ScanoutChoice(spec: o.backend, hostDisplay: o.hostDisplay, device: device)
        let shared = ClientEnvironment.shared(socket: socket, control: control)
        views = shared.views
        server = SocketServer(device: device, path: socket, allowedUIDs: Set(o.allowUIDs))
        self.control = ControlServer(device: device, path: shared.control)
        do {
            try server.start()
            // The sysfs and debugfs views clients get from `fakedrm run --attach` / `fakedrm env`,
            // written once the socket is ours (a second serve on it must not take a live daemon's).
            try? FileManager.default.removeItem(atPath: views)
            try shared.writeViews(driver: device.config.driver.name, crtcCount: device.config.crtcs.count)
            try self.control.start()
        } catch {
            stop()
            throw error
        }
    }

    func stop() {
        control.stop()
        server.stop()
        device.shutdown()
        scanout.drainCapture()
        try? FileManager.default.removeItem(atPath: views)
        scanout.stop()
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
