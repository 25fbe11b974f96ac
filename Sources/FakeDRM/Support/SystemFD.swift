import CFakeDRMSys
import Glibc
import Synchronization

public enum Monotonic {
    public static func nowNs() -> Int64 {
        var ns: Int64 = 0
        _ = cfd_monotonic_now(&ns)
        return ns
    }
}

/// An owned file descriptor, closed when the last reference goes.
/// @unchecked Sendable: the descriptor number is immutable; the kernel object is thread-safe.
public final class OwnedFD: @unchecked Sendable {
    public let raw: Int32
    public init(_ raw: Int32) { self.raw = raw }
    deinit { close(raw) }
}

/// The file descriptors kept free for what must not fail (a client's open, `fakedrm ctl`, the
/// next request of every other client) when clients' buffers and fences use up the rest. fds
/// are numbered lowest-free first, so a new fd's number is about the count of open fds: a
/// client-driven allocation whose fd lands in the reserve is undone (ENOMEM).
public enum FDReserve {
    private static let reserve = Atomic<Int>(512)

    public static func set(_ count: Int) { reserve.store(count, ordering: .relaxed) }

    public static func admits(_ fd: Int32) -> Bool {
        UInt64(fd) + UInt64(reserve.load(ordering: .relaxed)) < softLimit
    }

    /// The most buffers one client may hold: half of what the reserve leaves (each buffer is
    /// an fd), so a single client cannot starve the next one of buffers either.
    public static var perClientShare: Int { available / 2 }

    /// The most buffers all files of one uid may hold together: three quarters, so one user's
    /// many files cannot take every buffer fd from another user either, while two clients of
    /// the same user (a compositor and a tool) still both get buffers.
    public static var perUserShare: Int { available / 4 * 3 }

    private static var available: Int {
        Int(min(softLimit - min(softLimit, UInt64(reserve.load(ordering: .relaxed))), UInt64(Int.max)))
    }

    private static var softLimit: UInt64 {
        var r = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r) == 0, r.rlim_cur != rlim_t.max else { return UInt64(Int32.max) }
        return UInt64(r.rlim_cur)
    }
}

/// An eventfd used as a level-triggered readiness flag that another process can poll.
public final class ReadinessFlag: @unchecked Sendable {
    public let fd: OwnedFD
    private var isSet = false

    /// `reserving`: a flag a client can make many of (a sync file's), held to `FDReserve`.
    public init(reserving: Bool = false) throws(DRMError) {
        let raw = cfd_eventfd(0, 1)
        guard raw >= 0 else { throw .noMemory }
        fd = OwnedFD(raw)
        if reserving && !FDReserve.admits(raw) { throw .noMemory }
    }

    /// Callers serialise set/clear (the device lock); the flag only mirrors a queue state.
    public func set() {
        guard !isSet else { return }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(fd.raw, $0.baseAddress, 8) }
        isSet = true
    }

    public func clear() {
        guard isSet else { return }
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { read(fd.raw, $0.baseAddress, 8) }
        isSet = false
    }
}

/// Anonymous shared memory backing a GEM object (stands in for shmem and for a dma-buf).
public final class SharedMemory: @unchecked Sendable {
    public let fd: OwnedFD
    public let size: Int
    /// Mapped once in the daemon; the composer and the virtio backend read from here.
    public let base: UnsafeMutableRawPointer

    public init(size: Int, name: String) throws(DRMError) {
        let raw = cfd_memfd_create(name, 1)
        guard raw >= 0 else { throw .noMemory }
        let owned = OwnedFD(raw)
        guard FDReserve.admits(raw) else { throw .noMemory }
        guard ftruncate(raw, off_t(size)) == 0 else { throw .noMemory }
        // The size is fixed from now on: a client holding the fd (mmap, PRIME) cannot shrink
        // the memory under the composer or a host compositor reading it (which would fault
        // there: a Wayland host then ends fakedrm's connection).
        _ = fcntl(raw, Self.addSeals, Self.sealShrink | Self.sealGrow)
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, raw, 0), p != MAP_FAILED else {
            throw .noMemory
        }
        fd = owned
        self.size = size
        base = p
    }

    deinit { munmap(base, size) }

    // <linux/fcntl.h>, not in Glibc's module.
    static let addSeals: Int32 = 1033, sealShrink: Int32 = 0x0002, sealGrow: Int32 = 0x0004
}

/// What /proc/self/fdinfo says about an eventfd, and the write that signals one.
public enum Eventfd {
    /// What one read of the fd's fdinfo says: whether it is an eventfd (eventfd_ctx_fdget's
    /// test: only an eventfd has an `eventfd-count` line) and its `eventfd-id` if shown.
    public static func probe(_ fd: Int32) -> (isEventfd: Bool, id: UInt64?) {
        let f = open("/proc/self/fdinfo/\(fd)", O_RDONLY | O_CLOEXEC)
        guard f >= 0 else { return (false, nil) }
        defer { close(f) }
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = buf.withUnsafeMutableBytes { read(f, $0.baseAddress, $0.count) }
        guard n > 0 else { return (false, nil) }
        var isEventfd = false, id: UInt64?
        for line in String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("eventfd-count:") { isEventfd = true }
            if line.hasPrefix("eventfd-id:") { id = UInt64(line.dropFirst("eventfd-id:".count).drop(while: { $0 == " " || $0 == "\t" })) }
        }
        return (isEventfd, id)
    }

    /// The kernel's eventfd id (distinct per eventfd, shared by every fd of one).
    public static func id(_ fd: Int32) -> UInt64? { probe(fd).id }

    public static func isEventfd(_ fd: Int32) -> Bool { probe(fd).isEventfd }

    /// A copy of process `pid`'s fd `fd` (pidfd_getfd: needs ptrace rights over it); -1 and
    /// errno on failure.
    public static func copy(fromPid pid: Int32, fd: Int32) -> Int32 {
        let pidfd = cfd_pidfd_open(pid)
        guard pidfd >= 0 else { return -1 }
        defer { close(pidfd) }
        return cfd_pidfd_getfd(pidfd, fd)
    }

    /// eventfd_signal: adds 1 to the counter and never blocks. The fd shares the client's file
    /// description, which may be blocking: a counter too full to take 1 is left as it is (it
    /// is readable already), as the kernel's saturating signal.
    public static func signal(_ fd: Int32) {
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, 0) == 1, p.revents & Int16(POLLOUT) != 0 else { return }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(fd, $0.baseAddress, 8) }
    }
}

/// The daemon holds a few fds per client open file (its socket, the readiness eventfd, exports),
/// so the default soft RLIMIT_NOFILE of 1024 would refuse opens long before a client's own
/// limit does (IGT's core_auth@many-magics opens ~500 cards). The daemon raises its soft limit
/// to the hard one; the commands it spawns get the original back.
public enum FDLimit {
    nonisolated(unsafe) private static var original: rlimit?

    public static func raise() {
        var r = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &r) == 0, original == nil else { return }
        original = r
        var raised = r
        raised.rlim_cur = r.rlim_max
        _ = setrlimit(RLIMIT_NOFILE_VALUE, &raised)
    }

    /// Runs `body` (a spawn) with the soft limit the process started with.
    public static func withOriginal<T>(_ body: () throws -> T) rethrows -> T {
        guard var r = original else { return try body() }
        var current = rlimit()
        _ = getrlimit(RLIMIT_NOFILE_VALUE, &current)
        _ = setrlimit(RLIMIT_NOFILE_VALUE, &r)
        defer { _ = setrlimit(RLIMIT_NOFILE_VALUE, &current) }
        return try body()
    }

    private static var RLIMIT_NOFILE_VALUE: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}
