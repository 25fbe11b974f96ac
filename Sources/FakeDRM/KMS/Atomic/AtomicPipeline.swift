import Dispatch

/// The atomic pipeline: request → proposed state → checks → swap → flip → latch. It holds the
/// software state GET ioctls report, the latched state on screen, and the commits in flight
/// with their fences. Under the device lock.
///
/// @unchecked Sendable: a DeviceRoom (its state only with the device lock held).
public final class AtomicPipeline: DeviceRoom, @unchecked Sendable {
    /// Software state: what GET ioctls report, swapped at commit time.
    var state: KMSState
    /// What the display is showing: updated when a flip completes.
    var latched: KMSState
    /// The commit in flight per CRTC (swapped in, flip not complete).
    var pendingCommits: [PendingCommit?] = []
    var releaseWaits: [ReleaseWait] = []
    /// Fences of EXPORT_SYNC_FILE (write) on buffers the card is scanning out.
    var scanoutWaits: [(buffer: BufferObject, fence: Fence)] = []
    var nextCommitToken: UInt64 = 1
    /// Composes writeback frames off the lock, in commit order (vkms's composer worker).
    let writebackQueue = DispatchQueue(label: "fakedrm.writeback")
    /// GAMMA_LUTs built from blobs lately scanned out (gammaLUT(for:)).
    var gammaLUTs: [(data: [UInt8], lut: GammaLUT)] = []

    /// IN_FENCE_FD and the fence pointers: made once with the card (a connector plugged in
    /// later reuses them), so read without the lock.
    let fencePropertyIDs: [ObjectID]

    init(_ shared: Shared, initial: KMSState, fencePropertyIDs: [ObjectID]) {
        state = initial
        latched = initial
        self.fencePropertyIDs = fencePropertyIDs
        super.init(shared)
    }
}

/// DRM_IOCTL_MODE_ATOMIC: decode into a proposal, check, prepare signalling, swap, and hand the
/// new configuration to the display at the next vblank once in-fences have signalled.
extension AtomicPipeline {
    /// Returns the sync files to install for OUT_FENCE_PTR/RELEASE_FENCE_PTR; the front end
    /// installs them outside the lock and writes the fd numbers.
    public func atomic(_ file: FileContext, _ req: AtomicRequest) throws(DRMError) -> [FenceInstall] {
        try lock.withLock { () throws(DRMError) -> [FenceInstall] in
            // A TEST_ONLY commit leaves nothing for the clock to run.
            defer { if req.flags & DRMConst.atomicTestOnly == 0 { clock.runEagerClock() } }
            var p = AtomicProposal(new: state)
            p.resolvedInFences = req.inFences
            let objects: ModeObjectRegistry = objects, files: FileRegistry = files
            try req.forEachObject { (id, pairs) throws(DRMError) in
                guard let type = objects.objectType(id), type.carriesAtomicState, files.leaseHeld(file, id) else {
                    throw .notFound.because(.atomic, "[OBJECT:\(id)] is not a CRTC, plane or connector this file may use")
                }
                let attached = objects.visibleProperties(of: id, for: file) ?? []
                for k in pairs {
                    let propID = req.propIDs[k]
                    guard let prop = attached.first(where: { $0.id == propID }) else {
                        throw .notFound.because(.atomic, "[OBJECT:\(id)] has no property [PROP:\(propID)]")
                    }
                    try setProperty(&p, objectID: id, prop: prop, value: req.values[k])
                }
            }
            return try commitProposal(p, file: file, flags: req.flags, userData: req.userData)
        }
    }

    /// drm_mode_atomic_ioctl's flag rules, before anything else (also the codec's first step).
    static func checkAtomicFlags(_ flags: UInt32) throws(DRMError) {
        if flags & ~DRMConst.atomicFlags != 0 {
            throw .invalidArgument.because(.atomic, "commit flags 0x\(String(flags, radix: 16)) outside DRM_MODE_ATOMIC_FLAGS")
        }
        // No async flips on this device (ATOMIC_ASYNC_PAGE_FLIP is 0).
        if flags & DRMConst.atomicPageFlipAsync != 0 { throw .invalidArgument.because(.atomic, "DRM_MODE_PAGE_FLIP_ASYNC: no async flips on this card") }
        if flags & DRMConst.atomicTestOnly != 0 && flags & DRMConst.atomicPageFlipEvent != 0 {
            throw .invalidArgument.because(.atomic, "TEST_ONLY with PAGE_FLIP_EVENT")
        }
    }

    /// Check and (unless TEST_ONLY) apply a proposal. Shared by atomic and the legacy paths.
    @discardableResult
    func commitProposal(_ proposal: AtomicProposal, file: FileContext, flags: UInt32, userData: UInt64) throws(DRMError) -> [FenceInstall] {
        let clock: DeviceClock = clock
        try Self.checkAtomicFlags(flags)
        var affected = affectedCRTCs(proposal)
        let wantsEvent = flags & DRMConst.atomicPageFlipEvent != 0
        if wantsEvent && affected.isEmpty { throw .invalidArgument.because(.atomic, "requesting event but no CRTC in the commit") }
        try check(proposal, flags: flags, eventCRTCs: wantsEvent ? affected : [])
        if let e = commitFailFault(testOnly: flags & DRMConst.atomicTestOnly != 0, file: file) { throw e }
        if flags & DRMConst.atomicTestOnly != 0 { return [] }
        // Copied only now: a TEST_ONLY commit never changes its proposal.
        var p = proposal

        if flags & DRMConst.atomicNonblock != 0 {
            if let c = affected.first(where: { pendingCommits[$0] != nil }) {
                throw .busy.because(.atomic, "\(topology.crtcs[c].tag) busy with a previous commit")
            }
        } else {
            // The kernel stalls on the previous commit with the modeset locks held; here the
            // lock is released while waiting, so the proposal is replayed onto whatever was
            // committed meanwhile and checked again (an fb removed meanwhile fails the check).
            var waited = false
            while affected.contains(where: { pendingCommits[$0] != nil }) {
                // The previous commit's in-fences may take any time; once it is armed, its flip
                // gets the kernel's 10 s (stall_checks/wait_for_dependencies log "timed out"
                // and go on): a flip a fault holds or never finishes is abandoned, its event
                // and fence never come, and this commit proceeds.
                _ = clock.waitUntil(timeoutNs: .max / 4, crtcIndex: nil) {
                    affected.allSatisfy { pendingCommits[$0]?.armed ?? true } || clock.shuttingDown
                }
                let finished = clock.waitUntil(timeoutNs: AtomicPipeline.flipDoneTimeoutNs, crtcIndex: nil) {
                    affected.allSatisfy { pendingCommits[$0] == nil } || clock.shuttingDown
                }
                if clock.shuttingDown { throw .noDevice.because(.atomic, "the card is shutting down") }
                if !finished {
                    for c in affected { if let stuck = pendingCommits[c] { abandon(stuck) } }
                }
                waited = true
                if state != p.base {
                    p = p.rebased(onto: state)
                    affected = affectedCRTCs(p)
                }
            }
            // Anything may have gone while the lock was released (an fb removed, a blob
            // destroyed): check again what is about to be swapped in.
            if waited {
                if wantsEvent && affected.isEmpty { throw .invalidArgument.because(.atomic, "requesting event but no CRTC in the commit") }
                try check(p, flags: flags, eventCRTCs: wantsEvent ? affected : [])
            }
        }

        // A fault in waiting for in-fences: a blocking commit waits before it swaps, so an
        // error ends it here with nothing applied; a nonblocking one ignores it, as the kernel.
        try addImplicitInFences(&p)
        let inFault = p.inFences.isEmpty ? .none : inFenceFault(file: file)
        if case .error(let e) = inFault, flags & DRMConst.atomicNonblock == 0 { throw .injected(e) }

        // prepare_signaling: reserve event space, create the fences.
        let eventSize = EventVblankLayout.size
        if wantsEvent {
            guard file.eventSpace >= eventSize * affected.count else {
                throw .noMemory.because(.atomic, "file \(file.id) has no event space left (unread events)")
            }
        }
        var installs: [FenceInstall] = []
        var outFences: [Int: Fence] = [:]
        var releaseFences: [Int: Fence] = [:]
        for c in affected {
            guard let ptr = p.outFencePtrs[c] else { continue }
            let crtc = topology.crtcs[c]
            crtc.fenceSeqno += 1
            let f = Fence(context: crtc.fenceContext, seqno: crtc.fenceSeqno, timelineName: crtc.timelineName, driverName: config.driver.name)
            installs.append(FenceInstall(pointer: ptr, syncFile: try SyncFile(fences: [f])))
            outFences[c] = f
        }
        // Release fences may also name CRTCs outside `affected` (nothing changes there);
        // each gets its own context since release order is independent of flip order.
        for (c, ptr) in p.releaseFencePtrs.sorted(by: { $0.key < $1.key }) {
            let f = Fence(context: Fence.allocateContext(), seqno: 1, timelineName: "release-\(topology.crtcs[c].timelineName)", driverName: config.driver.name)
            installs.append(FenceInstall(pointer: ptr, syncFile: try SyncFile(fences: [f])))
            releaseFences[c] = f
        }
        let writebacks = try prepareWritebacks(p, installs: &installs)
        if wantsEvent { file.eventSpace -= eventSize * affected.count }

        // Swap: the software state is the new one from now on.
        state = p.new
        for c in affected { vblank.updateVblankClock(c) }
        let inFences = Array(p.inFences.values)
        for c in affected {
            let active = p.new.crtcs[c].active
            let pc = PendingCommit(crtcIndex: c, newState: p.new, events: wantsEvent ? [(file, userData)] : [],
                                   outFence: outFences[c], waitsForVblank: active, token: nextCommitToken)
            nextCommitToken += 1
            pc.ownerFile = file.id
            pc.writebacks = writebacks[c] ?? []
            if case .never = inFault { pc.held = true }
            pendingCommits[c] = pc
        }
        // Release fences: remember which fbs the commit leaves on each CRTC's planes.
        for (c, f) in releaseFences {
            let crtcID = topology.crtcs[c].id
            let shown = p.new.planes.enumerated().filter { $0.element.crtc == crtcID && $0.element.fb != 0 }.map { (planeIndex: $0.offset, fb: $0.element.fb) }
            releaseWaits.append(ReleaseWait(fence: f, shown: shown, armedAfter: pendingCommits[c], crtcIndex: c,
                                            token: pendingCommits[c]?.token ?? 0,
                                            // Nothing on screen, or no flip to show it: no host will hold anything.
                                            hostHolds: display.backend.holdsBuffers && !shown.isEmpty && pendingCommits[c] != nil,
                                            ownerFile: file.id))
        }
        let commits = affected.compactMap { pendingCommits[$0] }
        applyArmFaults(commits, file: file)
        let arm = { [weak device = self.device] in
            // Also breaks the cycle commit -> deferredArm -> this closure -> commits.
            for pc in commits { pc.deferredArm = nil }
            guard let device else { return }
            for pc in commits where !pc.armed {
                pc.armed = true
                device.pipeline.startFlip(pc)
            }
            device.lock.broadcast()
        }
        if inFences.isEmpty {
            arm()
        } else {
            var left = inFences.count
            let lateNs: Int64 = if case .late(let ns) = inFault { ns } else { 0 }
            for sf in inFences {
                sf.onSignalled { [weak device = self.device] in
                    left -= 1
                    guard left == 0 else { return }
                    if lateNs > 0, let device {
                        for pc in commits { pc.deferredArm = arm }
                        device.clock.schedule(after: lateNs, arm)
                    } else {
                        arm()
                    }
                }
            }
        }
        if affected.isEmpty { settleReleases(at: clock.nowNs()) }
        collectGarbage()

        if flags & DRMConst.atomicNonblock == 0 {
            // Blocking commits return once the new configuration is on screen, however long
            // in-fences take (the kernel waits for them without a limit too).
            // Then drm_atomic_helper_wait_for_flip_done gives the flip 10 s, logs, and the
            // ioctl returns 0 with the flip still pending (it only matters under faults).
            _ = clock.waitUntil(timeoutNs: .max / 4, crtcIndex: nil) { commits.allSatisfy(\.armed) || clock.shuttingDown }
            _ = clock.waitUntil(timeoutNs: AtomicPipeline.flipDoneTimeoutNs, crtcIndex: nil) { commits.allSatisfy(\.done) || clock.shuttingDown }
        }
        return installs
    }

    /// drm_atomic_helper_wait_for_flip_done's and stall_checks' limit.
    static let flipDoneTimeoutNs: Int64 = 10_000_000_000

    /// drm_atomic_set_property's common part, then the object kind's own rules.
    func setProperty(_ p: inout AtomicProposal, objectID: ObjectID, prop: PropertyDef, value: UInt64) throws(DRMError) {
        var tag: String { "[PROP:\(prop.id):\(prop.name)]" }  // built only for a reason
        guard prop.valueIsInRange(value) else { throw .invalidArgument.because(.atomic, "\(tag) value 0x\(String(value, radix: 16)) out of range on [OBJECT:\(objectID)]") }
        if prop.isImmutable { throw .invalidArgument.because(.atomic, "\(tag) is immutable") }
        try validateObjectValue(prop, value)
        let t = topology
        if let i = t.planeIndex(of: objectID) {
            p.touchedPlanes.insert(i)
            try t.planes[i].set(prop, value, in: &p, objects: objects)
        } else if let i = t.crtcIndex(of: objectID) {
            p.touchedCRTCs.insert(i)
            try t.crtcs[i].set(prop, value, in: &p, objects: objects)
        } else if let i = t.connectorIndex(id: objectID) {
            p.touchedConnectors.insert(i)
            try t.connectors[i].set(prop, value, in: &p, topology: t)
        } else {
            throw .notFound.because(.atomic, "[OBJECT:\(objectID)] has no atomic state")
        }
    }

    /// drm_property_change_valid_get: OBJECT and BLOB values must name an existing object of
    /// the right type (else EINVAL).
    private func validateObjectValue(_ prop: PropertyDef, _ value: UInt64) throws(DRMError) {
        if prop.typeBits == PropertyDef.object, value != 0 {
            guard value <= UInt64(UInt32.max), let want = prop.values.first.flatMap({ ObjectType(rawValue: UInt32(truncatingIfNeeded: $0)) }),
                  objects.objectType(ObjectID(value), expecting: want) != nil else {
                throw .invalidArgument.because(.atomic, "[PROP:\(prop.id):\(prop.name)] \(value) is not an object of the property's type")
            }
        }
        if prop.typeBits == PropertyDef.blob, value != 0 {
            guard value <= UInt64(UInt32.max), objects.blobs[ObjectID(value)] != nil else {
                throw .invalidArgument.because(.atomic, "[PROP:\(prop.id):\(prop.name)] blob \(value) does not exist")
            }
        }
    }

    /// (object, property, kind) for every fence property the request names on an object it is
    /// attached to, so the front end can do the client-side work before the lock is taken.
    func fenceProperties(in req: AtomicRequest) -> [(ObjectID, ObjectID, PropertyKind)] {
        // Most commits name no fence property at all: then the lock is not needed.
        guard req.propIDs.contains(where: fencePropertyIDs.contains) else { return [] }
        return lock.withLock {
            var out: [(ObjectID, ObjectID, PropertyKind)] = []
            let objects: ModeObjectRegistry = objects
            req.forEachObject { id, pairs in
                let attached = topology.crtc(id: id)?.properties ?? topology.plane(id: id)?.properties ?? topology.connector(id: id)?.properties ?? []
                for k in pairs where attached.contains(req.propIDs[k]) {
                    let propID = req.propIDs[k]
                    guard let kind = objects.properties[propID]?.kind, kind.isFence else { continue }
                    if !out.contains(where: { $0.0 == id && $0.1 == propID }) { out.append((id, propID, kind)) }
                }
            }
            return out
        }
    }

    /// Drops unlisted fbs and blobs that no state (current, latched or pending) references.
    /// Runs after every commit and flip: it allocates only when something is freed.
    func collectGarbage() {
        let objects: ModeObjectRegistry = objects
        guard !objects.unlistedFramebuffers.isEmpty || !objects.unlistedBlobs.isEmpty else { return }
        func shown(_ test: (KMSState) -> Bool) -> Bool {
            if test(state) || test(latched) { return true }
            for p in pendingCommits { if let p, test(p.newState) { return true } }
            return false
        }
        var fbs: [ObjectID] = [], blobs: [ObjectID] = []
        for id in objects.unlistedFramebuffers where !shown({ $0.planes.contains { $0.fb == id } }) { fbs.append(id) }
        for id in objects.unlistedBlobs where !shown({ s in
            s.planes.contains { $0.damageBlob == id } || s.crtcs.contains { $0.modeBlob == id || $0.gammaBlob == id }
        }) { blobs.append(id) }
        if !fbs.isEmpty || !blobs.isEmpty { objects.free(framebuffers: fbs, blobs: blobs) }
    }

    /// A closing file's commits delayed or held by faults go on now, and its release fences
    /// stop waiting for the host, so nothing of it outlives the close (the kernel gives up on a
    /// flip_done after 10 s).
    func releaseCommits(of file: FileContext) {
        for pc in pendingCommits.compactMap({ $0 }) where pc.ownerFile == file.id {
            pc.notBeforeNs = 0
            if let a = pc.deferredArm { a() }
            pc.deferredArm = nil
            if pc.held { releaseHeld(pc) }
        }
        // Nobody can reuse the closing file's buffers any more: a host that never releases
        // them holds no release fence past the close.
        var changed = false
        for i in releaseWaits.indices where releaseWaits[i].ownerFile == file.id && releaseWaits[i].hostHolds && !releaseWaits[i].hostReleased {
            releaseWaits[i].hostReleased = true
            changed = true
        }
        if changed { settleReleases(at: clock.nowNs()) }
    }

    func dropEvents(of file: FileContext) {
        for i in pendingCommits.indices { pendingCommits[i]?.dropEvents(for: file) }
    }
}
