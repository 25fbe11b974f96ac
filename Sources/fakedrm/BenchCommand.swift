import ArgumentParser
import FakeDRM
import FakeDRMWayland
import Foundation
import Glibc

/// Figures for the Direct path, each next to a raw eventfd write→poll wake measured in the
/// same run. Medians and p99 of per-operation wall time.
///
/// `--socket`: the socket path instead (docs/bench.md). A private card with virtual time is
/// served in this process and bench/socket-bench.c (built by the PreloadLibrary plugin) runs
/// under libfakedrm-preload.so; it times each ioctl next to a raw unix-socket echo of the same
/// round trips and byte counts and prints the table.
/// `--vhost`: page flips through a vhost-user-gpu backend and the release-fence demo.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure request costs (use a release build).")
    @Option(help: "Iterations per measurement.") var iterations = 20000
    @Flag(help: "Measure the socket path (libfakedrm-preload.so -> daemon) next to a raw unix-socket echo.") var socket = false
    @Flag(help: "With --socket: print the traced message sizes and the scene.") var verbose = false
    @Option(help: "With --socket: CPUs as DAEMON[,CLIENT]; the echo child shares the daemon's CPU (default: the first CPU allowed, for all).")
    var cpus: String?
    @Flag(help: "Flips through a vhost-user-gpu backend (1080p by default) and the release-fence demo.") var vhost = false
    @Option(help: "Backend for --vhost: vhost-user-gpu[=BINARY] (spawned) or vhost-user=SOCKET.") var backend = "vhost-user-gpu"
    @Option(help: "Scanout size for --vhost, WxH.") var size = "1920x1080"
    @Option(help: "Seconds per --vhost measurement.") var seconds = 5.0
    @Option(help: "Client render time per frame (ms) for the release-fence demo (--wayland: the host's frame period).") var renderMs: Double?
    @Option(help: ArgumentHelp("The release-fence demo against a real host compositor (a socket name or an absolute path).", valueName: "display"))
    var wayland: String?
    @Flag(help: "Also measure the composed (copying) path, forced by an overlay plane.") var composed = false
    @Option(help: "Run only the Direct-path row of this exact name (no composition table), e.g. under callgrind.") var only: String?

    func run() throws {
        if socket { return try runSocket() }
        if vhost { return try runVhost() }
        if let wayland { return try runWayland(wayland) }
        let r = try DirectBench.run(iterations: iterations, only: only)
        print("fakedrm bench (Direct front end, \(iterations) iterations, ns per operation)")
        print("operation".padding(toLength: 42, withPad: " ", startingAt: 0) + "     median        p99  x floor")
        let floor = r.first { $0.name.hasPrefix("raw eventfd") }?.median
        for m in r {
            let ratio = floor.map { String(format: "%8.2f", Double(m.median) / Double(max($0, 1))) } ?? "       -"
            print(m.name.padding(toLength: 42, withPad: " ", startingAt: 0) + String(format: " %10d %10d ", m.median, m.p99) + ratio)
        }
        if only == nil { printComposition() }
    }

    /// The composer at 1080p on this thread, next to a plain copy of one frame.
    private func printComposition() {
        let rows = ComposeBench.run(samples: min(iterations, 60))
        let pixels = Double(ComposeBench.width * ComposeBench.height)
        let copy = Double(max(rows.first?.medianNs ?? 1, 1))
        print("\ncomposition, \(ComposeBench.width)x\(ComposeBench.height) on one core (median of \(min(iterations, 60)) frames)")
        print("frame".padding(toLength: 42, withPad: " ", startingAt: 0) + "    ms/frame   frames/s   ns/pixel  x memcpy")
        for row in rows {
            let ns = Double(max(row.medianNs, 1))
            print(row.name.padding(toLength: 42, withPad: " ", startingAt: 0)
                  + String(format: " %10.3f %10.1f %10.3f %9.2f", ns / 1e6, 1e9 / ns, ns / pixels, ns / copy))
        }
    }

    private func runSocket() throws {
        let preload = try RunCommand.requirePreload()
        // Placement decides what a wake-up costs (same CPU: a context switch; another CPU: an
        // IPI, on a VM possibly a halted vCPU), so the daemon, the client and the echo child are
        // pinned and the floor pays for the same kind of wake-ups as the path it bounds.
        let (daemonCPU, clientCPU) = try Self.parseCPUs(cpus)
        try CPUAffinity.pin(daemonCPU) // this thread, and so every server thread created below
        let card = try PrivateCard(config: nil, capture: nil, virtualTime: true)
        defer { card.stop() }
        let client = try Self.socketBench(scratch: card.directory)
        // No umockdev: the client opens /dev/dri/card0 by path, no discovery needed.
        let env = try card.clientEnvironment(preload: preload, umockdev: nil)
        FileHandle.standardOutput.synchronizeFile()
        let args = [client, "-n", String(iterations), "-c", String(clientCPU), "-e", String(daemonCPU)] + (verbose ? ["-v"] : [])
        let pid = try RunCommand.spawn(args, env: env)
        let status = PrivateCard.waitExitStatus(pid)
        if status != 0 { throw ExitCode(status) }
    }

    static func parseCPUs(_ spec: String?) throws -> (Int, Int) {
        guard let spec else {
            let first = CPUAffinity.firstAllowed() ?? 0
            return (first, first)
        }
        let parts = spec.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(parts.count), let d = parts[0], d >= 0, d < 1024, parts.allSatisfy({ $0 != nil && $0! >= 0 && $0! < 1024 }) else {
            throw ValidationError("--cpus takes DAEMON[,CLIENT], e.g. 0 or 0,1")
        }
        return (d, parts.count == 2 ? parts[1]! : d)
    }

    /// `FAKEDRM_SOCKET_BENCH`, else the copy the build plugin compiled, else bench/socket-bench.c
    /// of this source tree compiled with cc into `scratch`.
    static func socketBench(scratch: String) throws -> String {
        if let p = ProcessInfo.processInfo.environment["FAKEDRM_SOCKET_BENCH"], !p.isEmpty { return p }
        if FileManager.default.isExecutableFile(atPath: builtSocketBenchPath) { return builtSocketBenchPath }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appending(path: "../../bench/socket-bench.c").standardizedFileURL.path
        guard FileManager.default.isReadableFile(atPath: source) else {
            throw ValidationError("socket-bench not found: rebuild with swift build or set FAKEDRM_SOCKET_BENCH")
        }
        let out = "\(scratch)/socket-bench"
        let pid = try RunCommand.spawn(["cc", "-O2", "-Wall", "-o", out, source, "-ldl"], env: ProcessInfo.processInfo.environment)
        guard PrivateCard.waitExitStatus(pid) == 0 else {
            throw ValidationError("cannot compile \(source) (needs cc and libdrm-dev)")
        }
        return out
    }
}

/// sched_setaffinity/sched_getaffinity through dlsym: Glibc does not import them into Swift.
enum CPUAffinity {
    private typealias Fn = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    private static func fn(_ name: String) -> Fn? {
        guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil } // RTLD_DEFAULT
        return unsafeBitCast(p, to: Fn.self)
    }

    /// Pins the calling thread (threads it creates later inherit the mask).
    static func pin(_ cpu: Int) throws {
        var set = [UInt8](repeating: 0, count: 128) // cpu_set_t: 1024 bits
        set[cpu / 8] |= UInt8(1 << (cpu % 8))
        guard let f = fn("sched_setaffinity"), set.withUnsafeMutableBytes({ f(0, 128, $0.baseAddress!) }) == 0 else {
            throw ValidationError("cannot pin to CPU \(cpu): \(String(cString: strerror(errno)))")
        }
    }

    static func firstAllowed() -> Int? {
        var set = [UInt8](repeating: 0, count: 128)
        guard let f = fn("sched_getaffinity"), set.withUnsafeMutableBytes({ f(0, 128, $0.baseAddress!) }) == 0 else { return nil }
        for cpu in 0..<1024 where set[cpu / 8] & UInt8(1 << (cpu % 8)) != 0 { return cpu }
        return nil
    }
}

extension BenchCommand {
    private func runVhost() throws {
        guard let endpoint = VirtioGPUBackend.endpoint(fromSpec: backend) else { throw ValidationError("unknown backend '\(backend)'") }
        let dims = size.split(separator: "x").compactMap { Int($0) }
        guard dims.count == 2, dims[0] > 0, dims[1] > 0 else { throw ValidationError("size must be WxH") }
        print("fakedrm bench --vhost (backend \(backend), \(dims[0])x\(dims[1]) XRGB8888, \(seconds) s per run)")
        for compose in composed ? [false, true] : [false] {
            let r = try VhostBench.flips(endpoint: endpoint, width: dims[0], height: dims[1], seconds: seconds, composed: compose)
            print(compose ? "composed path (overlay plane forces compose + copy):" : "in-place path (dumb buffer memfd attached as backing):")
            print(String(format: "  flips/s sustained        %8.1f  (%d flips in %.2f s)", r.flipsPerSecond, r.flips, r.seconds))
            print(String(format: "  fenced flush latency     median %.2f ms, p99 %.2f ms", Double(r.flushMedianNs) / 1e6, Double(r.flushP99Ns) / 1e6))
            print(String(format: "  frame copies per flip    fakedrm %.2f; backend 2 (TRANSFER_TO_HOST_2D, UPDATE); display socket 1 (recv into the display image)", r.fakedrmCopiesPerFlip))
            print("  direct/composed flips    \(r.directFlips)/\(r.composedFlips), command errors \(r.commandErrors), display SO_SNDBUF \(r.displaySendBuffer) bytes")
        }
        let d = try VhostBench.releaseDemo(renderMs: renderMs ?? 10, seconds: min(seconds, 3))
        print(String(format: "release-fence demo (simulated host repainting at %.0f Hz, holding the shown buffer until its next repaint; client renders %.1f ms/frame, double-buffered):", d.hostHz, d.renderMs))
        print(String(format: "  release tied to the flip   %5.1f fps", d.fpsReleaseTiedToFlip))
        print(String(format: "  with the release fence     %5.1f fps", d.fpsWithReleaseFence))
    }
}

extension BenchCommand {
    private func runWayland(_ display: String) throws {
        let r = try WaylandBench.run(display: display, renderMs: renderMs, seconds: min(seconds, 10))
        print(String(format: "fakedrm bench --wayland (host %@, 1024x768 XRGB8888, %.0f s per case): the host completes %.1f flips/s;",
                     r.hostName, r.seconds, r.hostFps))
        print(String(format: "a double-buffered client renders %.1f ms per frame:", r.renderMs))
        print("  case                        guest fps  frames  host frame callbacks  presented  copies/frame")
        for (name, c) in [("release tied to the flip", r.releaseTiedToFlip), ("with the release fence", r.withReleaseFence)] {
            print("  " + name.padding(toLength: 26, withPad: " ", startingAt: 0)
                  + String(format: "  %9.1f  %6d  %20d  %9d  %12.2f", c.fps, c.framesSubmitted, c.hostFrameCallbacks, c.presented, c.copiesPerFrame))
        }
        print(String(format: "  ratio (fenced / tied)       %9.2f", r.withReleaseFence.fps / max(r.releaseTiedToFlip.fps, 0.001)))
    }
}
