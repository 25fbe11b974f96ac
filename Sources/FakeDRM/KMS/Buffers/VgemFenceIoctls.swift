/// vgem's two fence ioctls (drivers/gpu/drm/vgem/vgem_fence.c), offered when the card's
/// driver name is "vgem": IGT's dmabuf_sync_file looks for such a card to put fences on a
/// buffer's reservation from userspace. The KMS objects stay (a kernel vgem has none).
extension BufferManager {
    static let vgemFenceWrite: UInt32 = 1
    /// VGEM_FENCE_TIMEOUT: an unsignalled fence signals by itself after 10 s.
    static let vgemFenceTimeoutNs: Int64 = 10_000_000_000

    var offersVgemFences: Bool { config.driver.name == "vgem" }

    /// DRM_IOCTL_VGEM_FENCE_ATTACH: a new fence in the buffer's reservation, as a writer with
    /// VGEM_FENCE_WRITE or a reader; the kernel's order: flags, pad, handle, then EBUSY when
    /// the buffer holds an unsignalled fence the new one conflicts with.
    public func vgemFenceAttach(_ file: FileContext, handle: UInt32, flags: UInt32, pad: UInt32) throws(DRMError) -> UInt32 {
        guard offersVgemFences else {
            throw .invalidArgument.because(.fences, "VGEM_FENCE_ATTACH on a card whose driver is \(config.driver.name), not vgem")
        }
        guard flags & ~Self.vgemFenceWrite == 0, pad == 0 else {
            throw .invalidArgument.because(.fences, pad != 0 && flags & ~Self.vgemFenceWrite == 0
                ? "VGEM_FENCE_ATTACH pad \(pad) is not 0"
                : "VGEM_FENCE_ATTACH flags 0x\(String(flags, radix: 16)) beyond VGEM_FENCE_WRITE")
        }
        return try lock.withLock { () throws(DRMError) -> UInt32 in
            guard let bo = file.handles[handle] else { throw .notFound.because(.fences, "handle \(handle) not found in file \(file.id)") }
            let write = flags & Self.vgemFenceWrite != 0
            // dma_resv_usage_rw(write): a writer conflicts with every fence, a reader with writers.
            guard bo.reservation.conflicting(forWrite: write).isEmpty else {
                throw .busy.because(.fences, "handle \(handle) holds an unsignalled fence a \(write ? "writer" : "reader") conflicts with")
            }
            guard file.vgemFences.count < config.limits.syncobjsPerFile else {
                throw .noMemory.because(.fences, "file \(file.id) already has limits.syncobjsPerFile (\(config.limits.syncobjsPerFile)) vgem fences")
            }
            let fence = Fence(context: Fence.allocateContext(), seqno: 1, timelineName: "unbound", driverName: "vgem")
            bo.reservation.add([fence], write: write)
            clock.schedule(after: Self.vgemFenceTimeoutNs, eager: false) { [weak device = self.device] in
                fence.signal(at: device?.clock.nowNs() ?? Monotonic.nowNs())
                device?.lock.broadcast()
            }
            return file.vgemFences.add(fence)
        }
    }

    /// DRM_IOCTL_VGEM_FENCE_SIGNAL: flags must be 0; an unknown or already signalled id is
    /// ENOENT; a fence its timeout already signalled is ETIMEDOUT.
    public func vgemFenceSignal(_ file: FileContext, fence id: UInt32, flags: UInt32) throws(DRMError) {
        guard offersVgemFences else {
            throw .invalidArgument.because(.fences, "VGEM_FENCE_SIGNAL on a card whose driver is \(config.driver.name), not vgem")
        }
        guard flags == 0 else { throw .invalidArgument.because(.fences, "VGEM_FENCE_SIGNAL flags 0x\(String(flags, radix: 16)) are not 0") }
        try lock.withLock { () throws(DRMError) in
            guard let fence = file.vgemFences.take(id) else {
                throw .notFound.because(.fences, "vgem fence \(id) not found or already signalled in file \(file.id)")
            }
            guard !fence.isSignalled else { throw .timedOut.because(.fences, "vgem fence \(id) already signalled by its 10 s timeout") }
            fence.signal(at: clock.nowNs())
            lock.broadcast()
        }
    }
}
