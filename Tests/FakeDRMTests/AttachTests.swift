import CFakeDRMSys
import Foundation
import Glibc
import Testing
@testable import FakeDRM

/// The socket half of DRM_IOCTL_FAKEDRM_ATTACH (docs/cuse.md): a token issued for an open file
/// binds one socket connection to that file. The CUSE half needs a kernel and is tested in the
/// VM (scripts/cuse-vm-tests.sh).
@Suite(.serialized) struct AttachTests {
    /// A raw SOCK_SEQPACKET client sending one HELLO; returns HELLO_REPLY's err and the socket.
    func hello(_ path: String, flags: UInt32, token: UInt64) -> (Int32, Int32) {
        guard let s = connectSeqpacket(path) else { return (-1, -1) }
        var m = WireWriter(.hello)
        m.u32(1)
        m.u32(flags)
        m.i32(getpid())
        if flags & 2 != 0 { m.u64(token) }
        let msg = m.message
        _ = msg.withUnsafeBytes { send(s, $0.baseAddress, $0.count, 0) }
        var buf = [UInt8](repeating: 0, count: 64)
        var fds = [Int32](repeating: -1, count: 4)
        var nfds: Int32 = 4
        let n = buf.withUnsafeMutableBytes { cfd_recv_msg(s, $0.baseAddress, $0.count, &fds, &nfds) }
        for i in 0..<Int(max(nfds, 0)) { close(fds[i]) }
        guard n >= 12 else { return (-1, s) }
        var r = WireReader(buf[8..<12])
        return ((try? r.i32()) ?? -1, s)
    }

    func withServer(_ body: (Device, SocketServer) throws -> Void) throws {
        let device = try makeDevice()
        let path = NSTemporaryDirectory() + "fakedrm-attach-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let server = SocketServer(device: device, path: path)
        try server.start()
        defer { server.stop(); device.shutdown() }
        try body(device, server)
    }

    func waitFor(_ cond: () -> Bool) -> Bool {
        for _ in 0..<200 where !cond() { usleep(10_000) }
        return cond()
    }

    @Test func tokenBindsOnceAndOnlyForItsUID() throws {
        try withServer { device, server in
            let file = try device.open()
            let token = try #require(server.issueAttachToken(for: file, uid: getuid()))
            let (wrong, s1) = hello(server.path, flags: 2, token: token ^ 1)
            #expect(wrong == EACCES)
            let (ok, s2) = hello(server.path, flags: 2, token: token)
            #expect(ok == 0)
            let (replay, s3) = hello(server.path, flags: 2, token: token)
            #expect(replay == EACCES)
            let other = try #require(server.issueAttachToken(for: file, uid: getuid() &+ 1))
            let (otherUID, s4) = hello(server.path, flags: 2, token: other)
            #expect(otherUID == EACCES)
            let files = device.lock.withLock { device.files.all.count }
            // Closing the attached socket leaves the file open: the CUSE release closes it.
            close(s2)
            #expect(waitFor { server.connectionCount <= 3 })
            #expect(!file.closed)
            #expect(device.lock.withLock { device.files.all.count } == files)
            for s in [s1, s3, s4] where s >= 0 { close(s) }
        }
    }

    @Test func detachCutsAttachedConnectionsAndTokens() throws {
        try withServer { device, server in
            let file = try device.open()
            let t1 = try #require(server.issueAttachToken(for: file, uid: getuid()))
            let t2 = try #require(server.issueAttachToken(for: file, uid: getuid()))
            let (ok, s1) = hello(server.path, flags: 2, token: t1)
            #expect(ok == 0)
            #expect(waitFor { server.connectionCount == 1 })
            server.detach(file)
            device.close(file)
            // The daemon shut the bound connection down; its thread ends without closing again.
            #expect(waitFor { server.connectionCount == 0 })
            let (late, s2) = hello(server.path, flags: 2, token: t2)
            #expect(late == EACCES)
            for s in [s1, s2] where s >= 0 { close(s) }
        }
    }
}
