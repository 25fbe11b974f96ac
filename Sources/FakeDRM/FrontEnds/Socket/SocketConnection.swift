import CFakeDRMSys
import Glibc

/// One client connection: a card open (one `FileContext`) or an AUX connection (sync-file
/// ioctls and releases only). Runs on its own thread; any protocol violation or lost peer
/// ends it, and the file is closed as the kernel releases a drm_file.
///
/// @unchecked Sendable: used by its own thread only, except `disconnect()` (a shutdown(2)
/// of a descriptor that stays open until `SocketServer.ended`).
final class SocketConnection: @unchecked Sendable {
    let server: SocketServer
    private let sock: Int32
    private var sockClosed = false
    private(set) var pid: Int32 = 0
    private var uid: UInt32 = 0
    private var file: FileContext?
    /// An attached connection serves a file opened elsewhere (a CUSE open): it must not close
    /// it when the socket goes; the CUSE release does.
    private var attached = false
    private var countedPid = false
    /// Serves a file opened by another connection (HELLO ADOPT); the file is closed when the
    /// last connection serving it ends.
    private var adopted = false
    /// Set when the peer broke the protocol or vanished: the connection ends after the
    /// current request.
    private(set) var broken = false
    private var buffer = [UInt8](repeating: 0, count: Wire.maxMessage + 1)
    /// This file's query snapshot, when the library asked for one (HELLO bit3).
    private var snapshot: FileSnapshot?

    init(server: SocketServer, sock: Int32) {
        self.server = server
        self.sock = sock
    }

    func disconnect() { _ = cfd_shutdown(sock) }

    /// Read under the server's lock by `SocketServer.detach`; `bind` runs under that lock too
    /// (from `redeem`), so a detach never misses a connection that is being attached.
    func isAttached(to f: FileContext) -> Bool { attachLock.withLock { attached && file === f } }
    private let attachLock = DeviceLock()

    func bind(_ f: FileContext) {
        attachLock.withLock {
            file = f
            attached = true
        }
    }

    /// Called by `SocketServer.adopt` under its lock.
    func bindAdopted(_ f: FileContext) {
        attachLock.withLock {
            file = f
            adopted = true
        }
    }

    func closeSocket() {
        guard !sockClosed else { return }
        sockClosed = true
        close(sock)
    }

    // MARK: lifecycle

    func run() {
        defer { finish() }
        var p: pid_t = 0, u: uid_t = 0, g: gid_t = 0
        guard cfd_peer_cred(sock, &p, &u, &g) == 0 else { return }
        pid = p
        uid = u
        guard let hello = receive(keepFDs: true) else { return }
        guard hello.op == .hello else {
            hello.closeFDs()
            return
        }
        defer { hello.closeFDs() }
        var r = WireReader(hello.payload)
        guard let version = try? r.u32(), let flags = try? r.u32() else { return }
        let aux = flags & 1 != 0
        // ATTACH (bit1): `i32 pid; u64 token` follow; the connection serves the open file the
        // token names (docs/socket-protocol.md, "Attach").
        let attach = flags & 2 != 0
        var token: UInt64 = 0
        if attach {
            guard !aux, (try? r.i32()) != nil, let t = try? r.u64() else { return }
            token = t
        }
        // ADOPT (bit2): the HELLO carries one fd (SCM_RIGHTS) that the peer holds as a card fd
        // it did not open itself (passed over a socket, e.g. by libseat/seatd). When it is the
        // readiness eventfd of an open file of this server, the connection serves that file
        // (docs/socket-protocol.md, "Adopt"); possession of the fd is the credential.
        let adopt = flags & 4 != 0
        var err: Int32 = 0
        if adopt && (aux || attach) { return } // the deferred closeFDs closes the fd
        if version != 1 {
            err = EPROTO
        } else if adopt {
            if hello.fds.count != 1 || !server.adopt(fd: hello.fds[0], for: self) { err = EACCES }
        } else if attach {
            // Any uid may attach: the token (issued to this uid on its own CUSE open) is the
            // credential, not the uid.
            if !server.redeem(token: token, uid: uid, pid: pid, for: self) { err = EACCES }
        } else if !server.permits(uid: uid) && !(aux && server.permitsAux(uid: uid, pid: pid)) {
            err = EACCES
        }
        var readiness: Int32? = nil
        if let file, attached || adopted {
            readiness = file.readiness.fd.raw
        } else if err == 0 && !aux {
            do {
                let f = try server.device.open(pid: pid, uid: uid)
                file = f
                server.registerOpen(f)
                readiness = f.readiness.fd.raw
            } catch {
                err = error.errno
            }
        }
        // SNAPSHOT (bit3): the library answers read-only queries from a snapshot of this file's
        // answers (docs/snapshot.md); the reply then says its size and carries its memfd after
        // the eventfd. Not for attached files (CUSE clients ask the kernel), nor while ioctls
        // are recorded (the recording must see every query).
        if err == 0, !aux, !attached, flags & 8 != 0, server.recorder == nil, let file {
            snapshot = server.device.snapshots.snapshot(for: file)
        }
        var w = WireWriter(.helloReply)
        w.i32(err)
        w.u32(server.minor)
        let sent: Bool = {
            var fds = readiness.map { [$0] } ?? []
            // The client gets the memfd opened read-only (closed here once sent): it can map it
            // only PROT_READ, so it can write neither the daemon's seqlock word nor the answers
            // (and the size is sealed).
            let readOnly = snapshot.map { OwnedFD(open("/proc/self/fd/\($0.memory.fd.raw)", O_RDONLY | O_CLOEXEC)) }
            if let snapshot, let readiness, let readOnly, readOnly.raw >= 0 {
                w.u32(UInt32(snapshot.memory.size))
                fds = [readiness, readOnly.raw]
            } else if flags & 8 != 0 {
                w.u32(0)
            }
            return send(w.message, fds: fds)
        }()
        guard sent, err == 0 else { return }
        server.registry.connectionOpened(pid: pid)
        countedPid = true
        // Requests keep their fds (EXPORT_ADOPT carries one); whatever a handler did not take
        // is closed after it.
        while !broken, let m = receive(keepFDs: true) {
            handle(m)
            m.closeFDs()
        }
    }

    private func finish() {
        if attached {
            server.attachedConnectionEnded(pid: pid)
        } else if let file, server.releaseShared(file) {
            // A lessee's eventfd may live on in a process that has not used it yet: it stays
            // open, unadopted, until that process adopts it or its lessor's file closes.
            if server.device.files.isLessee(file), let id = Eventfd.id(file.readiness.fd.raw),
               EventfdHolders.heldElsewhere(id: id, except: pid) {
                server.registerLessee(file)
                attachLock.withLock { self.file = nil }
                if countedPid { server.registry.connectionClosed(pid: pid) }
                server.ended(self)
                return
            }
            // The last connection of this open file (its opener and every adopter) is gone.
            let lessees = server.device.files.lessees(of: file)
            server.device.close(file)
            // Lessee fds no process ever used die with their lessor's file.
            for l in lessees where server.forgetUnadopted(l) { server.device.close(l) }
        }
        attachLock.withLock { file = nil }
        if countedPid { server.registry.connectionClosed(pid: pid) }
        server.ended(self)
    }

    // MARK: requests

    private func handle(_ m: Message) {
        var r = WireReader(m.payload)
        do throws(WireFormatError) {
            switch m.op {
            case .ioctl:
                let request = try r.u32()
                let target = try r.u32()
                let targetID = try r.u64()
                _ = try r.u64() // arg address: the codec works on the copied bytes
                // The arg is _IOC_SIZE bytes when _IOC_WRITE is set; anything after it is
                // prefetched client memory (docs/socket-protocol.md, "Prefetched memory").
                let req = IoctlRequest(request)
                let argLen = req.copiesIn ? min(req.size, r.remaining) : 0
                let arg = try r.take(argLen)
                guard arg.count <= 1 << 14 else { throw WireFormatError() }
                var prefetched: [PrefetchedRange] = []
                if r.remaining > 0 { prefetched.reserveCapacity(4) }
                while r.remaining > 0 {
                    let addr = try r.u64()
                    let len = Int(try r.u32())
                    prefetched.append(PrefetchedRange(address: addr, bytes: try r.take(len)))
                }
                let reply = ioctl(request: request, target: target, targetID: targetID, arg: arg, prefetched: prefetched)
                guard !broken else { return }
                var w = WireWriter(.ioctlReply, capacity: 4 + reply.bytes.count)
                w.i32(reply.errno)
                w.append(reply.bytes)
                if !send(w.message) { broken = true }
                // The library asked the daemon because the snapshot was stale: encode it again
                // (from the second such query since the change on, QuerySnapshots.refresh) now,
                // after the answer went out, so the next queries are served locally.
                if target == 0, snapshot != nil, let file, UAPICodec.isSnapshotted(request) {
                    server.device.snapshots.refresh(server.device, file)
                }
            case .read:
                let maxlen = try r.u32()
                _ = try r.u32() // nonblock: every READ is non-blocking, the library waits on the eventfd
                var w = WireWriter(.readReply)
                if let file {
                    server.recorder?.read(file: file, max: Int(maxlen))
                    do {
                        let events = try server.device.files.readEvents(file, maxBytes: min(Int(maxlen), Wire.maxChunk), nonblocking: true)
                        w.i32(0)
                        w.append(events)
                    } catch {
                        w.i32(error.errno)
                    }
                } else {
                    w.i32(EBADF)
                }
                if !send(w.message) { broken = true }
            case .map:
                let offset = try r.u64()
                var w = WireWriter(.mapReply)
                if file != nil, let bo = server.device.buffers.buffer(atMapOffset: offset) {
                    w.i32(0)
                    w.u64(UInt64(bo.size))
                    if !send(w.message, fd: bo.memory.fd.raw) { broken = true }
                    withExtendedLifetime(bo) {}
                } else {
                    w.i32(EINVAL)
                    w.u64(0)
                    if !send(w.message) { broken = true }
                }
            case .syncRelease:
                // Only this process's entry: a forked child's close names its parent's ids.
                server.registry.remove(try r.u64(), pid: pid)
            case .ueventSubscribe:
                var w = WireWriter(.ueventReply)
                if let end = server.uevents.subscribe() {
                    w.i32(0)
                    if !send(w.message, fd: end) { broken = true }
                    close(end)
                } else {
                    w.i32(EMFILE)
                    if !send(w.message) { broken = true }
                }
            case .debugfsOpen:
                let accessMode = Int32(bitPattern: try r.u32())
                let path = String(decoding: r.rest(), as: UTF8.self)
                var w = WireWriter(.debugfsReply)
                do {
                    let fd = try server.debugfs.open(path: path, accessMode: accessMode)
                    w.i32(0)
                    if !send(w.message, fd: fd.raw) { broken = true }
                } catch {
                    w.i32(error.errno)
                    if !send(w.message) { broken = true }
                }
            case .swsyncOpen:
                // A timeline per open (sw_sync_debugfs_open), named after the opener's comm.
                let name = String(decoding: r.rest().prefix(32), as: UTF8.self)
                var w = WireWriter(.swsyncReply)
                let raw = cfd_eventfd(0, 1)
                // The registry keeps the placeholder open, so its eventfd-id names only it.
                let placeholder = raw >= 0 ? OwnedFD(raw) : nil
                if let placeholder, let id = server.registry.add(.timeline(SwSync.timeline(named: name)), pid: pid,
                                                                 identity: Eventfd.id(raw), keeping: placeholder) {
                    w.i32(0)
                    w.u64(id)
                    if !send(w.message, fd: placeholder.raw) { broken = true }
                } else {
                    w.i32(ENOMEM)
                    w.u64(0)
                    if !send(w.message) { broken = true }
                }
            case .exportAdopt:
                // An fd of a sync file, dma-buf, syncobj or timeline that reached this process
                // from another one (SCM_RIGHTS, fork): possession of the fd names the object.
                var w = WireWriter(.exportAdopted)
                if m.fds.count == 1, let identity = ExportRegistry.identity(of: m.fds[0]),
                   let (id, file) = server.registry.adopt(identity: identity, pid: pid) {
                    w.i32(0)
                    w.u32(file.wireKind.rawValue)
                    w.u64(id)
                } else {
                    w.i32(ENOENT)
                    w.u32(0)
                    w.u64(0)
                }
                if !send(w.message) { broken = true }
            case .swsyncClose:
                // The timeline's last close: answered once its pending fences have failed.
                server.registry.remove(try r.u64(), pid: pid)
                var w = WireWriter(.swsyncClosed)
                w.i32(0)
                if !send(w.message) { broken = true }
            case .debugfsWrite:
                let pathLength = Int(try r.u32())
                let path = String(decoding: try r.take(pathLength), as: UTF8.self)
                let bytes = r.rest()
                var w = WireWriter(.debugfsWritten)
                do {
                    w.i32(Int32(try server.debugfs.write(path: path, bytes)))
                } catch {
                    w.i32(-error.errno)
                }
                if !send(w.message) { broken = true }
            default:
                broken = true
            }
        } catch {
            broken = true
        }
    }

    private func ioctl(request: UInt32, target: UInt32, targetID: UInt64, arg: [UInt8], prefetched: [PrefetchedRange]) -> IoctlReply {
        let client = SocketClient(connection: self, prefetched: prefetched)
        let env = ClientEnv(memory: client, files: client)
        switch target {
        case 0:
            guard let file else { return IoctlReply(errno: EBADF, bytes: []) }
            guard let recorder = server.recorder else {
                return UAPICodec.ioctl(server.device, file, request: request, arg: arg, env: env)
            }
            let memory = RecordingMemory(client)
            let reply = UAPICodec.ioctl(server.device, file, request: request, arg: arg, env: ClientEnv(memory: memory, files: client))
            recorder.ioctl(file: file, request: request, arg: arg, touched: memory.touched)
            return reply
        case 1:
            guard case .syncFile(let sf)? = server.registry.get(targetID) else { return IoctlReply(errno: EBADF, bytes: []) }
            return SyncFileCodec.ioctl(server.device, sf, request: request, arg: arg, env: env)
        case 2:
            guard case .timeline(let t)? = server.registry.get(targetID) else { return IoctlReply(errno: EBADF, bytes: []) }
            return SwSyncCodec.ioctl(server.device, t, request: request, arg: arg, env: env)
        case 3:
            guard case .dmabuf(let bo)? = server.registry.get(targetID) else { return IoctlReply(errno: EBADF, bytes: []) }
            return DmaBufCodec.ioctl(server.device, bo, request: request, arg: arg, env: env)
        default:
            broken = true
            return IoctlReply(errno: EINVAL, bytes: [])
        }
    }

    // MARK: messages

    struct Message {
        let op: WireOp
        let payload: ArraySlice<UInt8>
        let fds: [Int32]

        func closeFDs() { for fd in fds { close(fd) } }
    }

    /// One well-formed message, or nil (peer gone or garbage: the connection is then broken).
    /// The library sends descriptors only with an ADOPT HELLO (`keepFDs`); any others that
    /// arrive are closed. Kept ones belong to the caller (`Message.closeFDs`).
    func receive(keepFDs: Bool = false) -> Message? {
        var fds = [Int32](repeating: -1, count: 4)
        var nfds: Int32 = 4
        let n = buffer.withUnsafeMutableBytes { b in
            cfd_recv_msg(sock, b.baseAddress, b.count, &fds, &nfds)
        }
        let got = Array(fds[0..<Int(max(nfds, 0))])
        if !keepFDs { for fd in got { close(fd) } }
        guard n >= 8, n <= Wire.maxMessage else {
            if keepFDs { for fd in got { close(fd) } }
            broken = true
            return nil
        }
        var r = WireReader(buffer[0..<8])
        guard let rawOp = try? r.u32(), let len = try? r.u32(), Int(len) == n - 8, let op = WireOp(rawValue: rawOp) else {
            if keepFDs { for fd in got { close(fd) } }
            broken = true
            return nil
        }
        if keepFDs {
            return Message(op: op, payload: Array(buffer[8..<n])[...], fds: got)
        }
        // A copy, not a slice of `buffer`: a message still being handled while a callback
        // receives the next one would otherwise force a copy-on-write of the whole 72 KiB buffer.
        return Message(op: op, payload: Array(buffer[8..<n])[...], fds: [])
    }

    func send(_ message: [UInt8], fd: Int32? = nil) -> Bool { send(message, fds: fd.map { [$0] } ?? []) }

    func send(_ message: [UInt8], fds: [Int32]) -> Bool {
        let r: Int = message.withUnsafeBytes { b in
            if !fds.isEmpty {
                var fds = fds
                return cfd_send_with_fds(sock, b.baseAddress, b.count, &fds, Int32(fds.count))
            }
            return cfd_send_with_fds(sock, b.baseAddress, b.count, nil, 0)
        }
        if r != message.count { broken = true }
        return r == message.count
    }

    /// How long a callback answer may take. The library answers from memory without blocking,
    /// and some callbacks run with the device lock held (e.g. FD_INSTALL during PRIME export),
    /// so a stopped or wedged client must not stall every other client for long.
    static let callbackTimeoutMs: Int32 = 5000

    /// A callback round trip: sends, then expects exactly `reply` back.
    func call(_ message: [UInt8], fd: Int32? = nil, expect reply: WireOp) -> ArraySlice<UInt8>? {
        roundTrip(message, fd: fd, expect: reply, keepFD: false)?.payload
    }

    /// A round trip whose reply may carry one fd (FD_FETCH); the fd is the caller's to close.
    func callForFD(_ message: [UInt8], expect reply: WireOp) -> (ArraySlice<UInt8>, Int32?)? {
        guard let m = roundTrip(message, fd: nil, expect: reply, keepFD: true) else { return nil }
        for extra in m.fds.dropFirst() { close(extra) }
        return (m.payload, m.fds.first)
    }

    private func roundTrip(_ message: [UInt8], fd: Int32?, expect reply: WireOp, keepFD: Bool) -> Message? {
        guard !broken, send(message, fd: fd) else { return nil }
        var p = pollfd(fd: sock, events: Int16(POLLIN), revents: 0)
        var r: Int32
        repeat { r = poll(&p, 1, Self.callbackTimeoutMs) } while r < 0 && errno == EINTR
        guard r > 0 else {
            broken = true
            disconnect()
            return nil
        }
        guard let m = receive(keepFDs: keepFD) else { return nil }
        guard m.op == reply else {
            m.closeFDs()
            broken = true
            return nil
        }
        return m
    }

    func markBroken() { broken = true }

    /// The client closed its end (or died): POLLRDHUP on the socket.
    var peerHungUp: Bool {
        let rdhup: Int16 = 0x2000 // POLLRDHUP, which Glibc's Swift import leaves out
        var p = pollfd(fd: sock, events: rdhup, revents: 0)
        return poll(&p, 1, 0) == 1 && p.revents & (rdhup | Int16(POLLHUP | POLLERR)) != 0
    }
}

/// The client's memory and fd table, reached through callbacks on the connection while one
/// ioctl is being handled.
final class SocketClient: ClientMemory, ClientFiles {
    let connection: SocketConnection
    private var installed: [Int32: UInt64] = [:]
    /// Client memory the library sent along with the IOCTL; reads inside one range are served
    /// from it, everything else is a MEM_READ callback.
    private var prefetched: [PrefetchedRange]

    init(connection: SocketConnection, prefetched: [PrefetchedRange] = []) {
        self.connection = connection
        self.prefetched = prefetched
    }

    func read(at address: UInt64, count: Int) throws(DRMError) -> [UInt8] {
        guard count > 0 else { return [] }
        for p in prefetched where address >= p.address && UInt64(count) <= UInt64(p.bytes.count) && address - p.address <= UInt64(p.bytes.count - count) {
            let start = Int(address - p.address)
            return Array(p.bytes[start..<(start + count)])
        }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var offset = 0
        while offset < count {
            let n = min(Wire.maxChunk, count - offset)
            let (addr, overflow) = address.addingReportingOverflow(UInt64(offset))
            guard !overflow else { throw .badAddress }
            var w = WireWriter(.memRead)
            w.u64(addr)
            w.u32(UInt32(n))
            guard let p = connection.call(w.message, expect: .memData) else { throw .badAddress }
            var r = WireReader(p)
            guard let err = try? r.i32() else { connection.markBroken(); throw .badAddress }
            if err != 0 { throw .badAddress }
            let data = r.rest()
            guard data.count == n else { connection.markBroken(); throw .badAddress }
            out += data
            offset += n
        }
        return out
    }

    var isGone: Bool { connection.peerHungUp }

    func write(_ bytes: [UInt8], at address: UInt64) throws(DRMError) {
        // A later read of these bytes must see the write: forget overlapping prefetched ranges.
        if !prefetched.isEmpty, !bytes.isEmpty {
            let end = address &+ UInt64(bytes.count)
            prefetched.removeAll { address < $0.address &+ UInt64($0.bytes.count) && $0.address < end }
        }
        var offset = 0
        while offset < bytes.count {
            let n = min(Wire.maxChunk, bytes.count - offset)
            let (addr, overflow) = address.addingReportingOverflow(UInt64(offset))
            guard !overflow else { throw .badAddress }
            var w = WireWriter(.memWrite, capacity: 8 + n)
            w.u64(addr)
            w.append(bytes[offset..<(offset + n)])
            guard let p = connection.call(w.message, expect: .memAck) else { throw .badAddress }
            var r = WireReader(p)
            guard let err = try? r.i32() else { connection.markBroken(); throw .badAddress }
            if err != 0 { throw .badAddress }
            offset += n
        }
    }

    func install(_ file: ExportedFile, cloexec: Bool) throws(DRMError) -> Int32 {
        if case .card(let f) = file { return try installCard(f, cloexec: cloexec) }
        let registry = connection.server.registry
        var owned: OwnedFD? = nil
        let fd: Int32
        switch file {
        case .syncFile(let sf): fd = sf.readiness.fd.raw
        case .dmabuf(let bo): fd = bo.memory.fd.raw
        case .card, .timeline:
            // Timelines come from SWSYNC_OPEN, not from an ioctl's FD_INSTALL.
            throw .invalidArgument
        case .syncobj:
            // A syncobj fd only names the object: any pollable placeholder will do.
            let e = cfd_eventfd(0, 0)
            guard e >= 0 else { throw .noMemory }
            owned = OwnedFD(e)
            fd = e
        }
        // The fd's identity lets another process that receives it adopt the same object.
        guard let id = registry.add(file, pid: connection.pid, identity: ExportRegistry.identity(of: fd), keeping: owned) else { throw .noMemory }
        var w = WireWriter(.fdInstall)
        w.u32(file.wireKind.rawValue)
        w.u32(cloexec ? 1 : 0)
        w.u64(id)
        let reply = connection.call(w.message, fd: fd, expect: .fdInstalled)
        withExtendedLifetime(owned) {}
        guard let reply else {
            registry.remove(id)
            throw .badAddress
        }
        var r = WireReader(reply)
        guard let result = try? r.i32() else {
            connection.markBroken()
            registry.remove(id)
            throw .badAddress
        }
        guard result >= 0 else {
            registry.remove(id)
            throw DRMError(errno: -result) ?? .noMemory
        }
        installed[result] = id
        return result
    }

    /// The lessee's readiness eventfd goes to the client as the new card fd (docs/socket-protocol.md).
    private func installCard(_ f: FileContext, cloexec: Bool) throws(DRMError) -> Int32 {
        connection.server.registerLessee(f)
        var w = WireWriter(.fdInstall)
        w.u32(WireKind.card.rawValue)
        w.u32(cloexec ? 1 : 0)
        w.u64(0)
        guard let reply = connection.call(w.message, fd: f.readiness.fd.raw, expect: .fdInstalled) else { throw .badAddress }
        var r = WireReader(reply)
        guard let result = try? r.i32() else {
            connection.markBroken()
            throw .badAddress
        }
        guard result >= 0 else { throw DRMError(errno: -result) ?? .noMemory }
        return result
    }

    func lookup(fd: Int32) throws(DRMError) -> ExportedFile? {
        var w = WireWriter(.fdLookup)
        w.i32(fd)
        guard let p = connection.call(w.message, expect: .fdInfo) else { throw .badFileDescriptor }
        var r = WireReader(p)
        guard let err = try? r.i32(), let kind = try? r.u32(), let id = try? r.u64() else {
            connection.markBroken()
            throw .badFileDescriptor
        }
        if err != 0 { throw .badFileDescriptor }
        guard kind != WireKind.foreign.rawValue, let f = connection.server.registry.get(id), f.wireKind.rawValue == kind else {
            return nil
        }
        return f
    }

    /// FD_FETCH: the library sends the fd itself (SCM_RIGHTS) unless it is one of fakedrm's.
    func eventfd(fd: Int32) throws(DRMError) -> OwnedFD {
        var w = WireWriter(.fdFetch)
        w.i32(fd)
        guard let (p, got) = connection.callForFD(w.message, expect: .fdFetched) else { throw .badFileDescriptor }
        let owned = got.map(OwnedFD.init)
        var r = WireReader(p)
        guard let err = try? r.i32() else {
            connection.markBroken()
            throw .badFileDescriptor
        }
        if err != 0 { throw DRMError(errno: err) ?? .badFileDescriptor }
        guard let owned else { connection.markBroken(); throw .badFileDescriptor }
        let info = Eventfd.probe(owned.raw)
        guard info.isEventfd else { throw .invalidArgument }
        // An fd of ours the process has not used yet (a sync file or card received from
        // another process) is not an eventfd to the kernel either.
        if let id = info.id, connection.server.isOwnEventfd(id: id) { throw .invalidArgument }
        return owned
    }

    func uninstall(fd: Int32) {
        var w = WireWriter(.fdUninstall)
        w.i32(fd)
        _ = connection.call(w.message, expect: .fdAck)
        if let id = installed.removeValue(forKey: fd) { connection.server.registry.remove(id) }
    }
}

/// A copy of client memory sent with an IOCTL message (taken when the ioctl was issued, while
/// the calling thread is blocked in it, as a MEM_READ would see it).
struct PrefetchedRange {
    let address: UInt64
    let bytes: [UInt8]
}
