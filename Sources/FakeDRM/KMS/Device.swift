import Dispatch
import Glibc

/// One fake card: the owner of the lock, the topology, the open files and the rooms that hold
/// the rest (docs/architecture.md draws them). Front ends call into a room; rooms call sideways
/// through this object, always under `lock` (the kernel's mode_config mutex plus its wait queues).
///
/// @unchecked Sendable: its rooms are created in init and never replaced; their state is
/// touched with `lock` held.
public final class Device: @unchecked Sendable {
    public let config: DeviceConfig
    let lock: DeviceLock

    /// CRTCs, encoders, connectors and planes: the fixed hardware the config describes.
    let topology: Topology
    /// Ids, properties, framebuffers and blobs (the mode-object idr).
    public let objects: ModeObjectRegistry
    /// Proposed, current and latched state, pending flips and their fences.
    public let pipeline: AtomicPipeline
    /// Real or virtual time, timed actions, and the threads that keep them.
    public let clock: DeviceClock
    /// Per-CRTC vblank counters, waiters and CRC taps.
    public let vblank: VblankCounters
    /// Open files, the master, magics, leases, events.
    public let files: FileRegistry
    /// GEM objects, dumb buffers, PRIME, dma-buf fences, framebuffer creation.
    public let buffers: BufferManager
    public let syncobjs: SyncobjTable
    /// Connector changes at runtime and who is told about them.
    public let hotplug: Hotplug
    /// The scanout backend behind the card.
    public let display: Display
    /// Fault rules (docs/faults.md); thread-safe on their own.
    public let faults: FaultPolicy
    public let ioctlStats = IoctlStats()
    /// The files' read-only query snapshots (docs/snapshot.md).
    public let snapshots = QuerySnapshots()
    public let trace = IoctlTrace()

    public init(config: DeviceConfig = DeviceConfig(), backend: ScanoutBackend? = nil, virtualTime: Bool? = nil) throws {
        try config.validate()
        self.config = config
        FDReserve.set(config.limits.fdReserve)
        let shared = DeviceRoom.Shared(topology: Topology(), lock: DeviceLock(), faults: FaultPolicy(), config: config)
        (topology, lock, faults) = (shared.topology, shared.lock, shared.faults)
        objects = ModeObjectRegistry(shared)
        let initial = try CardBuilder.build(config, into: objects, topology: topology)
        pipeline = AtomicPipeline(shared, initial: initial, fencePropertyIDs: objects.properties.values.filter(\.kind.isFence).map(\.id).sorted())
        clock = DeviceClock(shared, virtualTime: virtualTime ?? (config.vblank == "virtual"))
        vblank = VblankCounters(shared, crtcCount: config.crtcs.count)
        files = FileRegistry(shared)
        buffers = BufferManager(shared)
        syncobjs = SyncobjTable(shared)
        hotplug = Hotplug(shared)
        display = Display(shared, backend: backend ?? VirtualBackend())
        for room: DeviceRoom in [objects, pipeline, clock, vblank, files, buffers, syncobjs, hotplug, display] { room.bind(to: self) }
        pipeline.pendingCommits = topology.crtcs.map { _ in nil }
        display.backend.attach(to: self)
        if !clock.virtualTime { clock.startTimerThread() }
        faults.setSeed(config.faults.seed)
        for rule in config.faults.rules {
            do throws(FaultSpec.ParseError) { try addFault(rule) } catch {
                throw DeviceConfig.Invalid(description: "invalid config: faults.rules: '\(rule)': \(error.message)")
            }
        }
    }

    deinit {
        lock.withLock {
            clock.shuttingDown = true
            lock.broadcast()
        }
    }

    /// Stops the vblank thread; pending fences and events are dropped as on device removal.
    public func shutdown() {
        lock.withLock {
            // As on device removal: nothing will release these buffers any more.
            for w in pipeline.releaseWaits { w.fence.signal(at: clock.nowNs(), error: -19) }
            pipeline.releaseWaits = []
            clock.shuttingDown = true
            lock.broadcast()
        }
    }

    // MARK: files

    /// A new open file of the card. The first opener becomes master (even read-only, as
    /// drm_info relies on).
    public func open(pid: Int32 = getpid(), uid: UInt32 = getuid()) throws(DRMError) -> FileContext {
        try lock.withLock { () throws(DRMError) -> FileContext in try files.add(pid: pid, uid: uid) }
    }

    /// Closing releases everything the file owned, as drm_file_free: its fbs are removed
    /// with RMFB semantics (planes showing them are disabled), blobs, handles, events.
    public func close(_ file: FileContext) {
        lock.withLock {
            guard !file.closed else { return }
            file.closed = true
            // Master goes first: the RMFB commit below waits for a vblank with the lock
            // released, and a client started right after this one exited must find the card
            // free, as it would on the kernel (where release finishes before the exit does).
            if files.master === file { files.master = nil }
            pipeline.releaseCommits(of: file)
            let owned = objects.framebuffers.values.filter { $0.ownerFile == file.id && $0.listed }.map(\.id).sorted()
            // One garbage collection for all of them (below), not one per framebuffer.
            for fbID in owned { try? buffers.removeFramebuffer(fbID, by: file, disablePlanes: true, collect: false) }
            for b in objects.blobs.values where b.ownerFile == file.id { objects.unlist(b) }
            (file.blobCount, file.blobBytes) = (0, 0)
            vblank.dropWaiters(of: file)
            pipeline.dropEvents(of: file)
            for bo in file.dropAllHandles() { buffers.releaseName(bo) }
            file.syncobjs = [:]
            file.vgemFences.signalAll(at: clock.nowNs())
            file.events = []
            file.readiness.clear()
            files.remove(file)
            if files.master === file { files.master = nil }
            pipeline.collectGarbage()
            snapshots.forget(file)
            snapshots.invalidate()
            lock.broadcast()
        }
    }

    /// Object counts for leak checks: tests compare them before opening and after closing.
    public struct Counts: Equatable, Sendable, CustomStringConvertible {
        public var framebuffers: Int
        public var blobs: Int
        public var objects: Int
        public var pendingCommits: Int
        public var waiters: Int
        public var description: String {
            "fbs=\(framebuffers) blobs=\(blobs) objects=\(objects) pending=\(pendingCommits) waiters=\(waiters)"
        }
    }

    public func counts() -> Counts {
        lock.withLock {
            Counts(framebuffers: objects.framebuffers.count, blobs: objects.blobs.count, objects: objects.objectTypes.count,
                   pendingCommits: pipeline.pendingCommits.compactMap { $0 }.count, waiters: vblank.waiters.count)
        }
    }
}
