import CWayland
import FakeDRM
import Foundation
import Glibc

/// `--backend wayland`: each CRTC's output in an xdg-toplevel window of the host compositor.
///
/// A plane that is the whole picture as it is goes to the host without a copy: the dumb
/// buffer's memfd becomes a wl_shm pool, one wl_buffer per framebuffer picture. Anything else
/// is composed into the window's own buffers (counted in `stats.frameCopies`).
///
/// Timing follows the host: a flip completes at the frame callback of the commit that showed
/// it, and a release fence signals once the commit latched and the host sent wl_buffer.release
/// for every guest buffer the commit put on screen. With
/// `releaseTiedToFlip` a flip also waits until the host let go of the older commits' buffers:
/// what a driver without release fences must do before telling the guest a buffer is free.
///
/// Threads: `submit` comes under the device lock and only posts to the Wayland thread, which
/// makes every request and every device call (flipDone, buffersReleased, lost).
///
/// @unchecked Sendable: `windows`/`direct` are touched only on the Wayland thread; `stats`
/// and the device reference under their locks.
public final class WaylandBackend: ScanoutBackend, HostEvents, @unchecked Sendable {
    public struct Options: Sendable {
        public var releaseTiedToFlip = false
        public init(releaseTiedToFlip: Bool = false) { self.releaseTiedToFlip = releaseTiedToFlip }
    }

    public struct Stats: Sendable {
        public var submits = 0
        public var directFrames = 0
        public var composedFrames = 0
        /// Full-frame copies fakedrm made (one per composed frame, none on the shm path).
        public var frameCopies = 0
        public var frameCallbacks = 0
        public var presented = 0
        public var discarded = 0
        public var releases = 0
        /// Guest buffers attached and not yet released by the host.
        public var hostHeldBuffers = 0
        public var windows = 0
        /// The newest presentation-time stamp, on CLOCK_MONOTONIC.
        public var lastPresentedNs: Int64 = 0
        public var lostReason: String?
    }

    public var completesFlips: Bool { true }
    public var holdsBuffers: Bool { true }
    public func present(crtcIndex: Int, scanout: Scanout, timestampNs: Int64) {}

    private let host: WaylandHost
    private let options: Options
    private let capture: FrameCapture?
    private let lock = NSLock()
    private var _stats = Stats()
    private weak var _device: Device?
    private var lostHandler: (@Sendable (String) -> Void)?
    // The Wayland thread's.
    private var windows: [Int: HostWindow] = [:]
    private var direct: [DirectKey: HostBuffer] = [:]
    private var useCounter: UInt64 = 0
    static let maxDirect = 32
    /// Per CRTC: the newest presentation time (CLOCK_MONOTONIC) and the host's refresh period.
    private var lastPresentation: [Int: (ns: Int64, refreshNs: Int64)] = [:]

    /// `display`: a socket name under XDG_RUNTIME_DIR or an absolute path; nil: $WAYLAND_DISPLAY.
    public init(display: String?, options: Options = .init(), capture: FrameCapture? = nil) throws(WaylandHostError) {
        host = try WaylandHost(name: display)
        self.options = options
        self.capture = capture
        host.onLost = { [weak self] why in self?.hostLost(why) }
        host.start()
    }

    /// The host display as named (or found in WAYLAND_DISPLAY).
    public var hostName: String { host.name }
    public var stats: Stats { lock.withLock { _stats } }

    public var summary: DisplaySummary? {
        let s = stats
        return DisplaySummary(kind: "wayland", host: host.name, windows: s.windows, framesSubmitted: s.directFrames + s.composedFrames,
                              frameCopies: s.frameCopies, frameCallbacks: s.frameCallbacks, hostHeldBuffers: s.hostHeldBuffers, lost: s.lostReason)
    }
    private func stat(_ f: (inout Stats) -> Void) { lock.withLock { f(&_stats) } }
    private var device: Device? { lock.withLock { _device } }

    /// Called once, on the Wayland thread, after the card has been told the display is lost.
    public func setLostHandler(_ h: (@Sendable (String) -> Void)?) { lock.withLock { lostHandler = h } }

    public func attach(to device: Device) { lock.withLock { _device = device } }

    public func submit(crtcIndex c: Int, scanout: Scanout, token: UInt64) {
        stat { $0.submits += 1 }
        host.post { [self] in show(c, scanout, token) }
    }

    /// Closes the windows and the connection.
    public func shutdown() {
        host.post { [self] in dropWindowsAndBuffers() }
        host.stop()
    }

    /// Every window and guest buffer's proxy (after the connection broke too: libwayland then
    /// only frees them).
    private func dropWindowsAndBuffers() {
        for w in windows.values { w.destroy() }
        windows = [:]
        for b in direct.values { wl_buffer_destroy(b.proxy) }
        direct = [:]
        stat { $0.windows = 0; $0.hostHeldBuffers = 0 }
    }

    /// `backend-crash`: breaks the connection as a dying host would.
    public func breakConnection() -> Bool {
        host.breakConnection()
        return true
    }

    // MARK: the Wayland thread

    private func show(_ c: Int, _ s: Scanout, _ token: UInt64) {
        guard !host.gone else {
            // The card keeps serving after its display went: nothing holds a frame.
            device?.display.flipDone(crtcIndex: c, token: token)
            device?.display.buffersReleased(crtcIndex: c, throughToken: token)
            return
        }
        guard s.active, s.width > 0, s.height > 0 else {
            // A CRTC turned off unmaps its window; the core completes such a commit itself.
            if let w = windows.removeValue(forKey: c) { w.destroy() }
            stat { $0.windows = windows.count }
            device?.display.buffersReleased(crtcIndex: c, throughToken: token)
            return
        }
        let w: HostWindow
        if let existing = windows[c] {
            w = existing
            if w.width != s.width || w.height != s.height { w.setSize(width: s.width, height: s.height) }
        } else {
            guard let made = HostWindow(crtc: c, width: s.width, height: s.height, host: host, owner: self) else {
                return host.lose("the host refused a window for CRTC \(c)")
            }
            windows[c] = made
            w = made
            stat { $0.windows = windows.count }
        }
        guard w.isConfigured else { return w.early.append((s, token)) }

        var buffer: HostBuffer?
        var isDirect = false
        if let (key, bo) = DirectScanout.key(for: s, hostFormats: host.shmFormats), let b = directBuffer(key, bo) {
            buffer = b
            isDirect = true
        } else {
            buffer = composedBuffer(w, s)
        }
        guard let buffer else { return host.lose("cannot make a wl_buffer for CRTC \(c)") }
        w.commit(buffer, token: token, host: host)
        w.held.append((token: token, buffer: isDirect ? buffer : nil, released: !isDirect))
        stat {
            if isDirect { $0.directFrames += 1 } else { $0.composedFrames += 1; $0.frameCopies += 1 }
        }
        capture?.frameShown(crtc: c) { Composer.compose(s) }
        settle(w)
        collectDirect()
    }

    private func directBuffer(_ key: DirectKey, _ bo: BufferObject) -> HostBuffer? {
        useCounter += 1
        if let b = direct[key] {
            b.lastUsed = useCounter
            return b
        }
        guard let shm = host.shm,
              let proxy = HostBuffer.make(shm: shm, fd: bo.memory.fd.raw, poolSize: bo.size, offset: key.offset,
                                          width: key.width, height: key.height, stride: key.stride, shmFormat: key.shmFormat) else { return nil }
        let b = HostBuffer(proxy: proxy, key: key, source: bo, composed: nil, width: key.width, height: key.height, owner: self)
        b.lastUsed = useCounter
        direct[key] = b
        return b
    }

    /// Composes into a free buffer of the window's own.
    private func composedBuffer(_ w: HostWindow, _ s: Scanout) -> HostBuffer? {
        guard let target = w.ringBuffer(host: host), let memory = target.composed else { return nil }
        Composer.compose(s).copy(into: memory)
        return target
    }

    /// wl_buffers whose framebuffer memory the guest freed, once the host let go of them; and
    /// beyond `maxDirect`, the idle ones used longest ago (a guest panning through a large
    /// buffer makes one per offset, each a pool mapping the whole buffer on the host).
    private func collectDirect() {
        for (k, b) in direct where b.source == nil && !b.busy {
            wl_buffer_destroy(b.proxy)
            direct[k] = nil
        }
        if direct.count > Self.maxDirect {
            for (k, b) in direct.filter({ !$0.value.busy }).sorted(by: { $0.value.lastUsed < $1.value.lastUsed })
                .prefix(direct.count - Self.maxDirect) {
                wl_buffer_destroy(b.proxy)
                direct[k] = nil
            }
        }
        let held = direct.values.reduce(0) { $0 + ($1.busy ? 1 : 0) }
        stat { $0.hostHeldBuffers = held }
    }

    /// Reports the commits whose guest buffers the host no longer holds, oldest first, and
    /// completes the flips that waited for that.
    private func settle(_ w: HostWindow) {
        // Each released commit on its own: a host keeping one old buffer (a preview, a
        // screencast) holds back no other commit's fence.
        let released = w.held.filter(\.released).map(\.token)
        w.held.removeAll(where: \.released)
        if !released.isEmpty { device?.display.buffersReleased(crtcIndex: w.crtc, tokens: released) }
        let ready = w.doneAwaitingRelease.filter { !w.holdsOlder(than: $0) }
        w.doneAwaitingRelease.removeAll { !w.holdsOlder(than: $0) }
        for t in ready { device?.display.flipDone(crtcIndex: w.crtc, token: t) }
    }

    func hostReleased(_ b: HostBuffer) {
        stat { $0.releases += 1 }
        for w in windows.values {
            var changed = false
            for i in w.held.indices where w.held[i].buffer === b && !w.held[i].released {
                w.held[i].released = true
                changed = true
            }
            if changed { settle(w) }
        }
        collectDirect()
    }

    func frameDone(crtc c: Int, token: UInt64) {
        stat { $0.frameCallbacks += 1 }
        let ts = hostVblankNs(crtc: c, now: Monotonic.nowNs())
        device?.display.hostFrame(crtcIndex: c, at: ts)
        if options.releaseTiedToFlip, let w = windows[c], w.holdsOlder(than: token) {
            w.doneAwaitingRelease.append(token)
            return
        }
        device?.display.flipDone(crtcIndex: c, token: token, timestampNs: ts)
    }

    /// The host's latest vblank at or before `now`, from its presentation feedback (the last
    /// presentation time plus whole refresh periods): what a flip event stamps on a kernel,
    /// the vblank that started the frame. Without recent feedback (none offered, or more than
    /// a second old): now.
    private func hostVblankNs(crtc c: Int, now: Int64) -> Int64 {
        guard let (last, refresh) = lastPresentation[c], refresh > 0, now >= last, now - last < 1_000_000_000 else { return now }
        return last + (now - last) / refresh * refresh
    }

    func presented(crtc: Int, sec: Int64, nsec: Int64, refreshNs: Int64) {
        let ns = host.monotonicNs(sec: sec, nsec: nsec)
        lastPresentation[crtc] = (ns, refreshNs)
        stat {
            $0.presented += 1
            $0.lastPresentedNs = ns
        }
    }

    func discarded() { stat { $0.discarded += 1 } }

    func windowConfigured(_ w: HostWindow) {
        let early = w.early
        w.early = []
        for e in early { show(w.crtc, e.scanout, e.token) }
    }

    func windowClosed(_ w: HostWindow) { host.lose("the host closed CRTC \(w.crtc)'s window") }

    /// The host went or closed a window: the card's connectors disconnect, pending fences
    /// fail, and later commits complete at once.
    private func hostLost(_ why: String) {
        stat { $0.lostReason = why }
        dropWindowsAndBuffers()
        device?.display.lost(error: -ENODEV)
        lock.withLock { lostHandler }?(why)
    }
}
