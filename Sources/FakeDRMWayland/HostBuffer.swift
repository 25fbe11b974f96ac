import CWayland
import FakeDRM

/// One wl_buffer on the host: a guest framebuffer's memory shown as it is (`source` set; the
/// host maps the dumb buffer's memfd through a wl_shm pool), or a frame fakedrm composed
/// into its own memory (`composed` set). Touched only on the Wayland thread.
final class HostBuffer {
    let proxy: OpaquePointer
    let key: DirectKey?
    /// The guest buffer, kept weak: its client may free it while the host still shows it (the
    /// host's own mapping keeps the pages).
    weak var source: BufferObject?
    let composed: SharedMemory?
    /// The size the wl_buffer was made with.
    let width: Int, height: Int
    /// Attached and not yet released by the host.
    var busy = false
    /// When the direct cache last handed it out (for evicting idle ones).
    var lastUsed: UInt64 = 0
    weak var owner: HostEvents?

    init(proxy: OpaquePointer, key: DirectKey?, source: BufferObject?, composed: SharedMemory?, width: Int, height: Int,
         owner: HostEvents) {
        self.proxy = proxy
        self.key = key
        self.source = source
        self.composed = composed
        self.width = width
        self.height = height
        self.owner = owner
        wl_buffer_add_listener(proxy, Listeners.buffer, Unmanaged.passUnretained(self).toOpaque())
    }

    static func from(_ p: UnsafeMutableRawPointer?) -> HostBuffer? {
        p.map { Unmanaged<HostBuffer>.fromOpaque($0).takeUnretainedValue() }
    }

    func released() {
        busy = false
        owner?.hostReleased(self)
    }

    /// Makes a wl_buffer over `fd`'s first `poolSize` bytes (libwayland duplicates the fd).
    static func make(shm: OpaquePointer, fd: Int32, poolSize: Int, offset: Int, width: Int, height: Int, stride: Int,
                     shmFormat: UInt32) -> OpaquePointer? {
        guard let pool = wl_shm_create_pool(shm, fd, Int32(poolSize)) else { return nil }
        let b = wl_shm_pool_create_buffer(pool, Int32(offset), Int32(width), Int32(height), Int32(stride), shmFormat)
        // The buffer keeps the host's mapping of the pool.
        wl_shm_pool_destroy(pool)
        return b
    }
}

/// Names a guest framebuffer's picture as the host would show it: one wl_buffer each.
struct DirectKey: Hashable {
    let serial: UInt64
    let offset: Int
    let width: Int, height: Int
    let stride: Int
    let shmFormat: UInt32
}

extension Frame {
    /// Into a window buffer of the same size: 0xAARRGGBB words are XRGB8888's bytes.
    func copy(into memory: SharedMemory) {
        pixels.withUnsafeBytes { px in
            if let p = px.baseAddress { memory.base.copyMemory(from: p, byteCount: min(px.count, memory.size)) }
        }
    }
}
