/// drm_ioctl.c's DRM_IOCTL_DEF flags, checked by the dispatcher before any handler in
/// drm_ioctl_permit's order: root-only, then authenticated, then master. (RENDER_ALLOW is
/// recorded for a render node; this card has only the primary node, so nothing checks it.)
struct IoctlFlags: OptionSet, Sendable {
    let rawValue: UInt8
    static let auth = IoctlFlags(rawValue: 1)
    static let master = IoctlFlags(rawValue: 2)
    static let rootOnly = IoctlFlags(rawValue: 4)
    static let renderAllow = IoctlFlags(rawValue: 8)

    /// EACCES for a file the flags do not admit; the device lock is held for the whole check,
    /// so master and authentication are read at one instant.
    static func permit(_ entry: UAPICodec.Entry, _ device: Device, _ file: FileContext) throws(DRMError) {
        guard file !== FileContext.kernel else { return }
        try device.lock.withLock { () throws(DRMError) in
            let f = entry.flags
            if f.contains(.rootOnly), !device.isPrivileged(uid: file.uid) {
                throw .permissionDenied.because(.master, "\(entry.name) is DRM_ROOT_ONLY: file \(file.id) (uid \(file.uid)) lacks CAP_SYS_ADMIN")
            }
            if f.contains(.auth), !file.authenticated {
                throw .permissionDenied.because(.master, "\(entry.name) is DRM_AUTH: file \(file.id) is not authenticated")
            }
            if f.contains(.master), !device.isCurrentMaster(file) {
                throw .permissionDenied.because(.master, "\(entry.name) is DRM_MASTER: file \(file.id) (pid \(file.pid)) is not the current master")
            }
        }
    }
}
