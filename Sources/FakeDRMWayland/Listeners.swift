import CWayland
import Glibc

/// The C listener tables libwayland calls into. Each lives as long as the process, as a C
/// client's static tables do; a callback finds its Swift object through the user-data pointer.
enum Listeners {
    private static func table<T>(_ v: T) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: 1)
        p.initialize(to: v)
        return p
    }

    nonisolated(unsafe) static let registry = table(wl_registry_listener(
        global: { data, registry, name, iface, version in
            guard let h = WaylandHost.from(data), let iface else { return }
            // The first of each (a second one, e.g. a host re-announcing, would leak the proxy).
            switch String(cString: iface) {
            case "wl_compositor" where h.compositor == nil:
                h.compositorVersion = min(version, 4)
                h.compositor = OpaquePointer(wl_registry_bind(registry, name, cw_compositor_interface(), h.compositorVersion))
            case "wl_shm" where h.shm == nil:
                h.shm = OpaquePointer(wl_registry_bind(registry, name, cw_shm_interface(), 1))
                wl_shm_add_listener(h.shm, shm, data)
            case "xdg_wm_base" where h.wmBase == nil:
                h.wmBase = OpaquePointer(wl_registry_bind(registry, name, cw_xdg_wm_base_interface(), 1))
                xdg_wm_base_add_listener(h.wmBase, wmBase, data)
            case "wp_presentation" where h.presentation == nil:
                h.presentation = OpaquePointer(wl_registry_bind(registry, name, cw_presentation_interface(), 1))
                wp_presentation_add_listener(h.presentation, presentation, data)
            default: break
            }
        },
        global_remove: { _, _, _ in }))

    /// User data: a Bool the sync done sets (WaylandHost.roundtrip).
    nonisolated(unsafe) static let sync = table(wl_callback_listener(done: { data, _, _ in
        data?.assumingMemoryBound(to: Bool.self).pointee = true
    }))

    nonisolated(unsafe) static let shm = table(wl_shm_listener(format: { data, _, format in
        WaylandHost.from(data)?.shmFormats.insert(format)
    }))

    nonisolated(unsafe) static let wmBase = table(xdg_wm_base_listener(ping: { _, wm, serial in xdg_wm_base_pong(wm, serial) }))

    nonisolated(unsafe) static let presentation = table(wp_presentation_listener(clock_id: { data, _, clk in
        WaylandHost.from(data)?.presentationClock = clk
    }))

    nonisolated(unsafe) static let xdgSurface = table(xdg_surface_listener(configure: { data, s, serial in
        xdg_surface_ack_configure(s, serial)
        HostWindow.from(data)?.configured()
    }))

    // xdg-shell 1.31 has four toplevel events; every member must be given.
    nonisolated(unsafe) static let toplevel = table(xdg_toplevel_listener(
        configure: { _, _, _, _, _ in },
        close: { data, _ in HostWindow.from(data)?.closeRequested() },
        configure_bounds: { _, _, _, _ in },
        wm_capabilities: { _, _, _ in }))

    nonisolated(unsafe) static let buffer = table(wl_buffer_listener(release: { data, _ in
        HostBuffer.from(data)?.released()
    }))

    /// User data: the FrameWait (its window keeps it), which destroys the proxy.
    nonisolated(unsafe) static let frame = table(wl_callback_listener(done: { data, _, _ in
        FrameWait.from(data)?.done()
    }))

    nonisolated(unsafe) static let feedback = table(wp_presentation_feedback_listener(
        sync_output: { _, _, _ in },
        presented: { data, _, hi, lo, nsec, refresh, _, _, _ in
            FrameWait.from(data)?.presented(sec: Int64(hi) << 32 | Int64(lo), nsec: Int64(nsec), refreshNs: Int64(refresh))
        },
        discarded: { data, _ in FrameWait.from(data)?.discarded() }))
}
