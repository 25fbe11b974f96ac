/// The dma-buf ioctls on a PRIME-exported buffer (drivers/dma-buf/dma-buf.c), over the buffer's
/// reservation: fences clients imported, plus the card itself as a reader of what it scans out.
///
/// A real KMS driver puts no fence in the reservation for scanout; fakedrm answers an export
/// for writing with one (signalled once the buffer is off the screen and out of pending flips),
/// as the release fence does for commits. CPU access (SYNC) waits only for imported fences, so
/// front-buffer rendering works as on vkms.
extension BufferManager {
    static let dmabufSyncRead: UInt64 = 1, dmabufSyncWrite: UInt64 = 2, dmabufSyncEnd: UInt64 = 4

    /// DMA_BUF_IOCTL_SYNC: flags beyond RW|END or neither READ nor WRITE → EINVAL; START waits
    /// (without a limit, as dma_buf_begin_cpu_access) for the fences the access conflicts with.
    /// `callerGone` ends the wait when the client goes (checked every 100 ms): EINTR, as for a
    /// killed process.
    public func dmabufSync(_ bo: BufferObject, flags: UInt64, callerGone: () -> Bool = { false }) throws(DRMError) {
        let rw = Self.dmabufSyncRead | Self.dmabufSyncWrite
        guard flags & ~(rw | Self.dmabufSyncEnd) == 0, flags & rw != 0 else {
            throw .invalidArgument.because(.fences, "DMA_BUF_IOCTL_SYNC flags 0x\(String(flags, radix: 16)): READ and/or WRITE, and END, only")
        }
        guard flags & Self.dmabufSyncEnd == 0 else { return }
        let forWrite = flags & Self.dmabufSyncWrite != 0
        try lock.withLock { () throws(DRMError) in
            func done() -> Bool { bo.reservation.conflicting(forWrite: forWrite).isEmpty || clock.shuttingDown }
            while !clock.waitUntil(timeoutNs: 100_000_000, crtcIndex: nil, done) {
                if callerGone() { throw .interrupted.because(.fences, "DMA_BUF_IOCTL_SYNC caller went away while waiting for fences") }
            }
            if clock.shuttingDown { throw .noDevice.because(.fences, "the card is shutting down") }
        }
    }

    /// DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a sync file of the conflicting fences (a signalled stub
    /// when there are none), flags as for IMPORT.
    public func dmabufExportSyncFile(_ bo: BufferObject, flags: UInt32) throws(DRMError) -> SyncFile {
        let forWrite = try Self.syncFileAccessIsWrite(flags)
        return try lock.withLock { () throws(DRMError) -> SyncFile in
            var fences = bo.reservation.conflicting(forWrite: forWrite)
            if forWrite, pipeline.isScannedOut(bo) { fences.append(pipeline.scanoutFence(bo)) }
            if fences.isEmpty { fences = [Fence.signalled(driverName: config.driver.name)] }
            return try SyncFile(fences: fences)
        }
    }

    /// DMA_BUF_IOCTL_IMPORT_SYNC_FILE: the sync file's fences join the reservation as writers
    /// (WRITE set) or readers; a commit that scans the buffer out waits for the writers.
    public func dmabufImportSyncFile(_ bo: BufferObject, flags: UInt32, syncFile: SyncFile?) throws(DRMError) {
        let write = try Self.syncFileAccessIsWrite(flags)
        guard let syncFile else { throw .invalidArgument.because(.fences, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE fd is not a sync_file") }
        lock.withLock {
            bo.reservation.add(syncFile.fences, write: write)
        }
    }

    /// EXPORT/IMPORT_SYNC_FILE's flags: READ and/or WRITE, nothing else (EINVAL); true for WRITE.
    static func syncFileAccessIsWrite(_ flags: UInt32) throws(DRMError) -> Bool {
        let rw = UInt32(dmabufSyncRead | dmabufSyncWrite)
        guard flags & ~rw == 0, flags & rw != 0 else {
            throw .invalidArgument.because(.fences, "sync_file flags 0x\(String(flags, radix: 16)): READ and/or WRITE only")
        }
        return UInt64(flags) & dmabufSyncWrite != 0
    }
}
