import ArgumentParser
import FakeDRM
import Foundation
import Glibc

@main
struct FakeDRMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fakedrm",
        abstract: "A userspace fake DRM/KMS card.",
        subcommands: [ConfigCommand.self, RunCommand.self, ServeCommand.self, EnvCommand.self, CuseServeCommand.self, CtlCommand.self, BenchCommand.self, VhostShowCommand.self])

    static func main() {
        // A peer that goes away mid-write (a killed `fakedrm ctl`, a dead client) must give
        // EPIPE, not kill the daemon. Children get the default back (RunCommand.spawn).
        signal(SIGPIPE, SIG_IGN)
        FDLimit.raise()
        do {
            var command = try parseAsRoot(CtlCommand.placingControlOption(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Show or check a card configuration.")
    @Flag(help: "Print the embedded default (vkms-shaped) configuration as YAML.") var printDefault = false
    @Option(help: "Validate a YAML file and print it with every default filled in.") var check: String?

    func run() throws {
        if let check {
            let text = try String(contentsOfFile: check, encoding: .utf8)
            print(try DeviceConfig.load(yaml: text).yaml(), terminator: "")
        } else {
            print(DeviceConfig().yaml(), terminator: "")
        }
    }
}

/// Loads a config file, or the embedded default.
func loadConfig(_ path: String?) throws -> DeviceConfig {
    guard let path else { return DeviceConfig() }
    return try DeviceConfig.load(yaml: try String(contentsOfFile: path, encoding: .utf8))
}
