import ArgumentParser
import FakeDRM
import Foundation
import Glibc

/// A private card for child processes of this one (`fakedrm run`, `fakedrm bench --socket`):
/// a `Device` served by an in-process `SocketServer` on a socket in a fresh temporary directory.
/// `stop()` stops the server, shuts the device down and removes the directory.
final class PrivateCard {
    let directory: String
    let device: Device
    let server: SocketServer
    let control: ControlServer
    private var scanout = ScanoutChoice?.none
    var socketPath: String { server.path }

    init(config: String?, capture: String?, virtualTime: Bool, manualVblank: Bool = false, backend: String? = nil, hostDisplay: String? = nil, record: String? = nil, recordLimit: Int = 64 << 20) throws {
        var template = Array("\(NSTemporaryDirectory().isEmpty ? "/tmp/" : NSTemporaryDirectory())/fakedrm-XXXXXX".utf8CString)
        guard let tmpPtr = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ValidationError("cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        let tmp = String(cString: tmpPtr).replacingOccurrences(of: "//", with: "/")
        directory = tmp
        let recorder: IoctlRecorder?
        do {
            // The recorder first: nothing to stop when its file cannot be opened.
            recorder = try record.map { path throws in
                do throws(DRMError) { return try IoctlRecorder(path: path, maxBytes: recordLimit) } catch {
                    throw ValidationError("cannot record into \(path): errno \(error.errno)")
                }
            }
            device = try makeDevice(config: config, capture: capture, virtualTime: virtualTime, manualVblank: manualVblank)
            scanout = try ScanoutChoice(spec: backend, hostDisplay: hostDisplay, device: device)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
        server = SocketServer(device: device, path: "\(tmp)/fakedrm.sock", recorder: recorder)
        control = ControlServer(device: device, path: "\(tmp)/control")
        do {
            try server.start()
            try control.start()
        } catch {
            server.stop()
            device.shutdown()
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
    }

    var environment: ClientEnvironment { ClientEnvironment(socket: socketPath, control: control.path, views: directory) }

    /// The environment of a client process (ClientEnvironment), its views written first.
    func clientEnvironment(preload: String, umockdev: String?) throws -> [String: String] {
        try environment.writeViews(driver: device.config.driver.name, crtcCount: device.config.crtcs.count)
        return environment.processEnvironment(preload: preload, umockdev: umockdev)
    }

    func stop() {
        control.stop()
        server.stop()
        scanout?.stop()
        device.shutdown()
        scanout?.drainCapture()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Waits for a child; its exit status, 128 + signal when killed, 127 when waiting fails.
    static func waitExitStatus(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 127 }
        }
        // WIFEXITED / WTERMSIG by hand: the macros are not imported.
        let termsig = status & 0x7f
        if termsig == 0 { return (status >> 8) & 0xff }
        return 128 + termsig
    }
}
