import ArgumentParser
import FakeDRM

/// Drives a vhost-user-gpu backend end to end and saves what its display socket delivered.
struct VhostShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vhost-show",
        abstract: "Flip frames on a vhost-user-gpu backend and capture its display output as PNG.")
    @Option(help: "vhost-user-gpu[=BINARY] (spawned with --fd) or vhost-user=SOCKET (a running backend).") var backend = "vhost-user-gpu"
    @Option(help: "Host display size, WxH.") var size = "1920x1080"
    @Option(help: "Frames to flip.") var frames = 60
    @Option(help: "Write the last frame the display received (with the cursor) here.") var png: String?

    func run() throws {
        guard let endpoint = VirtioGPUBackend.endpoint(fromSpec: backend) else { throw ValidationError("unknown backend '\(backend)'") }
        let dims = size.split(separator: "x").compactMap { Int($0) }
        guard dims.count == 2, dims[0] > 0, dims[1] > 0 else { throw ValidationError("size must be WxH") }
        let s = try VhostShow.run(endpoint: endpoint, width: dims[0], height: dims[1], frames: frames, png: png)
        print("flipped \(s.frames) frames: \(s.stats.directFlips) in place, \(s.stats.composedFlips) composed, \(s.stats.frameCopies) fakedrm frame copies, \(s.stats.commandErrors) command errors")
        print("display frame equals the card's composed frame: \(s.matchesComposedFrame ? "yes" : "NO")")
        if let p = s.png { print("wrote \(p)") }
        if !s.matchesComposedFrame { throw ExitCode(1) }
    }
}
