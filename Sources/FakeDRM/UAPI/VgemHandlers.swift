/// vgem's driver-private ioctls (DRM_COMMAND_BASE + 1 and + 2), answered only by a card whose
/// driver name is "vgem" (EINVAL otherwise, as any driver's unknown private ioctl).
enum VgemHandlers {
    static func register(_ t: inout CodecTable) {
        t.add(0x41, "VGEM_FENCE_ATTACH", VgemFenceAttachArg.self, [.renderAllow]) { d, f, a, _ throws(DRMError) in
            let c = VgemFenceAttachArg.self
            a[c.outFence] = try d.buffers.vgemFenceAttach(f, handle: a[c.handle], flags: a[c.flags], pad: a[c.pad])
        }
        t.add(0x42, "VGEM_FENCE_SIGNAL", VgemFenceSignalArg.self, [.renderAllow]) { d, f, a, _ throws(DRMError) in
            try d.buffers.vgemFenceSignal(f, fence: a[VgemFenceSignalArg.fence], flags: a[VgemFenceSignalArg.flags])
        }
    }
}
