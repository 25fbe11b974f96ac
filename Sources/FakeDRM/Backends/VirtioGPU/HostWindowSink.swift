/// A window on a host display that shows what the virtio-gpu display shows: fakedrm playing
/// QEMU's UI role too (`--host-display wayland`). The display hands it each complete picture;
/// the flip that produced the picture completes only once the host has shown it.
public protocol HostWindowSink: AnyObject, Sendable {
    /// Shows scanout `id`'s picture. `shown` is called once, from any thread, when the host
    /// has shown it, dropped it for a newer one, or gone away.
    func show(scanout id: Int, frame: Frame, shown: @escaping @Sendable () -> Void)
    /// Scanout `id` was disabled.
    func hide(scanout id: Int)
}
