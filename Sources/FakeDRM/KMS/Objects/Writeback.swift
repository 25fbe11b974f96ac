/// A writeback connector's engine (drm_writeback.c, vkms_writeback.c): its formats and fence
/// timeline, and the writeback rules: what a WRITEBACK_FB_ID job needs, the job and its
/// out-fence made at commit. Under the device lock.
final class WritebackEngine {
    let crtcIndex: Int
    let formats: [UInt32]
    var formatsBlob: ObjectID = 0
    let fenceContext = Fence.allocateContext()
    var fenceSeqno: UInt64 = 0
    /// drm_writeback_connector_init names it "CONNECTOR:<id>-<name>".
    let timelineName: String

    init(crtcIndex: Int, formats: [UInt32], timelineName: String) {
        self.crtcIndex = crtcIndex
        self.formats = formats
        self.timelineName = timelineName
    }

    /// vkms_wb_formats that this composer can write: XRGB8888 first (vkms 6.1's only one).
    static let defaultFormats: [UInt32] = ["XR24", "AR24", "XB24", "AB24", "RG16"].compactMap(FourCC.parse)
}

extension WritebackEngine {
    /// drm_atomic_connector_check for a writeback connector: a buffer needs an active CRTC;
    /// an out-fence needs a buffer.
    static func checkConnector(_ k: ConnectorObject, _ p: AtomicProposal, fb: ObjectID, topology: Topology) throws(DRMError) {
        if fb == 0 {
            if p.writebackFencePtrs[k.index] != nil {
                throw .invalidArgument.because(.atomic, "\(k.tag) requesting out-fence without framebuffer")
            }
            return
        }
        guard let c = topology.crtcIndex(of: p.new.connectors[k.index].crtc) else {
            throw .invalidArgument.because(.atomic, "\(k.tag) framebuffer without CRTC")
        }
        if !p.new.crtcs[c].active {
            throw .invalidArgument.because(.atomic, "\(k.tag) has framebuffer, but \(topology.crtcs[c].tag) is off")
        }
    }

    /// vkms_wb_atomic_check: the buffer is the mode's size and of WRITEBACK_PIXEL_FORMATS.
    func checkJob(_ k: ConnectorObject, _ p: AtomicProposal, fb id: ObjectID, topology: Topology, objects: ModeObjectRegistry) throws(DRMError) {
        guard let fb = objects.framebuffers[id], let c = topology.crtcIndex(of: p.new.connectors[k.index].crtc),
              let mode = p.new.crtcs[c].mode else {
            throw .invalidArgument.because(.atomic, "\(k.tag) writeback job without a framebuffer, CRTC or mode")
        }
        if fb.width != UInt32(mode.hdisplay) || fb.height != UInt32(mode.vdisplay) {
            throw .invalidArgument.because(.atomic, "\(k.tag) Invalid framebuffer size \(fb.width)x\(fb.height) (mode \(mode.hdisplay)x\(mode.vdisplay))")
        }
        if !formats.contains(fb.format) || fb.modifier != DRMConst.formatModLinear {
            throw .invalidArgument.because(.atomic, "\(k.tag) Invalid pixel format \(PixelFormat.name(fb.format)), modifier 0x\(String(fb.modifier, radix: 16))")
        }
    }

    /// prepare_signaling for the connector: the job, and its fence when one was asked for.
    func makeJob(_ fb: Framebuffer, fencePointer: UInt64?, driverName: String, installs: inout [FenceInstall]) throws(DRMError) -> WritebackJob? {
        guard let bo = fb.buffers.first ?? nil else { return nil }
        var fence: Fence?
        if let ptr = fencePointer {
            fenceSeqno += 1
            let f = Fence(context: fenceContext, seqno: fenceSeqno, timelineName: timelineName, driverName: driverName)
            installs.append(FenceInstall(pointer: ptr, syncFile: try SyncFile(fences: [f])))
            fence = f
        }
        return WritebackJob(buffer: bo, format: fb.format, width: Int(fb.width), height: Int(fb.height),
                            pitch: Int(fb.pitches[0]), offset: Int(fb.offsets[0]), fence: fence)
    }
}
