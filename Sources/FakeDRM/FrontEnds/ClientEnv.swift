/// What a front end lends the core for one request: the caller's memory and its fd table.
/// The core never knows which front end it talks to.

public protocol ClientMemory: AnyObject {
    /// Reads `count` bytes at a client address; EFAULT when any byte is not readable.
    func read(at address: UInt64, count: Int) throws(DRMError) -> [UInt8]
    /// Reads `buffer.count` bytes at a client address into `buffer`; EFAULT as `read`.
    func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DRMError)
    /// Writes at a client address; EFAULT when not writable.
    func write(_ bytes: [UInt8], at address: UInt64) throws(DRMError)
    /// The caller is gone (its connection hung up): an unbounded wait for it ends, as a
    /// kernel wait is interrupted when the process is killed.
    var isGone: Bool { get }
    /// A pass that missed spans the client has (CUSE's retry planner): its failure is not
    /// the request's answer, so it is neither logged nor kept as the file's last rejection.
    var isIncomplete: Bool { get }
}

extension ClientMemory {
    public var isGone: Bool { false }
    public var isIncomplete: Bool { false }
    public func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DRMError) {
        let bytes = try read(at: address, count: buffer.count)
        buffer.copyBytes(from: bytes)
    }
}

/// An object the kernel would install as a new fd in the caller.
public enum ExportedFile: Sendable {
    case syncFile(SyncFile)
    case dmabuf(BufferObject)
    case syncobj(Syncobj)
    /// A new open file of the card (a DRM lease's lessee).
    case card(FileContext)
    /// A sw_sync timeline (an open of /dev/sw_sync).
    case timeline(Timeline)
}

public protocol ClientFiles: AnyObject {
    /// Installs a new fd in the caller (O_CLOEXEC unless `cloexec` is false); returns its number.
    func install(_ file: ExportedFile, cloexec: Bool) throws(DRMError) -> Int32
    /// What the caller's fd refers to, if it is something fakedrm made (EBADF when the fd is
    /// not open at all, nil when it is open but foreign).
    func lookup(fd: Int32) throws(DRMError) -> ExportedFile?
    /// Closes an fd installed earlier in this request, when the request fails after all.
    func uninstall(fd: Int32)
    /// The caller's eventfd `fd`, as eventfd_ctx_fdget takes it: EBADF when not open, EINVAL
    /// when it is not an eventfd (fds fakedrm made are sync files and cards, never eventfds).
    func eventfd(fd: Int32) throws(DRMError) -> OwnedFD
}

public struct ClientEnv {
    public let memory: ClientMemory
    public let files: ClientFiles
    public init(memory: ClientMemory, files: ClientFiles) {
        self.memory = memory
        self.files = files
    }
}

extension ClientMemory {
    /// Array reads are capped so a lying count cannot make the daemon allocate gigabytes;
    /// the kernel would fail such a copy with EFAULT as well.
    static var maxRead: Int { 64 << 20 }

    func readArray(at address: UInt64, count: UInt32, elementSize: Int) throws(DRMError) -> [UInt8] {
        let total = try checkedArraySize(count, elementSize)
        if total == 0 { return [] }
        do {
            return try read(at: address, count: total)
        } catch {
            throw readFailure(error, total, address)
        }
    }

    func readU32s(at address: UInt64, count: UInt32) throws(DRMError) -> [UInt32] { try readIntegers(at: address, count: count) }
    func readU64s(at address: UInt64, count: UInt32) throws(DRMError) -> [UInt64] { try readIntegers(at: address, count: count) }

    /// Little-endian integers read straight into the array returned. Always inlined: these run
    /// on an existential, so a body left generic over the element would look `[T]`'s metadata
    /// up at runtime on every call (docs/bench.md, 8 Dec).
    @inline(__always)
    private func readIntegers<T: FixedWidthInteger>(at address: UInt64, count: UInt32) throws(DRMError) -> [T] {
        guard try checkedArraySize(count, MemoryLayout<T>.size) > 0 else { return [] }
        var out = [T].zeroed(Int(count))
        var failure: DRMError?
        out.withUnsafeMutableBytes { raw in failure = readArray(at: address, into: raw) }
        if let failure { throw failure }
        if 1.littleEndian != 1 { for i in out.indices { out[i] = T(littleEndian: out[i]) } }
        return out
    }

    private func checkedArraySize(_ count: UInt32, _ size: Int) throws(DRMError) -> Int {
        let (total, overflow) = Int(count).multipliedReportingOverflow(by: size)
        guard !overflow, total <= Self.maxRead else {
            throw .badAddress.because(.uapi, "an array of \(count) × \(size) bytes is beyond what a copy may take")
        }
        return total
    }

    /// The error of reading the array, if any (withUnsafeMutableBytes cannot throw a typed one).
    private func readArray(at address: UInt64, into raw: UnsafeMutableRawBufferPointer) -> DRMError? {
        do throws(DRMError) {
            try read(at: address, into: raw)
            return nil
        } catch {
            return readFailure(error, raw.count, address)
        }
    }

    /// A failed array read, with its reason; a span the CUSE planner has yet to fetch is no
    /// rejection, so then there is no reason to format.
    private func readFailure(_ error: DRMError, _ count: Int, _ address: UInt64) -> DRMError {
        if isIncomplete { return error }
        return error.because(.uapi, "cannot read \(count) bytes at 0x\(String(address, radix: 16))")
    }
}
