/// DRM_IOCTL_MODE_ATOMIC and PAGE_FLIP: read the four arrays, hand a request to the core.
enum AtomicHandlers {
    static func register(_ t: inout CodecTable) {
        t.add(0xBC, "MODE_ATOMIC", AtomicArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let c = AtomicArg.self
            guard d.objects.isAtomicClient(f) else { throw .invalidArgument.because(.atomic, "file \(f.id) has not set DRM_CLIENT_CAP_ATOMIC") }
            let flags = a[c.flags]
            if flags & ~DRMConst.atomicFlags != 0 {
                throw .invalidArgument.because(.atomic, "commit flags 0x\(String(flags, radix: 16)) outside DRM_MODE_ATOMIC_FLAGS")
            }
            if a[c.reserved] != 0 { throw .invalidArgument.because(.uapi, "drm_mode_atomic.reserved is not 0") }
            // Flag combinations are refused before any array is read, as drm_mode_atomic_ioctl.
            try AtomicPipeline.checkAtomicFlags(flags)
            let count = a[c.countObjs]
            let objs = try readObjects(d, at: a[c.objsPtr], count: count, env.memory)
            let counts = try env.memory.readU32s(at: a[c.countPropsPtr], count: count)
            var total: UInt64 = 0
            for n in counts { total += UInt64(n) }
            guard total <= UInt64(UInt32.max) else { throw .badAddress.because(.uapi, "count_props adds up to \(total) properties") }
            let props = try env.memory.readU32s(at: a[c.propsPtr], count: UInt32(total))
            let values = try env.memory.readU64s(at: a[c.propValuesPtr], count: UInt32(total))
            try commit(d, f, AtomicRequest(flags: a[c.flags], userData: a[c.userData], objectIDs: objs, propCounts: counts, propIDs: props, values: values), env)
        }
        t.add(0xB0, "MODE_PAGE_FLIP", PageFlipArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let p = PageFlipArg.self
            try d.pipeline.pageFlip(f, crtcID: a[p.crtcId], fbID: a[p.fbId], flags: a[p.flags], reserved: a[p.reserved], userData: a[p.userData])
        }
    }

    /// objs[] in the kernel's order: each id is looked up before the next is read, so a bad id
    /// gives ENOENT even when the count claims more memory than is mapped (igt passes
    /// count_objs = UINT32_MAX/4 after 16 valid ids and a 0). Reads go in chunks and fall back
    /// to single ids when a chunk faults.
    static func readObjects(_ d: Device, at address: UInt64, count: UInt32, _ memory: ClientMemory) throws(DRMError) -> [ObjectID] {
        var ids: [ObjectID] = []
        var i: UInt32 = 0
        var chunk: UInt32 = 256
        while i < count {
            let n = min(chunk, count - i)
            let (addr, o) = address.addingReportingOverflow(UInt64(i) * 4)
            guard !o else { throw .badAddress.because(.uapi, "objs_ptr + \(i) ids wraps the address space") }
            let block: [UInt32]
            do {
                block = try memory.readU32s(at: addr, count: n)
            } catch {
                // A span the CUSE planner has yet to fetch: the miss is recorded, one id at a
                // time would only record more.
                if n == 1 || memory.isIncomplete { throw error }
                chunk = 1
                continue
            }
            for id in block {
                guard d.objects.isModeObjectWithProperties(id) else { throw .notFound.because(.atomic, "[OBJECT:\(id)] not found") }
            }
            // One block (every commit but huge ones): it is the answer, no second array.
            if i == 0 && n == count { return block }
            ids.append(contentsOf: block)
            i += n
        }
        return ids
    }

    /// The client-facing half of an atomic commit, all outside the device lock: resolve
    /// IN_FENCE_FD fds, write -1 to every fence pointer (EFAULT when unwritable, as the kernel
    /// does at set time), commit, then install the new sync files and write their fds — or -1
    /// everywhere when the commit failed.
    static func commit(_ d: Device, _ f: FileContext, _ request: AtomicRequest, _ env: ClientEnv) throws(DRMError) {
        var req = request
        var pointers: [UInt64] = []
        for (obj, prop, kind) in d.pipeline.fenceProperties(in: req) {
            // The last value set wins, as each set replaces the one before.
            var value: UInt64 = 0
            req.forEachObject { id, pairs in
                guard id == obj else { return }
                for k in pairs where req.propIDs[k] == prop { value = req.values[k] }
            }
            switch kind {
            case .inFenceFD:
                let fd = Int64(bitPattern: value)
                guard fd >= 0, fd <= Int64(Int32.max) else { continue }
                if case .syncFile(let sf)? = try? env.files.lookup(fd: Int32(fd)) { req.inFences[Int32(fd)] = sf }
            default:
                guard value != 0 else { continue }
                do {
                    try env.memory.write(LE.bytes([Int32(-1)]), at: value)
                } catch {
                    throw error.because(.atomic, "[OBJECT:\(obj)] fence pointer 0x\(String(value, radix: 16)) is not writable")
                }
                pointers.append(value)
            }
        }
        let installs: [FenceInstall]
        do {
            installs = try d.pipeline.atomic(f, req)
        } catch {
            for p in pointers { try? env.memory.write(LE.bytes([Int32(-1)]), at: p) }
            throw error
        }
        // The kernel reserves these fds before committing; here the commit has happened, so a
        // failure now (EMFILE, the client unmapped the pointer) can only undo the fds: they are
        // closed again and every pointer reads -1, and the error is reported.
        var installed: [Int32] = []
        do throws(DRMError) {
            for install in installs {
                let fd = try env.files.install(.syncFile(install.syncFile), cloexec: true)
                installed.append(fd)
                try env.memory.write(LE.bytes([fd]), at: install.pointer)
            }
        } catch {
            for fd in installed { env.files.uninstall(fd: fd) }
            for p in pointers { try? env.memory.write(LE.bytes([Int32(-1)]), at: p) }
            throw error
        }
    }
}
