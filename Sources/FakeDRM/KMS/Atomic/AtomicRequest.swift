/// A decoded DRM_IOCTL_MODE_ATOMIC request: objects in client order, each with its run of
/// (property, value) pairs in `props`. Flat and of named types: arrays of tuples cost a runtime
/// metadata lookup per allocation, and an array per object an allocation each.
public struct AtomicRequest: Sendable {
    public struct Object: Sendable {
        public var id: ObjectID
        /// Its pairs, as indices into `props`.
        public var props: Range<Int>
        public init(id: ObjectID, props: Range<Int>) { self.id = id; self.props = props }
    }
    public struct Property: Sendable {
        public var prop: ObjectID
        public var value: UInt64
        public init(prop: ObjectID, value: UInt64) { self.prop = prop; self.value = value }
    }

    public var flags: UInt32
    public var userData: UInt64
    public var objects: [Object]
    public var props: [Property]
    /// IN_FENCE_FD values the front end resolved to sync files before the device lock is taken
    /// (a client callback must never run under the lock); a missing fd is not a sync file.
    public var inFences: [Int32: SyncFile]

    public init(flags: UInt32, userData: UInt64 = 0, objects: [Object], props: [Property], inFences: [Int32: SyncFile] = [:]) {
        self.flags = flags
        self.userData = userData
        self.objects = objects
        self.props = props
        self.inFences = inFences
    }
}

/// A sync file the kernel would install in the caller after a successful commit, and the
/// OUT_FENCE_PTR / RELEASE_FENCE_PTR pointer that receives its fd.
public struct FenceInstall: Sendable {
    public let pointer: UInt64
    public let syncFile: SyncFile
}

/// The proposed state of one commit plus what it asked for beyond state (fences, events).
struct AtomicProposal {
    var new: KMSState
    /// The state the proposal was built on: a blocking commit that had to wait rebases onto
    /// whatever other commits swapped in meanwhile.
    var base: KMSState
    var touchedPlanes = SmallIndexSet()
    var touchedCRTCs = SmallIndexSet()
    var touchedConnectors = SmallIndexSet()
    var inFences: [Int: SyncFile] = [:]
    var outFencePtrs: [Int: UInt64] = [:]
    var releaseFencePtrs: [Int: UInt64] = [:]
    /// Writeback connectors given WRITEBACK_FB_ID in this commit (0: a job without a buffer),
    /// and the WRITEBACK_OUT_FENCE_PTRs set, by connector index.
    var writebackJobs: [Int: ObjectID] = [:]
    var writebackFencePtrs: [Int: UInt64] = [:]
    var resolvedInFences: [Int32: SyncFile] = [:]
    /// Connector DPMS via legacy SETPROPERTY maps to ACTIVE; atomic callers may not set it.
    var allowDPMS = false

    init(new: KMSState) {
        let s = Self.withoutDamage(new)
        self.new = s
        base = s
    }

    /// FB_DAMAGE_CLIPS belongs to one commit: the kernel's plane-state duplication drops it, so
    /// a blob named by an earlier commit is not kept alive by later ones.
    static func withoutDamage(_ s: KMSState) -> KMSState {
        var out = s
        // Written only where set: a write would copy the planes array of every commit.
        for i in out.planes.indices where out.planes[i].damageBlob != 0 { out.planes[i].damageBlob = 0 }
        return out
    }

    /// The proposal replayed onto `current`: every object it changed takes its proposed state,
    /// every other object keeps the current one.
    func rebased(onto current: KMSState) -> AtomicProposal {
        var p = self
        let current = Self.withoutDamage(current)
        p.new = current
        for i in new.planes.indices where new.planes[i] != base.planes[i] { p.new.planes[i] = new.planes[i] }
        for i in new.crtcs.indices where new.crtcs[i] != base.crtcs[i] { p.new.crtcs[i] = new.crtcs[i] }
        for i in new.connectors.indices where new.connectors[i] != base.connectors[i] { p.new.connectors[i] = new.connectors[i] }
        p.base = current
        return p
    }
}
