import CFakeDRMSys
import Foundation
import Glibc
import Testing
@testable import FakeDRM

/// HELLO ADOPT (docs/socket-protocol.md, "Adopt"): a connection that presents a file's readiness
/// eventfd serves that file; the file closes with the last connection serving it.
@Suite(.serialized) struct AdoptTests {
    /// A raw client sending one HELLO (with `fd` over SCM_RIGHTS when >= 0); returns
    /// HELLO_REPLY's err, the socket and the received readiness eventfd (or -1).
    func hello(_ path: String, flags: UInt32, fd: Int32 = -1) -> (err: Int32, sock: Int32, readiness: Int32) {
        guard let s = connectSeqpacket(path) else { return (-1, -1, -1) }
        var m = WireWriter(.hello)
        m.u32(1)
        m.u32(flags)
        m.i32(getpid())
        let msg = m.message
        _ = msg.withUnsafeBytes { b in
            if fd >= 0 {
                var fds = [fd]
                return cfd_send_with_fds(s, b.baseAddress, b.count, &fds, 1)
            }
            return cfd_send_with_fds(s, b.baseAddress, b.count, nil, 0)
        }
        var buf = [UInt8](repeating: 0, count: 64)
        var fds = [Int32](repeating: -1, count: 4)
        var nfds: Int32 = 4
        let n = buf.withUnsafeMutableBytes { cfd_recv_msg(s, $0.baseAddress, $0.count, &fds, &nfds) }
        let got = nfds > 0 ? fds[0] : -1
        for i in 1..<max(Int(nfds), 1) { close(fds[i]) }
        guard n >= 12 else {
            if got >= 0 { close(got) }
            return (-1, s, -1)
        }
        var r = WireReader(buf[8..<12])
        return ((try? r.i32()) ?? -1, s, got)
    }

    func waitFor(_ cond: () -> Bool) -> Bool {
        for _ in 0..<200 where !cond() { usleep(10_000) }
        return cond()
    }

    @Test func readinessEventfdAdoptsTheSameFileUntilTheLastConnectionGoes() throws {
        let device = try makeDevice()
        let path = NSTemporaryDirectory() + "fakedrm-adopt-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let server = SocketServer(device: device, path: path)
        try server.start()
        defer { server.stop(); device.shutdown() }
        let before = device.lock.withLock { device.files.all.count }

        let opener = hello(path, flags: 0)
        #expect(opener.err == 0)
        #expect(opener.readiness >= 0)
        #expect(waitFor { device.lock.withLock { device.files.all.count } == before + 1 })

        // A foreign eventfd, no fd at all, and ADOPT combined with AUX are refused.
        let foreign = cfd_eventfd(0, 0)
        let wrong = hello(path, flags: 4, fd: foreign)
        #expect(wrong.err == EACCES)
        let nofd = hello(path, flags: 4)
        #expect(nofd.err == EACCES)
        let withAux = hello(path, flags: 4 | 1, fd: opener.readiness)
        #expect(withAux.err == -1)

        // A dup of the readiness eventfd (what a process receives over SCM_RIGHTS) adopts.
        let passed = dup(opener.readiness)
        let adopter = hello(path, flags: 4, fd: passed)
        #expect(adopter.err == 0)
        #expect(device.lock.withLock { device.files.all.count } == before + 1)

        // The opener goes: the file stays for the adopter; then the adopter goes too.
        close(opener.sock)
        #expect(waitFor { server.connectionCount <= 2 })
        usleep(50_000)
        #expect(device.lock.withLock { device.files.all.count } == before + 1)
        close(adopter.sock)
        #expect(waitFor { device.lock.withLock { device.files.all.count } == before })
        // Closed: the eventfd no longer names a file.
        let late = hello(path, flags: 4, fd: passed)
        #expect(late.err == EACCES)
        for fd in [foreign, passed, opener.readiness, adopter.readiness, wrong.sock, nofd.sock, withAux.sock, late.sock, late.readiness, wrong.readiness] where fd >= 0 {
            close(fd)
        }
    }
}
