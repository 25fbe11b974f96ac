import ArgumentParser
import FakeDRM
import FakeDRMCuse
import Foundation

/// `fakedrm cuse`: serve the card as a real character device through CUSE (needs root and the
/// cuse module). Named `cuse` rather than `serve --cuse` while `serve` (socket front end) is
/// developed on another branch; the two can merge into one command later.
struct CuseServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cuse",
        abstract: "Serve the card as /dev/dri/cardN through CUSE (root, `modprobe cuse`).",
        discussion: "mmap of dumb buffers and ioctls that return new fds need the client library; see docs/cuse.md.")

    @Option(help: "Minor number and N of /dev/dri/cardN (0-63).") var minor: UInt32 = 0
    @Option(help: "Char device major (default: 226 when no DRM driver holds it, else dynamic).") var major: UInt32?
    @Option(help: "Card configuration (YAML); default: the embedded vkms-shaped card.") var config: String?
    @Flag(help: "Vblanks advance only when work is pending (no 60 Hz timer).") var virtualTime = false
    @Flag(help: "Print every FUSE request (libfuse -d).") var debug = false
    @Flag(help: "Answer every ioctl through CUSE's retry rounds, never in the caller's memory in place (see docs/cuse.md).")
    var ioctlRetries = false
    @Option(help: "Socket the client library attaches through (default /run/fakedrm/card<minor>.sock).") var socket: String?
    @Flag(help: "No attach socket: DRM_IOCTL_FAKEDRM_ATTACH answers EINVAL.") var noSocket = false
    @Option(help: "Control socket for `fakedrm ctl` (default /run/fakedrm/card<minor>.control).") var control: String?

    func validate() throws {
        guard minor < 64 else { throw ValidationError("--minor must be 0-63 (libdrm treats 64+ as control/render nodes)") }
        // The path travels NUL-terminated in the ATTACH struct's 108-byte field (= sun_path).
        if let socket, socket.utf8.count >= 108 || socket.isEmpty {
            throw ValidationError("--socket must be 1-107 bytes long")
        }
    }

    @OptionGroup var log: LogOptions

    func run() throws {
        try log.bootstrap()
        // Before any thread exists (the device's vblank timer thread among them).
        let stopSignals = CuseFrontEnd.blockStopSignals()
        let cfg = try loadConfig(config)
        let device = try Device(config: cfg, virtualTime: virtualTime ? true : nil)
        if virtualTime { device.clock.eagerVirtualTime = true }
        let controlServer = ControlServer(device: device, path: control ?? "/run/fakedrm/card\(minor).control")
        do {
            try FileManager.default.createDirectory(atPath: (controlServer.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try controlServer.start()
        } catch {
            // The card still works; only `fakedrm ctl` cannot reach it.
            FileHandle.standardError.write(Data("fakedrm: no control socket: \(error)\n".utf8))
        }
        defer { controlServer.stop() }
        var options = CuseOptions()
        options.minor = minor
        options.major = major
        options.debug = debug
        options.retriesOnly = ioctlRetries
        options.attachSocket = noSocket ? nil : (socket ?? "/run/fakedrm/card\(minor).sock")
        do {
            let frontEnd = try CuseFrontEnd(device: device, options: options)
            frontEnd.stopOnSignals(stopSignals)
            try frontEnd.run()
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            device.shutdown()
            throw ExitCode(error.exitCode)
        }
        device.shutdown()
    }
}

extension CuseError {
    var exitCode: Int32 {
        switch self {
        case .unavailable: 69  // EX_UNAVAILABLE
        case .busy: 75  // EX_TEMPFAIL: the minor is taken
        case .failed: 70
        }
    }
}
