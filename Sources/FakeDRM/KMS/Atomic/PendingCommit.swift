/// A commit swapped into the software state whose flip has not completed yet (per CRTC).
final class PendingCommit {
    let crtcIndex: Int
    let newState: KMSState
    var events: [(file: FileContext, userData: UInt64)]
    let outFence: Fence?
    var armed = false
    var done = false
    /// The commit needs at least one vblank (the CRTC is active afterwards).
    let waitsForVblank: Bool
    /// Names the commit to a flip-completing backend.
    let token: UInt64
    /// The file that made it (0: the kernel itself, e.g. RMFB on close).
    var ownerFile = 0
    /// Held by a fault (`commit-hang`, `fence-never which=in`): it does not complete until the
    /// rules are cleared or its file closes.
    var held = false
    /// `commit-late`/`backend-slow`: no completion before this time.
    var notBeforeNs: Int64 = 0
    /// `backend-error`: the frame is not shown and the out-fence fails with this (negative).
    var backendError: Int32 = 0
    /// `fence-late which=in`: arms the commit when the delay is over (or its file closes).
    var deferredArm: (() -> Void)?
    /// Writeback jobs of the CRTC's writeback connectors, run once the commit is on screen.
    var writebacks: [WritebackJob] = []

    init(crtcIndex: Int, newState: KMSState, events: [(FileContext, UInt64)], outFence: Fence?, waitsForVblank: Bool, token: UInt64) {
        self.token = token
        self.crtcIndex = crtcIndex
        self.newState = newState
        self.events = events.map { (file: $0.0, userData: $0.1) }
        self.outFence = outFence
        self.waitsForVblank = waitsForVblank
    }

    func dropEvents(for file: FileContext) { events.removeAll { $0.file === file } }
}

/// A release fence waiting for the fbs its commit put on screen to leave it.
struct ReleaseWait {
    let fence: Fence
    var shown: [(planeIndex: Int, fb: ObjectID)]
    /// The commit that put them on screen: release is judged only after it latched.
    var armedAfter: PendingCommit?
    let crtcIndex: Int
    /// The commit's token, which a buffer-holding backend names when its host lets go.
    let token: UInt64
    /// The backend's host shows the buffers themselves: its release, not the fbs leaving the
    /// planes, says they are free (a host lets go of a buffer only once it has a newer one, which
    /// can be before the newer commit's frame callback).
    let hostHolds: Bool
    var hostReleased = false
    /// The file that made the commit: its close ends a wait on a host that never releases.
    let ownerFile: Int
}
