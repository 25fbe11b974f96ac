// Core (non-mode) uAPI structs of drm.h, x86_64 layouts. Names match the C members so the
// layout test can ask the compiler for each offset.

public enum VersionArg: UAPIStruct {
    public static let cName = "struct drm_version", size = 64
    static let major = Field<Int32>("version_major", 0)
    static let minor = Field<Int32>("version_minor", 4)
    static let patch = Field<Int32>("version_patchlevel", 8)
    static let nameLen = Field<UInt64>("name_len", 16)
    static let name = Field<UInt64>("name", 24)
    static let dateLen = Field<UInt64>("date_len", 32)
    static let date = Field<UInt64>("date", 40)
    static let descLen = Field<UInt64>("desc_len", 48)
    static let desc = Field<UInt64>("desc", 56)
    public static let fields = [major.info, minor.info, patch.info, nameLen.info, name.info, dateLen.info, date.info, descLen.info, desc.info]
}

public enum UniqueArg: UAPIStruct {
    public static let cName = "struct drm_unique", size = 16
    static let length = Field<UInt64>("unique_len", 0)
    static let unique = Field<UInt64>("unique", 8)
    public static let fields = [length.info, unique.info]
}

public enum AuthArg: UAPIStruct {
    public static let cName = "struct drm_auth", size = 4
    static let magic = Field<UInt32>("magic", 0)
    public static let fields = [magic.info]
}

public enum SetVersionArg: UAPIStruct {
    public static let cName = "struct drm_set_version", size = 16
    static let diMajor = Field<Int32>("drm_di_major", 0)
    static let diMinor = Field<Int32>("drm_di_minor", 4)
    static let ddMajor = Field<Int32>("drm_dd_major", 8)
    static let ddMinor = Field<Int32>("drm_dd_minor", 12)
    public static let fields = [diMajor.info, diMinor.info, ddMajor.info, ddMinor.info]
}

public enum ClientArg: UAPIStruct {
    public static let cName = "struct drm_client", size = 40
    static let idx = Field<Int32>("idx", 0)
    static let auth = Field<Int32>("auth", 4)
    static let pid = Field<UInt64>("pid", 8)
    static let uid = Field<UInt64>("uid", 16)
    static let magic = Field<UInt64>("magic", 24)
    static let iocs = Field<UInt64>("iocs", 32)
    public static let fields = [idx.info, auth.info, pid.info, uid.info, magic.info, iocs.info]
}

public enum GemCloseArg: UAPIStruct {
    public static let cName = "struct drm_gem_close", size = 8
    static let handle = Field<UInt32>("handle", 0)
    static let pad = Field<UInt32>("pad", 4)
    public static let fields = [handle.info, pad.info]
}

public enum GemFlinkArg: UAPIStruct {
    public static let cName = "struct drm_gem_flink", size = 8
    static let handle = Field<UInt32>("handle", 0)
    static let name = Field<UInt32>("name", 4)
    public static let fields = [handle.info, name.info]
}

public enum GemOpenArg: UAPIStruct {
    public static let cName = "struct drm_gem_open", size = 16
    static let name = Field<UInt32>("name", 0)
    static let handle = Field<UInt32>("handle", 4)
    static let size_ = Field<UInt64>("size", 8)
    public static let fields = [name.info, handle.info, size_.info]
}

public enum CapArg: UAPIStruct {
    public static let cName = "struct drm_get_cap", size = 16
    static let capability = Field<UInt64>("capability", 0)
    static let value = Field<UInt64>("value", 8)
    public static let fields = [capability.info, value.info]
}

public enum ClientCapArg: UAPIStruct {
    public static let cName = "struct drm_set_client_cap", size = 16
    static let capability = Field<UInt64>("capability", 0)
    static let value = Field<UInt64>("value", 8)
    public static let fields = [capability.info, value.info]
}

public enum PrimeHandleArg: UAPIStruct {
    public static let cName = "struct drm_prime_handle", size = 12
    static let handle = Field<UInt32>("handle", 0)
    static let flags = Field<UInt32>("flags", 4)
    static let fd = Field<Int32>("fd", 8)
    public static let fields = [handle.info, flags.info, fd.info]
}

public enum WaitVblankArg: UAPIStruct {
    public static let cName = "union drm_wait_vblank", size = 24
    static let type = Field<UInt32>("request.type", 0)
    static let sequence = Field<UInt32>("request.sequence", 4)
    static let signal = Field<UInt64>("request.signal", 8)
    static let replyType = Field<UInt32>("reply.type", 0)
    static let replySequence = Field<UInt32>("reply.sequence", 4)
    static let tvSec = Field<Int64>("reply.tval_sec", 8)
    static let tvUsec = Field<Int64>("reply.tval_usec", 16)
    public static let fields = [type.info, sequence.info, signal.info, replyType.info, replySequence.info, tvSec.info, tvUsec.info]
}

public enum CrtcGetSequenceArg: UAPIStruct {
    public static let cName = "struct drm_crtc_get_sequence", size = 24
    static let crtcId = Field<UInt32>("crtc_id", 0)
    static let active = Field<UInt32>("active", 4)
    static let sequence = Field<UInt64>("sequence", 8)
    static let sequenceNs = Field<Int64>("sequence_ns", 16)
    public static let fields = [crtcId.info, active.info, sequence.info, sequenceNs.info]
}

public enum CrtcQueueSequenceArg: UAPIStruct {
    public static let cName = "struct drm_crtc_queue_sequence", size = 24
    static let crtcId = Field<UInt32>("crtc_id", 0)
    static let flags = Field<UInt32>("flags", 4)
    static let sequence = Field<UInt64>("sequence", 8)
    static let userData = Field<UInt64>("user_data", 16)
    public static let fields = [crtcId.info, flags.info, sequence.info, userData.info]
}

public enum EventVblankLayout: UAPIStruct {
    public static let cName = "struct drm_event_vblank", size = 32
    static let type = Field<UInt32>("base.type", 0)
    static let length = Field<UInt32>("base.length", 4)
    static let userData = Field<UInt64>("user_data", 8)
    static let tvSec = Field<UInt32>("tv_sec", 16)
    static let tvUsec = Field<UInt32>("tv_usec", 20)
    static let sequence = Field<UInt32>("sequence", 24)
    static let crtcId = Field<UInt32>("crtc_id", 28)
    public static let fields = [type.info, length.info, userData.info, tvSec.info, tvUsec.info, sequence.info, crtcId.info]
}

public enum EventCrtcSequenceLayout: UAPIStruct {
    public static let cName = "struct drm_event_crtc_sequence", size = 32
    static let type = Field<UInt32>("base.type", 0)
    static let length = Field<UInt32>("base.length", 4)
    static let userData = Field<UInt64>("user_data", 8)
    static let timeNs = Field<Int64>("time_ns", 16)
    static let sequence = Field<UInt64>("sequence", 24)
    public static let fields = [type.info, length.info, userData.info, timeNs.info, sequence.info]
}
