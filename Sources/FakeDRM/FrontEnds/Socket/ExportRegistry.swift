import Glibc

/// Objects installed as fds in clients (sync files, dma-bufs, syncobjs), by wire id. Shared by
/// every connection of a server, so a sync file exported on one connection is usable on
/// another (the preload library sends sync-file ioctls on its process-wide AUX connection).
/// An entry lives until SYNC_RELEASE names it or every connection of its process is gone.
/// An fd that reaches another process (SCM_RIGHTS, fork) is adopted there by its identity
/// (EXPORT_ADOPT): a second entry for the same object, which goes only with the last entry.
///
/// @unchecked Sendable: all state is guarded by `lock`.
final class ExportRegistry: @unchecked Sendable {
    private let lock = DeviceLock()
    private var nextID: UInt64 = 1
    /// `identity`: what names the fd the client holds (its eventfd-id, or a memfd's inode).
    /// `kept`: a placeholder fd (timelines, syncobjs) held open so its identity stays unique.
    private var entries: [UInt64: (file: ExportedFile, pid: Int32, identity: UInt64?, kept: OwnedFD?)] = [:]
    private var connectionsPerPid: [Int32: Int] = [:]
    private var entriesPerPid: [Int32: Int] = [:]
    /// Each entry holds daemon fds (a sync file's eventfd, a dma-buf's memfd): one process
    /// creating fences or timelines without bound gets ENOMEM here, not the daemon's EMFILE.
    let maxPerProcess: Int

    init(maxPerProcess: Int = 8192) { self.maxPerProcess = maxPerProcess }

    /// nil when the process is at its limit.
    func add(_ file: ExportedFile, pid: Int32, identity: UInt64? = nil, keeping kept: OwnedFD? = nil) -> UInt64? {
        lock.withLock { addLocked(file, pid: pid, identity: identity, kept: kept) }
    }

    private func addLocked(_ file: ExportedFile, pid: Int32, identity: UInt64?, kept: OwnedFD?) -> UInt64? {
        guard entriesPerPid[pid, default: 0] < maxPerProcess else { return nil }
        let id = nextID
        nextID += 1
        entries[id] = (file, pid, identity, kept)
        entriesPerPid[pid, default: 0] += 1
        return id
    }

    /// EXPORT_ADOPT: the object whose fd has `identity`, as a new entry of `pid`.
    func adopt(identity: UInt64, pid: Int32) -> (id: UInt64, file: ExportedFile)? {
        lock.withLock {
            guard let e = entries.values.first(where: { $0.identity == identity }),
                  let id = addLocked(e.file, pid: pid, identity: identity, kept: e.kept) else { return nil }
            return (id, e.file)
        }
    }

    /// The identity of an fd handed to a client: an eventfd's id, else (memfd) its device and
    /// inode with the top bit set, so that the two never collide.
    static func identity(of fd: Int32) -> UInt64? {
        if let id = Eventfd.id(fd) { return id }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return (UInt64(st.st_ino) ^ UInt64(st.st_dev) << 40) | 1 << 63
    }

    /// Whether `identity` names one of the fds handed out.
    func contains(identity: UInt64) -> Bool { lock.withLock { entries.values.contains { $0.identity == identity } } }

    /// Objects some entry still names are not dropped with another entry of theirs.
    private func stillHeld(_ f: ExportedFile) -> Bool {
        entries.values.contains { $0.file.object === f.object }
    }

    private func forget(pid: Int32) {
        let n = entriesPerPid[pid, default: 1] - 1
        entriesPerPid[pid] = n > 0 ? n : nil
    }

    func get(_ id: UInt64) -> ExportedFile? { lock.withLock { entries[id]?.file } }

    /// Runs (outside the lock) for every entry that goes: a timeline's last close signals
    /// what it still has pending.
    var onDrop: (@Sendable (ExportedFile) -> Void)?

    /// Removes `id` when it is an entry of `pid` (any pid when nil).
    func remove(_ id: UInt64, pid: Int32? = nil) {
        let gone = lock.withLock { () -> ExportedFile? in
            guard let e = entries[id], pid == nil || e.pid == pid else { return nil }
            entries[id] = nil
            forget(pid: e.pid)
            return stillHeld(e.file) ? nil : e.file
        }
        if let gone { onDrop?(gone) }
    }

    var count: Int { lock.withLock { entries.count } }

    func connectionOpened(pid: Int32) { lock.withLock { connectionsPerPid[pid, default: 0] += 1 } }

    /// When the last connection of a process closes, its exports go (the process is gone or
    /// has no way left to name them).
    func connectionClosed(pid: Int32) {
        let gone: [ExportedFile] = lock.withLock {
            let n = (connectionsPerPid[pid] ?? 1) - 1
            if n > 0 {
                connectionsPerPid[pid] = n
                return []
            }
            connectionsPerPid[pid] = nil
            let dropped = entries.values.filter { $0.pid == pid }.map(\.file)
            entries = entries.filter { $0.value.pid != pid }
            entriesPerPid[pid] = nil
            return dropped.filter { !stillHeld($0) }
        }
        for f in gone { onDrop?(f) }
    }
}

extension ExportedFile {
    /// The object behind the fd (entries of two processes may name the same one).
    var object: AnyObject {
        switch self {
        case .syncFile(let o): o
        case .dmabuf(let o): o
        case .syncobj(let o): o
        case .card(let o): o
        case .timeline(let o): o
        }
    }

    var wireKind: WireKind {
        switch self {
        case .syncFile: .syncFile
        case .dmabuf: .dmabuf
        case .syncobj: .syncobj
        case .card: .card
        case .timeline: .timeline
        }
    }
}
