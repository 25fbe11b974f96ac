/// A decoded DRM_IOCTL_MODE_ATOMIC request: the four client arrays as read (objects in
/// client order, each object's property count, then every (property, value) pair in order).
/// Kept as the client laid them out: a copy into per-object or per-pair values costs an
/// allocation per commit and, for arrays of tuples, a runtime metadata lookup each.
public struct AtomicRequest: Sendable {
    public var flags: UInt32
    public var userData: UInt64
    public var objectIDs: [ObjectID]
    /// count_props_ptr: how many pairs each object has, in order.
    public var propCounts: [UInt32]
    public var propIDs: [ObjectID]
    public var values: [UInt64]
    /// IN_FENCE_FD values the front end resolved to sync files before the device lock is taken
    /// (a client callback must never run under the lock); a missing fd is not a sync file.
    public var inFences: [Int32: SyncFile]

    /// `propCounts` must have one count per object and add up to the pairs given.
    public init(flags: UInt32, userData: UInt64 = 0, objectIDs: [ObjectID], propCounts: [UInt32], propIDs: [ObjectID], values: [UInt64], inFences: [Int32: SyncFile] = [:]) {
        precondition(objectIDs.count == propCounts.count && propIDs.count == values.count
                     && propCounts.reduce(0, { $0 + Int($1) }) == propIDs.count, "inconsistent atomic request")
        self.flags = flags
        self.userData = userData
        self.objectIDs = objectIDs
        self.propCounts = propCounts
        self.propIDs = propIDs
        self.values = values
        self.inFences = inFences
    }

    /// One object with the range of its pairs in `propIDs` and `values`, in client order.
    func forEachObject<E: Error>(_ body: (ObjectID, Range<Int>) throws(E) -> Void) throws(E) {
        var k = 0
        for i in objectIDs.indices {
            let n = Int(propCounts[i])
            try body(objectIDs[i], k..<k + n)
            k += n
        }
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
