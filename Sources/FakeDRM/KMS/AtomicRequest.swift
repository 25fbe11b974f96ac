/// A decoded DRM_IOCTL_MODE_ATOMIC request: (object, [(property, value)]) in client order.
public struct AtomicRequest: Sendable {
    public var flags: UInt32
    public var userData: UInt64
    public var objects: [(id: ObjectID, props: [(prop: ObjectID, value: UInt64)])]

    public init(flags: UInt32, userData: UInt64 = 0, objects: [(id: ObjectID, props: [(prop: ObjectID, value: UInt64)])]) {
        self.flags = flags
        self.userData = userData
        self.objects = objects
    }
}

/// The proposed state of one commit plus what it asked for beyond state (fences, events).
struct AtomicProposal {
    var new: KMSState
    var touchedPlanes = Set<Int>()
    var touchedCRTCs = Set<Int>()
    var touchedConnectors = Set<Int>()
    var inFences: [Int: SyncFile] = [:]
    var outFencePtrs: [Int: UInt64] = [:]
    var releaseFencePtrs: [Int: UInt64] = [:]
    /// Connector DPMS via legacy SETPROPERTY maps to ACTIVE; atomic callers may not set it.
    var allowDPMS = false
}
