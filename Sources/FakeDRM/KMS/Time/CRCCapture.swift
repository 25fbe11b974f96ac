import CFakeDRMSys
import Dispatch
import Glibc

/// The CRTCs' frame CRC taps: drm_debugfs_crc.c's `crc/control` + `crc/data` per CRTC, fed
/// as vkms_crc.c feeds them. Owns each tap's source, reader and queued frames under `lock`
/// (taken after the device lock, never before it); composing runs on `queue`, off both locks.
///
/// @unchecked Sendable: every mutable field is guarded by `lock`.
public final class CRCCapture: @unchecked Sendable {
    /// vkms's only source; `crc/control` lists what it accepts.
    public static let sources = ["auto"]
    /// vkms reports one CRC word per frame, so a line is always LINE_LEN(1) bytes.
    public static let valuesPerEntry = 1
    /// drm_debugfs_crc.c's LINE_LEN(values_cnt): the frame word, the CRC words, '\n' and NUL.
    public static var lineLength: Int { 10 + 11 * valuesPerEntry + 1 + 1 }
    /// A control write longer than this (PAGE_SIZE - 1) is E2BIG.
    static let maxControlWrite = 4095

    private struct Tap {
        /// nil until `crc/control` names one, as the kernel's crc->source.
        var source: String?
        /// The daemon's end of the reader's socket while `crc/data` is open.
        var reader: OwnedFD?
        /// Bumped when a reader opens, so a compose for an earlier one is not delivered.
        var generation: UInt64 = 0
        /// Frames that ended since the last compose started (vkms's frame_start..frame_end).
        var frames: (first: UInt32, last: UInt32)?
        var scanout: Scanout?
        var composeQueued = false
    }

    private let lock = DeviceLock()
    private var taps: [Tap]
    /// Per CRTC, whether a reader is open: read under the device lock by every vblank tick.
    private var capturing: [Bool]
    private let queue = DispatchQueue(label: "fakedrm.crc")

    init(crtcCount: Int) {
        self.crtcCount = crtcCount
        taps = Array(repeating: Tap(), count: crtcCount)
        capturing = Array(repeating: false, count: crtcCount)
    }

    /// Fixed at init: read without the lock (the debugfs view lists crtc-N directories while
    /// a compose writes `taps` under it; ThreadSanitizer caught `taps.count` racing).
    let crtcCount: Int

    /// vkms_crc_parse_source: "auto" enables, no source disables, anything else is EINVAL.
    static func verify(_ source: String?) throws(DRMError) -> Bool {
        guard let source else { return false }
        guard sources.contains(source) else { throw .invalidArgument.because(.modeset, "unknown source \(source)") }
        return true
    }

    /// What reading `crc/control` shows (crc_control_show): each source, the current one
    /// marked with '*'.
    public func controlText(crtc: Int) -> String {
        let current: String? = lock.withLock { (0..<crtcCount).contains(crtc) ? taps[crtc].source : nil }
        return Self.sources.map { $0 == current ? "\($0)*\n" : "\($0)\n" }.joined()
    }

    /// A write to `crc/control` (crc_control_write): returns the bytes consumed.
    public func writeControl(crtc: Int, _ bytes: [UInt8]) throws(DRMError) -> Int {
        guard (0..<crtcCount).contains(crtc) else { throw .notFound.because(.modeset, "no CRTC \(crtc) for crc/control") }
        if bytes.isEmpty { return 0 }
        guard bytes.count <= Self.maxControlWrite else {
            throw .argumentListTooLong.because(.modeset, "Expected < \(Self.maxControlWrite + 1) bytes into crtc crc control (got \(bytes.count))")
        }
        var text = bytes
        if text.last == 0x0a { text.removeLast() }
        // memdup_user_nul: the source ends at the first NUL.
        if let nul = text.firstIndex(of: 0) { text = Array(text[..<nul]) }
        let source = String(decoding: text, as: UTF8.self)
        _ = try Self.verify(source)
        try lock.withLock { () throws(DRMError) in
            dropClosedReader(crtc)
            if taps[crtc].reader != nil { throw .busy.because(.modeset, "crtc-\(crtc) crc/data is open; its source cannot change") }
            taps[crtc].source = source
        }
        return bytes.count
    }

    /// Opens `crc/data` (crtc_crc_open) for a CRTC the caller found active; returns the client's
    /// end of a SOCK_SEQPACKET pair, one record per entry, so blocking and O_NONBLOCK reads and
    /// poll behave as the kernel's file without the daemon waiting for the reader.
    func openData(crtc: Int) throws(DRMError) -> OwnedFD {
        guard (0..<crtcCount).contains(crtc) else { throw .notFound.because(.modeset, "no CRTC \(crtc) for crc/data") }
        return try lock.withLock { () throws(DRMError) -> OwnedFD in
            let enabled = try Self.verify(taps[crtc].source)
            dropClosedReader(crtc)
            if taps[crtc].reader != nil { throw .busy.because(.modeset, "crtc-\(crtc) crc/data is already open") }
            var sv: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sv) == 0 else {
                throw .noMemory.because(.modeset, "crtc-\(crtc) crc/data: socketpair failed (errno \(errno))")
            }
            let mine = OwnedFD(sv[1])
            _ = fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK)
            // A reader that will never see an entry (no source): its reads end at once, as
            // crtc_crc_read returns 0 without a source.
            if !enabled { _ = shutdown(sv[1], Int32(SHUT_WR)) }
            taps[crtc].reader = mine
            taps[crtc].generation &+= 1
            taps[crtc].frames = nil
            taps[crtc].scanout = nil
            capturing[crtc] = enabled
            return OwnedFD(sv[0])
        }
    }

    /// crtc_crc_open's first check: the CRTC must be active in the software state (EIO).
    public func openData(crtc: Int, of device: Device) throws(DRMError) -> OwnedFD {
        try device.lock.withLock { () throws(DRMError) -> OwnedFD in
            guard crtc < device.pipeline.state.crtcs.count else { throw .notFound.because(.modeset, "no CRTC \(crtc) for crc/data") }
            guard device.pipeline.state.crtcs[crtc].active else {
                throw .io.because(.modeset, "\(device.topology.crtcs[crtc].tag) is not active; crc/data needs it on")
            }
            return try openData(crtc: crtc)
        }
    }

    /// Called with the device lock held: whether vblanks of `crtc` need a CRC.
    func isCapturing(_ crtc: Int) -> Bool { lock.withLock { (0..<crtcCount).contains(crtc) && capturing[crtc] } }

    /// Frames `first...last` of `crtc` ended showing `scanout` (device lock held): queue a
    /// compose, or widen the one queued, so a slow compose gives every frame an entry with the
    /// newest picture, as vkms's composer worker does for frame_start..frame_end.
    func framesEnded(crtc: Int, first: UInt32, last: UInt32, scanout: Scanout) {
        let start: Bool = lock.withLock {
            guard (0..<crtcCount).contains(crtc), capturing[crtc] else { return false }
            taps[crtc].frames = (taps[crtc].frames?.first ?? first, last)
            taps[crtc].scanout = scanout
            if taps[crtc].composeQueued { return false }
            taps[crtc].composeQueued = true
            return true
        }
        if start { queue.async { self.compose(crtc: crtc) } }
    }

    private func compose(crtc: Int) {
        let job: (Scanout, UInt32, UInt32, UInt64)? = lock.withLock {
            taps[crtc].composeQueued = false
            guard let s = taps[crtc].scanout, let f = taps[crtc].frames else { return nil }
            taps[crtc].scanout = nil
            taps[crtc].frames = nil
            return (s, f.first, f.last, taps[crtc].generation)
        }
        guard let (scanout, first, last, generation) = job else { return }
        let frame = Composer.compose(scanout)
        let crc = frame.crc32
        withExtendedLifetime(scanout.buffers) {}
        lock.withLock {
            guard taps[crtc].generation == generation, let reader = taps[crtc].reader else { return }
            var n = first
            while true {
                if !Self.send(Self.line(frame: n, crc: crc), to: reader) {
                    dropClosedReader(crtc)
                    return
                }
                if n == last { break }
                n &+= 1
            }
        }
    }

    /// One entry as crtc_crc_read formats it, with the terminating NUL it copies out.
    static func line(frame: UInt32, crc: UInt32) -> [UInt8] {
        func hex(_ v: UInt32) -> String {
            let digits = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
        }
        return Array("\(hex(frame)) \(hex(crc))\n".utf8) + [0]
    }

    /// false when the reader is gone. A full socket (a reader too slow) drops the entry, as
    /// drm_crtc_add_crc_entry's overflow does.
    private static func send(_ line: [UInt8], to reader: OwnedFD) -> Bool {
        let r = line.withUnsafeBytes { Glibc.send(reader.raw, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        return r >= 0 || errno == EAGAIN || errno == ENOBUFS
    }

    /// The kernel learns of the last close at release; the daemon learns it here, before any
    /// decision that depends on whether `crc/data` is open.
    private func dropClosedReader(_ crtc: Int) {
        guard let r = taps[crtc].reader else { return }
        var p = pollfd(fd: r.raw, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, 0) == 1, p.revents & Int16(POLLHUP | POLLERR) != 0 else { return }
        taps[crtc].reader = nil
        taps[crtc].frames = nil
        taps[crtc].scanout = nil
        capturing[crtc] = false
    }

    /// Open readers, for `ctl state` and leak checks.
    public var openReaders: Int { lock.withLock { taps.indices.filter { dropClosedReader($0); return taps[$0].reader != nil }.count } }
}
