import Foundation
import PackagePlugin

/// Runs wayland-scanner on the system's wayland-protocols XML (Debian's wayland-protocols and
/// libwayland-bin, which scripts/setup.sh installs): private-code (.c, compiled into the
/// target) and client-header (.h, under include/ so the target's importers see it).
///
/// One command writes both files: SwiftPM runs a command only when something depends on its
/// outputs, and nothing depends on a header alone. Generated C needs the manifest's
/// `(experimentalCGen)` tools-version suffix; without it SwiftPM 6.3 drops the files with a
/// warning. After editing this plugin, remove .build/plugins/outputs once: a stale build
/// manifest hides the plugin's own errors behind "header not found".
@main
struct WaylandScanner: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let share = URL(fileURLWithPath: "/usr/share/wayland-protocols")
        let xmls = ["stable/xdg-shell/xdg-shell.xml", "stable/presentation-time/presentation-time.xml"].map { share.appending(path: $0) }
        let out = context.pluginWorkDirectoryURL
        // A system tool, not a package one (context.tool(named:) knows only the latter).
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        let scanner = path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appending(path: "wayland-scanner") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? URL(fileURLWithPath: "/usr/bin/wayland-scanner")
        return xmls.map { xml in
            let base = xml.deletingPathExtension().lastPathComponent
            let c = out.appending(path: "\(base)-protocol.c")
            let h = out.appending(path: "include/\(base)-client-protocol.h")
            return .buildCommand(
                displayName: "wayland-scanner \(base)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", "set -e; mkdir -p \"$(dirname \"$4\")\"; \"$1\" private-code \"$2\" \"$3\"; \"$1\" client-header \"$2\" \"$4\"",
                            "sh", scanner.path, xml.path, c.path, h.path],
                inputFiles: [xml], outputFiles: [c, h])
        }
    }
}
