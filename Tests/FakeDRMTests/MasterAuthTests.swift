import Glibc
import Testing
@testable import FakeDRM

/// drm_auth.c's master and magic rules, and who counts as CAP_SYS_ADMIN on a fake card.
@Suite struct MasterAuthTests {
    @Test func neverMasterFileNeedsPrivilegeBeforeBusy() throws {
        var cfg = DeviceConfig()
        cfg.ownerIsPrivileged = false
        let d = try makeDevice(cfg)
        let first = try d.open(uid: 4242)
        let second = try d.open(uid: 4242)
        // drm_master_check_perm comes first: EACCES, not EBUSY, for an unprivileged opener.
        #expect(throws: DRMError.permissionDenied) { try d.files.setMaster(second) }
        #expect(throws: DRMError.permissionDenied) { try d.files.dropMaster(second) }
        // The first opener was master: it may drop and take it back without privilege.
        try d.files.dropMaster(first)
        try d.files.setMaster(first)
        // Root counts as CAP_SYS_ADMIN.
        let root = try d.open(uid: 0)
        #expect(throws: DRMError.busy) { try d.files.setMaster(root) }
    }

    @Test func cardOwnerCountsAsPrivilegedByDefault() throws {
        let d = try makeDevice(DeviceConfig())
        _ = try d.open(uid: geteuid())
        let second = try d.open(uid: geteuid())
        #expect(throws: DRMError.busy) { try d.files.setMaster(second) }
        let stranger = try d.open(uid: geteuid() &+ 1)
        #expect(throws: DRMError.permissionDenied) { try d.files.setMaster(stranger) }
    }

    @Test func privilegedOpenersAreAuthenticatedAtOpen() throws {
        // drm_file_alloc: authenticated = capable(CAP_SYS_ADMIN) (IGT's getclient-master-drop).
        let d = try makeDevice(DeviceConfig())
        _ = try d.open(uid: geteuid())
        #expect(d.files.isAuthenticated(try d.open(uid: geteuid())))
        #expect(d.files.isAuthenticated(try d.open(uid: 0)))
        #expect(!d.files.isAuthenticated(try d.open(uid: geteuid() &+ 1)))
    }

    @Test func magicsAreSmallUniqueAndAuthenticateOnce() throws {
        var cfg = DeviceConfig()
        cfg.ownerIsPrivileged = false
        let d = try makeDevice(cfg)
        let user: UInt32 = 4242
        let master = try d.open(uid: user)
        let a = try d.open(uid: user), b = try d.open(uid: user)
        let ma = d.files.getMagic(a), mb = d.files.getMagic(b)
        #expect(ma == 1 && mb == 2 && d.files.getMagic(a) == ma)
        // AUTH_MAGIC is DRM_MASTER in the ioctl table: refused for a non-master before the handler.
        var arg = LE.bytes([mb])
        #expect(DirectClient(device: d, file: a).ioctl(req(0x11, 4, dir: 1), &arg) == EACCES)
        try d.files.authMagic(master, mb)
        #expect(throws: DRMError.invalidArgument) { try d.files.authMagic(master, mb) }
        #expect(throws: DRMError.invalidArgument) { try d.files.authMagic(master, 0) }
        #expect(d.files.isAuthenticated(b) && !d.files.isAuthenticated(a) && d.files.isAuthenticated(master))
        // A closed file's magic is free again; an authenticated one stays taken.
        d.close(a)
        let c = try d.open(uid: user)
        #expect(d.files.getMagic(c) == ma)
    }
}
