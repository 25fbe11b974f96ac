import Glibc

/// Master, authentication and the per-file identity ioctls (SET_CLIENT_CAP, SET_VERSION,
/// unique): drm_auth.c and drm_ioctl.c's rules on a file.
extension FileRegistry {
    public func setClientCap(_ file: FileContext, cap: UInt64, value: UInt64) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            switch cap {
            case DRMConst.clientCapStereo3D:
                guard value <= 1 else { throw .invalidArgument.because(.uapi, "DRM_CLIENT_CAP_STEREO_3D value \(value) is not 0 or 1") }
                file.stereo3D = value == 1
            case DRMConst.clientCapUniversalPlanes:
                guard value <= 1 else {
                    throw .invalidArgument.because(.uapi, "DRM_CLIENT_CAP_UNIVERSAL_PLANES value \(value) is not 0 or 1")
                }
                file.universalPlanes = value == 1
            case DRMConst.clientCapAtomic:
                guard value <= 2 else { throw .invalidArgument.because(.uapi, "DRM_CLIENT_CAP_ATOMIC value \(value) is not 0, 1 or 2") }
                file.atomic = value >= 1
                if value >= 1 {
                    file.universalPlanes = true
                    file.aspectRatio = true
                }
            case DRMConst.clientCapAspectRatio:
                guard value <= 1 else { throw .invalidArgument.because(.uapi, "DRM_CLIENT_CAP_ASPECT_RATIO value \(value) is not 0 or 1") }
                file.aspectRatio = value == 1
            case DRMConst.clientCapWritebackConnectors:
                guard value <= 1 else {
                    throw .invalidArgument.because(.uapi, "DRM_CLIENT_CAP_WRITEBACK_CONNECTORS value \(value) is not 0 or 1")
                }
                guard file.atomic else {
                    throw .invalidArgument.because(.uapi, "DRM_CLIENT_CAP_WRITEBACK_CONNECTORS needs DRM_CLIENT_CAP_ATOMIC first (file \(file.id))")
                }
                file.writebackConnectors = value == 1
            case DRMConst.clientCapCursorPlaneHotspot:
                // Only virtualized drivers (virtio-gpu, vmwgfx...) accept it.
                guard value <= 1, file.atomic else {
                    throw .invalidArgument.because(.uapi, file.atomic
                        ? "DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT value \(value) is not 0 or 1"
                        : "DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT needs DRM_CLIENT_CAP_ATOMIC first (file \(file.id))")
                }
                throw .notSupported.because(.uapi, "DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT is only for virtualized drivers")
            default:
                throw .invalidArgument.because(.uapi, "unknown client capability 0x\(String(cap, radix: 16))")
            }
        }
    }

    /// drm_master_check_perm: the file was master before, or the caller is privileged
    /// (CAP_SYS_ADMIN, approximated by the opener's uid: 0, or the card's owner unless
    /// `ownerIsPrivileged` is off).
    private func mayChangeMaster(_ file: FileContext) -> Bool {
        file.wasMaster || isPrivileged(uid: file.uid)
    }

    /// capable(CAP_SYS_ADMIN) for an opener: uid 0, or the card's owner (ownerIsPrivileged).
    func isPrivileged(uid: UInt32) -> Bool {
        uid == 0 || (config.ownerIsPrivileged && uid == Self.ownerUID)
    }

    static let ownerUID: UInt32 = geteuid()

    /// SET_MASTER: permission as above; another master → EBUSY.
    public func setMaster(_ file: FileContext) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            guard mayChangeMaster(file) else {
                throw .permissionDenied.because(.master, "file \(file.id) (uid \(file.uid)) was never master and is not privileged (CAP_SYS_ADMIN)")
            }
            if master === file || isActiveLessee(file) { return }
            if let m = master { throw .busy.because(.master, "file \(file.id) cannot become master: file \(m.id) is the master") }
            // "Attempt to set lessee as master": a lease's file never becomes the card's master.
            if let l = file.lease { throw .invalidArgument.because(.master, "Attempt to set lessee \(l.id) as master (file \(file.id))") }
            master = file
            file.wasMaster = true
            file.authenticated = true
        }
    }

    public func dropMaster(_ file: FileContext) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            guard mayChangeMaster(file) else {
                throw .permissionDenied.because(.master, "file \(file.id) (uid \(file.uid)) was never master and is not privileged (CAP_SYS_ADMIN)")
            }
            guard master === file, file.lease == nil else {
                throw .invalidArgument.because(.master, file.lease.map { "Attempt to drop lessee \($0.id) as master (file \(file.id))" }
                    ?? "file \(file.id) is not the current master")
            }
            master = nil
        }
    }

    public func isAuthenticated(_ file: FileContext) -> Bool { lock.withLock { file.authenticated } }

    public func isMaster(_ file: FileContext) -> Bool { lock.withLock { master === file || isActiveLessee(file) } }

    /// GET_MAGIC (drm_getmagic): the file keeps one magic for its life, the lowest number
    /// not yet taken in the magic map, as idr_alloc(&master->magic_map, file, 1, 0) gives.
    public func getMagic(_ file: FileContext) -> UInt32 {
        lock.withLock {
            if file.magic == 0 { file.magic = magics.allocate(for: file.id) }
            return file.magic
        }
    }

    /// AUTH_MAGIC (drm_authmagic): non-master → EACCES; a magic that names no file (0, unknown,
    /// or already used: the map's entry is emptied by the first success) → EINVAL.
    public func authMagic(_ file: FileContext, _ magic: UInt32) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            guard let id = magics.consume(magic), let target = all[id] else {
                throw .invalidArgument.because(.master, "magic \(magic) names no file awaiting authentication")
            }
            target.authenticated = true
        }
    }

    /// SET_VERSION: interface 1.0–1.4; sets the unique name from 1.1 on.
    public func setVersion(_ file: FileContext, diMajor: Int32, diMinor: Int32, ddMajor: Int32, ddMinor: Int32) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            if diMajor != -1 {
                guard diMajor == 1, diMinor >= 0, diMinor <= 4 else {
                    throw .invalidArgument.because(.master, "SET_VERSION interface \(diMajor).\(diMinor) is not 1.0 to 1.4")
                }
                if diMinor >= 1 { file.unique = config.driver.unique }
            }
            if ddMajor != -1 {
                guard ddMajor == config.driver.major, ddMinor >= 0, ddMinor <= config.driver.minor else {
                    throw .invalidArgument.because(.master, "SET_VERSION driver \(ddMajor).\(ddMinor) is not \(config.driver.major).0 to \(config.driver.major).\(config.driver.minor)")
                }
            }
        }
    }

    /// The current master's unique name (empty without a master or before its SET_VERSION).
    public func masterUnique() -> String { lock.withLock { master?.unique ?? "" } }

    /// GET_UNIQUE: the master's unique string, empty until SET_VERSION(1.1+).
    public func unique(_ file: FileContext) -> String {
        lock.withLock { master?.unique ?? file.unique }
    }
}
