/// DRM syncobj ioctls (drm_syncobj.c, binary and timeline) on each file's handle table; the
/// tables live in the files, the waits on the device lock. Stateless beyond them.
///
/// @unchecked Sendable: a DeviceRoom (its state only with the device lock held).
public final class SyncobjTable: DeviceRoom, @unchecked Sendable {}

extension SyncobjTable {
    func requireSyncobj() throws(DRMError) {
        guard config.syncobj else { throw .notSupported.because(.fences, "the card has no DRIVER_SYNCOBJ (syncobj: false)") }
    }

    /// drm_syncobj_find: an unknown handle is ENOENT for the array ioctls, transfer and the
    /// sync-file paths; HANDLE_TO_FD of a plain syncobj says EINVAL (`missing`).
    func syncobj(_ file: FileContext, _ h: UInt32, missing: DRMError = .notFound) throws(DRMError) -> Syncobj {
        guard let s = file.syncobjs[h] else { throw missing.because(.fences, "syncobj handle \(h) not found in file \(file.id)") }
        return s
    }

    /// Handles per file (limits.syncobjsPerFile): the kernel's bound is memory; one client's
    /// loop must not take the daemon's, so creation past it is ENOMEM.
    func addSyncobj(_ file: FileContext, _ s: Syncobj) throws(DRMError) -> UInt32 {
        guard file.syncobjs.count < config.limits.syncobjsPerFile else {
            throw .noMemory.because(.fences, "file \(file.id) already has limits.syncobjsPerFile (\(config.limits.syncobjsPerFile)) syncobjs")
        }
        var h = file.nextSyncobj
        while file.syncobjs[h] != nil || h == 0 { h &+= 1 }
        file.syncobjs[h] = s
        file.nextSyncobj = h &+ 1
        return h
    }

    public func syncobjCreate(_ file: FileContext, flags: UInt32) throws(DRMError) -> UInt32 {
        try lock.withLock { () throws(DRMError) -> UInt32 in
            try requireSyncobj()
            guard flags & ~1 == 0 else {
                throw .invalidArgument.because(.fences, "SYNCOBJ_CREATE flags 0x\(String(flags, radix: 16)) beyond CREATE_SIGNALED")
            }
            return try addSyncobj(file, Syncobj(signalled: flags & 1 != 0))
        }
    }

    public func syncobjDestroy(_ file: FileContext, handle: UInt32, pad: UInt32) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            try requireSyncobj()
            guard pad == 0 else { throw .invalidArgument.because(.fences, "SYNCOBJ_DESTROY pad \(pad) is not 0") }
            guard file.syncobjs.removeValue(forKey: handle) != nil else {
                throw .invalidArgument.because(.fences, "syncobj handle \(handle) not found in file \(file.id)")
            }
        }
    }

    /// HANDLE_TO_FD: EXPORT_SYNC_FILE (1) gives a sync_file of the fence (at `point` with
    /// the TIMELINE flag 2); otherwise an opaque syncobj fd. Installed outside the lock.
    public func syncobjHandleToFD(_ file: FileContext, handle: UInt32, flags: UInt32, point: UInt64, env: ClientEnv) throws(DRMError) -> Int32 {
        let export = try lock.withLock { () throws(DRMError) -> ExportedFile in
            try requireSyncobj()
            guard flags & ~3 == 0 else {
                throw .invalidArgument.because(.fences, "SYNCOBJ_HANDLE_TO_FD flags 0x\(String(flags, radix: 16)) beyond EXPORT_SYNC_FILE | TIMELINE")
            }
            if flags & 1 == 0 {
                guard flags == 0 else {
                    throw .invalidArgument.because(.fences, "SYNCOBJ_HANDLE_TO_FD TIMELINE flag without EXPORT_SYNC_FILE")
                }
                return .syncobj(try syncobj(file, handle, missing: .invalidArgument))
            }
            let s = try syncobj(file, handle)
            guard let f = s.fence(at: flags & 2 != 0 ? point : 0) else {
                throw .invalidArgument.because(.fences, "syncobj handle \(handle) has no fence at point \(flags & 2 != 0 ? point : 0) to export")
            }
            return .syncFile(try SyncFile(fences: [f]))
        }
        return try env.files.install(export, cloexec: true)
    }

    public func syncobjFDToHandle(_ file: FileContext, fd: Int32, flags: UInt32, handle: UInt32, point: UInt64, env: ClientEnv) throws(DRMError) -> UInt32 {
        guard flags & ~3 == 0 else {
            throw .invalidArgument.because(.fences, "SYNCOBJ_FD_TO_HANDLE flags 0x\(String(flags, radix: 16)) beyond IMPORT_SYNC_FILE | TIMELINE")
        }
        try lock.withLock { () throws(DRMError) in try requireSyncobj() }
        // fdget failing (a closed or negative fd) is EINVAL here, not EBADF.
        let looked: ExportedFile?
        do throws(DRMError) { looked = try env.files.lookup(fd: fd) } catch {
            throw .invalidArgument.because(.fences, "fd \(fd) is not an open file")
        }
        return try lock.withLock { () throws(DRMError) -> UInt32 in
            if flags & 1 == 0 {
                guard flags == 0, case .syncobj(let s)? = looked else {
                    throw .invalidArgument.because(.fences, flags == 0
                        ? "fd \(fd) is not a syncobj file"
                        : "SYNCOBJ_FD_TO_HANDLE TIMELINE flag without IMPORT_SYNC_FILE")
                }
                return try addSyncobj(file, s)
            }
            guard case .syncFile(let sf)? = looked else { throw .invalidArgument.because(.fences, "fd \(fd) is not a sync_file") }
            let s = try syncobj(file, handle)
            let fence = sf.fences.count == 1 ? sf.fences[0] : mergedFence(sf)
            if flags & 2 != 0 { s.add(fence, at: point) } else { s.replace(fence) }
            lock.broadcast() // a wait for submission (WAIT_AVAILABLE, a signalled fence) may be done
            return handle
        }
    }

    /// A fence that signals when every fence of a sync file has (a dma_fence_array).
    func mergedFence(_ sf: SyncFile) -> Fence {
        let f = Fence(context: Fence.allocateContext(), seqno: 1, timelineName: "array", driverName: config.driver.name)
        sf.onSignalled { f.signal(error: min(sf.status, 0)) }
        return f
    }

    public func syncobjReset(_ file: FileContext, handles: [UInt32]) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            try requireSyncobj()
            let objs = try handles.map { (h) throws(DRMError) -> Syncobj in try syncobj(file, h) }
            for s in objs { s.reset() }
        }
    }

    public func syncobjSignal(_ file: FileContext, handles: [UInt32], points: [UInt64]? = nil) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            try requireSyncobj()
            let objs = try handles.map { (h) throws(DRMError) -> Syncobj in try syncobj(file, h) }
            for (i, s) in objs.enumerated() {
                let f = Fence.signalled(driverName: config.driver.name)
                if let points, points[i] != 0 { s.add(f, at: points[i]) } else { s.replace(f) }
            }
            lock.broadcast()
        }
    }

    public func syncobjQuery(_ file: FileContext, handles: [UInt32], lastSubmitted: Bool) throws(DRMError) -> [UInt64] {
        try lock.withLock { () throws(DRMError) -> [UInt64] in
            try requireSyncobj()
            let objs = try handles.map { (h) throws(DRMError) -> Syncobj in try syncobj(file, h) }
            return objs.map { lastSubmitted ? $0.lastSubmittedPoint : $0.lastSignalledPoint() }
        }
    }

    public func syncobjTransfer(_ file: FileContext, src: UInt32, srcPoint: UInt64, dst: UInt32, dstPoint: UInt64, flags: UInt32, pad: UInt32) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            try requireSyncobj()
            guard pad == 0 else { throw .invalidArgument.because(.fences, "SYNCOBJ_TRANSFER pad \(pad) is not 0") }
            let d = try syncobj(file, dst), s = try syncobj(file, src)
            guard let f = s.fence(at: srcPoint) else {
                throw .invalidArgument.because(.fences, "syncobj handle \(src) has no fence at point \(srcPoint) to transfer")
            }
            if dstPoint == 0 { d.replace(f) } else { d.add(f, at: dstPoint) }
            lock.broadcast()
        }
    }

    /// drm_syncobj_eventfd_ioctl, in its order of checks: flags other than WAIT_AVAILABLE or
    /// a pad EINVAL, an unknown handle ENOENT, then the eventfd (EBADF, EINVAL when not one).
    public func syncobjEventfd(_ file: FileContext, handle: UInt32, flags: UInt32, point: UInt64, fd: Int32, pad: UInt32, env: ClientEnv) throws(DRMError) {
        let s = try lock.withLock { () throws(DRMError) -> Syncobj in
            try requireSyncobj()
            guard flags & ~4 == 0, pad == 0 else {
                throw .invalidArgument.because(.fences, pad != 0 && flags & ~4 == 0
                    ? "SYNCOBJ_EVENTFD pad \(pad) is not 0"
                    : "SYNCOBJ_EVENTFD flags 0x\(String(flags, radix: 16)) beyond WAIT_AVAILABLE")
            }
            return try syncobj(file, handle)
        }
        // Fetched outside the lock: on the socket it is a round trip to the client.
        let target = try EventfdTarget(try env.files.eventfd(fd: fd), budget: file.eventfdBudget)
        lock.withLock { s.addEventfd(target, point: point, availableOnly: flags & 4 != 0) }
    }

    /// WAIT/TIMELINE_WAIT. Flags: WAIT_ALL 1, WAIT_FOR_SUBMIT 2, WAIT_AVAILABLE 4. Returns
    /// the first signalled index. Timeout (absolute CLOCK_MONOTONIC) → ETIME. Each point's
    /// fences are taken once, at the start or (WAIT_FOR_SUBMIT) at their first submission, as
    /// drm_syncobj_array_wait_timeout does: a later reset or replacement does not change what
    /// the wait is waiting for (IGT's wait-*-snapshot).
    public func syncobjWait(_ file: FileContext, handles: [UInt32], points: [UInt64]?, timeoutNs: Int64, flags: UInt32) throws(DRMError) -> UInt32 {
        try lock.withLock { () throws(DRMError) -> UInt32 in
            try requireSyncobj()
            // WAIT_DEADLINE (8) is a hint to the signaller; none here needs it. WAIT_AVAILABLE
            // (4) is TIMELINE_WAIT's only (drm_syncobj_wait_ioctl refuses it).
            let allowed: UInt32 = points == nil ? 1 | 2 | 8 : 1 | 2 | 4 | 8
            guard flags & ~allowed == 0, !handles.isEmpty else {
                throw .invalidArgument.because(.fences, handles.isEmpty
                    ? "syncobj wait with no handles"
                    : "syncobj wait flags 0x\(String(flags, radix: 16)) beyond 0x\(String(allowed, radix: 16))")
            }
            let objs = try handles.map { (h) throws(DRMError) -> Syncobj in try syncobj(file, h) }
            let pts = points ?? Array(repeating: 0, count: objs.count)
            let waitAll = flags & 1 != 0, forSubmit = flags & 2 != 0, available = flags & 4 != 0
            let taken = WaitSnapshot(objs.indices.map { objs[$0].fences(upTo: pts[$0]) })
            // An unsubmitted point is EINVAL unless the wait may wait for it to appear.
            if !forSubmit && !available, let i = taken.fences.firstIndex(where: { $0 == nil }) {
                throw .invalidArgument.because(.fences, "syncobj handle \(handles[i]) point \(pts[i]) has no fence yet, and no WAIT_FOR_SUBMIT")
            }
            var watches: [(Syncobj, UInt64)] = []
            defer { for (s, id) in watches { s.unwatch(id) } }
            for i in objs.indices where taken.fences[i] == nil {
                watches.append((objs[i], objs[i].watchSubmit(point: pts[i]) { taken.fences[i] = $0 }))
            }
            func ready(_ i: Int) -> Bool {
                guard let f = taken.fences[i] else { return false }
                return available || f.allSatisfy(\.isSignalled)
            }
            func done() -> Bool { waitAll ? objs.indices.allSatisfy(ready) : objs.indices.contains(where: ready) }
            if !done() {
                // A past (or negative) absolute timeout is a poll, as drm_timeout_abs_to_jiffies.
                let now = Monotonic.nowNs()
                if timeoutNs <= now {
                    throw .timeExpired.because(.fences, "syncobj wait on \(handles.count) handle(s) not done by its (past) timeout")
                }
                let remaining = timeoutNs &- now
                _ = clock.waitUntil(timeoutNs: remaining, crtcIndex: nil, done)
                if !done() {
                    throw .timeExpired.because(.fences, "syncobj wait on \(handles.count) handle(s) timed out after \(remaining) ns")
                }
            }
            return UInt32(objs.indices.first(where: ready) ?? 0)
        }
    }
}

/// The fences one host wait took per syncobj (nil: not submitted yet).
final class WaitSnapshot {
    var fences: [[Fence]?]
    init(_ fences: [[Fence]?]) { self.fences = fences }
}
