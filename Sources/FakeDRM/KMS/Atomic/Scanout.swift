/// What the pipeline hands the display: a CRTC's configuration as composer input, with the
/// memory it reads held while a backend keeps it.
extension AtomicPipeline {
    /// A CRTC's configuration in `state` (the latched one by default) as composer input.
    func scanout(for c: Int, in kms: KMSState? = nil) -> Scanout {
        let source = kms ?? latched
        let s = source.crtcs[c]
        let objects: ModeObjectRegistry = objects
        let crtcID = topology.crtcs[c].id
        var out: [ComposerPlane] = []
        var bos: [BufferObject] = []
        var chroma: [BufferObject] = []
        for (i, ps) in source.planes.enumerated() where ps.crtc == crtcID && ps.fb != 0 {
            guard let fb = objects.framebuffers[ps.fb], let bo = fb.buffers.first ?? nil else { continue }
            // Built only for multi-planar formats: most fbs have one buffer and need no array.
            var chromaMemory: [PlaneMemory] = []
            for k in fb.buffers.indices.dropFirst() {
                guard let b = fb.buffers[k] else { continue }
                chromaMemory.append(PlaneMemory(base: UnsafeRawPointer(b.memory.base), size: b.size, offset: Int(fb.offsets[k]), pitch: Int(fb.pitches[k])))
                chroma.append(b)
            }
            bos.append(bo)
            var plane = ComposerPlane(
                base: UnsafeRawPointer(bo.memory.base), bufferSize: bo.size, offset: Int(fb.offsets[0]), pitch: Int(fb.pitches[0]),
                format: fb.format, fbWidth: fb.width, fbHeight: fb.height,
                srcX: ps.srcX, srcY: ps.srcY, srcW: ps.srcW, srcH: ps.srcH,
                crtcX: ps.crtcX, crtcY: ps.crtcY, crtcW: ps.crtcW, crtcH: ps.crtcH,
                zpos: UInt32(truncatingIfNeeded: ps.zpos), alpha: UInt16(truncatingIfNeeded: ps.alpha),
                blendMode: UInt8(truncatingIfNeeded: ps.blendMode))
            plane.chroma = chromaMemory
            plane.rotation = UInt32(truncatingIfNeeded: ps.rotation)
            plane.colorEncoding = ColorEncoding(rawValue: UInt8(truncatingIfNeeded: ps.colorEncoding)) ?? .bt601
            plane.colorRange = ColorRange(rawValue: UInt8(truncatingIfNeeded: ps.colorRange)) ?? .full
            plane.isCursor = i < topology.planes.count && topology.planes[i].type == .cursor
            out.append(plane)
        }
        let gamma = s.gammaBlob == 0 ? nil : objects.blobs[s.gammaBlob].flatMap(gammaLUT(for:))
        return Scanout(width: Int(s.mode?.hdisplay ?? 0), height: Int(s.mode?.vdisplay ?? 0), active: s.active && s.mode != nil,
                       planes: out, gamma: gamma, buffers: bos, chromaBuffers: chroma)
    }

    /// The LUT of a GAMMA_LUT blob, cached: building one costs 196,608 interpolations. Keyed by
    /// the blob's bytes, since a freed blob's id may come back with other contents.
    func gammaLUT(for blob: Blob) -> GammaLUT? {
        if let hit = gammaLUTs.first(where: { $0.data == blob.data }) { return hit.lut }
        guard let lut = GammaLUT(blob: blob.data) else { return nil }
        if gammaLUTs.count >= 4 { gammaLUTs.removeFirst() }
        gammaLUTs.append((blob.data, lut))
        return lut
    }

    /// Composes what CRTC `c` shows now (tests, capture, CRC).
    public func composeLatched(crtcIndex c: Int = 0) -> Frame? {
        lock.withLock {
            guard c < topology.crtcs.count else { return nil }
            let s = scanout(for: c)
            guard s.active else { return nil }
            return Composer.compose(s)
        }
    }
}
