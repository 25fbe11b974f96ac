/// Objects installed as fds in clients (sync files, dma-bufs, syncobjs), by wire id. Shared by
/// every connection of a server, so a sync file exported on one connection is usable on
/// another (the preload library sends sync-file ioctls on its process-wide AUX connection).
/// An entry lives until SYNC_RELEASE names it or every connection of its process is gone.
///
/// @unchecked Sendable: all state is guarded by `lock`.
final class ExportRegistry: @unchecked Sendable {
    private let lock = DeviceLock()
    private var nextID: UInt64 = 1
    private var entries: [UInt64: (file: ExportedFile, pid: Int32)] = [:]
    private var connectionsPerPid: [Int32: Int] = [:]
    private var entriesPerPid: [Int32: Int] = [:]
    /// Each entry holds daemon fds (a sync file's eventfd, a dma-buf's memfd): one process
    /// creating fences or timelines without bound gets ENOMEM here, not the daemon's EMFILE.
    let maxPerProcess: Int

    init(maxPerProcess: Int = 8192) { self.maxPerProcess = maxPerProcess }

    /// nil when the process is at its limit.
    func add(_ file: ExportedFile, pid: Int32) -> UInt64? {
        lock.withLock {
            guard entriesPerPid[pid, default: 0] < maxPerProcess else { return nil }
            let id = nextID
            nextID += 1
            entries[id] = (file, pid)
            entriesPerPid[pid, default: 0] += 1
            return id
        }
    }

    private func forget(pid: Int32) {
        let n = entriesPerPid[pid, default: 1] - 1
        entriesPerPid[pid] = n > 0 ? n : nil
    }

    func get(_ id: UInt64) -> ExportedFile? { lock.withLock { entries[id]?.file } }

    /// Runs (outside the lock) for every entry that goes: a timeline's last close signals
    /// what it still has pending.
    var onDrop: (@Sendable (ExportedFile) -> Void)?

    func remove(_ id: UInt64) {
        let gone = lock.withLock { () -> ExportedFile? in
            guard let e = entries.removeValue(forKey: id) else { return nil }
            forget(pid: e.pid)
            return e.file
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
            return dropped
        }
        for f in gone { onDrop?(f) }
    }
}

extension ExportedFile {
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
