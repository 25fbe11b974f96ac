import ArgumentParser
import FakeDRM

@main
struct FakeDRMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fakedrm",
        abstract: "A userspace fake DRM/KMS card.",
        subcommands: [ConfigCommand.self])
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Show or check a card configuration.")
    @Flag(help: "Print the embedded default (vkms-shaped) configuration as YAML.") var printDefault = false
    @Option(help: "Validate this YAML file.") var check: String?

    func run() throws {
        if printDefault { print(DeviceConfig().yaml(), terminator: "") }
    }
}
