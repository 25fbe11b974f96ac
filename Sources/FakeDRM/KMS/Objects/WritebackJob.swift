/// One writeback: the composed frame goes into the first plane of a client framebuffer, in its
/// format (checked against WRITEBACK_PIXEL_FORMATS at commit), then the out-fence signals.
struct WritebackJob: Sendable {
    /// The target framebuffer's first plane, as plain values (the fb object stays in the core).
    let buffer: BufferObject
    let format: UInt32, width: Int, height: Int, pitch: Int, offset: Int
    let fence: Fence?

    /// The frame in the buffer's format (checked against WRITEBACK_PIXEL_FORMATS at commit).
    func write(_ frame: Frame) {
        guard let pf = PixelFormat.lookup(format) else { return }
        let width = min(frame.width, self.width), height = min(frame.height, self.height)
        guard width > 0, height > 0, offset + (height - 1) * pitch + width * pf.bytesPerPixel <= buffer.size else { return }
        let base = buffer.memory.base + offset
        frame.pixels.withUnsafeBufferPointer { px in
            guard let pixels = px.baseAddress else { return }
            for y in 0..<height {
                let row = base + y * pitch
                let src = pixels + y * frame.width
                switch format {
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
