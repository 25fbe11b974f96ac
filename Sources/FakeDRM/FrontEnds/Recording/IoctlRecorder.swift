import Glibc

/// Appends what socket clients ask of the card to a file in IoctlRecording's format
/// (`fakedrm run --record FILE`): the fuzz corpus is made of such recordings of real clients.
/// Its state is behind its own lock; connections call it from their threads.
public final class IoctlRecorder: Sendable {
    private struct State {
        var slots: [Int: UInt8] = [:]
        var written = 0
        var full = false
    }
    private let fd: OwnedFD
    private let maxBytes: Int
    private let state = Locked(State())

    /// Truncates `path`; stops recording for good (silently: the client must not notice) at
    /// the first record that would take it past `maxBytes`, so the file is a prefix of the session.
    public init(path: String, maxBytes: Int = 64 << 20) throws(DRMError) {
        let raw = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard raw >= 0 else { throw DRMError(errno: errno) ?? .io }
        fd = OwnedFD(raw)
        self.maxBytes = maxBytes
    }

    /// One ioctl on `file`, after the codec answered it, with the client memory it touched.
    func ioctl(file: FileContext, request: UInt32, arg: [UInt8], touched: [IoctlRecording.Op]) {
        append(file) { slot in touched + [.ioctl(file: slot, request: request, arg: arg)] }
    }

    func read(file: FileContext, max: Int) {
        append(file) { slot in [.read(file: slot, max: UInt16(clamping: max))] }
    }

    private func append(_ file: FileContext, _ ops: (UInt8) -> [IoctlRecording.Op]) {
        state.withLock { s in
            let slot = s.slots[file.id] ?? UInt8(truncatingIfNeeded: s.slots.count)
            s.slots[file.id] = slot
            let bytes = ops(slot).flatMap(IoctlRecording.encode)
            guard !s.full, s.written + bytes.count <= maxBytes else {
                s.full = true
                return
            }
            let n = bytes.withUnsafeBytes { Glibc.write(fd.raw, $0.baseAddress, $0.count) }
            // A short write (ENOSPC) leaves a partial record: stop there, so the file parses.
            if n != bytes.count { s.full = true }
            if n > 0 { s.written += n }
        }
    }
}

/// The client's memory as the codec sees it, noting every range it reads (with the bytes) or
/// writes (as zeros: a replay only needs the range mapped).
final class RecordingMemory: ClientMemory {
    let inner: ClientMemory
    private(set) var touched: [IoctlRecording.Op] = []

    init(_ inner: ClientMemory) { self.inner = inner }

    func read(at address: UInt64, count: Int) throws(DRMError) -> [UInt8] {
        let bytes = try inner.read(at: address, count: count)
        note(.memory(address: address, bytes: bytes))
        return bytes
    }

    func write(_ bytes: [UInt8], at address: UInt64) throws(DRMError) {
        try inner.write(bytes, at: address)
        note(.memory(address: address, bytes: [UInt8](repeating: 0, count: bytes.count)))
    }

    var isGone: Bool { inner.isGone }

    private func note(_ op: IoctlRecording.Op) {
        guard case .memory(_, let bytes) = op, !bytes.isEmpty, bytes.count <= IoctlRecording.maxMemory else { return }
        if !touched.contains(op) { touched.append(op) }
    }
}
