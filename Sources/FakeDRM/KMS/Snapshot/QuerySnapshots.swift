import CFakeDRMSys
import Glibc
import Synchronization

/// The read-only query snapshots of a card's files (docs/snapshot.md): each file that asks for
/// one gets a memfd holding its answers to the read-only queries, which the preload library
/// maps read-only and answers from without a round trip.
///
/// Cheap on the paths that change state: a change only marks every snapshot stale (one
/// compare-and-swap on its seqlock word, nothing when no file has a snapshot), and a stale
/// snapshot is encoded again only when its file asks the daemon a second snapshotted query
/// since the last change (`refresh`), i.e. after the library found it stale twice. So a client
/// that commits every frame and queries once per frame (or never) costs no encoding, and a
/// burst of queries after a change costs one.
///
/// Marking is done after the change, before the request that made it returns (or under the
/// device lock for changes no request makes); an encoding runs under the device lock. So a
/// snapshot marked valid describes a state no older than the last change whose request has
/// returned.
public final class QuerySnapshots: @unchecked Sendable {
    private let lock = DeviceLock()
    /// Under `lock`, by file id (ids are never reused, unlike addresses); dropped when the file closes.
    private var published: [Int: FileSnapshot] = [:]
    /// Lets `invalidate` skip the lock when no file has a snapshot (the Direct path, CUSE).
    private let count = Atomic<Int>(0)

    /// The snapshot of `file`, made (stale) on first use; nil when the memfd cannot be made.
    func snapshot(for file: FileContext) -> FileSnapshot? {
        lock.withLock {
            if let s = published[file.id] { return s }
            guard let s = try? FileSnapshot() else { return nil }
            published[file.id] = s
            count.store(published.count, ordering: .releasing)
            return s
        }
    }

    /// The file closed: its snapshot goes (mappings in clients stay valid, and stale).
    func forget(_ file: FileContext) {
        guard count.load(ordering: .acquiring) > 0 else { return }
        lock.withLock {
            published[file.id]?.markStale()
            published[file.id] = nil
            count.store(published.count, ordering: .releasing)
        }
    }

    /// Requests that may change what a snapshotted query answers and have not returned. While
    /// one is running no snapshot is valid: a blocking commit swaps the state and then waits
    /// for its flip, and its file's answers (and everyone's) must come from the daemon from the
    /// swap on, not only from its return.
    private let changing = Atomic<Int>(0)

    /// A request that may change answers starts: stale until `endChange`.
    func beginChange() {
        changing.add(1, ordering: .sequentiallyConsistent)
        invalidate()
    }

    /// ... and returns, changes made: stale again (an encoding in between may have seen them
    /// half done).
    func endChange() {
        changing.subtract(1, ordering: .sequentiallyConsistent)
        invalidate()
    }

    /// Something a snapshotted query answers may have changed: every snapshot is stale.
    public func invalidate() {
        guard count.load(ordering: .acquiring) > 0 else { return }
        lock.withLock { for s in published.values { s.markStale() } }
    }

    /// Encodes `file`'s snapshot again if it is stale. Not while fault rules exist (an ioctl
    /// rule must see every query), while `ctl trace --all` follows (it lists every ioctl), or
    /// while ioctls are recorded.
    func refresh(_ device: Device, _ file: FileContext) {
        guard let s = lock.withLock({ published[file.id] }), s.isStale, changing.load(ordering: .sequentiallyConsistent) == 0,
              s.missedSinceChange.add(1, ordering: .relaxed).newValue >= 2 else { return }
        device.lock.withLock {
            guard !file.closed, !device.faults.hasRules, !device.trace.recordsSuccesses else { return }
            // A change that begins while this runs either finds the snapshot published (and
            // marks it stale itself) or is seen by the check after publishing, which runs before
            // the lock lets that change touch the state.
            s.publish(SnapshotEncoder.encode(device, file)) {
                self.changing.load(ordering: .sequentiallyConsistent) == 0 && !device.faults.hasRules && !device.trace.recordsSuccesses
            }
        }
    }
}

/// One file's snapshot memfd, mapped read-write here and read-only in clients.
final class FileSnapshot: @unchecked Sendable {
    let memory: SharedMemory
    /// Snapshotted queries the daemon answered since the last change: an encoding (roughly
    /// 0.2 ms of daemon time for the default card, docs/snapshot.md) pays off for a burst, not
    /// for one query per change.
    let missedSinceChange = Atomic<Int>(0)

    init() throws(DRMError) {
        memory = try SharedMemory(size: SnapshotLayout.capacity, name: "fakedrm-snapshot")
        // Stale until first encoded (seq 1); the library checks magic and version at map time.
        memory.base.storeBytes(of: SnapshotLayout.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        memory.base.storeBytes(of: SnapshotLayout.version.littleEndian, toByteOffset: 4, as: UInt32.self)
        cfd_store_release_u64(memory.base + SnapshotLayout.seqOffset, 1)
    }

    private var seq: UnsafeMutableRawPointer { memory.base + SnapshotLayout.seqOffset }

    var isStale: Bool { cfd_load_acquire_u64(seq) & 1 != 0 }

    /// Even → odd: readers that started before fall back when they check again.
    func markStale() {
        missedSinceChange.store(0, ordering: .relaxed)
        let s = cfd_load_acquire_u64(seq)
        if s & 1 == 0 { _ = cfd_cas_u64(seq, s, s + 1) }
    }

    /// Writes an encoding and makes it valid (odd → even) if `quiet` holds before and after;
    /// called with the device lock held, with the snapshot stale. An encoding that does not fit
    /// leaves it stale.
    func publish(_ bytes: [UInt8], quiet: () -> Bool) {
        let s = cfd_load_acquire_u64(seq)
        guard s & 1 != 0, bytes.count <= memory.size else { return }
        bytes.withUnsafeBytes { b in
            // The header's seq word is the live one; everything else is the new encoding.
            guard let base = b.baseAddress, b.count >= SnapshotLayout.headerSize else { return }
            memory.base.copyMemory(from: base, byteCount: SnapshotLayout.seqOffset)
            (memory.base + SnapshotLayout.usedOffset).copyMemory(from: base + SnapshotLayout.usedOffset,
                                                               byteCount: bytes.count - SnapshotLayout.usedOffset)
        }
        guard quiet() else { return }
        cfd_store_release_u64(seq, s + 1)
        // The store before the check's load: a change that began after the first check saw
        // the snapshot still stale (and left it) and is seen now.
        cfd_fence_seq_cst()
        if !quiet() { markStale() }
    }
}
