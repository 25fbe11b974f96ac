/// GEM, dumb buffers, PRIME and framebuffers.
enum BufferHandlers {
    static func register(_ t: inout CodecTable) {
        t.add(0x09, "GEM_CLOSE", GemCloseArg.self, [.renderAllow]) { d, f, a, _ throws(DRMError) in try d.buffers.closeHandle(f, a[GemCloseArg.handle]) }
        t.add(0x2D, "PRIME_HANDLE_TO_FD", PrimeHandleArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            a[PrimeHandleArg.fd] = try d.buffers.primeExport(f, handle: a[PrimeHandleArg.handle], flags: a[PrimeHandleArg.flags], env: env)
        }
        t.add(0x2E, "PRIME_FD_TO_HANDLE", PrimeHandleArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            a[PrimeHandleArg.handle] = try d.buffers.primeImport(f, fd: a[PrimeHandleArg.fd], env: env)
        }
        t.add(0xB2, "MODE_CREATE_DUMB", CreateDumbArg.self) { d, f, a, _ throws(DRMError) in
            let c = CreateDumbArg.self
            // The core zeroes the outputs first: userspace often leaves garbage there.
            a[c.handle] = 0
            a[c.pitch] = 0
            a[c.size_] = 0
            let r = try d.buffers.createDumb(f, width: a[c.width], height: a[c.height], bpp: a[c.bpp])
            a[c.handle] = r.handle
            a[c.pitch] = r.pitch
            a[c.size_] = r.size
        }
        t.add(0xB3, "MODE_MAP_DUMB", MapDumbArg.self) { d, f, a, _ throws(DRMError) in
            a[MapDumbArg.offset] = try d.buffers.mapDumb(f, handle: a[MapDumbArg.handle])
        }
        t.add(0xB4, "MODE_DESTROY_DUMB", DestroyDumbArg.self) { d, f, a, _ throws(DRMError) in try d.buffers.closeHandle(f, a[DestroyDumbArg.handle]) }
        t.add(0xAD, "MODE_GETFB", FbCmdArg.self) { d, f, a, _ throws(DRMError) in
            let c = FbCmdArg.self
            let info = try d.buffers.framebufferInfo(f, a[c.fbId], legacy: true)
            a[c.width] = info.width
            a[c.height] = info.height
            a[c.pitch] = info.pitches[0]
            a[c.bpp] = info.bpp
            a[c.depth] = info.depth
            a[c.handle] = info.handles[0]
        }
        t.add(0xCE, "MODE_GETFB2", FbCmd2Arg.self) { d, f, a, _ throws(DRMError) in
            let c = FbCmd2Arg.self
            let info = try d.buffers.framebufferInfo(f, a[c.fbId])
            a[c.width] = info.width
            a[c.height] = info.height
            a[c.pixelFormat] = info.format
            a[c.flags] = info.flags
            for k in 0..<4 {
                a[c.handles, k] = info.handles[k]
                a[c.pitches, k] = info.pitches[k]
                a[c.offsets, k] = info.offsets[k]
                a[c.modifier, k] = info.flags & DRMConst.fbModifiers != 0 ? info.modifiers[k] : 0
            }
        }
        t.add(0xAE, "MODE_ADDFB", FbCmdArg.self) { d, f, a, _ throws(DRMError) in
            let c = FbCmdArg.self
            a[c.fbId] = try d.buffers.addLegacyFramebuffer(f, width: a[c.width], height: a[c.height], pitch: a[c.pitch], bpp: a[c.bpp], depth: a[c.depth], handle: a[c.handle])
        }
        t.add(0xB8, "MODE_ADDFB2", FbCmd2Arg.self) { d, f, a, _ throws(DRMError) in
            let c = FbCmd2Arg.self
            let spec = BufferManager.FramebufferSpec(width: a[c.width], height: a[c.height], format: a[c.pixelFormat], flags: a[c.flags],
                                              handles: (0..<4).map { a[c.handles, $0] }, pitches: (0..<4).map { a[c.pitches, $0] },
                                              offsets: (0..<4).map { a[c.offsets, $0] }, modifiers: (0..<4).map { a[c.modifier, $0] })
            a[c.fbId] = try d.buffers.addFramebuffer(f, spec)
        }
        t.add(0xAF, "MODE_RMFB", size: 4) { d, f, a, _ throws(DRMError) in
            try d.buffers.removeFramebuffer(f, a.load(UInt32.self, at: 0), disablePlanes: true)
        }
        t.add(0xD0, "MODE_CLOSEFB", CloseFbArg.self) { d, f, a, _ throws(DRMError) in
            guard a[CloseFbArg.pad] == 0 else { throw .invalidArgument.because(.buffers, "drm_mode_closefb.pad is not 0") }
            try d.buffers.removeFramebuffer(f, a[CloseFbArg.fbId], disablePlanes: false)
        }
        t.add(0xB1, "MODE_DIRTYFB", FbDirtyArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let c = FbDirtyArg.self
            _ = try d.buffers.framebufferInfo(f, a[c.fbId])
            let n = a[c.numClips], ptr = a[c.clipsPtr]
            if (n == 0) != (ptr == 0) { throw .invalidArgument.because(.buffers, "DIRTYFB num_clips \(n) with clips_ptr 0x\(String(ptr, radix: 16))") }
            if a[c.flags] & 1 != 0 && n % 2 != 0 { throw .invalidArgument.because(.buffers, "DIRTYFB ANNOTATE_COPY with an odd num_clips \(n)") }
            if n > 256 { throw .invalidArgument.because(.buffers, "DIRTYFB num_clips \(n) above DRM_MODE_FB_DIRTY_MAX_CLIPS (256)") }
            if n > 0 { _ = try env.memory.readArray(at: ptr, count: n, elementSize: ClipRectLayout.size) }
            // The virtual display scans out straight from the buffer: nothing to flush.
        }
    }
}
