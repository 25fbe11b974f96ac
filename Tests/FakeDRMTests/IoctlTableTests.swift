import Glibc
import Testing
@testable import FakeDRM

/// The ioctl table's names and DRM_IOCTL_DEF flags, applied by the dispatcher before any
/// handler in drm_ioctl_permit's order (root-only, authenticated, master), each with a reason.
@Suite struct IoctlTableTests {
    /// A card whose owner is not CAP_SYS_ADMIN, a master and a second, unauthenticated file.
    func card() throws -> (Device, master: DirectClient, other: DirectClient) {
        var cfg = DeviceConfig()
        cfg.ownerIsPrivileged = false
        let d = try makeDevice(cfg)
        return (d, try DirectClient(device: d, uid: 4242), try DirectClient(device: d, uid: 4242))
    }

    func last(_ d: Device, _ c: DirectClient) -> LastRejection? { d.lock.withLock { c.file.lastRejection } }

    @Test func namesComeFromTheTable() {
        #expect(IoctlNames.name(of: 0xBC) == "MODE_ATOMIC")
        #expect(IoctlNames.number(of: "DRM_IOCTL_MODE_GETRESOURCES") == 0xA0)
        #expect(IoctlNames.name(of: 0x40) == "FAKEDRM_ATTACH")
        #expect(IoctlNames.name(of: 0x7E) == "0x7E")
        #expect(UAPICodec.table.values.allSatisfy { !$0.name.isEmpty })
        #expect(Set(UAPICodec.table.values.map(\.name)).count == UAPICodec.table.count)
    }

    @Test func masterOnlyIoctlsAreRefusedBeforeTheirHandler() throws {
        let (d, _, other) = try card()
        // SETCRTC on a CRTC id that does not exist: the master flag answers first (EACCES,
        // not ENOENT), as drm_ioctl_permit runs before drm_mode_setcrtc.
        var a = [UInt8](repeating: 0, count: CrtcArg.size)
        a.replaceSubrange(12..<16, with: LE.bytes([UInt32(0xdead)]))
        #expect(other.ioctl(req(0xA2, CrtcArg.size), &a) == EACCES)
        #expect(last(d, other)?.reason.contains("MODE_SETCRTC is DRM_MASTER") == true)
        var none: [UInt8] = []
        #expect(other.ioctl(req(0xA8, 72), &none) == EACCES)   // ATTACHMODE: drm_noop, master only
        #expect(other.atomic(0, []) == EACCES)
    }

    @Test func authRootAndMasterInTheKernelsOrder() throws {
        let (d, master, other) = try card()
        // GEM_FLINK is DRM_AUTH: the unauthenticated file is refused, the master is not.
        var flink = LE.bytes([UInt32(1), 0])
        #expect(other.ioctl(req(0x0A, 8), &flink) == EACCES)
        #expect(last(d, other)?.reason.contains("DRM_AUTH") == true)
        #expect(master.ioctl(req(0x0A, 8), &flink) == ENOENT)  // past the flags: no handle 1
        // BLOCK is AUTH|MASTER|ROOT_ONLY: without CAP_SYS_ADMIN, root-only answers first,
        // even for the master.
        var block = [UInt8](repeating: 0, count: 4)
        #expect(master.ioctl(req(0x12, 0), &block) == EACCES)
        #expect(last(d, master)?.reason.contains("DRM_ROOT_ONLY") == true)
        let root = try DirectClient(device: d, uid: 0)
        #expect(root.ioctl(req(0x12, 0), &block) == EACCES)   // privileged and authenticated, not master
        #expect(last(d, root)?.reason.contains("DRM_MASTER") == true)
    }

    @Test func unflaggedIoctlsServeAnyOpener() throws {
        let (_, _, other) = try card()
        #expect(other.getCap(DRMConst.capDumbBuffer).0 == 0)
        var ver = [UInt8](repeating: 0, count: VersionArg.size)
        #expect(other.ioctl(req(0x00, VersionArg.size), &ver) == 0)
    }
}
