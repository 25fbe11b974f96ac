import CFakeDRMSys
import Dispatch
import Foundation
import Glibc

/// The vhost-user frontend (the part QEMU plays) for a vhost-user-gpu backend such as
/// /usr/lib/qemu/vhost-user-gpu: control messages on the vhost-user socket, eventfd kicks and
/// calls, memfd guest memory, and the display socket (VHOST_USER_GPU_SET_SOCKET), which an
/// event thread drains continuously; the backend blocks in a flush if nobody reads it.
///
/// @unchecked Sendable: descriptors are fixed after `start`; the control channel is
/// serialised by `ctl`; death/stop flags by `state`.
public final class VhostUserTransport: VirtioTransport, @unchecked Sendable {
    public enum Endpoint: Sendable, Equatable {
        /// Spawn the backend with one end of a socketpair as fd 3 (`--fd=3`).
        case spawn(binary: String)
        /// Connect to a backend listening on a UNIX socket (`--socket-path`).
        case socket(path: String)
    }

    public static let defaultBinary = "/usr/lib/qemu/vhost-user-gpu"

    // vhost-user requests (docs/interop/vhost-user.rst)
    enum Req: UInt32 {
        case getFeatures = 1, setFeatures = 2, setOwner = 3, setMemTable = 5, setVringNum = 8, setVringAddr = 9
        case setVringBase = 10, getVringBase = 11, setVringKick = 12, setVringCall = 13
        case getProtocolFeatures = 15, setProtocolFeatures = 16, setVringEnable = 18
        case gpuSetSocket = 33, getMaxMemSlots = 36, addMemReg = 37, remMemReg = 38
    }

    /// <poll.h> POLLRDHUP (GNU), which the Glibc module does not export.
    static let pollRDHUP: Int32 = 0x2000
    static let featureVersion1: UInt64 = 1 << 32
    static let featureProtocolFeatures: UInt64 = 1 << 30
    static let protocolReplyAck: UInt64 = 1 << 3
    static let protocolMemSlots: UInt64 = 1 << 15
    static let flagVersion: UInt32 = 0x1, flagReply: UInt32 = 0x4, flagNeedReply: UInt32 = 0x8

    public let endpoint: Endpoint
    /// Upper bound for any reply or any piece of a display message.
    public let timeoutMs: Int
    /// Debug: let the backend's stderr through.
    public let verbose: Bool

    private let ctl = DeviceLock()
    private let state = DeviceLock()
    private var sock: Int32 = -1
    private var displayFD: Int32 = -1
    private var pidfd: Int32 = -1
    private var stopFD: Int32 = -1
    private var calls: [Int32] = []
    private var kicks: [Int32] = []
    private var replyAck = false
    private var stopped = false
    private var died = false
    private let threadDone = DispatchSemaphore(value: 0)
    private var threadRunning = false
    private weak var delegate: VirtioTransportDelegate?
    private var display: VirtioDisplay?

    public private(set) var childPID: pid_t?
    public private(set) var maxRegions = 8
    public private(set) var negotiatedFeatures: UInt64 = 0
    /// Send buffer the backend got on the display socket (bytes), for the bench report.
    public private(set) var displaySendBuffer = 0

    public init(endpoint: Endpoint, timeoutMs: Int = 5000, verbose: Bool = false) {
        self.endpoint = endpoint
        self.timeoutMs = timeoutMs
        self.verbose = verbose
    }

    deinit { shutdown() }

    /// Tests: a transport that only reads display messages from `displayFD` into `display`.
    static func displayReaderForTesting(displayFD fd: Int32, display: VirtioDisplay, timeoutMs: Int = 300) -> VhostUserTransport {
        let t = VhostUserTransport(endpoint: .socket(path: ""), timeoutMs: timeoutMs)
        t.displayFD = fd
        t.display = display
        return t
    }

    // MARK: start

    public func start(ring: GuestRegion, queues: [VirtqueueLayout], display: VirtioDisplay, delegate: VirtioTransportDelegate) throws(VirtioError) {
        signal(SIGPIPE, SIG_IGN)  // a dead backend must give EPIPE, not kill the daemon
        self.display = display
        self.delegate = delegate
        do throws(VirtioError) {
            try open()
            try handshake(ring: ring, queues: queues)
        } catch {
            shutdown()
            throw error
        }
    }

    private func open() throws(VirtioError) {
        switch endpoint {
        case .spawn(let binary):
            guard access(binary, X_OK) == 0 else { throw .spawn("\(binary) is not executable") }
            var sv: [Int32] = [-1, -1]
            guard cfd_socketpair_stream(&sv) == 0 else { throw .spawn("socketpair: errno \(errno)") }
            var pid: pid_t = 0
            let args = [binary, "--fd=3"]
            var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
            defer { for p in cargs { free(p) } }
            let r = cfd_spawn_with_fd(&cargs, sv[1], 3, verbose ? 0 : 1, &pid)
            close(sv[1])
            guard r == 0 else { close(sv[0]); throw .spawn("posix_spawn \(binary): errno \(r)") }
            sock = sv[0]
            childPID = pid
            pidfd = cfd_pidfd_open(pid)
        case .socket(let path):
            // The backend binds only at startup; retry through the race.
            let deadline = Monotonic.nowNs() + Int64(timeoutMs) * 1_000_000
            while true {
                let fd = cfd_connect_unix(path)
                if fd >= 0 { sock = fd; break }
                let e = errno
                if Monotonic.nowNs() > deadline { throw .connect("connect \(path): errno \(e)") }
                usleep(20_000)
            }
        }
        _ = cfd_set_timeouts(sock, Int32(timeoutMs))
        stopFD = cfd_eventfd(0, 1)
    }

    private func handshake(ring: GuestRegion, queues: [VirtqueueLayout]) throws(VirtioError) {
        let features = try getU64(.getFeatures)
        guard features & Self.featureVersion1 != 0 else { throw .protocolError("backend lacks VIRTIO_F_VERSION_1 (features \(hex(features)))") }
        var want = Self.featureVersion1
        if features & Self.featureProtocolFeatures != 0 {
            want |= Self.featureProtocolFeatures
            let pf = try getU64(.getProtocolFeatures)
            let accept = pf & (Self.protocolReplyAck | Self.protocolMemSlots)
            try send(.setProtocolFeatures, u64: accept, ack: false)
            replyAck = accept & Self.protocolReplyAck != 0
            if accept & Self.protocolMemSlots != 0 { maxRegions = Int(min(try getU64(.getMaxMemSlots), 32)) }
            else { maxRegions = 1 }  // no hot-add: only the ring region
        }
        try send(.setOwner, [])
        try send(.setFeatures, u64: want)
        negotiatedFeatures = want

        // The ring region is the only one SET_MEM_TABLE ever carries: a second SET_MEM_TABLE
        // would unmap every backing the backend holds. Framebuffers come with ADD_MEM_REG.
        var mt = VirtioGPUWire.Builder()
        mt.u32(1); mt.u32(0)
        region(&mt, ring)
        try send(.setMemTable, mt.bytes, fds: [ring.fd])

        for q in queues {
            let call = cfd_eventfd(0, 1), kick = cfd_eventfd(0, 1)
            guard call >= 0, kick >= 0 else { throw .resources("eventfd: errno \(errno)") }
            calls.append(call)
            kicks.append(kick)
            try send(.setVringNum, vringState(q.index, q.size))
            var a = VirtioGPUWire.Builder()
            a.u32(UInt32(q.index)); a.u32(0)
            let va = UInt64(UInt(bitPattern: ring.base))
            a.u64(va + UInt64(q.descOffset)); a.u64(va + UInt64(q.usedOffset)); a.u64(va + UInt64(q.availOffset)); a.u64(0)
            try send(.setVringAddr, a.bytes)
            try send(.setVringBase, vringState(q.index, 0))
            // CALL before KICK: KICK starts the queue, and a completion with no call fd set
            // makes the backend panic.
            try send(.setVringCall, vringFile(q.index), fds: [call])
            try send(.setVringKick, vringFile(q.index), fds: [kick])
            try send(.setVringEnable, vringState(q.index, 1))
        }

        var sv: [Int32] = [-1, -1]
        guard cfd_socketpair_stream(&sv) == 0 else { throw .resources("socketpair: errno \(errno)") }
        // The sender's buffer bounds each write on a stream socket: a 1080p UPDATE is 8 MB.
        displaySendBuffer = Int(cfd_set_sndbuf(sv[1], 32 << 20))
        displayFD = sv[0]
        // The reader must run before SET_SOCKET: the backend asks for display protocol
        // features at once and processes nothing else until answered.
        startEventThread()
        do throws(VirtioError) {
            try send(.gpuSetSocket, [], fds: [sv[1]])
        } catch {
            close(sv[1])
            throw error
        }
        close(sv[1])
    }

    private func region(_ b: inout VirtioGPUWire.Builder, _ r: GuestRegion) {
        b.u64(r.gpa); b.u64(UInt64(r.size)); b.u64(UInt64(UInt(bitPattern: r.base))); b.u64(0)
    }

    private func vringState(_ i: Int, _ n: Int) -> [UInt8] { var b = VirtioGPUWire.Builder(); b.u32(UInt32(i)); b.u32(UInt32(n)); return b.bytes }
    private func vringFile(_ i: Int) -> [UInt8] { var b = VirtioGPUWire.Builder(); b.u64(UInt64(i) & 0xff); return b.bytes }
    private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    // MARK: control channel

    private func send(_ req: Req, u64 v: UInt64, ack: Bool = true) throws(VirtioError) {
        var b = VirtioGPUWire.Builder(); b.u64(v)
        try send(req, b.bytes, ack: ack)
    }

    /// One sendmsg per message (header + payload + fds); libvhost-user reads the payload with
    /// a single read and aborts on a short one. Waits for the REPLY_ACK when negotiated.
    private func send(_ req: Req, _ payload: [UInt8], fds: [Int32] = [], ack: Bool = true) throws(VirtioError) {
        try ctl.withLock { () throws(VirtioError) in
            let needReply = ack && replyAck
            try write(req, payload, fds: fds, flags: Self.flagVersion | (needReply ? Self.flagNeedReply : 0))
            if needReply {
                let r = try readReply(req)
                guard r.count == 8 else { throw .protocolError("ack for \(req) has \(r.count) bytes") }
                let status = VirtioGPUWire.u64(r, 0)
                guard status == 0 else { throw .protocolError("\(req) failed: status \(status)") }
            }
        }
    }

    private func getU64(_ req: Req) throws(VirtioError) -> UInt64 {
        try ctl.withLock { () throws(VirtioError) -> UInt64 in
            try write(req, [], fds: [], flags: Self.flagVersion)
            let r = try readReply(req)
            guard r.count == 8 else { throw .protocolError("\(req) reply has \(r.count) bytes") }
            return VirtioGPUWire.u64(r, 0)
        }
    }

    private func write(_ req: Req, _ payload: [UInt8], fds: [Int32], flags: UInt32) throws(VirtioError) {
        guard sock >= 0, !isStoppedOrDead else { throw .dead("vhost-user socket closed") }
        var b = VirtioGPUWire.Builder()
        b.u32(req.rawValue); b.u32(flags); b.u32(UInt32(payload.count))
        let msg = b.bytes + payload
        let n = msg.withUnsafeBytes { m in fds.withUnsafeBufferPointer { f in cfd_send_with_fds(sock, m.baseAddress, m.count, f.baseAddress, Int32(f.count)) } }
        guard n == msg.count else { throw .dead("send \(req): \(n < 0 ? "errno \(errno)" : "short write")") }
    }

    private func readReply(_ req: Req) throws(VirtioError) -> [UInt8] {
        var hdr = [UInt8](repeating: 0, count: 12)
        try readExact(sock, &hdr, what: "reply to \(req)")
        let r = VirtioGPUWire.u32(hdr, 0), flags = VirtioGPUWire.u32(hdr, 4), size = Int(VirtioGPUWire.u32(hdr, 8))
        guard r == req.rawValue, flags & Self.flagReply != 0, size <= 4096 else {
            throw .protocolError("bad reply to \(req): request \(r) flags \(flags) size \(size)")
        }
        var payload = [UInt8](repeating: 0, count: size)
        if size > 0 { try readExact(sock, &payload, what: "reply to \(req)") }
        return payload
    }

    private func readExact(_ fd: Int32, _ buf: inout [UInt8], what: String) throws(VirtioError) {
        let ok = buf.withUnsafeMutableBytes { b in Self.readExact(fd, b.baseAddress, b.count, timeoutMs: timeoutMs) }
        if let e = ok { throw e.with(what) }
    }

    enum ReadFailure { case timeout, eof, error(Int32)
        func with(_ what: String) -> VirtioError {
            switch self {
            case .timeout: return .timeout("no \(what) within the timeout")
            case .eof: return .dead("peer closed while reading \(what)")
            case .error(let e): return .dead("read \(what): errno \(e)")
            }
        }
    }

    /// Reads exactly n bytes, giving up after `timeoutMs` without progress.
    static func readExact(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int, timeoutMs: Int) -> ReadFailure? {
        guard let p else { return n == 0 ? nil : .error(EINVAL) }
        var got = 0
        while got < n {
            let r = cfd_poll1(fd, Int16(POLLIN), Int32(timeoutMs))
            if r == 0 { return .timeout }
            if r < 0 { return .error(errno) }
            let k = recv(fd, p + got, n - got, Int32(MSG_DONTWAIT))
            if k == 0 { return .eof }
            if k < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return .error(errno)
            }
            got += k
        }
        return nil
    }

    // MARK: regions and notifications

    public func addRegion(_ r: GuestRegion) throws(VirtioError) {
        guard maxRegions > 1 else { throw .resources("backend cannot hot-add memory (no CONFIGURE_MEM_SLOTS)") }
        var b = VirtioGPUWire.Builder()
        b.u64(0)
        region(&b, r)
        try send(.addMemReg, b.bytes, fds: [r.fd])
    }

    public func removeRegion(_ r: GuestRegion) throws(VirtioError) {
        var b = VirtioGPUWire.Builder()
        b.u64(0)
        region(&b, r)
        try send(.remMemReg, b.bytes)
    }

    public func notify(queue: Int) {
        guard queue >= 0, queue < kicks.count else { return }
        var one: UInt64 = 1
        _ = Glibc.write(kicks[queue], &one, 8)
    }

    private var isStoppedOrDead: Bool { state.withLock { stopped || died } }

    private func reportDeath(_ reason: String) {
        let first: Bool = state.withLock {
            guard !died, !stopped else { return false }
            died = true
            return true
        }
        guard first else { return }
        FakeDRMLog.warn("vhost-user-gpu backend lost: \(reason)")
        delegate?.transportDied(reason)
    }

    // MARK: event thread

    private func startEventThread() {
        state.withLock { threadRunning = true }
        let t = Thread { [self] in
            eventLoop()
            threadDone.signal()
        }
        t.name = "fakedrm.vhost-user"
        t.start()
    }

    private func eventLoop() {
        while true {
            var fds: [pollfd] = [pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0),
                                 pollfd(fd: displayFD, events: Int16(POLLIN), revents: 0),
                                 // Only hang-ups: replies on this socket belong to the control path.
                                 pollfd(fd: sock, events: Int16(Self.pollRDHUP), revents: 0)]
            fds += calls.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            let r = poll(&fds, nfds_t(fds.count), -1)
            if r < 0 {
                if errno == EINTR { continue }
                reportDeath("poll: errno \(errno)")
                return
            }
            if fds[0].revents != 0 { return }
            for (q, i) in (3..<3 + calls.count).enumerated() where fds[i].revents & Int16(POLLIN) != 0 {
                var v: UInt64 = 0
                _ = read(fds[i].fd, &v, 8)
                delegate?.transportQueueUsed(q)
            }
            if fds[1].revents != 0 {
                if let failure = readDisplayMessage() {
                    reportDeath(failure)
                    return
                }
            }
            if fds[2].revents & Int16(Self.pollRDHUP | POLLHUP | POLLERR) != 0 {
                reportDeath("vhost-user socket closed by the backend")
                return
            }
            if pidfd >= 0, fds[fds.count - 1].revents != 0 {
                reportDeath("backend process exited")
                return
            }
        }
    }

    /// Largest display message we read at all: an UPDATE of a 16384² scanout.
    static let maxDisplayMessage = 20 + VirtioDisplay.maxDimension * VirtioDisplay.maxDimension * 4

    /// Reads and handles one display-socket message; returns why the channel is unusable.
    /// Everything the backend sends is bounds-checked: sizes against the message type, rects
    /// against the scanout, and the whole message against `maxDisplayMessage`.
    func readDisplayMessage() -> String? {
        guard let display else { return "no display" }
        var hdr = [UInt8](repeating: 0, count: 12)
        var fds: [Int32] = [-1]
        var nfds: Int32 = 1
        // recvmsg for the header: DMABUF_SCANOUT carries an fd with it.
        let k = hdr.withUnsafeMutableBytes { b in cfd_recv_msg(displayFD, b.baseAddress, 12, &fds, &nfds) }
        if k == 0 { return "display socket closed" }
        if k < 0 { return errno == EAGAIN ? nil : "display socket: errno \(errno)" }
        // Only DMABUF_SCANOUT carries a descriptor; any other (or extra) one is closed.
        var passed: OwnedFD?
        for i in 0..<Int(nfds) where fds[i] >= 0 {
            if passed == nil { passed = OwnedFD(fds[i]) } else { close(fds[i]) }
        }
        if k < 12 {
            var rest = [UInt8](repeating: 0, count: 12 - k)
            if let e = readExactArray(&rest) { return e }
            hdr.replaceSubrange(k..<12, with: rest)
        }
        let req = VirtioGPUWire.u32(hdr, 0), size = Int(VirtioGPUWire.u32(hdr, 8))
        guard size <= Self.maxDisplayMessage else { return "display message \(req) claims \(size) bytes" }

        func payload(_ n: Int) -> ([UInt8], String?) {
            var p = [UInt8](repeating: 0, count: n)
            let failure = readExactArray(&p)
            return (p, failure)
        }
        func discard(_ why: String) -> String? {
            display.note(why)
            var left = size
            var sink = [UInt8](repeating: 0, count: min(size, 1 << 16))
            while left > 0 {
                let n = min(left, sink.count)
                let e = sink.withUnsafeMutableBytes { Self.readExact(displayFD, $0.baseAddress, n, timeoutMs: timeoutMs) }
                if let e { return e.with("display payload").message }
                left -= n
            }
            return nil
        }

        switch req {
        case 1:  // GET_PROTOCOL_FEATURES: we support none of the optional display features
            guard size == 0 else { return discard("GET_PROTOCOL_FEATURES with \(size) bytes") }
            var b = VirtioGPUWire.Builder(); b.u32(1); b.u32(Self.flagReply); b.u32(8); b.u64(0)
            return reply(b.bytes)
        case 2:  // SET_PROTOCOL_FEATURES
            guard size == 8 else { return discard("SET_PROTOCOL_FEATURES with \(size) bytes") }
            return payload(8).1
        case 3:  // GET_DISPLAY_INFO: exactly 408 bytes or the backend misparses everything after
            guard size == 0 else { return discard("GET_DISPLAY_INFO with \(size) bytes") }
            var b = VirtioGPUWire.Builder(); b.u32(3); b.u32(Self.flagReply); b.u32(UInt32(VirtioGPUWire.displayInfoSize))
            return reply(b.bytes + display.displayInfo())
        case 4, 5:  // CURSOR_POS, CURSOR_POS_HIDE
            guard size == 12 else { return discard("CURSOR_POS with \(size) bytes") }
            let (p, e) = payload(12)
            if let e { return e }
            display.cursorPosition(scanout: Int(VirtioGPUWire.u32(p, 0)), x: Int32(bitPattern: VirtioGPUWire.u32(p, 4)),
                                   y: Int32(bitPattern: VirtioGPUWire.u32(p, 8)), visible: req == 4)
            return nil
        case 6:  // CURSOR_UPDATE: pos, hot, 64×64 pixels
            guard size == 20 + 64 * 64 * 4 else { return discard("CURSOR_UPDATE with \(size) bytes") }
            let (p, e) = payload(20)
            if let e { return e }
            var failure: String?
            _ = display.cursorImage(scanout: Int(VirtioGPUWire.u32(p, 0)), x: Int32(bitPattern: VirtioGPUWire.u32(p, 4)),
                                    y: Int32(bitPattern: VirtioGPUWire.u32(p, 8)), hotX: Int(min(VirtioGPUWire.u32(p, 12), 63)),
                                    hotY: Int(min(VirtioGPUWire.u32(p, 16), 63))) { dst, n in
                if let e = Self.readExact(displayFD, dst, n, timeoutMs: timeoutMs) { failure = e.with("cursor pixels").message; return false }
                return true
            }
            return failure
        case 7:  // SCANOUT
            guard size == 12 else { return discard("SCANOUT with \(size) bytes") }
            let (p, e) = payload(12)
            if let e { return e }
            _ = display.scanout(Int(VirtioGPUWire.u32(p, 0)), width: Int(VirtioGPUWire.u32(p, 4)), height: Int(VirtioGPUWire.u32(p, 8)))
            return nil
        case 8:  // UPDATE: header then width×height×4 bytes, rows packed
            guard size >= 20 else { return discard("UPDATE with \(size) bytes") }
            let (p, e) = payload(20)
            if let e { return e }
            let id = Int(VirtioGPUWire.u32(p, 0)), x = Int(VirtioGPUWire.u32(p, 4)), y = Int(VirtioGPUWire.u32(p, 8))
            let w = Int(VirtioGPUWire.u32(p, 12)), h = Int(VirtioGPUWire.u32(p, 16))
            let maxD = VirtioDisplay.maxDimension
            guard id < VirtioGPUWire.maxScanouts, w <= maxD, h <= maxD, x <= maxD, y <= maxD, size == 20 + w * h * 4 else {
                let rest = size - 20
                display.note("UPDATE scanout \(id) \(w)x\(h)+\(x)+\(y) with \(size) bytes: dropped")
                var left = rest
                var sink = [UInt8](repeating: 0, count: min(max(rest, 1), 1 << 16))
                while left > 0 {
                    let n = min(left, sink.count)
                    if let e = sink.withUnsafeMutableBytes({ Self.readExact(displayFD, $0.baseAddress, n, timeoutMs: timeoutMs) }) { return e.with("UPDATE").message }
                    left -= n
                }
                return nil
            }
            var failure: String?
            _ = display.update(id, x: x, y: y, width: w, height: h) { dst, n in
                if let e = Self.readExact(displayFD, dst, n, timeoutMs: timeoutMs) { failure = e.with("UPDATE pixels").message; return false }
                return true
            }
            return failure
        case 9:  // DMABUF_SCANOUT: the backend's GBM/udmabuf path (render node or /dev/udmabuf)
            guard size == 40 else { return discard("DMABUF_SCANOUT with \(size) bytes") }
            let (p, e) = payload(40)
            if let e { return e }
            let f = (0..<10).map { Int(VirtioGPUWire.u32(p, 4 * $0)) }
            _ = display.dmabufScanout(f[0], x: f[1], y: f[2], width: f[3], height: f[4], fdWidth: f[5], fdHeight: f[6],
                                      stride: f[7], fourcc: VirtioGPUWire.u32(p, 36), fd: passed)
            return nil
        case 10:  // DMABUF_UPDATE: copy out of the dmabuf, then reply or the backend stalls
            guard size == 20 else { return discard("DMABUF_UPDATE with \(size) bytes") }
            let (p, e) = payload(20)
            if let e { return e }
            let f = (0..<5).map { Int(VirtioGPUWire.u32(p, 4 * $0)) }
            if f[0] < VirtioGPUWire.maxScanouts { display.dmabufUpdate(f[0], x: f[1], y: f[2], width: f[3], height: f[4]) }
            var b = VirtioGPUWire.Builder(); b.u32(10); b.u32(Self.flagReply); b.u32(0)
            return reply(b.bytes)
        default:
            return discard("unknown display message \(req) (\(size) bytes)")
        }
    }

    private func readExactArray(_ b: inout [UInt8]) -> String? {
        let e = b.withUnsafeMutableBytes { Self.readExact(displayFD, $0.baseAddress, $0.count, timeoutMs: timeoutMs) }
        return e?.with("display message").message
    }

    /// Replies go out in one write: the backend reads them with a single read().
    private func reply(_ bytes: [UInt8]) -> String? {
        let n = bytes.withUnsafeBytes { cfd_send_with_fds(displayFD, $0.baseAddress, $0.count, nil, 0) }
        return n == bytes.count ? nil : "display reply failed"
    }

    // MARK: shutdown

    public func shutdown() {
        let (wasStopped, running): (Bool, Bool) = state.withLock {
            let s = stopped
            stopped = true
            return (s, threadRunning)
        }
        guard !wasStopped else { return }
        if running, stopFD >= 0 {
            var one: UInt64 = 1
            _ = Glibc.write(stopFD, &one, 8)
            _ = threadDone.wait(timeout: .now() + .seconds(5))
        }
        ctl.withLock {
            // Closing the vhost-user socket first makes the backend exit(0); closing the display
            // socket first could kill it with SIGPIPE mid-write.
            if sock >= 0 { close(sock); sock = -1 }
        }
        if let pid = childPID {
            if pidfd >= 0, cfd_poll1(pidfd, Int16(POLLIN), 1000) == 0 { kill(pid, SIGKILL) }
            if pidfd < 0 { kill(pid, SIGKILL) }
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        for fd in [displayFD, pidfd, stopFD] + calls + kicks where fd >= 0 { close(fd) }
        displayFD = -1
        pidfd = -1
        stopFD = -1
        calls = []
        kicks = []
    }
}
