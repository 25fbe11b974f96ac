import Dispatch
import Glibc

/// One fake card. All state is owned by `lock` (the kernel's mode_config mutex plus its wait
/// queues): front-end threads call in, the vblank thread ticks, both under the lock.
///
/// @unchecked Sendable: every stored property is read and written with `lock` held.
public final class Device: @unchecked Sendable {
    public let config: DeviceConfig
    let lock = DeviceLock()

    var objectIDs = ObjectIDAllocator()
    var objectTypes: [ObjectID: ObjectType] = [:]
    var properties: [ObjectID: PropertyDef] = [:]
    var attachedProperties: [ObjectID: (all: [PropertyDef], legacy: [PropertyDef])] = [:]
    var propertyByKind: [PropertyKind: PropertyDef] = [:]
    var crtcs: [CRTCObject] = []
    var encoders: [EncoderObject] = []
    var connectors: [ConnectorObject] = []
    var planes: [PlaneObject] = []
    var framebuffers: [ObjectID: Framebuffer] = [:]
    var blobs: [ObjectID: Blob] = [:]

    /// Software state: what GET ioctls report, swapped at commit time.
    var state: KMSState
    /// What the display is showing: updated when a flip completes.
    var latched: KMSState

    var files: [Int: FileContext] = [:]
    var nextFileID = 1
    var master: FileContext?
    var magics = MagicMap()
    var nextBOSerial: UInt64 = 1
    var nextMapOffset: UInt64 = 0x1_0000_0000
    /// MAP_DUMB offsets. Weak: the offset dies with the GEM object, as the kernel's vma node;
    /// the client's own mapping holds the memfd, not this table.
    var mapOffsets: [UInt64: WeakBufferObject] = [:]
    var createdBuffers: [WeakBufferObject] = []
    var createdBuffersCompactAt = 64
    /// GEM_FLINK names (dev->object_name_idr); an entry lives while its buffer has handles.
    var flinkNames: [UInt32: BufferObject] = [:]
    /// No name below it is free: each GEM_FLINK scans from here, not from 1.
    var lowestFreeFlinkName: UInt32 = 1
    /// Buffers alive per creating uid (FDReserve.perUserShare).
    let bufferOwners = BufferOwners()
    /// GAMMA_LUTs built from blobs lately scanned out (Device.gammaLUT(for:)).
    var gammaLUTs: [(data: [UInt8], lut: GammaLUT)] = []

    var vblank: [VblankClock] = []
    var pendingCommits: [PendingCommit?] = []
    var vblankWaiters: [VblankWaiter] = []
    var releaseWaits: [ReleaseWait] = []
    /// Fences of EXPORT_SYNC_FILE (write) on buffers the card is scanning out.
    var scanoutWaits: [(buffer: BufferObject, fence: Fence)] = []
    /// Composes writeback frames off the lock, in commit order (vkms's composer worker).
    let writebackQueue = DispatchQueue(label: "fakedrm.writeback")
    /// `eager`: eager virtual time runs to it as outstanding work; a timeout that only ends a
    /// wait nobody may be in (vgem's fence timeout) is not, or it would fire at once.
    var timedActions: [(dueNs: Int64, eager: Bool, action: () -> Void)] = []
    var virtualTime: Bool
    /// Virtual time that steps itself whenever work is pending (fakedrm run --virtual-time).
    public var eagerVirtualTime = false
    /// Starts at CLOCK_MONOTONIC's now: compositors compare vblank timestamps with their own
    /// clock (weston computes repaint delays from them), so virtual time must start there.
    var virtualNowNs: Int64 = Monotonic.nowNs()
    var timerThreadRunning = false
    /// Bumped by `ctl vblank rate`: the previous rate thread sees it and ends.
    var virtualRateGeneration = 0
    var nextCommitToken: UInt64 = 1
    /// Bumped on every connector change; front ends turn it into hotplug uevents.
    public internal(set) var hotplugGeneration: UInt64 = 0
    var hotplugObservers: [@Sendable (UInt64, ObjectID?) -> Void] = []
    var leaseObservers: [@Sendable () -> Void] = []
    var shuttingDown = false

    public private(set) var backend: ScanoutBackend
    /// Fault rules (docs/faults.md); thread-safe on their own.
    public let faults = FaultPolicy()
    public let ioctlStats = IoctlStats()
    public let trace = IoctlTrace()
    /// The CRTCs' CRC taps behind debugfs `crtc-N/crc/` (thread-safe on their own).
    public let crc: CRCCapture
    /// Kills the attached backend's process (`backend-crash`); set by whoever spawned it.
    public var crashBackendProcess: (@Sendable () -> Bool)? {
        get { lock.withLock { crashHook } }
        set { lock.withLock { crashHook = newValue } }
    }
    var crashHook: (@Sendable () -> Bool)?
    /// Real time the device started, for uptime in `ctl stats`.
    public let createdNs = Monotonic.nowNs()

    /// Swaps the display behind the card (e.g. a restarted vhost-user backend) without
    /// restarting the daemon.
    public func attachBackend(_ b: ScanoutBackend) {
        lock.withLock {
            backend = b
            b.attach(to: self)
            lock.broadcast()
        }
    }

    public init(config: DeviceConfig = DeviceConfig(), backend: ScanoutBackend? = nil, virtualTime: Bool? = nil) throws {
        try config.validate()
        self.config = config
        FDReserve.set(config.limits.fdReserve)
        self.backend = backend ?? VirtualBackend()
        self.virtualTime = virtualTime ?? (config.vblank == "virtual")
        state = KMSState(planes: [], crtcs: [], connectors: [])
        latched = state
        crc = CRCCapture(crtcCount: config.crtcs.count)
        try build()
        indexAttachedProperties()
        latched = state
        self.backend.attach(to: self)
        if !self.virtualTime { startTimerThread() }
        faults.setSeed(config.faults.seed)
        for rule in config.faults.rules {
            do throws(FaultSpec.ParseError) { try addFault(rule) } catch {
                throw DeviceConfig.Invalid(description: "invalid config: faults.rules: '\(rule)': \(error.message)")
            }
        }
    }

    deinit {
        lock.withLock {
            shuttingDown = true
            lock.broadcast()
        }
    }

    /// Stops the vblank thread; pending fences and events are dropped as on device removal.
    public func shutdown() {
        lock.withLock {
            // As on device removal: nothing will release these buffers any more.
            for w in releaseWaits { w.fence.signal(at: nowNs(), error: -19) }
            releaseWaits = []
            shuttingDown = true
            lock.broadcast()
        }
    }

    /// Runs `observer` (on a global queue, never under the device lock) after every connector
    /// change, with the new hotplug generation and the connector when only one changed: what
    /// the kernel announces as a HOTPLUG uevent (with CONNECTOR=id).
    public func addHotplugObserver(_ observer: @escaping @Sendable (UInt64, ObjectID?) -> Void) {
        lock.withLock { hotplugObservers.append(observer) }
    }

    /// Called with the lock held after `hotplugGeneration` moved.
    func announceHotplug(connector: ObjectID?) {
        let generation = hotplugGeneration
        let observers = hotplugObservers
        DispatchQueue.global().async { for o in observers { o(generation, connector) } }
    }

    func allocateID(_ type: ObjectType) -> ObjectID {
        let id = objectIDs.allocate()
        objectTypes[id] = type
        return id
    }

    func freeID(_ id: ObjectID) {
        guard objectTypes.removeValue(forKey: id) != nil else { return }
        objectIDs.free(id)
    }

    /// drm_mode_object_find: a type mismatch is "not found".
    func objectType(_ id: ObjectID, expecting: ObjectType = .any) -> ObjectType? {
        guard let t = objectTypes[id] else { return nil }
        if expecting != .any && expecting != t { return nil }
        return t
    }

    func crtc(id: ObjectID) -> CRTCObject? { crtcs.first { $0.id == id } }
    func plane(id: ObjectID) -> PlaneObject? { planes.first { $0.id == id } }
    func connector(id: ObjectID) -> ConnectorObject? { connectors.first { $0.id == id && !$0.removed } }
    /// The index of a connector clients can still see.
    func connectorIndex(id: ObjectID) -> Int? { connectors.firstIndex { $0.id == id && !$0.removed } }
    func encoder(id: ObjectID) -> EncoderObject? { encoders.first { $0.id == id } }

    // MARK: files

    /// A new open file of the card. The first opener becomes master (even read-only, as
    /// drm_info relies on).
    public func open(pid: Int32 = getpid(), uid: UInt32 = getuid()) throws(DRMError) -> FileContext {
        try lock.withLock { () throws(DRMError) -> FileContext in
            let f = try FileContext(id: nextFileID, pid: pid, uid: uid)
            f.eventfdBudget = EventfdBudget(limit: config.limits.eventfdsPerFile)
            nextFileID += 1
            files[f.id] = f
            // drm_file_alloc: a CAP_SYS_ADMIN opener is authenticated from the start.
            f.authenticated = isPrivileged(uid: uid)
            if master == nil {
                // drm_new_set_master: the first opener is master and authenticated.
                master = f
                f.wasMaster = true
                f.authenticated = true
            }
            return f
        }
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
            if master === file { master = nil }
            // Its commits delayed or held by faults go on now, so nothing of it outlives the
            // close (the kernel gives up on a flip_done after 10 s).
            for pc in pendingCommits.compactMap({ $0 }) where pc.ownerFile == file.id {
                pc.notBeforeNs = 0
                if let a = pc.deferredArm { a() }
                pc.deferredArm = nil
                if pc.held { releaseHeld(pc) }
            }
            let owned = framebuffers.values.filter { $0.ownerFile == file.id && $0.listed }.map(\.id).sorted()
            // One garbage collection for all of them (below), not one per framebuffer.
            for fbID in owned { try? removeFramebuffer(fbID, by: file, disablePlanes: true, collect: false) }
            for b in blobs.values where b.ownerFile == file.id { b.listed = false }
            (file.blobCount, file.blobBytes) = (0, 0)
            vblankWaiters.removeAll { $0.file === file }
            for i in pendingCommits.indices { pendingCommits[i]?.dropEvents(for: file) }
            for bo in file.dropAllHandles() { releaseName(bo) }
            file.syncobjs = [:]
            file.vgemFences.signalAll(at: nowNs())
            file.events = []
            file.readiness.clear()
            files[file.id] = nil
            magics.remove(file.magic)
            endLeases(of: file)
            if master === file { master = nil }
            collectGarbage()
            lock.broadcast()
        }
    }

    /// Drops unlisted fbs and blobs that no state (current, latched or pending) references.
    func collectGarbage() {
        var liveFBs = Set<ObjectID>()
        var liveBlobs = Set<ObjectID>()
        func mark(_ s: KMSState) {
            for p in s.planes {
                liveFBs.insert(p.fb)
                liveBlobs.insert(p.damageBlob)
            }
            for c in s.crtcs {
                liveBlobs.insert(c.modeBlob)
                liveBlobs.insert(c.gammaBlob)
            }
        }
        mark(state)
        mark(latched)
        for p in pendingCommits.compactMap({ $0 }) { mark(p.newState) }
        for (id, fb) in framebuffers where !fb.listed && !liveFBs.contains(id) {
            framebuffers[id] = nil
            freeID(id)
        }
        for (id, b) in blobs where !b.listed && !liveBlobs.contains(id) {
            blobs[id] = nil
            freeID(id)
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
            Counts(framebuffers: framebuffers.count, blobs: blobs.count, objects: objectTypes.count,
                   pendingCommits: pendingCommits.compactMap { $0 }.count, waiters: vblankWaiters.count)
        }
    }

    /// Buffer objects this device made that are still alive (handles, fbs, exports hold them).
    /// Per device, so leak checks are not disturbed by other devices in the same process.
    public func liveBufferCount() -> Int {
        lock.withLock {
            createdBuffers.removeAll { $0.object == nil }
            return createdBuffers.count
        }
    }
}
