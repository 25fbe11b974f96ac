import CFakeDRMSys
import CWayland
import FakeDRM
import Foundation
import Glibc

public enum WaylandHostError: Error, CustomStringConvertible {
    case cannotConnect(String)
    case noAnswer(String, ms: Int32)
    case missingGlobal(String)

    public var description: String {
        switch self {
        case .cannotConnect(let name): "cannot connect to the Wayland display '\(name)'"
        case .noAnswer(let name, let ms): "the Wayland display '\(name)' did not answer within \(ms) ms"
        case .missingGlobal(let g): "the host compositor offers no \(g)"
        }
    }
}

/// One connection to the host compositor and the thread that owns every proxy on it.
/// libwayland proxies are not thread-safe to use from several threads without care, so every
/// request is made on `thread`; other threads hand work over with `post`.
///
/// @unchecked Sendable: everything but `inbox` (inboxLock) is touched only on the thread.
final class WaylandHost: @unchecked Sendable {
    let display: OpaquePointer
    let name: String
    var compositor: OpaquePointer?
    /// wl_surface.damage_buffer needs 4.
    var compositorVersion: UInt32 = 0
    var shm: OpaquePointer?
    var wmBase: OpaquePointer?
    var presentation: OpaquePointer?
    private var registry: OpaquePointer?
    /// wl_shm formats the host announced (wl_shm codes).
    var shmFormats: Set<UInt32> = []
    /// The clock of presentation-time stamps (CLOCK_MONOTONIC_RAW on a headless weston).
    var presentationClock = UInt32(CLOCK_MONOTONIC)
    /// Called on the thread once the connection broke (EPIPE, protocol error).
    var onLost: ((String) -> Void)?

    private let wake: Int32
    private let inboxLock = NSLock()
    private var inbox: [() -> Void] = []
    private var running = true
    private var stopped = false
    private(set) var gone = false
    private var disconnected = false
    private let finished = DispatchSemaphore(value: 0)

    /// `name`: a socket name under XDG_RUNTIME_DIR or an absolute path; nil: $WAYLAND_DISPLAY.
    init(name: String?) throws(WaylandHostError) {
        // libwayland's own default when WAYLAND_DISPLAY is unset or empty.
        let env = ProcessInfo.processInfo.environment["WAYLAND_DISPLAY"] ?? ""
        let shown = name ?? (env.isEmpty ? "wayland-0" : env)
        // withCString: Swift 6.3.1's type checker crashes on the String-to-pointer form here.
        let d: OpaquePointer? = if let name { name.withCString { wl_display_connect($0) } } else { wl_display_connect(nil) }
        guard let d else { throw .cannotConnect(shown) }
        display = d
        self.name = shown
        wake = cfd_eventfd(0, 1)
        registry = wl_display_get_registry(d)
        wl_registry_add_listener(registry, Listeners.registry, me)
        // Two round trips: the globals, then the events of what was bound (wl_shm formats).
        // Bounded: a host that accepts the connection and never answers is no host.
        guard Self.roundtrip(d), Self.roundtrip(d) else {
            destroyGlobals()
            wl_display_disconnect(d)
            close(wake)
            throw .noAnswer(shown, ms: Self.answerTimeoutMs)
        }
        for (g, p) in [("wl_compositor", compositor), ("wl_shm", shm), ("xdg_wm_base", wmBase)] where p == nil {
            destroyGlobals()
            wl_display_disconnect(d)
            close(wake)
            throw .missingGlobal(g)
        }
    }

    var me: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static let answerTimeoutMs: Int32 = 5000

    /// wl_display_roundtrip with a deadline (the thread is not running yet).
    private static func roundtrip(_ d: OpaquePointer) -> Bool {
        let done = UnsafeMutablePointer<Bool>.allocate(capacity: 1)
        done.initialize(to: false)
        defer { done.deallocate() }
        guard let cb = wl_display_sync(d) else { return false }
        defer { if !done.pointee { wl_callback_destroy(cb) } }
        wl_callback_add_listener(cb, Listeners.sync, done)
        let deadline = Monotonic.nowNs() + Int64(answerTimeoutMs) * 1_000_000
        while !done.pointee {
            while wl_display_prepare_read(d) != 0 { if wl_display_dispatch_pending(d) < 0 { return false } }
            if done.pointee {
                wl_display_cancel_read(d)
                break
            }
            _ = wl_display_flush(d)
            var p = pollfd(fd: wl_display_get_fd(d), events: Int16(POLLIN), revents: 0)
            let left = Int32(max((deadline - Monotonic.nowNs()) / 1_000_000, 0))
            guard left > 0, poll(&p, 1, left) > 0 else {
                wl_display_cancel_read(d)
                return false
            }
            if wl_display_read_events(d) < 0 || wl_display_dispatch_pending(d) < 0 { return false }
        }
        // The sync callback destroyed itself on the host's side; ours goes here.
        wl_callback_destroy(cb)
        return true
    }
    static func from(_ p: UnsafeMutableRawPointer?) -> WaylandHost? {
        p.map { Unmanaged<WaylandHost>.fromOpaque($0).takeUnretainedValue() }
    }

    func start() {
        let t = Thread { [self] in
            loop()
            finished.signal()
        }
        t.name = "fakedrm-wayland"
        t.start()
    }

    /// Runs `work` on the Wayland thread; dropped once the host is stopped.
    func post(_ work: @escaping () -> Void) {
        let taken = inboxLock.withLock { () -> Bool in
            guard !stopped else { return false }
            inbox.append(work)
            return true
        }
        guard taken else { return }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    /// Ends the thread and the connection (the caller destroyed its windows and buffers on the
    /// thread first); the host then drops whatever is left.
    func stop() {
        post { [self] in running = false }
        finished.wait()
        // Work posted after the last round would keep its owners alive forever.
        inboxLock.withLock {
            stopped = true
            inbox = []
        }
        // The thread has ended: its proxies are ours now.
        if !disconnected {
            destroyGlobals()
            wl_display_disconnect(display)
            disconnected = true
        }
        close(wake)
    }

    private func destroyGlobals() {
        if let p = presentation { wp_presentation_destroy(p) }
        if let w = wmBase { xdg_wm_base_destroy(w) }
        if let s = shm { wl_shm_destroy(s) }
        if let c = compositor { wl_compositor_destroy(c) }
        if let r = registry { wl_registry_destroy(r) }
        presentation = nil
        wmBase = nil
        shm = nil
        compositor = nil
        registry = nil
    }

    private func loop() {
        let fd = wl_display_get_fd(display)
        while running {
            let work = inboxLock.withLock { () -> [() -> Void] in
                defer { inbox = [] }
                return inbox
            }
            for w in work { w() }
            guard running else { break }
            closeIfLost()
            if gone {
                // Only the inbox is left to serve (the backend completes flips without a host).
                var p = pollfd(fd: wake, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, -1) > 0 { drainWake() }
                continue
            }
            var prepared = true
            while wl_display_prepare_read(display) != 0 {
                if wl_display_dispatch_pending(display) < 0 {
                    prepared = false
                    lose("the host ended the connection: \(String(cString: strerror(wl_display_get_error(display))))")
                    break
                }
            }
            // A listener may have given the connection up meanwhile (a closed window).
            if !prepared || gone {
                if prepared { wl_display_cancel_read(display) }
                continue
            }
            // A full socket: wait until it drains as well as for events.
            var out: Int16 = 0
            if wl_display_flush(display) < 0 {
                guard errno == EAGAIN else {
                    wl_display_cancel_read(display)
                    lose("writing to the host: \(String(cString: strerror(errno)))")
                    continue
                }
                out = Int16(POLLOUT)
            }
            var fds = [pollfd(fd: fd, events: Int16(POLLIN) | out, revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            let r = poll(&fds, 2, -1)
            if r > 0 && fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                if wl_display_read_events(display) < 0 { lose("reading from the host: \(String(cString: strerror(errno)))"); continue }
            } else {
                wl_display_cancel_read(display)
            }
            if fds[1].revents != 0 { drainWake() }
            if wl_display_dispatch_pending(display) < 0 {
                lose("the host ended the connection: \(String(cString: strerror(wl_display_get_error(display))))")
            }
        }
    }

    private func drainWake() {
        var v: UInt64 = 0
        _ = read(wake, &v, 8)
    }

    /// The connection is over (broken, or given up by fakedrm after a closed window or a
    /// refused request): the owner drops its proxies, and a connection that still works is
    /// flushed and closed, so the host sees the windows go instead of a client that stopped
    /// answering its pings.
    func lose(_ why: String) {
        guard !gone else { return }
        gone = true
        onLost?(why)
    }

    /// After `lose`, at a point of the loop where libwayland is not dispatching (a listener
    /// may be what called `lose`).
    private func closeIfLost() {
        guard gone, !disconnected else { return }
        destroyGlobals()
        wl_display_flush(display)
        wl_display_disconnect(display)
        disconnected = true
    }

    /// `backend-crash`: breaks the connection as a dying host would (on the thread, which owns
    /// the display).
    func breakConnection() {
        post { [self] in
            guard !gone else { return }
            _ = Glibc.shutdown(wl_display_get_fd(display), Int32(SHUT_RDWR))
        }
    }

    /// A presentation-time stamp on CLOCK_MONOTONIC, the clock of DRM event timestamps.
    func monotonicNs(sec: Int64, nsec: Int64) -> Int64 {
        let ns = sec * 1_000_000_000 + nsec
        guard presentationClock != UInt32(CLOCK_MONOTONIC) else { return ns }
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_MONOTONIC, &a)
        clock_gettime(clockid_t(presentationClock), &b)
        return ns + (Int64(a.tv_sec) - Int64(b.tv_sec)) * 1_000_000_000 + (Int64(a.tv_nsec) - Int64(b.tv_nsec))
    }
}
