/// ioctls on a sw_sync timeline fd (type 'W', include/uapi/linux/sync_file.h's private twin in
/// sw_sync.c): CREATE_FENCE and INC; anything else ENOTTY.
public enum SwSyncCodec {
    static let type: UInt8 = 0x57 // 'W'
    /// struct sw_sync_create_fence_data { __u32 value; char name[32]; __s32 fence; }
    static let createFenceSize = 40

    public static func ioctl(_ device: Device, _ t: Timeline, request: UInt32, arg: [UInt8], env: ClientEnv) -> IoctlReply {
        let req = IoctlRequest(request)
        guard req.type == type else { return IoctlReply(errno: DRMError.notTTY.errno, bytes: []) }
        let entry: UAPICodec.Entry
        switch (req.nr, req.size) {
        case (0, createFenceSize):
            entry = UAPICodec.Entry(name: "SW_SYNC_IOC_CREATE_FENCE", size: createFenceSize) { d, _, a, env throws(DRMError) in
                let value = a.load(UInt32.self, at: 0)
                let nameBytes = (4..<36).map { a.load(UInt8.self, at: $0) }
                let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                let sf = try SwSync.createFence(d, on: t, value: value, name: name)
                let fd = try env.files.install(.syncFile(sf), cloexec: true)
                a.store(fd, at: 36)
            }
        case (1, 4):
            entry = UAPICodec.Entry(name: "SW_SYNC_IOC_INC", size: 4) { d, _, a, _ in
                // sw_sync_ioctl_inc signals in steps of at most INT_MAX; one step here.
                SwSync.increment(d, t, by: a.load(UInt32.self, at: 0))
            }
        default:
            return IoctlReply(errno: DRMError.notTTY.errno, bytes: [])
        }
        return UAPICodec.run(entry, device, FileContext.kernel, req, arg, env)
    }
}
