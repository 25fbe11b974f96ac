/// ioctls on a sync_file fd (type '>'): MERGE, FILE_INFO, SET_DEADLINE; anything else ENOTTY.
public enum SyncFileCodec {
    public static func ioctl(_ device: Device, _ sf: SyncFile, request: UInt32, arg: [UInt8], env: ClientEnv) -> IoctlReply {
        let req = IoctlRequest(request)
        guard req.type == IoctlRequest.syncType else { return IoctlReply(errno: DRMError.notTTY.errno, bytes: []) }
        let entry: UAPICodec.Entry
        switch req.nr {
        case 3: entry = UAPICodec.Entry(name: "SYNC_IOC_MERGE", size: SyncMergeArg.size) { d, _, a, env throws(DRMError) in try merge(d, sf, &a, env) }
        case 4: entry = UAPICodec.Entry(name: "SYNC_IOC_FILE_INFO", size: SyncFileInfoArg.size) { d, _, a, env throws(DRMError) in try info(d, sf, &a, env) }
        case 5: entry = UAPICodec.Entry(name: "SYNC_IOC_SET_DEADLINE", size: 16) { _, _, a, _ throws(DRMError) in
            guard a.load(UInt64.self, at: 8) == 0 else { throw .invalidArgument.because(.fences, "SYNC_IOC_SET_DEADLINE pad is not 0") }
        }
        default: return IoctlReply(errno: DRMError.notTTY.errno, bytes: [])
        }
        return UAPICodec.run(entry, device, FileContext.kernel, req, arg, env)
    }

    static func merge(_ d: Device, _ sf: SyncFile, _ a: inout ArgBuffer, _ env: ClientEnv) throws(DRMError) {
        let m = SyncMergeArg.self
        guard a[m.flags] == 0, a[m.pad] == 0 else { throw .invalidArgument.because(.fences, "sync_merge_data flags or pad is not 0") }
        guard case .syncFile(let other)? = try? env.files.lookup(fd: a[m.fd2]) else { throw .notFound.because(.fences, "SYNC_IOC_MERGE fd2 \(a[m.fd2]) is not a sync file") }
        let merged = try d.lock.withLock { () throws(DRMError) -> SyncFile in try SyncFile.merge(sf, other, name: a.string(m.name)) }
        a[m.fence] = try env.files.install(.syncFile(merged), cloexec: true)
    }

    static func info(_ d: Device, _ sf: SyncFile, _ a: inout ArgBuffer, _ env: ClientEnv) throws(DRMError) {
        let i = SyncFileInfoArg.self
        guard a[i.flags] == 0, a[i.pad] == 0 else { throw .invalidArgument.because(.fences, "sync_file_info flags or pad is not 0") }
        let (status, fences) = d.lock.withLock { (sf.status, sf.fences.map { ($0.timelineName, $0.driverName, $0.status, $0.timestampNs) }) }
        a.setString(i.name, sf.name)
        a[i.status] = status
        let want = a[i.numFences]
        if want == 0 {
            a[i.numFences] = UInt32(fences.count)
            return
        }
        guard want >= UInt32(fences.count) else { throw .invalidArgument.because(.fences, "sync_file_info num_fences \(want) is fewer than the \(fences.count) fences") }
        var out: [UInt8] = []
        for (tl, drv, st, ts) in fences {
            var b = ArgBuffer(size: SyncFenceInfoLayout.size)
            b.setString(SyncFenceInfoLayout.objName, tl)
            b.setString(SyncFenceInfoLayout.driverName, drv)
            b[SyncFenceInfoLayout.status] = st
            b[SyncFenceInfoLayout.flags] = 0
            b[SyncFenceInfoLayout.timestampNs] = st != 0 ? UInt64(max(ts, 0)) : 0
            out += b.bytes
        }
        try env.memory.write(out, at: a[i.fenceInfoPtr])
        a[i.numFences] = UInt32(fences.count)
    }
}
