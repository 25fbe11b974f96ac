import CFakeDRMSys
import Glibc

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

/// An eventfd used as a level-triggered readiness flag that another process can poll.
public final class ReadinessFlag: @unchecked Sendable {
    public let fd: OwnedFD
    private var isSet = false

    public init() throws(DRMError) {
        let raw = cfd_eventfd(0, 1)
        guard raw >= 0 else { throw .noMemory }
        fd = OwnedFD(raw)
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
        guard ftruncate(raw, off_t(size)) == 0 else { throw .noMemory }
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, raw, 0), p != MAP_FAILED else {
            throw .noMemory
        }
        fd = owned
        self.size = size
        base = p
    }

    deinit { munmap(base, size) }
}
