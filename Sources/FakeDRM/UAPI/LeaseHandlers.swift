import Glibc

/// DRM leases: CREATE_LEASE hands back a new card fd (the lessee), LIST_LESSEES, GET_LEASE,
/// REVOKE_LEASE (drm_lease.c).
enum LeaseHandlers {
    static func register(_ t: inout CodecTable) {
        t.add(0xC6, "MODE_CREATE_LEASE", CreateLeaseArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let c = CreateLeaseArg.self
            if a[c.flags] & ~UInt32(O_CLOEXEC | O_NONBLOCK) != 0 { throw .invalidArgument.because(.leases, "CREATE_LEASE flags 0x\(String(a[c.flags], radix: 16)) beyond O_CLOEXEC|O_NONBLOCK") }
            // memdup_user of count × 4 bytes: more than kmalloc can give is ENOMEM.
            if UInt64(a[c.objectCount]) * 4 > 4 << 20 { throw .noMemory.because(.leases, "CREATE_LEASE object_count \(a[c.objectCount]) is more than a copy may take") }
            let ids = try env.memory.readU32s(at: a[c.objectIds], count: a[c.objectCount])
            let (lessee, id) = try d.files.createLease(f, objects: ids, flags: a[c.flags])
            let fd: Int32
            do throws(DRMError) {
                fd = try env.files.install(.card(lessee), cloexec: a[c.flags] & UInt32(O_CLOEXEC) != 0)
            } catch {
                // No fd, no lease: undo it as the kernel does when fd installation fails.
                try? d.files.revokeLease(f, id: id)
                d.close(lessee)
                throw error
            }
            a[c.lesseeId] = id
            a[c.fd] = UInt32(bitPattern: fd)
        }
        t.add(0xC7, "MODE_LIST_LESSEES", ListLesseesArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let l = ListLesseesArg.self
            if a[l.pad] != 0 { throw .invalidArgument.because(.leases, "drm_mode_list_lessees.pad is not 0") }
            let ids = try d.files.listLessees(f)
            let room = a[l.countLessees]
            if room >= UInt32(ids.count), !ids.isEmpty { try env.memory.write(LE.bytes(ids), at: a[l.lesseesPtr]) }
            a[l.countLessees] = UInt32(ids.count)
        }
        t.add(0xC8, "MODE_GET_LEASE", GetLeaseArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let g = GetLeaseArg.self
            if a[g.pad] != 0 { throw .invalidArgument.because(.leases, "drm_mode_get_lease.pad is not 0") }
            let ids = d.files.leasedObjects(f)
            let room = Int(a[g.countObjects])
            if room > 0, !ids.isEmpty { try env.memory.write(LE.bytes(ids.prefix(room)), at: a[g.objectsPtr]) }
            a[g.countObjects] = UInt32(ids.count)
        }
        t.add(0xC9, "MODE_REVOKE_LEASE", RevokeLeaseArg.self, [.master]) { d, f, a, _ throws(DRMError) in
            try d.files.revokeLease(f, id: a[RevokeLeaseArg.lesseeId])
        }
    }
}
