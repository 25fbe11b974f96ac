// include/uapi/drm/vgem_drm.h, which Debian 12's libdrm-dev does not ship: the layout test
// cannot compile against it, so tests/clients/vgem.c declares both structs from the kernel
// header's text and checks the card through them.

public enum VgemFenceAttachArg: UAPIStruct {
    public static let cName = "struct drm_vgem_fence_attach", size = 16
    public static let absentFromOldHeaders = true
    static let handle = Field<UInt32>("handle", 0)
    static let flags = Field<UInt32>("flags", 4)
    static let outFence = Field<UInt32>("out_fence", 8)
    static let pad = Field<UInt32>("pad", 12)
    public static let fields = [handle.info, flags.info, outFence.info, pad.info]
}

public enum VgemFenceSignalArg: UAPIStruct {
    public static let cName = "struct drm_vgem_fence_signal", size = 8
    public static let absentFromOldHeaders = true
    static let fence = Field<UInt32>("fence", 0)
    static let flags = Field<UInt32>("flags", 4)
    public static let fields = [fence.info, flags.info]
}
