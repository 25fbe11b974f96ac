import CWayland
import FakeDRM

/// A CRTC's xdg-toplevel on the host, sized to its mode, and the commits whose buffers the
/// host may still hold. Touched only on the Wayland thread.
final class HostWindow {
    let crtc: Int
    private(set) var width: Int, height: Int
    let surface: OpaquePointer
    let xdgSurface: OpaquePointer
    let toplevel: OpaquePointer
    weak var owner: HostEvents?
    /// The first configure came: buffers may be attached.
    var isConfigured = false
    /// Submits that came before it, shown in order once it does.
    var early: [(scanout: Scanout, token: UInt64)] = []
    /// What the surface shows now.
    var shown: HostBuffer?
    /// Commits on screen or replaced but perhaps still read by the host, oldest first:
    /// `buffer` is the guest buffer it attached (nil: composed, a copy, nothing to hold).
    var held: [(token: UInt64, buffer: HostBuffer?, released: Bool)] = []
    /// Frame callbacks that came while an older commit's buffer was still held (the release
    /// tied to the flip); completed when the host lets go.
    var doneAwaitingRelease: [UInt64] = []
    /// The composed path's own buffers.
    var ring: [HostBuffer] = []
    /// Frame callbacks and presentation feedback not answered yet (they own their proxies).
    var waits: [FrameWait] = []

    init?(crtc: Int, width: Int, height: Int, host: WaylandHost, owner: HostEvents) {
        guard let compositor = host.compositor, let wm = host.wmBase,
              let surface = wl_compositor_create_surface(compositor) else { return nil }
        guard let xdgSurface = xdg_wm_base_get_xdg_surface(wm, surface) else {
            wl_surface_destroy(surface)
            return nil
        }
        guard let toplevel = xdg_surface_get_toplevel(xdgSurface) else {
            xdg_surface_destroy(xdgSurface)
            wl_surface_destroy(surface)
            return nil
        }
        self.crtc = crtc
        self.width = width
        self.height = height
        self.surface = surface
        self.xdgSurface = xdgSurface
        self.toplevel = toplevel
        self.owner = owner
        let me = Unmanaged.passUnretained(self).toOpaque()
        xdg_surface_add_listener(xdgSurface, Listeners.xdgSurface, me)
        xdg_toplevel_add_listener(toplevel, Listeners.toplevel, me)
        "fakedrm CRTC \(crtc)".withCString { xdg_toplevel_set_title(toplevel, $0) }
        "fakedrm".withCString { xdg_toplevel_set_app_id(toplevel, $0) }
        setSize(width: width, height: height)
        wl_surface_commit(surface)  // the initial commit, with no buffer: asks for a configure
    }

    static func from(_ p: UnsafeMutableRawPointer?) -> HostWindow? {
        p.map { Unmanaged<HostWindow>.fromOpaque($0).takeUnretainedValue() }
    }

    /// A window exactly the mode's size: a tiling or maximising host may not resize it.
    func setSize(width: Int, height: Int) {
        self.width = width
        self.height = height
        xdg_toplevel_set_min_size(toplevel, Int32(width), Int32(height))
        xdg_toplevel_set_max_size(toplevel, Int32(width), Int32(height))
    }

    func configured() {
        guard !isConfigured else { return }
        isConfigured = true
        owner?.windowConfigured(self)
    }

    func closeRequested() { owner?.windowClosed(self) }

    /// Destroys every proxy of the window (also after the connection broke: libwayland then
    /// only frees them).
    func destroy() {
        for w in waits { w.cancel() }
        waits = []
        xdg_toplevel_destroy(toplevel)
        xdg_surface_destroy(xdgSurface)
        wl_surface_destroy(surface)
        for b in ring { wl_buffer_destroy(b.proxy) }
        ring = []
    }

    /// True when the host still holds a buffer that a commit older than `token` showed and
    /// commit `token` replaced (a commit showing the same buffer again replaced nothing: the
    /// host keeps it while it is on screen).
    func holdsOlder(than token: UInt64) -> Bool {
        let own = held.first { $0.token == token }?.buffer
        return held.contains { $0.token < token && !$0.released && ($0.buffer == nil || $0.buffer !== own) }
    }

    /// A free buffer of the window's own (2, or 3 while the host holds both) for a frame of
    /// the window's size, to draw a composed picture into. Buffers of another size (before a
    /// modeset) go once the host lets go of them and do not count toward the three.
    func ringBuffer(host: WaylandHost) -> HostBuffer? {
        let fits = { (b: HostBuffer) in b.width == self.width && b.height == self.height }
        ring.removeAll { b in
            guard !fits(b), !b.busy else { return false }
            wl_buffer_destroy(b.proxy)
            return true
        }
        var target = ring.first { !$0.busy && fits($0) }
        if target == nil, ring.filter(fits).count < 3, let shm = host.shm, let owner,
           let memory = try? SharedMemory(size: width * height * 4, name: "fakedrm-wayland"),
           let proxy = HostBuffer.make(shm: shm, fd: memory.fd.raw, poolSize: memory.size, offset: 0, width: width, height: height,
                                       stride: width * 4, shmFormat: 1) {
            let b = HostBuffer(proxy: proxy, key: nil, source: nil, composed: memory, width: width, height: height, owner: owner)
            ring.append(b)
            target = b
        }
        // Every buffer still held: reuse the oldest (the host may show a torn frame).
        if target == nil { target = ring.first(where: fits) }
        guard let target else { return nil }
        ring.removeAll { $0 === target }
        ring.append(target)
        return target
    }

    /// Attaches `buffer` (unless the host already holds it: damage alone makes it read it
    /// again), asks for the frame callback and presentation feedback of `token`, commits.
    func commit(_ buffer: HostBuffer, token: UInt64, host: WaylandHost) {
        guard let owner else { return }
        if buffer !== shown || !buffer.busy { wl_surface_attach(surface, buffer.proxy, 0, 0) }
        if host.compositorVersion >= 4 {
            wl_surface_damage_buffer(surface, 0, 0, Int32.max, Int32.max)
        } else {
            wl_surface_damage(surface, 0, 0, Int32.max, Int32.max)  // scale 1: surface = buffer coordinates
        }
        let wait = FrameWait(crtc: crtc, token: token, owner: owner, window: self)
        let me = Unmanaged.passUnretained(wait).toOpaque()
        wait.callback = wl_surface_frame(surface)
        if let cb = wait.callback { wl_callback_add_listener(cb, Listeners.frame, me) }
        if let p = host.presentation, let fb = wp_presentation_feedback(p, surface) {
            wait.feedback = fb
            wp_presentation_feedback_add_listener(fb, Listeners.feedback, me)
        }
        waits.append(wait)
        wl_surface_commit(surface)
        buffer.busy = true
        shown = buffer
    }
}

/// What a window's host objects report, on the Wayland thread: the Wayland display backend
/// (a card's CRTCs) and the virtio-gpu display's sink (a backend's scanouts) both take them.
protocol HostEvents: AnyObject {
    func windowConfigured(_ w: HostWindow)
    func windowClosed(_ w: HostWindow)
    func frameDone(crtc: Int, token: UInt64)
    func presented(crtc: Int, sec: Int64, nsec: Int64, refreshNs: Int64)
    func discarded()
    func hostReleased(_ b: HostBuffer)
}

/// One commit's frame callback and presentation feedback on the host; its window keeps it
/// until both have been answered or the window goes.
final class FrameWait {
    let crtc: Int
    let token: UInt64
    weak var owner: HostEvents?
    weak var window: HostWindow?
    var callback: OpaquePointer?
    var feedback: OpaquePointer?

    init(crtc: Int, token: UInt64, owner: HostEvents, window: HostWindow) {
        self.crtc = crtc
        self.token = token
        self.owner = owner
        self.window = window
    }

    static func from(_ p: UnsafeMutableRawPointer?) -> FrameWait? {
        p.map { Unmanaged<FrameWait>.fromOpaque($0).takeUnretainedValue() }
    }

    func done() {
        if let cb = callback { wl_callback_destroy(cb) }
        callback = nil
        owner?.frameDone(crtc: crtc, token: token)
        forgetIfAnswered()
    }

    func presented(sec: Int64, nsec: Int64, refreshNs: Int64) {
        endFeedback()
        owner?.presented(crtc: crtc, sec: sec, nsec: nsec, refreshNs: refreshNs)
    }

    func discarded() {
        endFeedback()
        owner?.discarded()
    }

    /// The window goes: no answer will come.
    func cancel() {
        if let cb = callback { wl_callback_destroy(cb) }
        if let fb = feedback { wp_presentation_feedback_destroy(fb) }
        callback = nil
        feedback = nil
    }

    private func endFeedback() {
        if let fb = feedback { wp_presentation_feedback_destroy(fb) }
        feedback = nil
        forgetIfAnswered()
    }

    private func forgetIfAnswered() {
        guard callback == nil, feedback == nil, let w = window else { return }
        w.waits.removeAll { $0 === self }
    }
}
