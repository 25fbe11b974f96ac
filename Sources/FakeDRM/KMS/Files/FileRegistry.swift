/// The card's open files (drm_file list), its master, and the magics of DRM_AUTH; the rules
/// of master, authentication and leases are in this folder's other files. Under the device lock.
///
/// @unchecked Sendable: a DeviceRoom (its state only with the device lock held).
public final class FileRegistry: DeviceRoom, @unchecked Sendable {
    /// By file id.
    var all: [Int: FileContext] = [:]
    var nextFileID = 1
    var master: FileContext?
    var magics = MagicMap()

    /// drm_file_alloc + drm_master_open: the first opener is master and authenticated; a
    /// CAP_SYS_ADMIN opener is authenticated from the start.
    func add(pid: Int32, uid: UInt32) throws(DRMError) -> FileContext {
        let f = try makeFile(pid: pid, uid: uid)
        f.authenticated = isPrivileged(uid: uid)
        if master == nil {
            master = f
            f.wasMaster = true
            f.authenticated = true
        }
        return f
    }

    /// A file with the next id, registered (also a lessee's, which has no fd of its own yet).
    func makeFile(pid: Int32, uid: UInt32) throws(DRMError) -> FileContext {
        let f = try FileContext(id: nextFileID, pid: pid, uid: uid)
        f.eventfdBudget = EventfdBudget(limit: config.limits.eventfdsPerFile)
        nextFileID += 1
        all[f.id] = f
        return f
    }

    /// The last of drm_file_free: out of the list, its magic and its leases gone.
    func remove(_ file: FileContext) {
        all[file.id] = nil
        magics.remove(file.magic)
        endLeases(of: file)
    }
}
