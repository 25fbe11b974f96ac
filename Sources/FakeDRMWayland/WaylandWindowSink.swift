import FakeDRM
import Foundation

/// `--host-display wayland`: the virtio-gpu display's scanouts as windows of the host
/// compositor, so with a vhost-user-gpu backend fakedrm plays QEMU's UI role too. Each picture
/// the backend sent (UPDATE, or a DMABUF_SCANOUT's contents) is copied into the window's own
/// buffers, and the flip that made it completes at the host's frame callback for it.
///
/// @unchecked Sendable: `windows` and `waiting` are touched only on the Wayland thread; the
/// counters under `lock`.
public final class WaylandWindowSink: HostWindowSink, HostEvents, @unchecked Sendable {
    private let host: WaylandHost
    private let lock = NSLock()
    private var _shown = 0, _copies = 0
    // The Wayland thread's.
    private var windows: [Int: HostWindow] = [:]
    /// A window's newest picture until its first configure.
    private var early: [Int: (frame: Frame, shown: @Sendable () -> Void)] = [:]
    private var waiting: [UInt64: (scanout: Int, shown: @Sendable () -> Void)] = [:]
    private var nextToken: UInt64 = 1

    public init(display: String?) throws(WaylandHostError) {
        host = try WaylandHost(name: display)
        host.onLost = { [weak self] why in self?.hostLost(why) }
        host.start()
    }

    public var hostName: String { host.name }
    /// Pictures the host has shown, and full-frame copies made for them.
    public var counts: (shown: Int, copies: Int) { lock.withLock { (_shown, _copies) } }

    public func show(scanout id: Int, frame: Frame, shown: @escaping @Sendable () -> Void) {
        host.post { [self] in present(id, frame, shown) }
    }

    public func hide(scanout id: Int) {
        host.post { [self] in
            windows.removeValue(forKey: id)?.destroy()
            // What was on its way to that window will not be shown: the flips go on.
            early.removeValue(forKey: id)?.shown()
            for (t, w) in waiting where w.scanout == id {
                waiting[t] = nil
                w.shown()
            }
        }
    }

    public func shutdown() {
        host.post { [self] in dropWindows() }
        host.stop()
    }

    /// The windows' proxies go; the flips waiting on them go on.
    private func dropWindows() {
        for w in windows.values { w.destroy() }
        windows = [:]
        for e in early.values { e.shown() }
        early = [:]
        for w in waiting.values { w.shown() }
        waiting = [:]
    }

    // MARK: the Wayland thread

    private func present(_ id: Int, _ frame: Frame, _ shown: @escaping @Sendable () -> Void) {
        guard !host.gone, frame.width > 0, frame.height > 0 else { return shown() }
        let w: HostWindow
        if let existing = windows[id] {
            w = existing
            if w.width != frame.width || w.height != frame.height { w.setSize(width: frame.width, height: frame.height) }
        } else {
            guard let made = HostWindow(crtc: id, width: frame.width, height: frame.height, host: host, owner: self) else {
                shown()
                return host.lose("the host refused a window for scanout \(id)")
            }
            windows[id] = made
            w = made
        }
        guard w.isConfigured else {
            early[id]?.shown()  // superseded: it will never be on screen
            early[id] = (frame, shown)
            return
        }
        guard let buffer = w.ringBuffer(host: host), let memory = buffer.composed else {
            shown()
            return host.lose("cannot make a wl_buffer for scanout \(id)")
        }
        frame.copy(into: memory)
        let token = nextToken
        nextToken += 1
        waiting[token] = (id, shown)
        w.commit(buffer, token: token, host: host)
        lock.withLock { _copies += 1 }
    }

    func windowConfigured(_ w: HostWindow) {
        if let e = early.removeValue(forKey: w.crtc) { present(w.crtc, e.frame, e.shown) }
    }

    func windowClosed(_ w: HostWindow) { host.lose("the host closed scanout \(w.crtc)'s window") }

    func frameDone(crtc: Int, token: UInt64) {
        lock.withLock { _shown += 1 }
        waiting.removeValue(forKey: token)?.shown()
    }

    func presented(crtc: Int, sec: Int64, nsec: Int64, refreshNs: Int64) {}
    func discarded() {}
    func hostReleased(_ b: HostBuffer) {}

    /// Nothing will be shown any more: the flips waiting on the window go on (the pictures stay
    /// in the virtio-gpu display, where `--capture` and `ctl capture` still see them).
    private func hostLost(_ why: String) {
        FakeDRMLog.warn("wayland host display \(host.name) lost: \(why)")
        dropWindows()
    }
}
