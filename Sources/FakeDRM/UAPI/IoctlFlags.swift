/// drm_ioctl.c's DRM_IOCTL_DEF flags, checked by the dispatcher before any handler in
/// drm_ioctl_permit's order: root-only, then authenticated, then master. (RENDER_ALLOW is
/// recorded for a render node; this card has only the primary node, so nothing checks it.)
struct IoctlFlags: OptionSet, Sendable {
    let rawValue: UInt8
    static let auth = IoctlFlags(rawValue: 1)
    static let master = IoctlFlags(rawValue: 2)
    static let rootOnly = IoctlFlags(rawValue: 4)
    static let renderAllow = IoctlFlags(rawValue: 8)

    /// EACCES for a file the flags do not admit. The file's state is read under the device
    /// lock at one instant; the reason is built only for a refusal.
    static func permit(_ flags: IoctlFlags, nr: UInt8, _ device: Device, _ file: FileContext) throws(DRMError) {
        guard file !== FileContext.kernel else { return }
        device.lock.lock()
        let privileged = !flags.contains(.rootOnly) || device.files.isPrivileged(uid: file.uid)
        let authenticated = file.authenticated
        let master = device.files.isCurrentMaster(file)
        device.lock.unlock()
        func name() -> String { IoctlNames.name(of: nr) }
        if !privileged {
            throw .permissionDenied.because(.master, "\(name()) is DRM_ROOT_ONLY: file \(file.id) (uid \(file.uid)) lacks CAP_SYS_ADMIN")
        }
        if flags.contains(.auth), !authenticated {
            throw .permissionDenied.because(.master, "\(name()) is DRM_AUTH: file \(file.id) is not authenticated")
        }
        if flags.contains(.master), !master {
            throw .permissionDenied.because(.master, "\(name()) is DRM_MASTER: file \(file.id) (pid \(file.pid)) is not the current master")
        }
    }
}
