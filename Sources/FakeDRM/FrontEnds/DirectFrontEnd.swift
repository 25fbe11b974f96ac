import CFakeDRMSys
import Glibc

/// The in-process front end: raw request numbers and raw argument bytes, as a client would
/// issue them, against a fake address space and a fake fd table. Tests and benchmarks use it.

/// Client memory as a set of mapped regions; anything else faults (EFAULT).
public final class FakeAddressSpace: ClientMemory {
    struct Region {
        let base: UInt64
        var bytes: [UInt8]
        let writable: Bool
    }
    private var regions: [Region] = []
    private var next: UInt64 = 0x10_0000

    public init() {}

    /// Maps `bytes` at a fresh address; returns the address.
    @discardableResult
    public func map(_ bytes: [UInt8], writable: Bool = true) -> UInt64 {
        let base = next
        regions.append(Region(base: base, bytes: bytes, writable: writable))
        next += (UInt64(max(bytes.count, 1)) + 0xfff) & ~0xfff
        next += 0x1000  // a guard page between regions
        return base
    }

    public func alloc(_ count: Int, writable: Bool = true) -> UInt64 { map([UInt8](repeating: 0, count: count), writable: writable) }

    /// Exactly these writable regions at these addresses (a recorded client's memory for one
    /// ioctl); where two overlap, the earlier one answers.
    public func replace(with regions: [(address: UInt64, bytes: [UInt8])]) {
        self.regions = regions.map { Region(base: $0.address, bytes: $0.bytes, writable: true) }
    }

    public func bytes(at address: UInt64, count: Int) -> [UInt8]? { try? read(at: address, count: count) }

    private func find(_ address: UInt64, _ count: Int) -> Int? {
        regions.firstIndex { r in
            address >= r.base && count >= 0 && address - r.base <= UInt64(r.bytes.count) && UInt64(count) <= UInt64(r.bytes.count) - (address - r.base)
        }
    }

    public func read(at address: UInt64, count: Int) throws(DRMError) -> [UInt8] {
        guard let i = find(address, count) else { throw .badAddress }
        let o = Int(address - regions[i].base)
        return Array(regions[i].bytes[o..<o + count])
    }

    public func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DRMError) {
        guard let i = find(address, buffer.count) else { throw .badAddress }
        let o = Int(address - regions[i].base)
        regions[i].bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[o..<o + buffer.count])) }
    }

    public func write(_ bytes: [UInt8], at address: UInt64) throws(DRMError) {
        guard let i = find(address, bytes.count), regions[i].writable else { throw .badAddress }
        let o = Int(address - regions[i].base)
        regions[i].bytes.replaceSubrange(o..<o + bytes.count, with: bytes)
    }
}

/// A fake fd table: installed objects get numbers from 1000 up.
public final class DirectFiles: ClientFiles {
    public private(set) var table: [Int32: ExportedFile] = [:]
    private var next: Int32 = 1000
    /// false: no fd number reaches this process's real fds; an eventfd asked for is a fresh
    /// one (a replayed recording names fds of a process long gone).
    private let realFDs: Bool
    public init(realFDs: Bool = true) { self.realFDs = realFDs }

    public func install(_ file: ExportedFile, cloexec: Bool) throws(DRMError) -> Int32 {
        let fd = next
        next += 1
        table[fd] = file
        return fd
    }

    public func lookup(fd: Int32) throws(DRMError) -> ExportedFile? {
        guard let f = table[fd] else { throw .badFileDescriptor }
        return f
    }

    public func uninstall(fd: Int32) { table[fd] = nil }

    /// Fds of this table are fakedrm's (never eventfds); any other number is a real fd of this
    /// process.
    public func eventfd(fd: Int32) throws(DRMError) -> OwnedFD {
        guard table[fd] == nil else { throw .invalidArgument }
        guard fd >= 0 else { throw .badFileDescriptor }
        guard realFDs else {
            let raw = cfd_eventfd(0, 1)
            guard raw >= 0 else { throw .noMemory }
            return OwnedFD(raw)
        }
        guard fcntl(fd, F_GETFD) >= 0 else { throw .badFileDescriptor }
        guard Eventfd.isEventfd(fd) else { throw .invalidArgument }
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw .noMemory }
        return OwnedFD(copy)
    }

    public func close(fd: Int32) { table[fd] = nil }

    public func syncFile(fd: Int32) -> SyncFile? {
        if case .syncFile(let s)? = table[fd] { return s }
        return nil
    }
}

/// One open file of a device driven through the codec.
public final class DirectClient {
    public let device: Device
    public let file: FileContext
    public let memory = FakeAddressSpace()
    public let files: DirectFiles
    public var env: ClientEnv { ClientEnv(memory: memory, files: files) }

    public init(device: Device, uid: UInt32 = getuid(), files: DirectFiles = DirectFiles()) throws(DRMError) {
        self.device = device
        self.files = files
        file = try device.open(uid: uid)
    }

    /// A client of a file opened another way (a lease's lessee).
    public init(device: Device, file: FileContext) {
        self.device = device
        self.file = file
        files = DirectFiles()
    }

    /// Issues a raw ioctl; `arg` is updated with what the kernel copies back. Returns 0 or errno.
    /// Never inlined: scripts/bench-instructions.sh counts the instructions inside it.
    @discardableResult @inline(never)
    public func ioctl(_ request: UInt32, _ arg: inout [UInt8]) -> Int32 {
        UAPICodec.ioctl(device, file, request: request, arg: &arg, env: env)
    }

    public func syncFileIoctl(fd: Int32, _ request: UInt32, _ arg: inout [UInt8]) -> Int32 {
        guard let sf = files.syncFile(fd: fd) else { return DRMError.badFileDescriptor.errno }
        let r = SyncFileCodec.ioctl(device, sf, request: request, arg: arg, env: env)
        if !r.bytes.isEmpty { arg = r.bytes }
        return r.errno
    }

    @inline(never)
    public func read(max: Int = 4096) throws(DRMError) -> [UInt8] {
        try device.files.readEvents(file, maxBytes: max, nonblocking: true)
    }

    public func close() { device.close(file) }
}
