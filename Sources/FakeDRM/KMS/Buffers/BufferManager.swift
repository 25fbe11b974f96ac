/// GEM: dumb buffers, handles, flink names, PRIME, and the map offsets of MAP_DUMB; with the
/// per-file and per-user limits on them. Under the device lock.
///
/// @unchecked Sendable: a DeviceRoom (its state only with the device lock held).
public final class BufferManager: DeviceRoom, @unchecked Sendable {
    var nextBOSerial: UInt64 = 1
    var nextMapOffset: UInt64 = 0x1_0000_0000
    /// MAP_DUMB offsets. Weak: the offset dies with the GEM object, as the kernel's vma node;
    /// the client's own mapping holds the memfd, not this table.
    var mapOffsets: [UInt64: WeakBufferObject] = [:]
    var createdBuffers: [WeakBufferObject] = []
    var createdBuffersCompactAt = 64
    /// GEM_FLINK names (dev->object_name_idr); an entry lives while its buffer has handles.
    var flinkNames: [UInt32: BufferObject] = [:]
    /// No name below it is free: each GEM_FLINK scans from here, not from 1.
    var lowestFreeFlinkName: UInt32 = 1
    /// Buffers alive per creating uid (FDReserve.perUserShare).
    let bufferOwners = BufferOwners()

    /// Buffer objects this device made that are still alive (handles, fbs, exports hold them).
    /// Per device, so leak checks are not disturbed by other devices in the same process.
    public func liveBufferCount() -> Int {
        lock.withLock {
            createdBuffers.removeAll { $0.object == nil }
            return createdBuffers.count
        }
    }
}

extension BufferManager {
    public struct DumbBuffer: Sendable { public var handle: UInt32; public var pitch: UInt32; public var size: UInt64 }

    /// drm_mode_create_dumb + the shmem helper's policy: pitch = ceil(width*bpp/8) aligned to
    /// 8 (2025 kernels), size page-aligned.
    public func createDumb(_ file: FileContext, width: UInt32, height: UInt32, bpp: UInt32) throws(DRMError) -> DumbBuffer {
        guard width != 0, height != 0, bpp != 0 else {
            throw .invalidArgument.because(.buffers, "dumb buffer \(width)x\(height) bpp \(bpp): width, height and bpp must be non-zero")
        }
        let cpp = (UInt64(bpp) + 7) / 8
        let pitch = (UInt64(width) * cpp + 7) & ~7
        let (raw, o1) = pitch.multipliedReportingOverflow(by: UInt64(height))
        guard !o1, pitch <= UInt64(UInt32.max), raw <= 1 << 31 else {
            throw .invalidArgument.because(.buffers, "dumb buffer \(width)x\(height) bpp \(bpp): pitch \(pitch) or size over 2 GiB")
        }
        let size = (raw + 4095) & ~4095
        return try lock.withLock { () throws(DRMError) -> DumbBuffer in
            try admitHandle(file, size: Int(size))
            guard bufferOwners.count(file.uid) < FDReserve.perUserShare else {
                throw .noMemory.because(.buffers, "uid \(file.uid) already has its share of \(FDReserve.perUserShare) live buffers")
            }
            let bo = try BufferObject(size: Int(size), serial: nextBOSerial, owner: (bufferOwners, file.uid))
            nextBOSerial += 1
            // Compacted when it doubles, so a client making many buffers costs O(1) each.
            if createdBuffers.count >= createdBuffersCompactAt {
                createdBuffers.removeAll { $0.object == nil }
                createdBuffersCompactAt = max(64, createdBuffers.count * 2)
            }
            createdBuffers.append(WeakBufferObject(object: bo))
            return DumbBuffer(handle: file.newHandle(bo), pitch: UInt32(pitch), size: size)
        }
    }

    public func mapDumb(_ file: FileContext, handle: UInt32) throws(DRMError) -> UInt64 {
        try lock.withLock { () throws(DRMError) -> UInt64 in
            guard let bo = file.handles[handle] else { throw .notFound.because(.buffers, "handle \(handle) not found in file \(file.id)") }
            if bo.mapOffset == 0 {
                bo.mapOffset = nextMapOffset
                nextMapOffset += (UInt64(bo.size) + 4095) & ~4095
                mapOffsets = mapOffsets.filter { $0.value.object != nil }
                mapOffsets[bo.mapOffset] = WeakBufferObject(object: bo)
            }
            return bo.mapOffset
        }
    }

    /// The memory behind a MAP_DUMB offset, for a front end implementing mmap.
    public func buffer(atMapOffset offset: UInt64) -> BufferObject? {
        lock.withLock { mapOffsets[offset]?.object }
    }

    /// DESTROY_DUMB and GEM_CLOSE: drop the handle (unknown → EINVAL).
    public func closeHandle(_ file: FileContext, _ handle: UInt32) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            guard let bo = file.dropHandle(handle) else {
                throw .invalidArgument.because(.buffers, "handle \(handle) not found in file \(file.id)")
            }
            releaseName(bo)
        }
    }

    /// drm_gem_object_handle_free: the flink name goes with the buffer's last handle.
    func releaseName(_ bo: BufferObject) {
        guard bo.handleCount == 0, bo.flinkName != 0 else { return }
        flinkNames[bo.flinkName] = nil
        lowestFreeFlinkName = min(lowestFreeFlinkName, bo.flinkName)
        bo.flinkName = 0
    }

    /// GEM_FLINK (DRM_AUTH): a global name for the buffer behind `handle`, the same one each
    /// time; names are the lowest free from 1, as idr_alloc gives them.
    public func flink(_ file: FileContext, handle: UInt32) throws(DRMError) -> UInt32 {
        try lock.withLock { () throws(DRMError) -> UInt32 in
            guard let bo = file.handles[handle] else { throw .notFound.because(.buffers, "handle \(handle) not found in file \(file.id)") }
            if bo.flinkName == 0 {
                var name = lowestFreeFlinkName
                while flinkNames[name] != nil { name += 1 }
                lowestFreeFlinkName = name + 1
                flinkNames[name] = bo
                bo.flinkName = name
            }
            return bo.flinkName
        }
    }

    /// GEM_OPEN (DRM_AUTH): a new handle in this file on the named buffer, and its size.
    public func gemOpen(_ file: FileContext, name: UInt32) throws(DRMError) -> (handle: UInt32, size: UInt64) {
        try lock.withLock { () throws(DRMError) -> (handle: UInt32, size: UInt64) in
            guard let bo = flinkNames[name] else { throw .notFound.because(.buffers, "flink name \(name) not found") }
            try admitHandle(file, size: bo.size)
            return (file.newHandle(bo), UInt64(bo.size))
        }
    }

    /// PRIME_HANDLE_TO_FD. The fd is installed outside the lock: a client callback must never
    /// stall other clients.
    public func primeExport(_ file: FileContext, handle: UInt32, flags: UInt32, env: ClientEnv) throws(DRMError) -> Int32 {
        let cloexec: UInt32 = 0x80000, rdwr: UInt32 = 0x2
        guard flags & ~(cloexec | rdwr) == 0 else {
            throw .invalidArgument.because(.buffers, "PRIME_HANDLE_TO_FD flags 0x\(String(flags, radix: 16)) beyond DRM_CLOEXEC | DRM_RDWR")
        }
        let bo = try lock.withLock { () throws(DRMError) -> BufferObject in
            guard let bo = file.handles[handle] else { throw .notFound.because(.buffers, "handle \(handle) not found in file \(file.id)") }
            return bo
        }
        return try env.files.install(.dmabuf(bo), cloexec: flags & cloexec != 0)
    }

    public func primeImport(_ file: FileContext, fd: Int32, env: ClientEnv) throws(DRMError) -> UInt32 {
        guard case .dmabuf(let bo)? = try env.files.lookup(fd: fd) else {
            throw .invalidArgument.because(.buffers, "fd \(fd) is not a dma-buf")
        }
        return try lock.withLock { () throws(DRMError) -> UInt32 in
            // One handle per buffer per file: importing twice gives the same handle.
            if let h = file.handle(for: bo) { return h }
            try admitHandle(file, size: bo.size)
            return file.newHandle(bo)
        }
    }

    /// limits.buffersPerFile (and at most the file's share of the daemon's fds) and
    /// bufferMiBPerFile, checked before a handle is made.
    func admitHandle(_ file: FileContext, size: Int) throws(DRMError) {
        // An ioctl still running when its file was released (CUSE) must not leave a handle
        // behind: nothing would ever drop it, nor the flink name it keeps alive.
        guard !file.closed else { throw .noDevice.because(.buffers, "file \(file.id) was released during the request") }
        let count = min(config.limits.buffersPerFile, FDReserve.perClientShare)
        if file.handles.count >= count || file.handleBytes + size > config.limits.bufferMiBPerFile << 20 {
            throw .noMemory.because(.buffers, "file \(file.id): a handle on \(size) bytes exceeds \(count) handles or limits.bufferMiBPerFile \(config.limits.bufferMiBPerFile) (has \(file.handles.count), \(file.handleBytes) bytes)")
        }
    }
}
