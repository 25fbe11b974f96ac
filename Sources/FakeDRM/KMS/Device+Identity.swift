import Glibc

/// VERSION, caps, client caps, master and authentication.
extension Device {
    public func capability(_ cap: UInt64) throws(DRMError) -> UInt64 {
        switch cap {
        case DRMConst.capDumbBuffer: return 1
        case DRMConst.capVblankHighCrtc: return 1
        case DRMConst.capDumbPreferredDepth: return 24
        case DRMConst.capDumbPreferShadow: return 0
        case DRMConst.capPrime: return 3
        case DRMConst.capTimestampMonotonic: return 1
        case DRMConst.capAsyncPageFlip: return 0
        case DRMConst.capCursorWidth: return config.cursorWidth
        case DRMConst.capCursorHeight: return config.cursorHeight
        case DRMConst.capAddFB2Modifiers: return 1
        case DRMConst.capPageFlipTarget: return 0
        case DRMConst.capCrtcInVblankEvent: return 1
        case DRMConst.capSyncobj, DRMConst.capSyncobjTimeline: return config.syncobj ? 1 : 0
        // 0x15 is ATOMIC_ASYNC_PAGE_FLIP upstream; only the RFC compatibility mode says 1.
        case DRMConst.capAtomicAsyncPageFlip: return config.releaseFence.rfc2021Cap ? 1 : 0
        default: throw .invalidArgument
        }
    }

    public func setClientCap(_ file: FileContext, cap: UInt64, value: UInt64) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            switch cap {
            case DRMConst.clientCapStereo3D:
                guard value <= 1 else { throw .invalidArgument }
                file.stereo3D = value == 1
            case DRMConst.clientCapUniversalPlanes:
                guard value <= 1 else { throw .invalidArgument }
                file.universalPlanes = value == 1
            case DRMConst.clientCapAtomic:
                guard value <= 2 else { throw .invalidArgument }
                file.atomic = value >= 1
                if value >= 1 {
                    file.universalPlanes = true
                    file.aspectRatio = true
                }
            case DRMConst.clientCapAspectRatio:
                guard value <= 1 else { throw .invalidArgument }
                file.aspectRatio = value == 1
            case DRMConst.clientCapWritebackConnectors:
                guard value <= 1 else { throw .invalidArgument }
                guard file.atomic else { throw .invalidArgument }
                file.writebackConnectors = value == 1
            case DRMConst.clientCapCursorPlaneHotspot:
                // Only virtualized drivers (virtio-gpu, vmwgfx...) accept it.
                guard value <= 1, file.atomic else { throw .invalidArgument }
                throw .notSupported
            default:
                throw .invalidArgument
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

    static let ownerUID = geteuid()

    /// SET_MASTER: permission as above; another master → EBUSY.
    public func setMaster(_ file: FileContext) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            guard mayChangeMaster(file) else { throw .permissionDenied }
            if master === file || isActiveLessee(file) { return }
            if master != nil { throw .busy }
            // "Attempt to set lessee as master": a lease's file never becomes the card's master.
            if file.lease != nil { throw .invalidArgument }
            master = file
            file.wasMaster = true
            file.authenticated = true
        }
    }

    public func dropMaster(_ file: FileContext) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            guard mayChangeMaster(file) else { throw .permissionDenied }
            guard master === file, file.lease == nil else { throw .invalidArgument }
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
            try requireMaster(file)
            guard let id = magics.consume(magic), let target = files[id] else { throw .invalidArgument }
            target.authenticated = true
        }
    }

    /// SET_VERSION: interface 1.0–1.4; sets the unique name from 1.1 on.
    public func setVersion(_ file: FileContext, diMajor: Int32, diMinor: Int32, ddMajor: Int32, ddMinor: Int32) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            try requireMaster(file)
            if diMajor != -1 {
                guard diMajor == 1, diMinor >= 0, diMinor <= 4 else { throw .invalidArgument }
                if diMinor >= 1 { file.unique = config.driver.unique }
            }
            if ddMajor != -1 {
                guard ddMajor == config.driver.major, ddMinor >= 0, ddMinor <= config.driver.minor else { throw .invalidArgument }
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
