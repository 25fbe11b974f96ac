/// Writeback connectors (drm_writeback.c, vkms_writeback.c): a commit's WRITEBACK_FB_ID job
/// receives the CRTC's composed frame once the commit is on screen, and its
/// WRITEBACK_OUT_FENCE_PTR fence signals when the frame is in the buffer.
struct WritebackJob: Sendable {
    /// The target framebuffer's first plane, as plain values (the fb object stays in the core).
    let buffer: BufferObject
    let format: UInt32, width: Int, height: Int, pitch: Int, offset: Int
    let fence: Fence?
}

extension Device {
    /// prepare_signaling for connectors: a fence per job that asked for one, by CRTC index.
    func prepareWritebacks(_ p: AtomicProposal, installs: inout [FenceInstall]) throws(DRMError) -> [Int: [WritebackJob]] {
        var out: [Int: [WritebackJob]] = [:]
        for (k, id) in p.writebackJobs.sorted(by: { $0.key < $1.key }) where id != 0 {
            guard let engine = connectors[k].writeback, let fb = framebuffers[id], let bo = fb.buffers.first ?? nil,
                  let c = crtcIndex(of: p.new.connectors[k].crtc) else { continue }
            var fence: Fence?
            if let ptr = p.writebackFencePtrs[k] {
                engine.fenceSeqno += 1
                let f = Fence(context: engine.fenceContext, seqno: engine.fenceSeqno, timelineName: engine.timelineName, driverName: config.driver.name)
                installs.append(FenceInstall(pointer: ptr, syncFile: try SyncFile(fences: [f])))
                fence = f
            }
            out[c, default: []].append(WritebackJob(buffer: bo, format: fb.format, width: Int(fb.width), height: Int(fb.height),
                                                    pitch: Int(fb.pitches[0]), offset: Int(fb.offsets[0]), fence: fence))
        }
        return out
    }

    /// Composes what the CRTC now shows into each job's buffer off the lock, then signals.
    func runWritebacks(_ pc: PendingCommit) {
        guard !pc.writebacks.isEmpty else { return }
        let jobs = pc.writebacks
        pc.writebacks = []
        let scanout = scanout(for: pc.crtcIndex)
        writebackQueue.async { [weak self] in
            let frame = Composer.compose(width: scanout.width, height: scanout.height, planes: scanout.planes)
            withExtendedLifetime(scanout.buffers) {}
            for job in jobs { Self.write(frame, into: job) }
            guard let self else { return }
            self.lock.withLock {
                let ts = self.nowNs()
                for job in jobs { job.fence?.signal(at: ts) }
                self.lock.broadcast()
            }
        }
    }

    /// The frame in the buffer's format (checked against WRITEBACK_PIXEL_FORMATS at commit).
    static func write(_ frame: Frame, into job: WritebackJob) {
        guard let format = PixelFormat.lookup(job.format) else { return }
        let width = min(frame.width, job.width), height = min(frame.height, job.height)
        guard width > 0, height > 0, job.offset + (height - 1) * job.pitch + width * format.bytesPerPixel <= job.buffer.size else { return }
        let base = job.buffer.memory.base + job.offset
        frame.pixels.withUnsafeBufferPointer { px in
            guard let pixels = px.baseAddress else { return }
            for y in 0..<height {
                let row = base + y * job.pitch
                let src = pixels + y * frame.width
                switch job.format {
                case PixelFormat.xrgb8888.fourcc, PixelFormat.argb8888.fourcc:
                    row.copyMemory(from: src, byteCount: width * 4)
                case PixelFormat.xbgr8888.fourcc, PixelFormat.abgr8888.fourcc:
                    let dst = row.assumingMemoryBound(to: UInt32.self)
                    for x in 0..<width {
                        let p = src[x]
                        dst[x] = (p & 0xff00_ff00) | (p & 0xff) << 16 | (p >> 16) & 0xff
                    }
                default: // RGB565
                    let dst = row.assumingMemoryBound(to: UInt16.self)
                    for x in 0..<width {
                        let p = src[x]
                        dst[x] = UInt16(truncatingIfNeeded: (p >> 8) & 0xf800 | (p >> 5) & 0x07e0 | (p >> 3) & 0x001f)
                    }
                }
            }
        }
    }
}
