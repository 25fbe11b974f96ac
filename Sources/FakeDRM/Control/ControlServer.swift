import CFakeDRMSys
import Foundation
import Glibc

/// The control socket beside a daemon: a unix stream socket, mode 0600, one request line
/// (JSON `ControlRequest`) and one answer line per connection. Only peers with the daemon's
/// uid are served; card clients cannot reach it through the card.
public final class ControlServer: @unchecked Sendable {
    public let path: String
    let service: ControlService
    private let lock = DeviceLock()
    private var listenFD: Int32 = -1
    private var stopped = false
    /// Requests larger than this are refused (a spec or a path, never megabytes).
    static let maxRequest = 1 << 16

    public init(device: Device, path: String) {
        self.path = path
        service = ControlService(device: device)
    }

    public func start() throws {
        try SocketServer.removeStaleSocket(path)
        let fd = cfd_stream_listen(path, 16)
        guard fd >= 0 else { throw SocketServer.StartError(description: "cannot listen on \(path): \(String(cString: strerror(-fd)))") }
        lock.withLock { listenFD = fd }
        let t = Thread { [self] in acceptLoop(fd) }
        t.name = "fakedrm-control"
        t.start()
    }

    public func stop() {
        let fd: Int32 = lock.withLock {
            guard !stopped else { return -1 }
            stopped = true
            return listenFD
        }
        guard fd >= 0 else { return }
        _ = cfd_shutdown(fd)
        unlink(path)
    }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let c = cfd_accept(fd)
            if c < 0 {
                if lock.withLock({ stopped }) || c == -EBADF || c == -EINVAL { break }
                usleep(10_000)
                continue
            }
            let t = Thread { [self] in serve(c) }
            t.name = "fakedrm-control-conn"
            t.start()
        }
        close(fd)
    }

    private func serve(_ c: Int32) {
        defer { close(c) }
        _ = cfd_set_timeouts(c, 10_000)
        var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
        guard cfd_peer_cred(c, &pid, &uid, &gid) == 0, uid == geteuid() else {
            reply(c, .failure("permission denied: the control socket serves only uid \(geteuid())"))
            return
        }
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while !data.contains(UInt8(ascii: "\n")) {
            let n = read(c, &buf, buf.count)
            if n <= 0 { break }
            data += buf[0..<n]
            if data.count > Self.maxRequest {
                reply(c, .failure("request too large"))
                return
            }
        }
        let line = data.prefix { $0 != UInt8(ascii: "\n") }
        guard let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line)) else {
            reply(c, .failure("malformed control request"))
            return
        }
        if case .trace(follow: true, let all, let file) = request {
            streamTrace(c, all: all, file: file)
            return
        }
        reply(c, service.handle(request))
    }

    /// `ctl trace --follow`: an ok line, the ring's lines, then new ones as they come, until
    /// the peer hangs up or the daemon stops.
    private func streamTrace(_ c: Int32, all: Bool, file: Int?) {
        reply(c, .success(""))
        let trace = service.device.trace
        trace.follow(all: all)
        // --all lists every ioctl: the query snapshots stand down while it follows, so every
        // query reaches the daemon (they are not encoded again while it does).
        if all { service.device.snapshots.invalidate() }
        defer { trace.unfollow(all: all) }
        var seq: UInt64 = 0
        while !lock.withLock({ stopped }) {
            let (lines, last) = service.traceLines(after: seq, file: file)
            seq = last
            for l in lines where !Self.sendLine(c, Data(l.utf8)) { return }
            var p = pollfd(fd: c, events: Int16(POLLIN), revents: 0)
            // Readable (EOF) or hung up: the follower is gone. Otherwise look again in 50 ms.
            if poll(&p, 1, 50) != 0 { return }
        }
    }

    private func reply(_ c: Int32, _ r: ControlResponse) {
        guard let bytes = try? JSONEncoder().encode(r) else { return }
        _ = Self.sendLine(c, bytes)
    }

    /// Writes `bytes` and a newline; false when the peer went away (EPIPE, never SIGPIPE).
    static func sendLine(_ fd: Int32, _ bytes: Data) -> Bool {
        var line = bytes
        line.append(UInt8(ascii: "\n"))
        var off = 0
        while off < line.count {
            let n = line.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, line.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// A connection to the daemon at `path` with `request` sent on it; the caller closes it.
    static func connect(sending request: ControlRequest, to path: String) throws -> Int32 {
        let bytes = try JSONEncoder().encode(request)
        let fd = cfd_connect_unix(path)
        guard fd >= 0 else { throw SocketServer.StartError(description: "cannot connect to \(path): \(String(cString: strerror(errno)))") }
        guard sendLine(fd, bytes) else {
            let e = errno
            close(fd)
            throw SocketServer.StartError(description: "write to \(path) failed: \(String(cString: strerror(e)))")
        }
        return fd
    }

    /// The client side of a stream: the ok line, then `line` for each line until the daemon
    /// closes. Throws when there is no daemon or it refused.
    public static func stream(_ request: ControlRequest, to path: String, _ line: (String) -> Void) throws {
        let fd = try connect(sending: request, to: path)
        defer { close(fd) }
        var pending = [UInt8]()
        var first = true
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            pending += buf[0..<n]
            while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let text = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                if first {
                    first = false
                    guard let r = try? JSONDecoder().decode(ControlResponse.self, from: Data(text.utf8)), r.ok else {
                        throw SocketServer.StartError(description: "\(path): refused the stream")
                    }
                    continue
                }
                line(text)
            }
        }
    }

    /// The client side: one request, one answer. Throws when there is no daemon.
    public static func send(_ request: ControlRequest, to path: String) throws -> ControlResponse {
        let fd = try connect(sending: request, to: path)
        defer { close(fd) }
        // A daemon stuck for longer than this is reported, not waited for.
        _ = cfd_set_timeouts(fd, 30_000)
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 && errno == EAGAIN { throw SocketServer.StartError(description: "\(path): no answer within 30 s") }
            if n <= 0 { break }
            data += buf[0..<n]
        }
        guard let response = try? JSONDecoder().decode(ControlResponse.self, from: Data(data)) else {
            throw SocketServer.StartError(description: "\(path): no answer (not a fakedrm control socket, or not ours)")
        }
        return response
    }
}
