/// Dumb buffers, GEM handles, PRIME, and framebuffers (ADDFB/ADDFB2/RMFB/CLOSEFB/GETFB).
extension Device {
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

    // MARK: framebuffers

    public struct FramebufferSpec: Sendable {
        public var width: UInt32, height: UInt32, format: UInt32, flags: UInt32
        public var handles: [UInt32], pitches: [UInt32], offsets: [UInt32], modifiers: [UInt64]
        public var bpp: UInt32 = 0, depth: UInt32 = 0
        public init(width: UInt32, height: UInt32, format: UInt32, flags: UInt32, handles: [UInt32], pitches: [UInt32], offsets: [UInt32], modifiers: [UInt64]) {
            self.width = width; self.height = height; self.format = format; self.flags = flags
            self.handles = handles; self.pitches = pitches; self.offsets = offsets; self.modifiers = modifiers
        }
    }

    /// ADDFB2 with the checks of drm_internal_framebuffer_create, framebuffer_check and
    /// drm_gem_fb_init_with_funcs, in the kernel's order.
    public func addFramebuffer(_ file: FileContext, _ spec: FramebufferSpec) throws(DRMError) -> ObjectID {
        try lock.withLock { () throws(DRMError) -> ObjectID in
            if spec.flags & ~(DRMConst.fbInterlaced | DRMConst.fbModifiers) != 0 {
                throw .invalidArgument.because(.buffers, "bad framebuffer flags 0x\(String(spec.flags, radix: 16))")
            }
            if spec.width < config.minWidth || spec.width > config.maxWidth || spec.height < config.minHeight || spec.height > config.maxHeight {
                throw .invalidArgument.because(.buffers, spec.width < config.minWidth || spec.width > config.maxWidth
                    ? "bad framebuffer width \(spec.width), should be >= \(config.minWidth) && <= \(config.maxWidth)"
                    : "bad framebuffer height \(spec.height), should be >= \(config.minHeight) && <= \(config.maxHeight)")
            }
            guard let fmt = PixelFormat.lookup(spec.format), spec.width > 0, spec.height > 0 else {
                throw .invalidArgument.because(.buffers, PixelFormat.lookup(spec.format) == nil
                    ? "bad framebuffer format \(PixelFormat.name(spec.format)) (0x\(String(spec.format, radix: 16)))"
                    : spec.width == 0 ? "bad framebuffer width 0" : "bad framebuffer height 0")
            }
            let hasMods = spec.flags & DRMConst.fbModifiers != 0
            let n = fmt.planeCount
            for k in 0..<n {
                let width = fmt.planeWidth(spec.width, plane: k), height = fmt.planeHeight(spec.height, plane: k)
                let minPitch = fmt.minPitch(width: width, plane: k)
                if spec.handles[k] == 0 { throw .invalidArgument.because(.buffers, "no buffer object handle for plane \(k)") }
                if minPitch > UInt64(UInt32.max) {
                    throw .outOfRange.because(.buffers, "minimum pitch \(minPitch) for plane \(k) does not fit 32 bits")
                }
                if UInt64(height) * UInt64(spec.pitches[k]) + UInt64(spec.offsets[k]) > UInt64(UInt32.max) {
                    throw .outOfRange.because(.buffers, "plane \(k): height \(height) * pitch \(spec.pitches[k]) + offset \(spec.offsets[k]) does not fit 32 bits")
                }
                if UInt64(spec.pitches[k]) < minPitch {
                    throw .invalidArgument.because(.buffers, "bad pitch \(spec.pitches[k]) for plane \(k) (minimum \(minPitch))")
                }
                if spec.modifiers[k] != 0 && !hasMods {
                    throw .invalidArgument.because(.buffers, "bad fb modifier 0x\(String(spec.modifiers[k], radix: 16)) for plane \(k) without DRM_MODE_FB_MODIFIERS")
                }
                if hasMods && spec.modifiers[k] != spec.modifiers[0] {
                    throw .invalidArgument.because(.buffers, "bad fb modifier 0x\(String(spec.modifiers[k], radix: 16)) for plane \(k) (plane 0 has 0x\(String(spec.modifiers[0], radix: 16)))")
                }
            }
            for k in n..<4 {
                if spec.modifiers[k] != 0 { throw .invalidArgument.because(.buffers, "non-zero modifier for unused plane \(k)") }
                // Userspace from before FB_MODIFIERS did not clear the unused entries.
                if !hasMods { continue }
                if spec.handles[k] != 0 || spec.pitches[k] != 0 || spec.offsets[k] != 0 {
                    throw .invalidArgument.because(.buffers, spec.handles[k] != 0 ? "buffer object handle for unused plane \(k)"
                        : spec.pitches[k] != 0 ? "non-zero pitch for unused plane \(k)" : "non-zero offset for unused plane \(k)")
                }
            }
            // drm_gem_fb_create: a format and modifier some plane takes (only linear ones here).
            let modifier = hasMods ? spec.modifiers[0] : DRMConst.formatModLinear
            if modifier != DRMConst.formatModLinear || !planes.contains(where: { $0.formats.contains(spec.format) }) {
                throw .invalidArgument.because(.buffers, "Unsupported pixel format \(PixelFormat.name(spec.format)) / modifier 0x\(String(modifier, radix: 16))")
            }
            if file.framebufferCount >= config.limits.framebuffersPerFile {
                throw .noMemory.because(.buffers, "file \(file.id) already has limits.framebuffersPerFile (\(config.limits.framebuffersPerFile)) framebuffers")
            }
            var bos: [BufferObject?] = [nil, nil, nil, nil]
            for k in 0..<n {
                guard let bo = file.handles[spec.handles[k]] else {
                    throw .notFound.because(.buffers, "Failed to lookup GEM object: handle \(spec.handles[k]) for plane \(k)")
                }
                // The kernel sizes chroma planes by truncating division here (but rounds up
                // for the pitch check above); an empty plane still needs one row and column.
                let width = k == 0 ? spec.width : max(1, spec.width / UInt32(fmt.hsub))
                let height = k == 0 ? spec.height : max(1, spec.height / UInt32(fmt.vsub))
                let needed = UInt64(spec.offsets[k]) + UInt64(spec.pitches[k]) * UInt64(height - 1) + fmt.minPitch(width: width, plane: k)
                if needed > UInt64(bo.size) {
                    throw .invalidArgument.because(.buffers, "GEM object size (\(bo.size)) smaller than minimum size (\(needed)) for plane \(k)")
                }
                bos[k] = bo
            }
            let fb = Framebuffer(id: allocateID(.framebuffer), ownerFile: file.id, width: spec.width, height: spec.height,
                                 format: spec.format, flags: spec.flags, buffers: bos,
                                 pitches: (0..<4).map { $0 < n ? spec.pitches[$0] : 0 }, offsets: (0..<4).map { $0 < n ? spec.offsets[$0] : 0 },
                                 modifier: hasMods ? spec.modifiers[0] : 0,
                                 bpp: spec.bpp != 0 ? spec.bpp : UInt32(fmt.bitsPerPixel), depth: spec.depth != 0 ? spec.depth : UInt32(fmt.depth))
            framebuffers[fb.id] = fb
            file.framebufferCount += 1
            return fb.id
        }
    }

    /// Legacy ADDFB: (bpp, depth) → fourcc as drm_mode_legacy_fb_format.
    public func addLegacyFramebuffer(_ file: FileContext, width: UInt32, height: UInt32, pitch: UInt32, bpp: UInt32, depth: UInt32, handle: UInt32) throws(DRMError) -> ObjectID {
        let fourcc: UInt32
        switch (bpp, depth) {
        case (16, 16): fourcc = 0x3631_4752
        case (24, 24): fourcc = 0x3432_4752
        case (32, 24): fourcc = 0x3432_5258
        case (32, 30): fourcc = 0x3033_5258
        case (32, 32): fourcc = 0x3432_5241
        default: throw .invalidArgument.because(.buffers, "bad {bpp:\(bpp), depth:\(depth)}")
        }
        var spec = FramebufferSpec(width: width, height: height, format: fourcc, flags: 0, handles: [handle, 0, 0, 0],
                                   pitches: [pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0])
        spec.bpp = bpp
        spec.depth = depth
        return try addFramebuffer(file, spec)
    }

    /// RMFB (disablePlanes) and CLOSEFB: only the creating file may remove its fb (ENOENT).
    public func removeFramebuffer(_ file: FileContext, _ id: ObjectID, disablePlanes: Bool) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            defer { runEagerClock() }
            try removeFramebuffer(id, by: file, disablePlanes: disablePlanes)
        }
    }

    func removeFramebuffer(_ id: ObjectID, by file: FileContext, disablePlanes: Bool, collect: Bool = true) throws(DRMError) {
        guard let fb = framebuffers[id], fb.listed, fb.ownerFile == file.id else {
            throw .notFound.because(.buffers, "[FB:\(id)] not found among file \(file.id)'s framebuffers")
        }
        fb.listed = false
        file.framebufferCount -= 1
        if disablePlanes { disableFramebufferEverywhere(id) }
        if collect { collectGarbage() }
    }

    /// drm_framebuffer_remove: a commit that takes the fb off every plane; if the CRTC cannot
    /// live without its plane, the CRTC is switched off instead.
    func disableFramebufferEverywhere(_ id: ObjectID) {
        let users = state.planes.indices.filter { state.planes[$0].fb == id }
        guard !users.isEmpty else { return }
        var p = AtomicProposal(new: state)
        for i in users {
            p.touchedPlanes.insert(i)
            p.new.planes[i].fb = 0
            p.new.planes[i].crtc = 0
        }
        let kernel = FileContext.kernel
        do {
            try commitProposal(p, file: kernel, flags: DRMConst.atomicAllowModeset, userData: 0)
        } catch {
            for c in affectedCRTCs(p) {
                p.touchedCRTCs.insert(c)
                p.new.crtcs[c] = CRTCState()
                for k in p.new.connectors.indices where p.new.connectors[k].crtc == crtcs[c].id {
                    p.new.connectors[k].crtc = 0
                    p.touchedConnectors.insert(k)
                }
            }
            _ = try? commitProposal(p, file: kernel, flags: DRMConst.atomicAllowModeset, userData: 0)
        }
    }

    public struct FramebufferInfo: Sendable {
        public var width, height, format, flags: UInt32
        public var handles: [UInt32], pitches: [UInt32], offsets: [UInt32], modifiers: [UInt64]
        public var bpp, depth: UInt32
        public var planeCount: Int
    }

    /// GETFB/GETFB2: new handles only for the master (the kernel's CAP_SYS_ADMIN or master rule).
    /// `legacy`: GETFB, which cannot describe multi-planar framebuffers (EINVAL).
    public func framebufferInfo(_ file: FileContext, _ id: ObjectID, legacy: Bool = false) throws(DRMError) -> FramebufferInfo {
        try lock.withLock { () throws(DRMError) -> FramebufferInfo in
            guard let fb = framebuffers[id] else { throw .notFound.because(.buffers, "Unknown framebuffer ID \(id)") }
            var handles: [UInt32] = [0, 0, 0, 0]
            let planeCount = fb.buffers.filter { $0 != nil }.count
            if legacy && planeCount > 1 {
                throw .invalidArgument.because(.buffers, "[FB:\(id)] has \(planeCount) planes; multi-planar framebuffers need GETFB2")
            }
            if master === file {
                // drm_mode_getfb2_ioctl: a buffer shared by several planes gets one handle.
                for k in 0..<planeCount {
                    guard let bo = fb.buffers[k] else { continue }
                    if let same = (0..<k).first(where: { fb.buffers[$0] === bo }) {
                        handles[k] = handles[same]
                    } else {
                        try admitHandle(file, size: bo.size)
                        handles[k] = file.newHandle(bo)
                    }
                }
            }
            return FramebufferInfo(width: fb.width, height: fb.height, format: fb.format, flags: fb.flags, handles: handles,
                                   pitches: fb.pitches, offsets: fb.offsets,
                                   modifiers: (0..<4).map { $0 < planeCount ? fb.modifier : 0 }, bpp: fb.bpp, depth: fb.depth,
                                   planeCount: planeCount)
        }
    }
}

/// For commits the kernel makes on its own (RMFB, close): nothing to read, no fds to install.
final class NoClientMemory: ClientMemory {
    func read(at address: UInt64, count: Int) throws(DRMError) -> [UInt8] { throw .badAddress }
    func write(_ bytes: [UInt8], at address: UInt64) throws(DRMError) { throw .badAddress }
}

final class NoClientFiles: ClientFiles {
    func install(_ file: ExportedFile, cloexec: Bool) throws(DRMError) -> Int32 { throw .badFileDescriptor }
    func lookup(fd: Int32) throws(DRMError) -> ExportedFile? { throw .badFileDescriptor }
    func uninstall(fd: Int32) {}
    func eventfd(fd: Int32) throws(DRMError) -> OwnedFD { throw .badFileDescriptor }
}

extension FileContext {
    /// The owner of internal commits; never queued events.
    static let kernel: FileContext = {
        guard let f = try? FileContext(id: 0, pid: 0, uid: 0) else { fatalError("eventfd unavailable at startup") }
        return f
    }()
}
