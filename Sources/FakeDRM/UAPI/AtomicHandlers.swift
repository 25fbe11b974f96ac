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
            try d.atomic(f, AtomicRequest(flags: a[c.flags], userData: a[c.userData], objects: objects), env: env)
        }
        t.add(0xB0, PageFlipArg.self) { d, f, a, env throws(DRMError) in
            let p = PageFlipArg.self
            try d.pageFlip(f, crtcID: a[p.crtcId], fbID: a[p.fbId], flags: a[p.flags], reserved: a[p.reserved], userData: a[p.userData], env: env)
        }
    }
}
