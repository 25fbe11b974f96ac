/// Framebuffers (ADDFB/ADDFB2/RMFB/CLOSEFB/GETFB): the checks of drm_internal_framebuffer_create
/// over the file's GEM handles; the objects themselves live in the mode-object registry.
extension BufferManager {
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
            if modifier != DRMConst.formatModLinear || !topology.planes.contains(where: { $0.formats.contains(spec.format) }) {
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
            let fb = Framebuffer(id: objects.allocateID(.framebuffer), ownerFile: file.id, width: spec.width, height: spec.height,
                                 format: spec.format, flags: spec.flags, buffers: bos,
                                 pitches: (0..<4).map { $0 < n ? spec.pitches[$0] : 0 }, offsets: (0..<4).map { $0 < n ? spec.offsets[$0] : 0 },
                                 modifier: hasMods ? spec.modifiers[0] : 0,
                                 bpp: spec.bpp != 0 ? spec.bpp : UInt32(fmt.bitsPerPixel), depth: spec.depth != 0 ? spec.depth : UInt32(fmt.depth))
            objects.framebuffers[fb.id] = fb
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
            defer { clock.runEagerClock() }
            try removeFramebuffer(id, by: file, disablePlanes: disablePlanes)
        }
    }

    func removeFramebuffer(_ id: ObjectID, by file: FileContext, disablePlanes: Bool, collect: Bool = true) throws(DRMError) {
        guard let fb = objects.framebuffers[id], fb.listed, fb.ownerFile == file.id else {
            throw .notFound.because(.buffers, "[FB:\(id)] not found among file \(file.id)'s framebuffers")
        }
        objects.unlist(fb)
        file.framebufferCount -= 1
        if disablePlanes { disableFramebufferEverywhere(id) }
        if collect { pipeline.collectGarbage() }
    }

    /// drm_framebuffer_remove: a commit that takes the fb off every plane; if the CRTC cannot
    /// live without its plane, the CRTC is switched off instead.
    func disableFramebufferEverywhere(_ id: ObjectID) {
        let users = pipeline.state.planes.indices.filter { pipeline.state.planes[$0].fb == id }
        guard !users.isEmpty else { return }
        var p = AtomicProposal(new: pipeline.state)
        for i in users {
            p.touchedPlanes.insert(i)
            p.new.planes[i].fb = 0
            p.new.planes[i].crtc = 0
        }
        let kernel = FileContext.kernel
        do {
            try pipeline.commitProposal(p, file: kernel, flags: DRMConst.atomicAllowModeset, userData: 0)
        } catch {
            for c in pipeline.affectedCRTCs(p) {
                p.touchedCRTCs.insert(c)
                p.new.crtcs[c] = CRTCState()
                for k in p.new.connectors.indices where p.new.connectors[k].crtc == topology.crtcs[c].id {
                    p.new.connectors[k].crtc = 0
                    p.touchedConnectors.insert(k)
                }
            }
            _ = try? pipeline.commitProposal(p, file: kernel, flags: DRMConst.atomicAllowModeset, userData: 0)
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
            guard let fb = objects.framebuffers[id] else { throw .notFound.because(.buffers, "Unknown framebuffer ID \(id)") }
            var handles: [UInt32] = [0, 0, 0, 0]
            let planeCount = fb.buffers.filter { $0 != nil }.count
            if legacy && planeCount > 1 {
                throw .invalidArgument.because(.buffers, "[FB:\(id)] has \(planeCount) planes; multi-planar framebuffers need GETFB2")
            }
            if files.master === file {
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

