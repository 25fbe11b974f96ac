/// DRM_IOCTL_MODE_ATOMIC and PAGE_FLIP: read the four arrays, hand a request to the core.
enum AtomicHandlers {
    static func register(_ t: inout CodecTable) {
        t.add(0xBC, AtomicArg.self) { d, f, a, env throws(DRMError) in
            let c = AtomicArg.self
            // The ioctl table's DRM_MASTER check comes before the handler's own checks.
            try d.requireMasterLocked(f)
            guard d.isAtomicClient(f) else { throw .invalidArgument }
            if a[c.flags] & ~DRMConst.atomicFlags != 0 { throw .invalidArgument }
            if a[c.reserved] != 0 { throw .invalidArgument }
            let count = a[c.countObjs]
            let objs = try env.memory.readU32s(at: a[c.objsPtr], count: count)
            if let first = objs.first, !d.isModeObjectWithProperties(first) { throw .notFound }
            let counts = try env.memory.readU32s(at: a[c.countPropsPtr], count: count)
            var total: UInt64 = 0
            for n in counts { total += UInt64(n) }
            guard total <= UInt64(UInt32.max) else { throw .badAddress }
            // Objects are looked up before their properties are read, as the kernel does, so
            // an unknown object gives ENOENT even when the property arrays are bad.
            for id in objs where !d.isModeObjectWithProperties(id) { throw .notFound }
            let props = try env.memory.readU32s(at: a[c.propsPtr], count: UInt32(total))
            let values = try env.memory.readU64s(at: a[c.propValuesPtr], count: UInt32(total))
            var objects: [(id: ObjectID, props: [(prop: ObjectID, value: UInt64)])] = []
            var k = 0
            for (i, id) in objs.enumerated() {
                let n = Int(counts[i])
                objects.append((id, (0..<n).map { (props[k + $0], values[k + $0]) }))
                k += n
            }
            try commit(d, f, AtomicRequest(flags: a[c.flags], userData: a[c.userData], objects: objects), env)
        }
        t.add(0xB0, PageFlipArg.self) { d, f, a, env throws(DRMError) in
            let p = PageFlipArg.self
            try d.pageFlip(f, crtcID: a[p.crtcId], fbID: a[p.fbId], flags: a[p.flags], reserved: a[p.reserved], userData: a[p.userData])
        }
    }

    /// The client-facing half of an atomic commit, all outside the device lock: resolve
    /// IN_FENCE_FD fds, write -1 to every fence pointer (EFAULT when unwritable, as the kernel
    /// does at set time), commit, then install the new sync files and write their fds — or -1
    /// everywhere when the commit failed.
    static func commit(_ d: Device, _ f: FileContext, _ request: AtomicRequest, _ env: ClientEnv) throws(DRMError) {
        var req = request
        var pointers: [UInt64] = []
        for (obj, prop, kind) in d.fenceProperties(in: req) {
            let value = req.objects.lazy.filter { $0.id == obj }.flatMap(\.props).last { $0.prop == prop }?.value ?? 0
            switch kind {
            case .inFenceFD:
                let fd = Int64(bitPattern: value)
                guard fd >= 0, fd <= Int64(Int32.max) else { continue }
                if case .syncFile(let sf)? = try? env.files.lookup(fd: Int32(fd)) { req.inFences[Int32(fd)] = sf }
            default:
                guard value != 0 else { continue }
                try env.memory.write(LE.bytes([Int32(-1)]), at: value)
                pointers.append(value)
            }
        }
        let installs: [FenceInstall]
        do {
            installs = try d.atomic(f, req)
        } catch {
            for p in pointers { try? env.memory.write(LE.bytes([Int32(-1)]), at: p) }
            throw error
        }
        for install in installs {
            let fd = try env.files.install(.syncFile(install.syncFile), cloexec: true)
            try env.memory.write(LE.bytes([fd]), at: install.pointer)
        }
    }
}
