import CFuse3
import FakeDRM
import Foundation
import Glibc
import Synchronization

/// The CUSE front end: a real character device (/dev/dri/cardN) whose open/read/poll/ioctl
/// calls the kernel forwards to this process through /dev/cuse (libfuse3's cuse_lowlevel).
/// What CUSE cannot do (mmap, new fds in the caller) is listed in docs/cuse.md.
public struct CuseOptions: Sendable {
    /// cardN and the char device's minor (0–63: a primary node for libdrm).
    public var minor: UInt32 = 0
    /// nil: 226 (DRM_MAJOR) when no DRM driver holds it, else a dynamic major.
    public var major: UInt32?
    /// libfuse's -d: every request on stderr.
    public var debug = false
    /// The socket the client library attaches through (DRM_IOCTL_FAKEDRM_ATTACH); nil: no
    /// attach, the ioctl answers EINVAL as any unknown driver ioctl. At most 107 bytes (it is
    /// returned in a sockaddr_un-sized field).
    public var attachSocket: String?
    /// Answer every ioctl through CUSE's retry protocol, never reaching into the caller's
    /// memory in place (CallerMemory), as a daemon without ptrace rights must.
    public var retriesOnly = false
    public init() {}

    public var devName: String { "dri/card\(minor)" }
}

public enum CuseError: Error, CustomStringConvertible {
    case unavailable(String)
    case busy(String)
    case failed(String)

    public var description: String {
        switch self {
        case .unavailable(let s), .busy(let s), .failed(let s): s
        }
    }
}

/// One open file of the node. Guarded by CuseFrontEnd.files.
final class OpenFile: @unchecked Sendable {
    let context: FileContext
    var retries = PendingRetries()
    /// The fd view of the thread that last called (immutable, so shared): a thread issues
    /// every round of its ioctl, and most files have one calling thread.
    private var lastCaller: CuseFiles?
    private var lastMemory: CallerMemory?
    /// Cleared once a caller of this file could not be reached in place (no ptrace rights over
    /// it): its ioctls then go the retry way without trying again.
    var reachesCaller: Bool
    init(context: FileContext, reachesCaller: Bool) {
        self.context = context
        self.reachesCaller = reachesCaller
    }

    func files(of tid: Int32) -> CuseFiles {
        if let f = lastCaller, f.pid == tid { return f }
        let f = CuseFiles(pid: tid)
        lastCaller = f
        return f
    }

    /// The memory of the calling thread, when it may be reached in place.
    func memory(of tid: Int32) -> CallerMemory? {
        guard reachesCaller, tid > 0 else { return nil }
        if let m = lastMemory, m.pid == tid { return m }
        let m = CallerMemory(pid: tid)
        lastMemory = m
        return m
    }
}

/// A pollhandle or session pointer moved between threads; libfuse allows that.
struct CPointer: @unchecked Sendable {
    let raw: OpaquePointer
}

public final class CuseFrontEnd: @unchecked Sendable {
    public let device: Device
    let options: CuseOptions
    let files = Locked<[UInt64: OpenFile]>([:])
    let nextFH = Atomic<UInt64>(1)
    let notifier: PollNotifier
    let ready = Atomic<Bool>(false)
    let stopping = Atomic<Bool>(false)
    let stopFD: Int32
    let loopFailure = Atomic<Int32>(0)
    /// Serves attached client-library connections; set once in `run()` when it started.
    let attachServer = Locked<SocketServer?>(nil)
    let reportedUnreachable = Atomic<Bool>(false)

    public init(device: Device, options: CuseOptions) throws(CuseError) {
        self.device = device
        self.options = options
        guard let n = PollNotifier() else { throw .failed("fakedrm: cannot create an eventfd for poll notifications") }
        notifier = n
        stopFD = eventfd(0, Int32(EFD_CLOEXEC))
        guard stopFD >= 0 else { throw .failed("fakedrm: cannot create an eventfd") }
    }

    // MARK: running

    /// Serves until SIGTERM/SIGINT/SIGHUP. Call before any other thread exists that should not
    /// receive those signals (the device's timer thread is created by Device.init: block the
    /// signals first with `CuseFrontEnd.blockStopSignals()`).
    public func run() throws(CuseError) {
        try checkFree()
        // After checkFree: a second daemon for the same minor must not replace the first one's
        // socket.
        startAttachServer()
        defer { attachServer.withLock { $0 }?.stop() }
        let major = options.major ?? (Self.drmMajorTaken() ? 0 : 226)

        var ops = cuse_lowlevel_ops()
        ops.init_done = { userdata in
            guard let userdata else { return }
            Unmanaged<CuseFrontEnd>.fromOpaque(userdata).takeUnretainedValue().initDone()
        }
        ops.open = { req, fi in CuseFrontEnd.with(req, fi) { $0.open($1, $2) } }
        ops.release = { req, fi in CuseFrontEnd.with(req, fi) { $0.release($1, $2) } }
        ops.read = { req, size, _, fi in CuseFrontEnd.with(req, fi) { $0.read($1, size, $2) } }
        ops.write = { req, _, _, _, _ in if let req { fuse_reply_err(req, EINVAL) } }
        ops.poll = { req, fi, ph in CuseFrontEnd.with(req, fi) { $0.poll($1, $2, ph) } }
        ops.ioctl = { req, cmd, arg, fi, flags, inBuf, inSize, outSize in
            CuseFrontEnd.with(req, fi) { $0.ioctl($1, cmd: cmd, arg: arg, fi: $2, flags: flags, inBuf: inBuf, inSize: inSize, outSize: outSize) }
        }

        let devinfo = "DEVNAME=\(options.devName)"
        var args = ["fakedrm", "-f"] + (options.debug ? ["-d"] : [])
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        let result: Int32 = devinfo.withCString { dev in
            var devArgv: [UnsafePointer<CChar>?] = [dev]
            return devArgv.withUnsafeMutableBufferPointer { devArgs in
                var ci = cuse_info(dev_major: major, dev_minor: options.minor, dev_info_argc: 1,
                                   dev_info_argv: devArgs.baseAddress, flags: UInt32(CUSE_UNRESTRICTED_IOCTL))
                var cargs = args.map { strdup($0) }
                defer { cargs.forEach { free($0) } }
                var multithreaded: Int32 = 0
                guard let se = cuse_lowlevel_setup(Int32(cargs.count), &cargs, &ci, &ops, &multithreaded, userdata) else {
                    return -2
                }
                notifier.start()
                let rc = serve(se)
                cuse_lowlevel_teardown(se)
                return rc
            }
        }
        args.removeAll()
        notifier.stop()
        if result == -2 {
            throw .unavailable("fakedrm: cannot open /dev/cuse (is the cuse module loaded? `modprobe cuse`, run as root)")
        }
        if !ready.load(ordering: .acquiring) {
            throw .busy("fakedrm: the kernel refused to create /dev/\(options.devName) (\(major):\(options.minor)): name or number already in use")
        }
    }

    /// Blocks the stop signals in the calling thread (inherited by every thread it creates) and
    /// starts the thread that waits for them.
    public static func blockStopSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        return set
    }

    /// Waits for a stop signal on its own thread, stops the device first (blocked readers and
    /// commits return), then wakes the request loop, which interrupts every worker's read, so
    /// the loop ends and the node goes away with the session.
    public func stopOnSignals(_ set: sigset_t) {
        let box = SigSet(set: set)
        Thread.detachNewThread { [self] in
            var s = box.set
            var sig: Int32 = 0
            sigwait(&s, &sig)
            device.shutdown()
            requestStop()
        }
    }

    func requestStop() {
        stopping.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(stopFD, $0.baseAddress, 8) }
    }

    /// Serves /dev/cuse with a CuseWorkerPool until a stop is requested (a stop signal, or a
    /// worker that saw the session end).
    func serve(_ se: OpaquePointer) -> Int32 {
        let fd = fuse_session_fd(se)
        guard fakedrm_set_blocking(fd) == 0, fakedrm_install_wake_signal(CuseWorkerPool.wakeSignal) == 0 else { return -1 }
        let pool = CuseWorkerPool(session: CPointer(raw: se), isStopping: { [self] in stopping.load(ordering: .acquiring) },
                                  ended: { [self] failure in
                                      loopFailure.store(failure, ordering: .releasing)
                                      requestStop()
                                  })
        DeviceLock.willWait.withLock { $0 = { [weak pool] in pool?.handOffReader() } }
        defer { DeviceLock.willWait.withLock { $0 = nil } }
        pool.start()
        var v: UInt64 = 0
        while withUnsafeMutableBytes(of: &v, { Glibc.read(stopFD, $0.baseAddress, 8) }) < 0 && errno == EINTR {}
        pool.finish()
        return loopFailure.load(ordering: .acquiring)
    }

    struct SigSet: @unchecked Sendable { let set: sigset_t }

    /// A second daemon for the same minor must fail before it touches /dev/cuse, with a clear
    /// message (CUSE itself only fails the INIT reply, silently to the daemon).
    func checkFree() throws(CuseError) {
        let sysName = "/sys/class/cuse/" + options.devName.replacingOccurrences(of: "/", with: "!")
        if access(sysName, F_OK) == 0 {
            throw .busy("fakedrm: /dev/\(options.devName) is already served by another CUSE daemon (\(sysName) exists)")
        }
        if access("/dev/\(options.devName)", F_OK) == 0 {
            throw .busy("fakedrm: /dev/\(options.devName) already exists (a kernel DRM driver or a stale node); choose another --minor")
        }
    }

    /// The socket is world-connectable (0666): clients run as other users; the attach token,
    /// not the peer's uid, is what admits them (SocketServer.redeem). A socket that cannot be
    /// created only costs the attach feature, so it is a warning.
    func startAttachServer() {
        guard let path = options.attachSocket else { return }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { mkdir(dir, 0o755) }
        let server = SocketServer(device: device, path: path, minor: options.minor)
        do {
            try server.start()
            chmod(path, 0o666)
            attachServer.withLock { $0 = server }
            // The card as a DRM device in sysfs (its real node is in class cuse), for attached
            // clients: the library maps /sys/dev/char/226:N into it (docs/cuse.md).
            if path.hasSuffix(".sock") {
                let tree = String(path.dropLast(5)) + ".sysfs"
                try? FileManager.default.removeItem(atPath: tree)
                try? SysfsTree.write(root: tree, minor: Int(options.minor), driver: device.config.driver.name)
                Self.openToVideoGroup(tree)
            }
        } catch {
            FileHandle.standardError.write(Data("fakedrm: no client-library attach: \(error)\n".utf8))
        }
    }

    /// libudev clients (weston) read the view through libumockdev-preload, which binds its
    /// uevent socket in the testbed's root: members of `video`, the group the udev rules give
    /// the node, may create entries there; sticky, so none removes another's or the tree.
    static func openToVideoGroup(_ tree: String) {
        guard let group = getgrnam("video") else { return }
        chown(tree, 0, group.pointee.gr_gid)
        chmod(tree, 0o1775)
    }

    /// DRM_MAJOR is registered whole by drm.ko as soon as any DRM driver is loaded.
    static func drmMajorTaken() -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/devices", encoding: .utf8) else { return false }
        return text.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces) == "226 drm" }
    }

    func initDone() {
        ready.store(true, ordering: .releasing)
        // The kernel's choice, also when the major was dynamic.
        let sysDev = "/sys/class/cuse/" + options.devName.replacingOccurrences(of: "/", with: "!") + "/dev"
        let numbers = (try? String(contentsOfFile: sysDev, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        // Scripts wait for this line (and for the node).
        print("fakedrm: serving /dev/\(options.devName) (CUSE, char \(numbers))")
        fflush(nil)
    }

    // MARK: request plumbing

    static func with(_ req: OpaquePointer?, _ fi: UnsafeMutablePointer<fuse_file_info>?, _ body: (CuseFrontEnd, OpaquePointer, UnsafeMutablePointer<fuse_file_info>) -> Void) {
        guard let req else { return }
        guard let fi, let ud = fuse_req_userdata(req) else {
            fuse_reply_err(req, EIO)
            return
        }
        body(Unmanaged<CuseFrontEnd>.fromOpaque(ud).takeUnretainedValue(), req, fi)
    }

    func file(_ fi: UnsafeMutablePointer<fuse_file_info>) -> OpenFile? {
        let fh = fi.pointee.fh
        return files.withLock { $0[fh] }
    }

    func open(_ req: OpaquePointer, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        let ctx = fuse_req_ctx(req)
        do {
            let context = try device.open(pid: ctx?.pointee.pid ?? 0, uid: ctx?.pointee.uid ?? 0)
            let fh = nextFH.add(1, ordering: .relaxed).oldValue
            files.withLock { $0[fh] = OpenFile(context: context, reachesCaller: !options.retriesOnly) }
            fi.pointee.fh = fh
            fuse_reply_open(req, fi)
        } catch {
            fuse_reply_err(req, error.errno)
        }
    }

    /// Called when the last fd of an open file goes, also when its process was killed
    /// mid-ioctl: everything the file owned is released as the kernel's drm_release does.
    func release(_ req: OpaquePointer, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        let fh = fi.pointee.fh
        let f = files.withLock { $0.removeValue(forKey: fh) }
        if let f {
            notifier.disarm(fh)
            // Attached connections serve this file: cut them first so none runs on a closed file.
            attachServer.withLock { $0 }?.detach(f.context)
            device.close(f.context)
        }
        fuse_reply_err(req, 0)
    }

    func read(_ req: OpaquePointer, _ size: Int, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        guard let f = file(fi) else { fuse_reply_err(req, EBADF); return }
        // fuse_read_in carries the file's current flags, so fcntl(O_NONBLOCK) after open counts.
        let nonblocking = fi.pointee.flags & O_NONBLOCK != 0
        if !nonblocking {
            // A signal to the reader (FUSE_INTERRUPT) ends the wait with EINTR, as in the kernel.
            fuse_req_interrupt_func(req, { req, data in
                guard let req, let data, let ud = fuse_req_userdata(req) else { return }
                let fe = Unmanaged<CuseFrontEnd>.fromOpaque(ud).takeUnretainedValue()
                let f = Unmanaged<OpenFile>.fromOpaque(data).takeUnretainedValue()
                fe.device.files.interruptRead(f.context)
            }, Unmanaged.passUnretained(f).toOpaque())
        }
        do {
            let bytes = try withExtendedLifetime(f) { () throws(DRMError) -> [UInt8] in
                try device.files.readEvents(f.context, maxBytes: size, nonblocking: nonblocking)
            }
            bytes.withUnsafeBytes { _ = fuse_reply_buf(req, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
        } catch {
            fuse_reply_err(req, error.errno)
        }
    }

    func poll(_ req: OpaquePointer, _ fi: UnsafeMutablePointer<fuse_file_info>, _ ph: OpaquePointer?) {
        guard let f = file(fi) else {
            if let ph { fuse_pollhandle_destroy(ph) }
            fuse_reply_err(req, EBADF)
            return
        }
        let ready = device.files.hasEvents(f.context)
        if let ph {
            // Armed even when ready would be redundant: the kernel asks again on the next poll.
            if ready { fuse_pollhandle_destroy(ph) } else { notifier.arm(fi.pointee.fh, f.context, CPointer(raw: ph)) }
        }
        // drm_poll: readable while events are queued, never writable.
        fuse_reply_poll(req, ready ? UInt32(POLLIN | POLLRDNORM) : 0)
    }

    func ioctl(_ req: OpaquePointer, cmd: Int32, arg: UnsafeMutableRawPointer?, fi: UnsafeMutablePointer<fuse_file_info>,
               flags: UInt32, inBuf: UnsafeRawPointer?, inSize: Int, outSize: Int) {
        // libfuse declares cmd as int: 0xC0xx64nn arrives negative.
        let request = UInt32(bitPattern: cmd)
        let address = UInt64(UInt(bitPattern: arg))
        let tid = fuse_req_ctx(req)?.pointee.pid ?? 0
        let fh = fi.pointee.fh
        let firstRound = inSize == 0 && outSize == 0
        // One lock round: the file, and the plan its previous round left (a leftover is stale
        // on a first call and dropped either way).
        let found = files.withLock { files -> (OpenFile, IoctlRetryPlan?, CuseFiles, CallerMemory?)? in
            guard let f = files[fh] else { return nil }
            return (f, f.retries.isEmpty ? nil : f.retries.take(tid: tid, request: request, arg: address), f.files(of: tid),
                    firstRound ? f.memory(of: tid) : nil)
        }
        guard let (f, previous, clientFiles, memory) = found else { fuse_reply_err(req, EBADF); return }
        // 32-bit callers would need drm_compat_ioctl's struct translations: not provided.
        if flags & UInt32(FUSE_IOCTL_COMPAT) != 0 { fuse_reply_err(req, ENOTTY); return }
        // Driver-private, so not the codec's: answered here. Without a socket it falls through
        // to the codec's EINVAL for unknown driver ioctls, exactly as before attach existed.
        if request == Self.attachRequest, let server = attachServer.withLock({ $0 }) {
            attach(req, f, server, address: address, inBuf: inBuf, inSize: inSize, outSize: outSize)
            return
        }
        var inPlace = InPlaceIoctl.Answer.retry(always: false)
        if let memory {
            inPlace = InPlaceIoctl.run(request: request, arg: address, device: device, file: f.context, memory: memory, files: clientFiles,
                                       adjust: { Self.adjustForCuse(request: request, result: $0, bytes: &$1) })
        }
        let step: IoctlRetryStep
        if case .answered(let done) = inPlace {
            step = done
        } else {
            if case .retry(always: true) = inPlace, let memory { unreachable(memory.pid, f) }
            let input = inBuf.map { UnsafeRawBufferPointer(start: $0, count: inSize) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
            step = IoctlRetry.round(previous, request: request, arg: address, input: input, outputSize: outSize,
                                    device: device, file: f.context, files: clientFiles)
        }
        switch step {
        case .retry(let plan):
            files.withLock { _ in f.retries.put(plan, tid: tid) }
            Self.replyRetry(req, plan)
        case .reply(let result, var bytes):
            Self.adjustForCuse(request: request, result: result, bytes: &bytes)
            bytes.withUnsafeBytes { _ = fuse_reply_ioctl(req, result, $0.baseAddress, $0.count) }
        case .fail(let errno):
            fuse_reply_err(req, errno)
        }
    }

    /// A caller this daemon has no ptrace rights over: its file's ioctls take CUSE's retry
    /// rounds from now on, and the first such caller is reported, since every ioctl of it then
    /// costs two to four round trips instead of one.
    func unreachable(_ tid: Int32, _ f: OpenFile) {
        files.withLock { _ in f.reachesCaller = false }
        if !reportedUnreachable.exchange(true, ordering: .relaxed) {
            FileHandle.standardError.write(Data("fakedrm: cannot reach the memory of pid \(tid) in place (no ptrace rights over it): its ioctls take CUSE's retry round trips\n".utf8))
        }
    }

    /// DRM_IOWR(0x40, struct drm_fakedrm_attach), 128 bytes (docs/cuse.md).
    static let attachRequest: UInt32 = 0xC080_6440
    static let attachSize = 128
    static let attachPathSize = 108

    /// DRM_IOCTL_FAKEDRM_ATTACH: a single-use token for this open file and the socket to
    /// present it on. Two round trips, like any _IOWR: the first asks for the struct.
    func attach(_ req: OpaquePointer, _ f: OpenFile, _ server: SocketServer, address: UInt64,
                inBuf: UnsafeRawPointer?, inSize: Int, outSize: Int) {
        let span = ClientSpan(address: address, count: Self.attachSize)
        if inSize == 0 && outSize == 0 {
            var i = Self.iovec(span), o = Self.iovec(span)
            _ = fuse_reply_ioctl_retry(req, &i, 1, &o, 1)
            return
        }
        guard let inBuf, inSize >= 8, outSize >= Self.attachSize else { fuse_reply_err(req, EFAULT); return }
        let input = UnsafeRawBufferPointer(start: inBuf, count: inSize)
        let version = input.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian
        let flags = input.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian
        guard version == 1 else { fuse_reply_err(req, EINVAL); return }
        let uid = fuse_req_ctx(req)?.pointee.uid ?? UInt32.max
        guard let token = server.issueAttachToken(for: f.context, uid: uid) else { fuse_reply_err(req, ENODEV); return }
        var out = [UInt8](repeating: 0, count: Self.attachSize)
        func put<T: FixedWidthInteger>(_ v: T, at offset: Int) {
            withUnsafeBytes(of: v.littleEndian) { for (i, b) in $0.enumerated() { out[offset + i] = b } }
        }
        put(UInt32(1), at: 0)
        // MMAP | FDS: every ioctl of an attached file goes over the socket, so both are granted.
        put(flags & 3, at: 4)
        put(token, at: 8)
        // NUL-terminated: the option is validated to leave room for the terminator.
        for (i, b) in server.path.utf8.prefix(Self.attachPathSize - 1).enumerated() { out[16 + i] = b }
        out.withUnsafeBytes { _ = fuse_reply_ioctl(req, 0, $0.baseAddress, $0.count) }
    }

    /// fuse_reply_ioctl_retry with the plan's spans, built in place (no intermediate arrays).
    static func replyRetry(_ req: OpaquePointer, _ plan: IoctlRetryPlan) {
        let n = plan.spanCounts
        withUnsafeTemporaryAllocation(of: Glibc.iovec.self, capacity: max(1, n.input + n.output)) { iov in
            var i = 0
            plan.forEachInput { iov[i] = iovec($0); i += 1 }
            plan.forEachOutput { iov[i] = iovec($0); i += 1 }
            guard let base = iov.baseAddress else { return }
            _ = fuse_reply_ioctl_retry(req, base, n.input, base + n.input, n.output)
        }
    }

    static func iovec(_ s: ClientSpan) -> Glibc.iovec {
        Glibc.iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(truncatingIfNeeded: s.address)), iov_len: s.count)
    }

    /// GET_CAP(DRM_CAP_PRIME) reads 0 on this node: neither export (a new fd in the caller) nor
    /// import (looking into the caller's fd) can work without the client library, and a client
    /// that sees the cap would try and fail later in a worse place.
    static func adjustForCuse(request: UInt32, result: Int32, bytes: inout [UInt8]) {
        let r = IoctlRequest(request)
        guard result == 0, r.type == IoctlRequest.drmType, r.nr == 0x0C, bytes.count >= 16 else { return }
        let cap = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        if cap == 0x5 { for i in 8..<16 { bytes[i] = 0 } }
    }
}

/// The caller's fd table as far as a CUSE daemon can see it: through /proc only, and
/// without any way to add to it. See docs/cuse.md for what each fd-returning ioctl does.
final class CuseFiles: ClientFiles {
    let pid: Int32
    init(pid: Int32) { self.pid = pid }

    func install(_ file: ExportedFile, cloexec: Bool) throws(DRMError) -> Int32 {
        throw .notSupported
    }

    /// Every fd a client can pass was made by someone else (fakedrm never installs one), so
    /// an open fd is "foreign"; a closed one is EBADF as in the kernel's fget.
    func lookup(fd: Int32) throws(DRMError) -> ExportedFile? {
        guard fd >= 0 else { throw .badFileDescriptor }
        var st = stat()
        if lstat("/proc/\(pid)/fd/\(fd)", &st) != 0 && errno == ENOENT { throw .badFileDescriptor }
        return nil
    }

    func uninstall(fd: Int32) {}

    /// pidfd_getfd copies the caller's eventfd (the daemon needs ptrace rights over it; without
    /// them the ioctl is EOPNOTSUPP here, as for the other fd-taking paths of a bare node).
    func eventfd(fd: Int32) throws(DRMError) -> OwnedFD {
        _ = try lookup(fd: fd)
        let copy = Eventfd.copy(fromPid: pid, fd: fd)
        guard copy >= 0 else { throw errno == EBADF ? .badFileDescriptor : .notSupported }
        let owned = OwnedFD(copy)
        guard Eventfd.isEventfd(copy) else { throw .invalidArgument }
        return owned
    }
}
