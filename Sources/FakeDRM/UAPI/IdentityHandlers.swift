import Glibc

/// VERSION, UNIQUE, magic/auth, master, caps, client caps, and the legacy no-ops.
enum IdentityHandlers {
    static func register(_ t: inout CodecTable) {
        t.add(0x00, "VERSION", VersionArg.self, [.renderAllow]) { d, _, a, env throws(DRMError) in
            let v = VersionArg.self
            a[v.major] = d.config.driver.major
            a[v.minor] = d.config.driver.minor
            a[v.patch] = d.config.driver.patchlevel
            try copyString(d.config.driver.name, len: v.nameLen, ptr: v.name, &a, env)
            try copyString(d.config.driver.date, len: v.dateLen, ptr: v.date, &a, env)
            try copyString(d.config.driver.description, len: v.descLen, ptr: v.desc, &a, env)
        }
        t.add(0x01, "GET_UNIQUE", UniqueArg.self) { d, f, a, env throws(DRMError) in
            let u = Array(d.files.unique(f).utf8)
            if a[UniqueArg.length] >= UInt64(u.count), !u.isEmpty { try env.memory.write(u, at: a[UniqueArg.unique]) }
            a[UniqueArg.length] = UInt64(u.count)
        }
        t.add(0x02, "GET_MAGIC", AuthArg.self) { d, f, a, _ in a[AuthArg.magic] = d.files.getMagic(f) }
        t.add(0x03, "IRQ_BUSID", UniqueArg.self, [.master, .rootOnly]) { _, _, _, _ throws(DRMError) in
            throw .invalidArgument.because(.uapi, "IRQ_BUSID is drm_invalid_op (no legacy drivers)")
        }
        t.add(0x05, "GET_CLIENT", ClientArg.self) { d, f, a, _ throws(DRMError) in
            guard a[ClientArg.idx] == 0 else { throw .invalidArgument.because(.uapi, "GET_CLIENT idx \(a[ClientArg.idx]): only 0, the caller") }
            a[ClientArg.auth] = d.files.isAuthenticated(f) ? 1 : 0
            a[ClientArg.pid] = UInt64(UInt32(bitPattern: f.pid))
            a[ClientArg.uid] = 65534
            a[ClientArg.magic] = 0
            a[ClientArg.iocs] = 0
        }
        t.add(0x07, "SET_VERSION", SetVersionArg.self, [.master]) { d, f, a, _ throws(DRMError) in
            try d.files.setVersion(f, diMajor: a[SetVersionArg.diMajor], diMinor: a[SetVersionArg.diMinor],
                             ddMajor: a[SetVersionArg.ddMajor], ddMinor: a[SetVersionArg.ddMinor])
            a[SetVersionArg.diMajor] = 1
            a[SetVersionArg.diMinor] = 4
            a[SetVersionArg.ddMajor] = d.config.driver.major
            a[SetVersionArg.ddMinor] = d.config.driver.minor
        }
        // MODESET_CTL and the DRM-1 leftovers: accepted and ignored on modern kernels.
        t.add(0x08, "MODESET_CTL", size: 8) { _, _, _, _ in }
        for (nr, name) in [(0x12, "BLOCK"), (0x13, "UNBLOCK"), (0x27, "ADD_DRAW"), (0x28, "RM_DRAW"), (0x3F, "UPDATE_DRAW")] {
            t.add(nr, name, size: 0, [.auth, .master, .rootOnly]) { _, _, _, _ in }
        }
        t.add(0x0A, "GEM_FLINK", GemFlinkArg.self, [.auth]) { d, f, a, _ throws(DRMError) in
            a[GemFlinkArg.name] = try d.buffers.flink(f, handle: a[GemFlinkArg.handle])
        }
        t.add(0x0B, "GEM_OPEN", GemOpenArg.self, [.auth]) { d, f, a, _ throws(DRMError) in
            let (handle, size) = try d.buffers.gemOpen(f, name: a[GemOpenArg.name])
            a[GemOpenArg.handle] = handle
            a[GemOpenArg.size_] = size
        }
        t.add(0x0C, "GET_CAP", CapArg.self, [.renderAllow]) { d, _, a, _ throws(DRMError) in a[CapArg.value] = try d.config.capability(a[CapArg.capability]) }
        t.add(0x0D, "SET_CLIENT_CAP", ClientCapArg.self) { d, f, a, _ throws(DRMError) in
            try d.files.setClientCap(f, cap: a[ClientCapArg.capability], value: a[ClientCapArg.value])
        }
        t.add(0x10, "SET_UNIQUE", UniqueArg.self, [.auth, .master, .rootOnly]) { _, _, _, _ throws(DRMError) in
            throw .invalidArgument.because(.uapi, "SET_UNIQUE is drm_invalid_op")
        }
        t.add(0x11, "AUTH_MAGIC", AuthArg.self, [.master]) { d, f, a, _ throws(DRMError) in try d.files.authMagic(f, a[AuthArg.magic]) }
        t.add(0x1E, "SET_MASTER", size: 0) { d, f, _, _ throws(DRMError) in try d.files.setMaster(f) }
        t.add(0x1F, "DROP_MASTER", size: 0) { d, f, _, _ throws(DRMError) in try d.files.dropMaster(f) }
        t.add(0xD1, "SET_CLIENT_NAME", size: 16, [.renderAllow]) { _, _, _, _ in }  // SET_CLIENT_NAME: accepted, name unused
        LeaseHandlers.register(&t)
    }

    /// drm_copy_field: copy min(len, strlen) bytes (no NUL), always report the full length.
    static func copyString(_ s: String, len: Field<UInt64>, ptr: Field<UInt64>, _ a: inout ArgBuffer, _ env: ClientEnv) throws(DRMError) {
        let bytes = Array(s.utf8)
        let have = a[len]
        a[len] = UInt64(bytes.count)
        let n = Int(min(have, UInt64(bytes.count)))
        if n > 0, a[ptr] != 0 { try env.memory.write(.copying(bytes.prefix(n)), at: a[ptr]) }
    }
}
