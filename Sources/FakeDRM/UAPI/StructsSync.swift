// linux/sync_file.h and the syncobj structs of drm.h. Syncobj structs grew after libdrm 2.4.114;
// the codec uses the new sizes and zero-extends the old requests, as the kernel does.

public enum SyncMergeArg: UAPIStruct {
    public static let cName = "struct sync_merge_data", size = 48
    static let name = BytesField("name", 0, 32)
    static let fd2 = Field<Int32>("fd2", 32)
    static let fence = Field<Int32>("fence", 36)
    static let flags = Field<UInt32>("flags", 40)
    static let pad = Field<UInt32>("pad", 44)
    public static let fields = [name.info, fd2.info, fence.info, flags.info, pad.info]
}

public enum SyncFenceInfoLayout: UAPIStruct {
    public static let cName = "struct sync_fence_info", size = 80
    static let objName = BytesField("obj_name", 0, 32)
    static let driverName = BytesField("driver_name", 32, 32)
    static let status = Field<Int32>("status", 64)
    static let flags = Field<UInt32>("flags", 68)
    static let timestampNs = Field<UInt64>("timestamp_ns", 72)
    public static let fields = [objName.info, driverName.info, status.info, flags.info, timestampNs.info]
}

public enum SyncFileInfoArg: UAPIStruct {
    public static let cName = "struct sync_file_info", size = 56
    static let name = BytesField("name", 0, 32)
    static let status = Field<Int32>("status", 32)
    static let flags = Field<UInt32>("flags", 36)
    static let numFences = Field<UInt32>("num_fences", 40)
    static let pad = Field<UInt32>("pad", 44)
    static let fenceInfoPtr = Field<UInt64>("sync_fence_info", 48)
    public static let fields = [name.info, status.info, flags.info, numFences.info, pad.info, fenceInfoPtr.info]
}

public enum SyncobjCreateArg: UAPIStruct {
    public static let cName = "struct drm_syncobj_create", size = 8
    static let handle = Field<UInt32>("handle", 0)
    static let flags = Field<UInt32>("flags", 4)
    public static let fields = [handle.info, flags.info]
}

public enum SyncobjDestroyArg: UAPIStruct {
    public static let cName = "struct drm_syncobj_destroy", size = 8
    static let handle = Field<UInt32>("handle", 0)
    static let pad = Field<UInt32>("pad", 4)
    public static let fields = [handle.info, pad.info]
}

public enum SyncobjHandleArg: UAPIStruct {
    public static let cName = "struct drm_syncobj_handle", size = 24
    public static let oldHeaderSize: Int? = 16
    static let handle = Field<UInt32>("handle", 0)
    static let flags = Field<UInt32>("flags", 4)
    static let fd = Field<Int32>("fd", 8)
    static let pad = Field<UInt32>("pad", 12)
    static let point = Field<UInt64>("point", 16)
    public static let fields = [handle.info, flags.info, fd.info, pad.info, point.info]
}

public enum SyncobjWaitArg: UAPIStruct {
    public static let cName = "struct drm_syncobj_wait", size = 40
    public static let oldHeaderSize: Int? = 32
    static let handles = Field<UInt64>("handles", 0)
    static let timeoutNsec = Field<Int64>("timeout_nsec", 8)
    static let countHandles = Field<UInt32>("count_handles", 16)
    static let flags = Field<UInt32>("flags", 20)
    static let firstSignaled = Field<UInt32>("first_signaled", 24)
    static let pad = Field<UInt32>("pad", 28)
    static let deadlineNsec = Field<UInt64>("deadline_nsec", 32)
    public static let fields = [handles.info, timeoutNsec.info, countHandles.info, flags.info, firstSignaled.info, pad.info, deadlineNsec.info]
}

public enum SyncobjTimelineWaitArg: UAPIStruct {
    public static let cName = "struct drm_syncobj_timeline_wait", size = 48
    public static let oldHeaderSize: Int? = 40
    static let handles = Field<UInt64>("handles", 0)
    static let points = Field<UInt64>("points", 8)
    static let timeoutNsec = Field<Int64>("timeout_nsec", 16)
    static let countHandles = Field<UInt32>("count_handles", 24)
    static let flags = Field<UInt32>("flags", 28)
    static let firstSignaled = Field<UInt32>("first_signaled", 32)
    static let pad = Field<UInt32>("pad", 36)
    static let deadlineNsec = Field<UInt64>("deadline_nsec", 40)
    public static let fields = [handles.info, points.info, timeoutNsec.info, countHandles.info, flags.info, firstSignaled.info, pad.info, deadlineNsec.info]
}

public enum SyncobjArrayArg: UAPIStruct {
    public static let cName = "struct drm_syncobj_array", size = 16
    static let handles = Field<UInt64>("handles", 0)
    static let countHandles = Field<UInt32>("count_handles", 8)
    static let pad = Field<UInt32>("pad", 12)
    public static let fields = [handles.info, countHandles.info, pad.info]
}

public enum SyncobjTimelineArrayArg: UAPIStruct {
    public static let cName = "struct drm_syncobj_timeline_array", size = 24
    static let handles = Field<UInt64>("handles", 0)
    static let points = Field<UInt64>("points", 8)
    static let countHandles = Field<UInt32>("count_handles", 16)
    static let flags = Field<UInt32>("flags", 20)
    public static let fields = [handles.info, points.info, countHandles.info, flags.info]
}

public enum SyncobjTransferArg: UAPIStruct {
    public static let cName = "struct drm_syncobj_transfer", size = 32
    static let srcHandle = Field<UInt32>("src_handle", 0)
    static let dstHandle = Field<UInt32>("dst_handle", 4)
    static let srcPoint = Field<UInt64>("src_point", 8)
    static let dstPoint = Field<UInt64>("dst_point", 16)
    static let flags = Field<UInt32>("flags", 24)
    static let pad = Field<UInt32>("pad", 28)
    public static let fields = [srcHandle.info, dstHandle.info, srcPoint.info, dstPoint.info, flags.info, pad.info]
}

public enum SyncobjEventfdArg: UAPIStruct {
    public static let cName = "struct drm_syncobj_eventfd", size = 24
    public static let absentFromOldHeaders = true
    static let handle = Field<UInt32>("handle", 0)
    static let flags = Field<UInt32>("flags", 4)
    static let point = Field<UInt64>("point", 8)
    static let fd = Field<Int32>("fd", 16)
    static let pad = Field<UInt32>("pad", 20)
    public static let fields = [handle.info, flags.info, point.info, fd.info, pad.info]
}
