/// ioctls on a dma-buf fd (type 'b', linux/dma-buf.h): SYNC, EXPORT_SYNC_FILE and
/// IMPORT_SYNC_FILE; anything else ENOTTY, as dma_buf_ioctl. (SET_NAME takes a string
/// pointer as its argument; the client library checks it in place.)
public enum DmaBufCodec {
    static let type: UInt8 = 0x62 // 'b'

    public static func ioctl(_ device: Device, _ bo: BufferObject, request: UInt32, arg: [UInt8], env: ClientEnv) -> IoctlReply {
        let req = IoctlRequest(request)
        guard req.type == type else { return IoctlReply(errno: DRMError.notTTY.errno, bytes: []) }
        let entry: UAPICodec.Entry
        switch (req.nr, req.size) {
        case (0, 8):
            // struct dma_buf_sync { __u64 flags; }
            entry = UAPICodec.Entry(name: "DMA_BUF_IOCTL_SYNC", size: 8) { d, _, a, env throws(DRMError) in
                try d.buffers.dmabufSync(bo, flags: a.load(UInt64.self, at: 0)) { env.memory.isGone }
            }
        case (2, 8):
            // struct dma_buf_export_sync_file { __u32 flags; __s32 fd; }
            entry = UAPICodec.Entry(name: "DMA_BUF_IOCTL_EXPORT_SYNC_FILE", size: 8) { d, _, a, env throws(DRMError) in
                let sf = try d.buffers.dmabufExportSyncFile(bo, flags: a.load(UInt32.self, at: 0))
                a.store(try env.files.install(.syncFile(sf), cloexec: true), at: 4)
            }
        case (3, 8):
            // struct dma_buf_import_sync_file { __u32 flags; __s32 fd; }: sync_file_get_fence
            // failing (not open, not a sync file) is EINVAL.
            entry = UAPICodec.Entry(name: "DMA_BUF_IOCTL_IMPORT_SYNC_FILE", size: 8) { d, _, a, env throws(DRMError) in
                let flags = a.load(UInt32.self, at: 0)
                var sf: SyncFile? = nil
                if case .syncFile(let s)? = try? env.files.lookup(fd: a.load(Int32.self, at: 4)) { sf = s }
                try d.buffers.dmabufImportSyncFile(bo, flags: flags, syncFile: sf)
            }
        default:
            return IoctlReply(errno: DRMError.notTTY.errno, bytes: [])
        }
        return UAPICodec.run(entry, device, FileContext.kernel, req, arg, env)
    }
}
