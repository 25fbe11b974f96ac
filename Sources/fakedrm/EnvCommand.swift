import ArgumentParser
import Foundation

/// `fakedrm env SOCKET`: the environment `fakedrm run --attach SOCKET` gives its command, as
/// shell assignments, for a shell whose every client should see the shared card.
struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print the environment for clients of a running `fakedrm serve` (eval \"$(fakedrm env SOCKET)\").")

    @Argument(help: "The daemon's socket (fakedrm serve --socket SOCKET).") var socket: String
    @Flag(help: "Do not add umockdev's preload library (no sysfs discovery).") var noUmockdev = false

    func run() throws {
        let preload = try RunCommand.requirePreload()
        let shared = ClientEnvironment.shared(socket: socket)
        try shared.checkServing()
        let vars = shared.variables(preload: preload, umockdev: ClientEnvironment.umockdev(disabled: noUmockdev),
                                    inherited: ProcessInfo.processInfo.environment)
        for (k, v) in vars.sorted(by: { $0.key < $1.key }) {
            print("export \(k)='\(v.replacingOccurrences(of: "'", with: "'\\''"))'")
        }
    }
}
