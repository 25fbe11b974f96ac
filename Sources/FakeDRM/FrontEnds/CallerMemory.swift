import CFakeDRMSys
import Glibc

/// Another process's memory, read and written where it is (process_vm_readv/writev), as the
/// kernel's copy_from_user/copy_to_user reach the caller's: the CUSE front end answers an ioctl
/// in one round trip this way instead of CUSE's retry protocol (docs/cuse.md, "How an ioctl
/// travels"). Needs ptrace rights over the caller, which a root daemon has; the first copy tells.
///
/// The caller's thread cannot exit while its request is with the daemon (FUSE waits out a
/// request already sent, even for SIGKILL), so `pid`, a thread id, names it throughout.
public final class CallerMemory: ClientMemory {
    public let pid: Int32

    public init(pid: Int32) { self.pid = pid }

    /// How a copy went. A fault means the daemon may look and the span is bad: the kernel's own
    /// answer (EFAULT). `unreachable` means it may not look: no ptrace rights (EPERM, EACCES),
    /// no such process seen from here (ESRCH), no such syscall (ENOSYS); the caller's ioctls go
    /// the retry way instead. `failed` is anything else (ENOMEM while pinning the pages): this
    /// one request goes the retry way.
    public enum Copy: Equatable { case done, fault, unreachable, failed }

    public func copyIn(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Copy {
        if buffer.isEmpty { return .done }
        return Self.outcome(cfd_peek(pid, buffer.baseAddress, address, buffer.count), buffer.count)
    }

    public func copyOut(_ bytes: UnsafeRawBufferPointer, at address: UInt64) -> Copy {
        if bytes.isEmpty { return .done }
        return Self.outcome(cfd_poke(pid, bytes.baseAddress, address, bytes.count), bytes.count)
    }

    /// A short count is a fault part way (the copy stops at the first bad page).
    private static func outcome(_ n: Int, _ count: Int) -> Copy {
        if n == count { return .done }
        if n >= 0 { return .fault }
        switch errno {
        case EFAULT: return .fault
        case EPERM, EACCES, ESRCH, ENOSYS: return .unreachable
        default: return .failed
        }
    }

    /// The error a handler sees: a bad span is EFAULT; any other failure (rights lost, no
    /// memory to pin the pages) has no kernel equivalent past the first copy and is ENOMEM.
    private static func error(_ copy: Copy) -> DRMError { copy == .fault ? .badAddress : .noMemory }

    public func read(at address: UInt64, count: Int) throws(DRMError) -> [UInt8] {
        if count == 0 { return [] }
        var out = [UInt8].zeroed(count)
        let copy = out.withUnsafeMutableBytes { copyIn(at: address, into: $0) }
        if copy != .done { throw Self.error(copy) }
        return out
    }

    public func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DRMError) {
        let copy = copyIn(at: address, into: buffer)
        if copy != .done { throw Self.error(copy) }
    }

    public func write(_ bytes: [UInt8], at address: UInt64) throws(DRMError) {
        let copy = bytes.withUnsafeBytes { copyOut($0, at: address) }
        if copy != .done { throw Self.error(copy) }
    }
}
