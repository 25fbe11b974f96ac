import ArgumentParser
import FakeDRM
import Foundation
import Glibc

/// What a client process of a card gets, from `fakedrm run` (private or `--attach`) or
/// `fakedrm env`: the preload library (then umockdev's, then any LD_PRELOAD already set), the
/// card's socket and control socket, and the card's sysfs and debugfs views.
struct ClientEnvironment {
    let socket: String
    let control: String
    /// Holds `umockdev/` (the sysfs tree) and `debugfs/`.
    let views: String

    /// A daemon's views live next to its socket, so `fakedrm env` and `run --attach` find them
    /// from the socket's path alone.
    /// `control`: the daemon's; for a client, the one the daemon noted in its views.
    static func shared(socket given: String, control: String? = nil) -> ClientEnvironment {
        // Absolute: clients may chdir.
        let socket = given.hasPrefix("/") ? given : FileManager.default.currentDirectoryPath + "/" + given
        let views = "\(socket).view"
        let noted = (try? String(contentsOfFile: "\(views)/control.path", encoding: .utf8))?.trimmingCharacters(in: .newlines)
        return ClientEnvironment(socket: socket, control: control ?? noted ?? "\(socket).control", views: views)
    }

    /// A running daemon's socket and views are there (what `serve` leaves when it stops is not).
    func checkServing() throws {
        var st = stat()
        guard lstat(socket, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK else {
            throw NoDaemon(description: "no fakedrm daemon at \(socket): start one with `fakedrm serve --socket \(socket)`")
        }
        guard FileManager.default.fileExists(atPath: "\(views)/debugfs") else {
            throw NoDaemon(description: "\(socket) has no views next to it (\(views)): is it a `fakedrm serve` socket?")
        }
    }

    func writeViews(driver: String, crtcCount: Int) throws {
        try SysfsTree.write(root: "\(views)/umockdev", minor: 0, driver: driver)
        try DebugfsView.writeTree(root: "\(views)/debugfs", minor: 0, crtcCount: crtcCount)
        try "\(control)\n".write(toFile: "\(views)/control.path", atomically: true, encoding: .utf8)
    }

    /// The variables to set; `umockdev`: umockdev's preload library, nil for no sysfs view.
    func variables(preload: String, umockdev: String?, inherited: [String: String]) -> [String: String] {
        var env: [String: String] = [:]
        var libs = [preload]
        if let umockdev {
            libs.append(umockdev)
            env["UMOCKDEV_DIR"] = "\(views)/umockdev"
        }
        if let existing = inherited["LD_PRELOAD"], !existing.isEmpty { libs.append(existing) }
        env["LD_PRELOAD"] = libs.joined(separator: " ")
        env["FAKEDRM_DEBUGFS"] = "\(views)/debugfs"
        env["FAKEDRM_SOCKET"] = socket
        env["FAKEDRM_CARD"] = "/dev/dri/card0"
        env["FAKEDRM_CONTROL"] = control
        return env
    }

    /// A client process's whole environment: this process's, with `variables` over it.
    func processEnvironment(preload: String, umockdev: String?) -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        return inherited.merging(variables(preload: preload, umockdev: umockdev, inherited: inherited)) { $1 }
    }

    /// The umockdev preload library to add: FAKEDRM_UMOCKDEV (empty: none), else the system's.
    static func umockdev(disabled: Bool) -> String? {
        if disabled { return nil }
        return ProcessInfo.processInfo.environment["FAKEDRM_UMOCKDEV"].map { $0.isEmpty ? nil : $0 } ?? SysfsTree.umockdevPreload()
    }
}

/// The socket named is not a serving daemon's (a message without the usage text).
struct NoDaemon: Error, CustomStringConvertible {
    let description: String
}
