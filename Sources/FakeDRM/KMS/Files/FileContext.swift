/// One open file of the card (a drm_file): handles, caps, master state, event queue.
///
/// @unchecked Sendable: all fields are touched only under the device lock.
public final class FileContext: @unchecked Sendable {
    public let id: Int
    public let pid: Int32
    public let uid: UInt32
    var universalPlanes = false
    var atomic = false
    var aspectRatio = false
    var writebackConnectors = false
    var stereo3D = false
    var cursorPlaneHotspot = false
    var authenticated = false
    /// Was master at some point: allows SET_MASTER again (the kernel's "was master" rule).
    var wasMaster = false
    var magic: UInt32 = 0
    var unique = ""
    var closed = false
    /// The last request of this file that failed, with its reason (`fakedrm ctl state`).
    var lastRejection: LastRejection?
    /// Set by Device.interruptRead; consumed by the blocking read it wakes.
    var readInterrupted = false

    var handles: [UInt32: BufferObject] = [:]
    /// Bytes behind `handles` (a buffer with two handles counts twice): limits.bufferMiBPerFile.
    var handleBytes = 0
    /// Framebuffers and blobs this file created and has not removed, and the blobs' bytes.
    var framebufferCount = 0
    var blobCount = 0
    var blobBytes = 0
    var nextHandle: UInt32 = 1
    var syncobjs: [UInt32: Syncobj] = [:]
    var nextSyncobj: UInt32 = 1
    /// VGEM_FENCE_ATTACH's fences (a card named vgem only).
    let vgemFences = VgemFences()
    /// SYNCOBJ_EVENTFD registrations of this file still holding a daemon copy of an eventfd.
    var eventfdBudget = EventfdBudget(limit: 1024)
    /// Set on a lessee file (CREATE_LEASE); its lessor lists it in `lessees`.
    var lease: Lease?
    var lessees: [FileContext] = []
    var nextLesseeID: UInt32 = 0

    /// Whole events waiting to be read, FIFO.
    var events: [[UInt8]] = []
    /// Bytes reserved for requested-but-undelivered plus unread events (kernel: 4096 budget).
    var eventSpace = 4096
    /// Readable while events are queued: the front end gives this fd to the client to poll.
    public let readiness: ReadinessFlag

    init(id: Int, pid: Int32, uid: UInt32) throws(DRMError) {
        self.id = id
        self.pid = pid
        self.uid = uid
        readiness = try ReadinessFlag()
    }

    func queue(event: [UInt8]) {
        events.append(event)
        readiness.set()
    }

    func handle(for bo: BufferObject) -> UInt32? {
        handles.first(where: { $0.value === bo })?.key
    }

    /// A fresh handle (CREATE_DUMB, GETFB): handles start at 1 and are never 0.
    func newHandle(_ bo: BufferObject) -> UInt32 {
        while handles[nextHandle] != nil || nextHandle == 0 { nextHandle &+= 1 }
        let h = nextHandle
        nextHandle &+= 1
        handles[h] = bo
        handleBytes += bo.size
        bo.handleCount += 1
        return h
    }

    /// Removes a handle; the buffer when it was one, for the caller to release its name.
    func dropHandle(_ h: UInt32) -> BufferObject? {
        guard let bo = handles.removeValue(forKey: h) else { return nil }
        handleBytes -= bo.size
        bo.handleCount -= 1
        return bo
    }

    /// Every handle, at close.
    func dropAllHandles() -> [BufferObject] {
        let all = Array(handles.values)
        for bo in all { bo.handleCount -= 1 }
        handles = [:]
        handleBytes = 0
        return all
    }
}

extension FileContext {
    /// The owner of internal commits; never queued events.
    static let kernel: FileContext = {
        guard let f = try? FileContext(id: 0, pid: 0, uid: 0) else { fatalError("eventfd unavailable at startup") }
        return f
    }()
}
