import ArgumentParser
import FakeDRM
import Foundation

/// Figures for the Direct path, each next to a raw eventfd write→poll wake measured in the
/// same run. Medians and p99 of per-operation wall time. `--vhost` measures page flips through
/// a vhost-user-gpu backend and runs the release-fence demo instead.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure request costs (use a release build).")
    @Option(help: "Iterations per measurement.") var iterations = 20000
    @Flag(help: "Flips through a vhost-user-gpu backend (1080p by default) and the release-fence demo.") var vhost = false
    @Option(help: "Backend for --vhost: vhost-user-gpu[=BINARY] (spawned) or vhost-user=SOCKET.") var backend = "vhost-user-gpu"
    @Option(help: "Scanout size for --vhost, WxH.") var size = "1920x1080"
    @Option(help: "Seconds per --vhost measurement.") var seconds = 5.0
    @Option(help: "Client render time per frame (ms) for the release-fence demo.") var renderMs = 10.0
    @Flag(help: "Also measure the composed (copying) path, forced by an overlay plane.") var composed = false

    func run() throws {
        if vhost { return try runVhost() }
        let r = try DirectBench.run(iterations: iterations)
        print("fakedrm bench (Direct front end, \(iterations) iterations, ns per operation)")
        print("operation".padding(toLength: 42, withPad: " ", startingAt: 0) + "     median        p99  x floor")
        let floor = r.first { $0.name.hasPrefix("raw eventfd") }?.median ?? 1
        for m in r {
            print(m.name.padding(toLength: 42, withPad: " ", startingAt: 0) + String(format: " %10d %10d %8.2f", m.median, m.p99, Double(m.median) / Double(max(floor, 1))))
        }
    }

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
        let d = try VhostBench.releaseDemo(renderMs: renderMs, seconds: min(seconds, 3))
        print(String(format: "release-fence demo (simulated host repainting at %.0f Hz, holding the shown buffer until its next repaint; client renders %.1f ms/frame, double-buffered):", d.hostHz, d.renderMs))
        print(String(format: "  release tied to the flip   %5.1f fps", d.fpsReleaseTiedToFlip))
        print(String(format: "  with the release fence     %5.1f fps", d.fpsWithReleaseFence))
    }
}
