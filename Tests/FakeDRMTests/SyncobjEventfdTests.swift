import CFakeDRMSys
import Glibc
import Testing
@testable import FakeDRM

/// DRM_IOCTL_SYNCOBJ_EVENTFD through the codec (struct drm_syncobj_eventfd as bytes), with
/// real eventfds of this process, against drm_syncobj.c's semantics.
@Suite struct SyncobjEventfdTests {
    static let request = req(0xCF, 24)
    static let waitAvailable: UInt32 = 4

    func arg(handle: UInt32, flags: UInt32 = 0, point: UInt64, fd: Int32, pad: UInt32 = 0) -> [UInt8] {
        LE.bytes([handle, flags]) + LE.bytes([point]) + LE.bytes([UInt32(bitPattern: fd), pad])
    }

    func readable(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 1
    }

    func counter(_ fd: Int32) -> UInt64 {
        var v: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &v) { read(fd, $0.baseAddress, 8) }
        return v
    }

    /// A syncobj with `fence` imported at `point` (IMPORT_SYNC_FILE | TIMELINE).
    func importFence(_ c: DirectClient, _ fence: Fence, into h: UInt32, at point: UInt64) throws {
        let fd = try c.files.install(.syncFile(try SyncFile(fences: [fence])), cloexec: true)
        _ = try c.device.syncobjs.syncobjFDToHandle(c.file, fd: fd, flags: 3, handle: h, point: point, env: c.env)
    }

    @Test func signalsWhenThePointSignalsAndOnlyThen() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        let h = try d.syncobjs.syncobjCreate(c.file, flags: 0)
        let efd = cfd_eventfd(0, 1)
        defer { close(efd) }
        let timeline = Timeline(name: "test")
        // Registered before the point exists: waits for submission, then for the fences.
        var a = arg(handle: h, point: 2, fd: efd)
        #expect(c.ioctl(Self.request, &a) == 0)
        let f1 = d.lock.withLock { timeline.createFence(at: 1) }
        let f2 = d.lock.withLock { timeline.createFence(at: 2) }
        try importFence(c, f1, into: h, at: 1)
        #expect(!readable(efd))
        try importFence(c, f2, into: h, at: 2)
        #expect(!readable(efd))
        // Point 2 of a chain also waits for point 1: signal 2's fence alone first.
        d.lock.withLock { f2.signal() }
        #expect(!readable(efd))
        d.lock.withLock { f1.signal() }
        #expect(readable(efd))
        #expect(counter(efd) == 1)
        // Once fired, the entry is gone: later signals add nothing.
        d.lock.withLock { timeline.advance(by: 5) }
        #expect(!readable(efd))
    }

    @Test func waitAvailableSignalsAtSubmission() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        let h = try d.syncobjs.syncobjCreate(c.file, flags: 0)
        let efd = cfd_eventfd(0, 1)
        defer { close(efd) }
        var a = arg(handle: h, flags: Self.waitAvailable, point: 7, fd: efd)
        #expect(c.ioctl(Self.request, &a) == 0)
        let f = d.lock.withLock { Timeline(name: "t").createFence(at: 7) }
        try importFence(c, f, into: h, at: 6)
        #expect(!readable(efd))   // point 6 does not cover 7
        try importFence(c, f, into: h, at: 7)
        #expect(readable(efd))
        #expect(!f.isSignalled)
    }

    @Test func signalledPointFiresAtOnceAndResetDoesNotCancel() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        let signalled = try d.syncobjs.syncobjCreate(c.file, flags: 1)
        let efd = cfd_eventfd(0, 1)
        defer { close(efd) }
        var a = arg(handle: signalled, point: 0, fd: efd)
        #expect(c.ioctl(Self.request, &a) == 0)
        #expect(counter(efd) == 1)
        // Submitted but unsignalled, then the syncobj is reset: the entry rides on the fence.
        let h = try d.syncobjs.syncobjCreate(c.file, flags: 0)
        let f = Fence(context: Fence.allocateContext(), seqno: 1, timelineName: "t", driverName: "test")
        try importFence(c, f, into: h, at: 0)
        a = arg(handle: h, point: 0, fd: efd)
        #expect(c.ioctl(Self.request, &a) == 0)
        try d.syncobjs.syncobjReset(c.file, handles: [h])
        #expect(!readable(efd))
        d.lock.withLock { f.signal() }
        #expect(counter(efd) == 1)
    }

    @Test func errnosInTheKernelsOrder() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        let h = try d.syncobjs.syncobjCreate(c.file, flags: 0)
        let efd = cfd_eventfd(0, 0)
        defer { close(efd) }
        var p: [Int32] = [0, 0]
        #expect(pipe(&p) == 0)
        defer { close(p[0]); close(p[1]) }
        func call(_ bytes: [UInt8]) -> Int32 {
            var b = bytes
            return c.ioctl(Self.request, &b)
        }
        // Flags other than WAIT_AVAILABLE, and a pad, come before the handle lookup.
        #expect(call(arg(handle: 999, flags: 1, point: 0, fd: -1)) == EINVAL)
        #expect(call(arg(handle: 999, flags: 2, point: 0, fd: -1)) == EINVAL)
        #expect(call(arg(handle: 999, point: 0, fd: -1, pad: 1)) == EINVAL)
        #expect(call(arg(handle: 999, point: 0, fd: efd)) == ENOENT)
        // Then the eventfd: not open EBADF, not an eventfd EINVAL (a pipe, a sync file of ours).
        #expect(call(arg(handle: h, point: 0, fd: -1)) == EBADF)
        #expect(call(arg(handle: h, point: 0, fd: 9999)) == EBADF)
        #expect(call(arg(handle: h, point: 0, fd: p[0])) == EINVAL)
        let sf = try c.files.install(.syncFile(try SyncFile(fences: [Fence.signalled()])), cloexec: true)
        #expect(call(arg(handle: h, point: 0, fd: sf)) == EINVAL)
        #expect(call(arg(handle: h, flags: Self.waitAvailable, point: 0, fd: efd)) == 0)
        // Without syncobj support the ioctl is EOPNOTSUPP, as without DRIVER_SYNCOBJ_TIMELINE.
        var cfg = DeviceConfig()
        cfg.syncobj = false
        let off = try DirectClient(device: try makeDevice(cfg))
        var b = arg(handle: 1, point: 0, fd: efd)
        #expect(off.ioctl(Self.request, &b) == EOPNOTSUPP)
    }

    @Test func oneFileCannotExhaustTheDaemon() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        let h = try d.syncobjs.syncobjCreate(c.file, flags: 0)
        let efd = cfd_eventfd(0, 1)
        defer { close(efd) }
        // Each pending registration holds a daemon copy of the eventfd: 1024 per file by
        // default; 8 here, so this test does not hold a thousand fds beside the others.
        #expect(c.file.eventfdBudget.limit == 1024)
        d.lock.withLock { c.file.eventfdBudget = EventfdBudget(limit: 8) }
        for _ in 0..<8 {
            var a = arg(handle: h, point: 1, fd: efd)
            #expect(c.ioctl(Self.request, &a) == 0)
        }
        var a = arg(handle: h, point: 1, fd: efd)
        #expect(c.ioctl(Self.request, &a) == ENOMEM)
        // Firing them gives the budget back.
        try d.syncobjs.syncobjSignal(c.file, handles: [h], points: [1])
        #expect(counter(efd) == 8)
        a = arg(handle: h, point: 1, fd: efd)
        #expect(c.ioctl(Self.request, &a) == 0)
        // Syncobj handles stop at 65536 per file.
        for _ in 1..<d.config.limits.syncobjsPerFile { _ = try d.syncobjs.syncobjCreate(c.file, flags: 0) }
        #expect(throws: DRMError.noMemory) { try d.syncobjs.syncobjCreate(c.file, flags: 0) }
        let other = try DirectClient(device: d)
        #expect(try d.syncobjs.syncobjCreate(other.file, flags: 0) != 0)
    }

    @Test func exportsPerProcessAreBounded() throws {
        let r = ExportRegistry(maxPerProcess: 3)
        let ids = (0..<3).compactMap { _ in r.add(.timeline(Timeline(name: "t")), pid: 7) }
        #expect(ids.count == 3)
        #expect(r.add(.timeline(Timeline(name: "t")), pid: 7) == nil)
        #expect(r.add(.timeline(Timeline(name: "t")), pid: 8) != nil)
        r.remove(ids[0])
        #expect(r.add(.timeline(Timeline(name: "t")), pid: 7) != nil)
    }
}
