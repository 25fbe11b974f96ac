import CFakeDRMSys
import Foundation
import Glibc

/// The unprivileged front end: serves one `Device` on a unix socket to libfakedrm-preload.so
/// (wire protocol: docs/socket-protocol.md). One thread per connection; each card connection
/// is one `FileContext`, closed when the peer goes away or misbehaves.
///
/// @unchecked Sendable: mutable state is guarded by `lock`.
public final class SocketServer: @unchecked Sendable {
    public let device: Device
    public let path: String
    /// The DRM minor reported in HELLO_REPLY (card0 = 0).
    public let minor: UInt32
    /// Peers with another uid than the daemon's effective uid are refused unless listed here.
    public let allowedUIDs: Set<UInt32>

    let registry = ExportRegistry()
    let uevents: UeventBroadcaster
    /// The card's debugfs files (DEBUGFS_OPEN / DEBUGFS_WRITE).
    let debugfs: DebugfsView
    /// Every card ioctl and read is appended to it (`--record`).
    let recorder: IoctlRecorder?
    private let lock = DeviceLock()
    /// Attach tokens handed out by the CUSE front end (DRM_IOCTL_FAKEDRM_ATTACH): token → the
    /// open file it names and the uid that asked. Single use; dropped when the file is released.
    private var tokens: [UInt64: (file: FileContext, uid: UInt32)] = [:]
    /// Processes with a live attached connection, by peer pid: they may open an AUX connection
    /// (sync-file ioctls, SYNC_RELEASE) although their uid is not otherwise permitted.
    private var attachedPeers: [Int32: (uid: UInt32, count: Int)] = [:]
    /// Files opened by connections of this server (not attached CUSE files): how many
    /// connections serve each (the opener plus adopters) and the kernel's `eventfd-id` of its
    /// readiness eventfd, which an ADOPT HELLO is matched against.
    private var shared: [ObjectIdentifier: (file: FileContext, eventfdID: UInt64?, refs: Int)] = [:]
    private var listenFD: Int32 = -1
    private var connections: [ObjectIdentifier: SocketConnection] = [:]
    private var stopped = false
    private var acceptDone = false

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(device: Device, path: String, minor: UInt32 = 0, allowedUIDs: Set<UInt32> = [], recorder: IoctlRecorder? = nil) {
        self.recorder = recorder
        self.device = device
        self.path = path
        self.minor = minor
        self.allowedUIDs = allowedUIDs
        let broadcaster = UeventBroadcaster(minor: minor, driver: device.config.driver.name)
        uevents = broadcaster
        debugfs = DebugfsView(device: device, minor: Int(minor))
        device.hotplug.addObserver { _, connector in broadcaster.broadcast(connector: connector) }
        device.hotplug.addLeaseObserver { broadcaster.broadcast(lease: true) }
        registry.onDrop = { [weak device] file in
            if case .timeline(let t) = file, let device { SwSync.close(device, t) }
        }
    }

    /// Binds (replacing a stale socket file, never another kind of file) and starts accepting.
    public func start() throws {
        try Self.removeStaleSocket(path)
        let fd = cfd_seqpacket_listen(path, 64)
        guard fd >= 0 else {
            throw StartError(description: "cannot listen on \(path): \(String(cString: strerror(-fd)))")
        }
        // Peers of other uids need write permission to connect; who may talk is still decided
        // per connection from SO_PEERCRED (permits(uid:)).
        if !allowedUIDs.isEmpty, chmod(path, 0o666) != 0 {
            let e = errno
            close(fd)
            throw StartError(description: "cannot open \(path) to other uids: \(String(cString: strerror(e)))")
        }
        lock.withLock { listenFD = fd }
        let t = Thread { [self] in acceptLoop(fd) }
        t.name = "fakedrm-accept"
        t.start()
    }

    /// A socket file left by an earlier daemon is replaced; any other kind of file is an error.
    static func removeStaleSocket(_ path: String) throws(StartError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw StartError(description: "\(path) exists and is not a socket") }
        unlink(path)
    }

    /// Stops accepting, disconnects every client (their files are closed) and removes the socket.
    public func stop() {
        let fd: Int32 = lock.withLock {
            guard !stopped else { return -1 }
            stopped = true
            for c in connections.values { c.disconnect() }
            return listenFD
        }
        guard fd >= 0 else { return }
        _ = cfd_shutdown(fd)
        unlink(path)
        // Wait (bounded) for the accept thread and the connection threads to finish.
        let deadline = Monotonic.nowNs() + 2_000_000_000
        lock.withLock {
            while !(acceptDone && connections.isEmpty) {
                if !lock.wait(untilMonotonicNs: deadline) { break }
            }
        }
    }

    /// Live connections (card and AUX).
    public var connectionCount: Int { lock.withLock { connections.count } }
    /// Objects currently installed as fds in clients.
    public var exportCount: Int { registry.count }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let c = cfd_accept(fd)
            if c < 0 {
                let stop = lock.withLock { stopped }
                if stop || c == -EBADF || c == -EINVAL { break }
                usleep(10_000) // EMFILE and friends: back off, keep serving
                continue
            }
            let conn: SocketConnection? = lock.withLock {
                guard !stopped else { return nil }
                let conn = SocketConnection(server: self, sock: c)
                connections[ObjectIdentifier(conn)] = conn
                return conn
            }
            guard let conn else {
                close(c)
                continue
            }
            let t = Thread { conn.run() }
            t.name = "fakedrm-conn"
            t.start()
        }
        lock.withLock {
            close(fd)
            listenFD = -1
            acceptDone = true
            lock.broadcast()
        }
    }

    func permits(uid: UInt32) -> Bool {
        uid == geteuid() || allowedUIDs.contains(uid)
    }

    // MARK: attach (CUSE front end, docs/cuse.md)

    /// A fresh single-use token naming `file` for a caller with `uid`: a connection that
    /// presents it in HELLO (flag ATTACH) and has the same peer uid serves that file instead of
    /// opening a new one. 64 random bits, so a peer cannot guess another opener's token; nil
    /// when the server is stopped.
    public func issueAttachToken(for file: FileContext, uid: UInt32) -> UInt64? {
        lock.withLock {
            guard !stopped else { return nil }
            var token: UInt64 = 0
            // 0 is never issued: it is what an uninitialised client would send.
            while token == 0 || tokens[token] != nil { token = UInt64.random(in: 1...UInt64.max) }
            tokens[token] = (file, uid)
            return token
        }
    }

    /// The open file is being released: its unused tokens die, and attached connections are
    /// disconnected, so nothing keeps serving a closed file.
    public func detach(_ file: FileContext) {
        lock.withLock {
            tokens = tokens.filter { $0.value.file !== file }
            for c in connections.values where c.isAttached(to: file) { c.disconnect() }
        }
    }

    /// Consumes `token` when it names a live file and `uid` is the uid it was issued to, and
    /// binds `conn` to that file under the same lock `detach` takes, so a release racing with
    /// the HELLO either finds the token gone or finds the connection bound and cuts it.
    func redeem(token: UInt64, uid: UInt32, pid: Int32, for conn: SocketConnection) -> Bool {
        lock.withLock {
            guard let t = tokens[token], t.uid == uid else { return false }
            tokens[token] = nil
            let n = attachedPeers[pid]?.count ?? 0
            attachedPeers[pid] = (uid, n + 1)
            conn.bind(t.file)
            return true
        }
    }

    func attachedConnectionEnded(pid: Int32) {
        lock.withLock {
            guard let p = attachedPeers[pid] else { return }
            attachedPeers[pid] = p.count > 1 ? (p.uid, p.count - 1) : nil
        }
    }

    // MARK: adopt (a card fd passed to another process, docs/socket-protocol.md "Adopt")

    /// A connection opened `file`: it is served by one connection so far.
    func registerOpen(_ file: FileContext) {
        let id = Eventfd.id(file.readiness.fd.raw)
        lock.withLock { shared[ObjectIdentifier(file)] = (file, id, 1) }
    }

    /// A lessee file handed to a client as a bare eventfd: nobody serves it until a process
    /// uses the fd and the library adopts it (refs 0 until then).
    func registerLessee(_ file: FileContext) {
        let id = Eventfd.id(file.readiness.fd.raw)
        lock.withLock { shared[ObjectIdentifier(file)] = (file, id, 0) }
    }

    /// A lessee no connection ever adopted: nothing will close it but its lessor's end.
    func forgetUnadopted(_ file: FileContext) -> Bool {
        lock.withLock {
            let key = ObjectIdentifier(file)
            guard let e = shared[key], e.refs == 0 else { return false }
            shared[key] = nil
            return true
        }
    }

    /// One connection serving `file` ended; true when it was the last (the caller closes it).
    /// Files this server did not open (attached ones) are never closed here.
    func releaseShared(_ file: FileContext) -> Bool {
        lock.withLock {
            let key = ObjectIdentifier(file)
            guard let e = shared[key] else { return true }
            if e.refs > 1 {
                shared[key] = (e.file, e.eventfdID, e.refs - 1)
                return false
            }
            shared[key] = nil
            return true
        }
    }

    /// Whether an eventfd id is one of ours: an open file's readiness or an installed export.
    func isOwnEventfd(id: UInt64) -> Bool {
        lock.withLock { shared.values.contains { $0.eventfdID == id } } || registry.contains(identity: id)
    }

    /// `fd` came with an ADOPT HELLO. When it is the readiness eventfd of one of our open
    /// files (same `eventfd-id` in /proc/self/fdinfo: the same eventfd, since ids are unique
    /// among live eventfds and we hold ours open), binds `conn` to that file and counts it.
    func adopt(fd: Int32, for conn: SocketConnection) -> Bool {
        guard let id = Eventfd.id(fd) else { return false }
        return lock.withLock {
            guard !stopped else { return false }
            for (key, e) in shared where e.eventfdID == id {
                shared[key] = (e.file, e.eventfdID, e.refs + 1)
                conn.bindAdopted(e.file)
                return true
            }
            return false
        }
    }

    /// An AUX connection from a process that holds an attached connection with the same uid.
    func permitsAux(uid: UInt32, pid: Int32) -> Bool {
        lock.withLock { attachedPeers[pid]?.uid == uid }
    }

    /// Called by a connection's thread when it is done; closes the socket under the lock so
    /// `stop()` never shuts down a reused descriptor number.
    func ended(_ conn: SocketConnection) {
        lock.withLock {
            connections[ObjectIdentifier(conn)] = nil
            conn.closeSocket()
            lock.broadcast()
        }
    }
}
