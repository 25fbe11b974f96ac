import ArgumentParser
import FakeDRM
import Foundation
import Glibc

/// `fakedrm run -- CMD ARGS...`: a private card for one command. The server runs in this
/// process on background threads; CMD is spawned with libfakedrm-preload.so (and umockdev's
/// preload for sysfs discovery) and its exit status is returned. With `--attach SOCKET`, CMD
/// gets the same environment for a running `fakedrm serve` instead.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command against a private fake card (or a running one: --attach).",
        discussion: """
            Examples: fakedrm run --virtual-time -- modetest -M fakedrm -s Virtual-1:1024x768 -v
                      fakedrm serve --socket /tmp/card & fakedrm run --attach /tmp/card -- drm_info
            """)

    @Option(help: ArgumentHelp("Run against the daemon of `fakedrm serve --socket SOCKET` (its views, uevents and control socket) instead of a private card.", valueName: "socket")) var attach: String?
    @Option(help: ArgumentHelp("Card configuration (YAML); default: the vkms-shaped card.", valueName: "card.yaml")) var config: String?
    @Option(help: ArgumentHelp("Write every presented frame as PNG into this directory.", valueName: "dir")) var capture: String?
    @Flag(help: "Virtual vblank time that steps itself whenever work is pending.") var virtualTime = false
    @Flag(help: "Virtual vblank time advanced only by `fakedrm ctl vblank step|rate` (from CMD, via $FAKEDRM_CONTROL).") var manualVblank = false
    @Flag(help: "Do not add umockdev's preload library (no sysfs discovery).") var noUmockdev = false
    @Option(help: ArgumentHelp("Scanout backend: vhost-user-gpu[=BINARY], vhost-user=SOCKET or wayland[=DISPLAY][,tied] (default: the virtual display).", valueName: "backend")) var backend: String?
    @Option(help: ArgumentHelp("With a vhost-user-gpu backend: also show its display's scanouts as windows of a host compositor, wayland[=DISPLAY].", valueName: "display")) var hostDisplay: String?
    @Option(help: ArgumentHelp("Append every card ioctl of the clients to this file (the fuzz corpus format, docs/fuzzing.md).", valueName: "file")) var record: String?
    @Option(help: "Stop recording at this many bytes (a prefix of the session).") var recordLimit = 64 << 20
    @OptionGroup var log: LogOptions
    @Argument(parsing: .postTerminator, help: "The command and its arguments (after --).") var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("missing command: fakedrm run [options] -- CMD ARGS...") }
        if attach != nil, config != nil || capture != nil || virtualTime || manualVblank || backend != nil || hostDisplay != nil || record != nil {
            throw ValidationError("--attach uses the running daemon's card: give --config, --capture, --virtual-time, --manual-vblank, --backend, --host-display and --record to `fakedrm serve`")
        }
    }

    func run() throws {
        try log.bootstrap()
        let signals = SignalForwarding.blockTerminationSignals()
        let preload = try Self.requirePreload()
        let umockdev = ClientEnvironment.umockdev(disabled: noUmockdev)
        var card: PrivateCard?
        defer { card?.stop() }
        let env: [String: String]
        if let attach {
            let shared = ClientEnvironment.shared(socket: attach)
            try shared.checkServing()
            env = shared.processEnvironment(preload: preload, umockdev: umockdev)
        } else {
            let c = try PrivateCard(config: config, capture: capture, virtualTime: virtualTime, manualVblank: manualVblank, backend: backend, hostDisplay: hostDisplay, record: record, recordLimit: recordLimit)
            card = c
            env = try c.clientEnvironment(preload: preload, umockdev: umockdev)
        }
        let pid = try Self.spawn(command, env: env)
        let forwarder = Thread {
            while true {
                let sig = SignalForwarding.wait(signals)
                kill(pid, sig)
            }
        }
        forwarder.start()
        let status = PrivateCard.waitExitStatus(pid)
        if status != 0 { throw ExitCode(status) }
    }

    /// findPreload's answer, or the error that says how to get the library.
    static func requirePreload() throws -> String {
        guard let preload = findPreload() else {
            throw ValidationError("libfakedrm-preload.so not found: rebuild with swift build, run scripts/build-preload.sh, or set FAKEDRM_PRELOAD")
        }
        return preload
    }

    /// FAKEDRM_PRELOAD, else the copy the PreloadLibrary build plugin compiled during
    /// `swift build`, else next to this executable (where scripts/build-preload.sh puts it).
    static func findPreload() -> String? {
        if let p = ProcessInfo.processInfo.environment["FAKEDRM_PRELOAD"], !p.isEmpty { return p }
        if FileManager.default.isReadableFile(atPath: builtPreloadLibraryPath) { return builtPreloadLibraryPath }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let dir = (exe as NSString).deletingLastPathComponent
        let candidate = "\(dir)/libfakedrm-preload.so"
        return FileManager.default.isReadableFile(atPath: candidate) ? candidate : nil
    }

    /// posix_spawnp with default dispositions and an empty mask for the termination signals.
    static func spawn(_ argv: [String], env: [String: String]) throws -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = FDLimit.withOriginal { posix_spawnp(&pid, argv[0], nil, &attr, cArgs, cEnv) }
        guard rc == 0 else {
            throw ValidationError("cannot run \(argv[0]): \(String(cString: strerror(rc)))")
        }
        return pid
    }
}
