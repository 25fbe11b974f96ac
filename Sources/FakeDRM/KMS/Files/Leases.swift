import Dispatch
import Glibc

/// A DRM lease (drm_lease.c): a new open file, the lessee, that is master of a subset of the
/// card's CRTCs, connectors and planes and sees only those. One level deep, as the kernel
/// refuses sub-leases. The lessor (the owner) keeps seeing and using everything.
final class Lease {
    let id: UInt32
    /// Weak: a lessor's file may go (its leases revoked) while the lessee's lives on.
    weak var lessor: FileContext?
    let objects: Set<ObjectID>
    var revoked = false

    init(id: UInt32, lessor: FileContext, objects: Set<ObjectID>) {
        self.id = id
        self.lessor = lessor
        self.objects = objects
    }
}

/// DRM leases (drm_lease.c): what a lessee may see, and CREATE/LIST/GET/REVOKE_LEASE.
extension FileRegistry {
    /// drm_mode_object_lease_required.
    static func leaseRequired(_ t: ObjectType) -> Bool { t == .crtc || t == .connector || t == .plane }

    /// _drm_lease_held: whether `f` may see and use object `id` (lock held).
    func leaseHeld(_ f: FileContext, _ id: ObjectID) -> Bool {
        guard let l = f.lease else { return true }
        guard let t = objects.objectTypes[id], Self.leaseRequired(t) else { return true }
        return !l.revoked && l.objects.contains(id)
    }

    /// drm_mode_object_find(dev, file_priv, ...): for a lessee, an object outside its lease
    /// does not exist, so every lookup a file's request makes goes through these (lock held).
    func crtcIndex(_ id: ObjectID, for f: FileContext) -> Int? {
        leaseHeld(f, id) ? topology.crtcIndex(of: id) : nil
    }

    func planeIndex(_ id: ObjectID, for f: FileContext) -> Int? {
        leaseHeld(f, id) ? topology.planeIndex(of: id) : nil
    }

    func connectorIndex(_ id: ObjectID, for f: FileContext) -> Int? {
        leaseHeld(f, id) ? topology.connectorIndex(id: id) : nil
    }

    /// drm_lease_filter_crtcs: a possible_crtcs mask in the lessee's numbering (its CRTC list).
    func leaseFilterCrtcs(_ f: FileContext, _ mask: UInt32) -> UInt32 {
        guard f.lease != nil else { return mask }
        var out: UInt32 = 0
        var n: UInt32 = 0
        for c in topology.crtcs where leaseHeld(f, c.id) {
            if mask & (1 << UInt32(c.index)) != 0 { out |= 1 << n }
            n += 1
        }
        return out
    }

    public func filterCrtcs(_ f: FileContext, _ mask: UInt32) -> UInt32 { lock.withLock { leaseFilterCrtcs(f, mask) } }

    /// A lessee is master of its lease while the lease stands and its lessor is the card's
    /// current master (drm_is_current_master: the lease owner must be dev->master) (lock held).
    func isActiveLessee(_ f: FileContext) -> Bool {
        guard let l = f.lease, !l.revoked, let lessor = l.lessor else { return false }
        return master === lessor
    }

    /// drm_is_current_master, which the ioctl table's DRM_MASTER flag asks (lock held). A
    /// revoked lessee still passes: _drm_lease_revoke empties its lease but leaves it master,
    /// so its requests fail later, at the object lookup, with ENOENT (IGT's lease-revoke).
    func isCurrentMaster(_ f: FileContext) -> Bool {
        if master === f { return true }
        guard let l = f.lease, let lessor = l.lessor else { return false }
        return master === lessor
    }

    /// drm_lease_held on a plane the legacy ioctl implies (the CRTC's primary or cursor):
    /// outside the lease it is EACCES, not ENOENT (lock held).
    func requireImplicitPlane(_ f: FileContext, _ planeIndex: Int) throws(DRMError) {
        guard leaseHeld(f, topology.planes[planeIndex].id) else {
            throw .permissionDenied.because(.leases, "\(topology.planes[planeIndex].tag) the request implies is not leased to file \(f.id)")
        }
    }

    /// DRM_IOCTL_MODE_CREATE_LEASE: the lessee file and its id. An empty list is a valid lease,
    /// as in the kernel; otherwise it needs a CRTC and a connector (and a plane for a
    /// universal-planes lessor), none leased already.
    public func createLease(_ f: FileContext, objects ids: [ObjectID], flags: UInt32) throws(DRMError) -> (lessee: FileContext, id: UInt32) {
        try lock.withLock { () throws(DRMError) -> (lessee: FileContext, id: UInt32) in
            if flags & ~UInt32(O_CLOEXEC | O_NONBLOCK) != 0 {
                throw .invalidArgument.because(.leases, "invalid flags 0x\(String(flags, radix: 16)) (O_CLOEXEC | O_NONBLOCK only)")
            }
            if f.lease != nil { throw .invalidArgument.because(.leases, "recursive leasing not allowed (file \(f.id) is a lessee)") }
            var set = Set<ObjectID>()
            var types = Set<ObjectType>()
            for id in ids {
                guard let t = objects.objectTypes[id] else { throw .notFound.because(.leases, "[OBJECT:\(id)] not found") }
                guard Self.leaseRequired(t) else {
                    throw .invalidArgument.because(.leases, "invalid object for lease: [OBJECT:\(id)] (\(t)) is not a CRTC, connector or plane")
                }
            }
            for id in ids {
                guard let t = objects.objectTypes[id] else { throw .notFound.because(.leases, "[OBJECT:\(id)] not found") }
                guard set.insert(id).inserted else {  // idr_alloc on a taken id
                    throw .noSpace.because(.leases, "Object \(id) cannot be inserted into leases: listed twice")
                }
                types.insert(t)
                // fill_object_idr: a lessor without universal planes leases a CRTC's primary
                // and cursor planes with it.
                if t == .crtc, !f.universalPlanes, let c = topology.crtcIndex(of: id) {
                    for p in topology.planes where (p.type == .primary || p.type == .cursor) && p.possibleCrtcs & (1 << UInt32(c)) != 0 {
                        guard set.insert(p.id).inserted else {
                            throw .noSpace.because(.leases, "Object \(p.id) cannot be inserted into leases: \(p.tag) is already in when \(topology.crtcs[c].tag) implies it")
                        }
                    }
                }
            }
            if !ids.isEmpty {
                if !types.contains(.crtc) || !types.contains(.connector) {
                    throw .invalidArgument.because(.leases, "lease validation failed: a lease needs a CRTC and a connector")
                }
                if f.universalPlanes && !types.contains(.plane) {
                    throw .invalidArgument.because(.leases, "lease validation failed: a universal-planes lessor must lease a plane")
                }
                // `lessees` holds standing leases only (revoke and close take them out).
                if let other = f.lessees.first(where: { !($0.lease?.objects.isDisjoint(with: set) ?? true) }) {
                    let taken = other.lease.map { $0.objects.intersection(set).sorted().map(String.init).joined(separator: ", ") } ?? ""
                    throw .busy.because(.leases, "object \(taken) already leased to file \(other.id)")
                }
            }
            if f.lessees.count >= config.limits.leasesPerFile {
                throw .noMemory.because(.leases, "file \(f.id) already has limits.leasesPerFile (\(config.limits.leasesPerFile)) leases")
            }
            let lessee = try makeFile(pid: f.pid, uid: f.uid)
            f.nextLesseeID += 1
            lessee.lease = Lease(id: f.nextLesseeID, lessor: f, objects: set)
            lessee.wasMaster = true
            // drm_mode_create_lease_ioctl: the lessee is authenticated (DRM_AUTH ioctls work).
            lessee.authenticated = true
            f.lessees.append(lessee)
            return (lessee, f.nextLesseeID)
        }
    }

    /// DRM_IOCTL_MODE_LIST_LESSEES: the ids of the caller's standing leases.
    public func listLessees(_ f: FileContext) throws(DRMError) -> [UInt32] {
        try lock.withLock { () throws(DRMError) -> [UInt32] in
            return f.lessees.compactMap { $0.lease?.id }
        }
    }

    /// DRM_IOCTL_MODE_GET_LEASE: a lessee's objects; for the owner every object id, as the
    /// kernel walks the whole object idr then.
    public func leasedObjects(_ f: FileContext) -> [ObjectID] {
        lock.withLock {
            if let l = f.lease { return l.revoked ? [] : l.objects.sorted() }
            return objects.objectTypes.keys.sorted()
        }
    }

    /// DRM_IOCTL_MODE_REVOKE_LEASE: the lessee keeps its file but loses every object.
    public func revokeLease(_ f: FileContext, id: UInt32) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            // _drm_find_lessee looks in the lease owner's table: a lessee naming itself (or a
            // sibling) finds a lease that is not its own to revoke.
            if let own = f.lease, let owner = own.lessor {
                if owner.lessees.contains(where: { $0.lease?.id == id }) {
                    throw .permissionDenied.because(.leases, "lease \(id) is not held by file \(f.id), itself lessee \(own.id)")
                }
                throw .notFound.because(.leases, "no lessee \(id) (file \(f.id) is itself lessee \(own.id))")
            }
            guard let lessee = f.lessees.first(where: { $0.lease?.id == id }) else {
                throw .notFound.because(.leases, "no lessee \(id) among file \(f.id)'s leases")
            }
            lessee.lease?.revoked = true
            f.lessees.removeAll { $0 === lessee }
            hotplug.announceLeaseChange()
            lock.broadcast()
        }
    }

    /// On close (lock held): a lessor's leases are revoked; a lessee leaves its lessor's list.
    /// Either is a lease change (drm_sysfs_lease_event).
    func endLeases(of file: FileContext) {
        let changed = !file.lessees.isEmpty || file.lease.map { !$0.revoked } == true
        for lessee in file.lessees { lessee.lease?.revoked = true }
        file.lessees = []
        if let l = file.lease { l.lessor?.lessees.removeAll { $0 === file } }
        if changed { hotplug.announceLeaseChange() }
    }

    /// The file is a lessee (made by CREATE_LEASE), revoked or not.
    public func isLessee(_ file: FileContext) -> Bool { lock.withLock { file.lease != nil } }

    /// Lessees of `file` made by CREATE_LEASE (front ends close the ones no process took up).
    public func lessees(of file: FileContext) -> [FileContext] { lock.withLock { file.lessees } }
}
