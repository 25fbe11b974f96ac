// drm_mode.h structs, x86_64 layouts.

public enum ModeInfoLayout: UAPIStruct {
    public static let cName = "struct drm_mode_modeinfo", size = 68
    static let clock = Field<UInt32>("clock", 0)
    static let hdisplay = Field<UInt16>("hdisplay", 4)
    static let hsyncStart = Field<UInt16>("hsync_start", 6)
    static let hsyncEnd = Field<UInt16>("hsync_end", 8)
    static let htotal = Field<UInt16>("htotal", 10)
    static let hskew = Field<UInt16>("hskew", 12)
    static let vdisplay = Field<UInt16>("vdisplay", 14)
    static let vsyncStart = Field<UInt16>("vsync_start", 16)
    static let vsyncEnd = Field<UInt16>("vsync_end", 18)
    static let vtotal = Field<UInt16>("vtotal", 20)
    static let vscan = Field<UInt16>("vscan", 22)
    static let vrefresh = Field<UInt32>("vrefresh", 24)
    static let flags = Field<UInt32>("flags", 28)
    static let type = Field<UInt32>("type", 32)
    static let name = BytesField("name", 36, 32)
    public static let fields = [clock.info, hdisplay.info, hsyncStart.info, hsyncEnd.info, htotal.info, hskew.info, vdisplay.info, vsyncStart.info, vsyncEnd.info, vtotal.info, vscan.info, vrefresh.info, flags.info, type.info, name.info]
}

public enum CardResArg: UAPIStruct {
    public static let cName = "struct drm_mode_card_res", size = 64
    static let fbIdPtr = Field<UInt64>("fb_id_ptr", 0)
    static let crtcIdPtr = Field<UInt64>("crtc_id_ptr", 8)
    static let connectorIdPtr = Field<UInt64>("connector_id_ptr", 16)
    static let encoderIdPtr = Field<UInt64>("encoder_id_ptr", 24)
    static let countFbs = Field<UInt32>("count_fbs", 32)
    static let countCrtcs = Field<UInt32>("count_crtcs", 36)
    static let countConnectors = Field<UInt32>("count_connectors", 40)
    static let countEncoders = Field<UInt32>("count_encoders", 44)
    static let minWidth = Field<UInt32>("min_width", 48)
    static let maxWidth = Field<UInt32>("max_width", 52)
    static let minHeight = Field<UInt32>("min_height", 56)
    static let maxHeight = Field<UInt32>("max_height", 60)
    public static let fields = [fbIdPtr.info, crtcIdPtr.info, connectorIdPtr.info, encoderIdPtr.info, countFbs.info, countCrtcs.info, countConnectors.info, countEncoders.info, minWidth.info, maxWidth.info, minHeight.info, maxHeight.info]
}

public enum CrtcArg: UAPIStruct {
    public static let cName = "struct drm_mode_crtc", size = 104
    static let setConnectorsPtr = Field<UInt64>("set_connectors_ptr", 0)
    static let countConnectors = Field<UInt32>("count_connectors", 8)
    static let crtcId = Field<UInt32>("crtc_id", 12)
    static let fbId = Field<UInt32>("fb_id", 16)
    static let x = Field<UInt32>("x", 20)
    static let y = Field<UInt32>("y", 24)
    static let gammaSize = Field<UInt32>("gamma_size", 28)
    static let modeValid = Field<UInt32>("mode_valid", 32)
    static let mode = BytesField("mode", 36, 68)
    public static let fields = [setConnectorsPtr.info, countConnectors.info, crtcId.info, fbId.info, x.info, y.info, gammaSize.info, modeValid.info, mode.info]
}

public enum SetPlaneArg: UAPIStruct {
    public static let cName = "struct drm_mode_set_plane", size = 48
    static let planeId = Field<UInt32>("plane_id", 0)
    static let crtcId = Field<UInt32>("crtc_id", 4)
    static let fbId = Field<UInt32>("fb_id", 8)
    static let flags = Field<UInt32>("flags", 12)
    static let crtcX = Field<Int32>("crtc_x", 16)
    static let crtcY = Field<Int32>("crtc_y", 20)
    static let crtcW = Field<UInt32>("crtc_w", 24)
    static let crtcH = Field<UInt32>("crtc_h", 28)
    static let srcX = Field<UInt32>("src_x", 32)
    static let srcY = Field<UInt32>("src_y", 36)
    static let srcH = Field<UInt32>("src_h", 40)
    static let srcW = Field<UInt32>("src_w", 44)
    public static let fields = [planeId.info, crtcId.info, fbId.info, flags.info, crtcX.info, crtcY.info, crtcW.info, crtcH.info, srcX.info, srcY.info, srcH.info, srcW.info]
}

public enum GetPlaneArg: UAPIStruct {
    public static let cName = "struct drm_mode_get_plane", size = 32
    static let planeId = Field<UInt32>("plane_id", 0)
    static let crtcId = Field<UInt32>("crtc_id", 4)
    static let fbId = Field<UInt32>("fb_id", 8)
    static let possibleCrtcs = Field<UInt32>("possible_crtcs", 12)
    static let gammaSize = Field<UInt32>("gamma_size", 16)
    static let countFormatTypes = Field<UInt32>("count_format_types", 20)
    static let formatTypePtr = Field<UInt64>("format_type_ptr", 24)
    public static let fields = [planeId.info, crtcId.info, fbId.info, possibleCrtcs.info, gammaSize.info, countFormatTypes.info, formatTypePtr.info]
}

public enum GetPlaneResArg: UAPIStruct {
    public static let cName = "struct drm_mode_get_plane_res", size = 16
    static let planeIdPtr = Field<UInt64>("plane_id_ptr", 0)
    static let countPlanes = Field<UInt32>("count_planes", 8)
    public static let fields = [planeIdPtr.info, countPlanes.info]
}

public enum GetEncoderArg: UAPIStruct {
    public static let cName = "struct drm_mode_get_encoder", size = 20
    static let encoderId = Field<UInt32>("encoder_id", 0)
    static let encoderType = Field<UInt32>("encoder_type", 4)
    static let crtcId = Field<UInt32>("crtc_id", 8)
    static let possibleCrtcs = Field<UInt32>("possible_crtcs", 12)
    static let possibleClones = Field<UInt32>("possible_clones", 16)
    public static let fields = [encoderId.info, encoderType.info, crtcId.info, possibleCrtcs.info, possibleClones.info]
}

public enum GetConnectorArg: UAPIStruct {
    public static let cName = "struct drm_mode_get_connector", size = 80
    static let encodersPtr = Field<UInt64>("encoders_ptr", 0)
    static let modesPtr = Field<UInt64>("modes_ptr", 8)
    static let propsPtr = Field<UInt64>("props_ptr", 16)
    static let propValuesPtr = Field<UInt64>("prop_values_ptr", 24)
    static let countModes = Field<UInt32>("count_modes", 32)
    static let countProps = Field<UInt32>("count_props", 36)
    static let countEncoders = Field<UInt32>("count_encoders", 40)
    static let encoderId = Field<UInt32>("encoder_id", 44)
    static let connectorId = Field<UInt32>("connector_id", 48)
    static let connectorType = Field<UInt32>("connector_type", 52)
    static let connectorTypeId = Field<UInt32>("connector_type_id", 56)
    static let connection = Field<UInt32>("connection", 60)
    static let mmWidth = Field<UInt32>("mm_width", 64)
    static let mmHeight = Field<UInt32>("mm_height", 68)
    static let subpixel = Field<UInt32>("subpixel", 72)
    static let pad = Field<UInt32>("pad", 76)
    public static let fields = [encodersPtr.info, modesPtr.info, propsPtr.info, propValuesPtr.info, countModes.info, countProps.info, countEncoders.info, encoderId.info, connectorId.info, connectorType.info, connectorTypeId.info, connection.info, mmWidth.info, mmHeight.info, subpixel.info, pad.info]
}

public enum PropertyEnumLayout: UAPIStruct {
    public static let cName = "struct drm_mode_property_enum", size = 40
    static let value = Field<UInt64>("value", 0)
    static let name = BytesField("name", 8, 32)
    public static let fields = [value.info, name.info]
}

public enum GetPropertyArg: UAPIStruct {
    public static let cName = "struct drm_mode_get_property", size = 64
    static let valuesPtr = Field<UInt64>("values_ptr", 0)
    static let enumBlobPtr = Field<UInt64>("enum_blob_ptr", 8)
    static let propId = Field<UInt32>("prop_id", 16)
    static let flags = Field<UInt32>("flags", 20)
    static let name = BytesField("name", 24, 32)
    static let countValues = Field<UInt32>("count_values", 56)
    static let countEnumBlobs = Field<UInt32>("count_enum_blobs", 60)
    public static let fields = [valuesPtr.info, enumBlobPtr.info, propId.info, flags.info, name.info, countValues.info, countEnumBlobs.info]
}

public enum ConnectorSetPropertyArg: UAPIStruct {
    public static let cName = "struct drm_mode_connector_set_property", size = 16
    static let value = Field<UInt64>("value", 0)
    static let propId = Field<UInt32>("prop_id", 8)
    static let connectorId = Field<UInt32>("connector_id", 12)
    public static let fields = [value.info, propId.info, connectorId.info]
}

public enum ObjGetPropertiesArg: UAPIStruct {
    public static let cName = "struct drm_mode_obj_get_properties", size = 32
    static let propsPtr = Field<UInt64>("props_ptr", 0)
    static let propValuesPtr = Field<UInt64>("prop_values_ptr", 8)
    static let countProps = Field<UInt32>("count_props", 16)
    static let objId = Field<UInt32>("obj_id", 20)
    static let objType = Field<UInt32>("obj_type", 24)
    public static let fields = [propsPtr.info, propValuesPtr.info, countProps.info, objId.info, objType.info]
}

public enum ObjSetPropertyArg: UAPIStruct {
    public static let cName = "struct drm_mode_obj_set_property", size = 24
    static let value = Field<UInt64>("value", 0)
    static let propId = Field<UInt32>("prop_id", 8)
    static let objId = Field<UInt32>("obj_id", 12)
    static let objType = Field<UInt32>("obj_type", 16)
    public static let fields = [value.info, propId.info, objId.info, objType.info]
}

public enum GetBlobArg: UAPIStruct {
    public static let cName = "struct drm_mode_get_blob", size = 16
    static let blobId = Field<UInt32>("blob_id", 0)
    static let length = Field<UInt32>("length", 4)
    static let data = Field<UInt64>("data", 8)
    public static let fields = [blobId.info, length.info, data.info]
}

public enum CreateBlobArg: UAPIStruct {
    public static let cName = "struct drm_mode_create_blob", size = 16
    static let data = Field<UInt64>("data", 0)
    static let length = Field<UInt32>("length", 8)
    static let blobId = Field<UInt32>("blob_id", 12)
    public static let fields = [data.info, length.info, blobId.info]
}

public enum DestroyBlobArg: UAPIStruct {
    public static let cName = "struct drm_mode_destroy_blob", size = 4
    static let blobId = Field<UInt32>("blob_id", 0)
    public static let fields = [blobId.info]
}

public enum FbCmdArg: UAPIStruct {
    public static let cName = "struct drm_mode_fb_cmd", size = 28
    static let fbId = Field<UInt32>("fb_id", 0)
    static let width = Field<UInt32>("width", 4)
    static let height = Field<UInt32>("height", 8)
    static let pitch = Field<UInt32>("pitch", 12)
    static let bpp = Field<UInt32>("bpp", 16)
    static let depth = Field<UInt32>("depth", 20)
    static let handle = Field<UInt32>("handle", 24)
    public static let fields = [fbId.info, width.info, height.info, pitch.info, bpp.info, depth.info, handle.info]
}

public enum FbCmd2Arg: UAPIStruct {
    public static let cName = "struct drm_mode_fb_cmd2", size = 104
    static let fbId = Field<UInt32>("fb_id", 0)
    static let width = Field<UInt32>("width", 4)
    static let height = Field<UInt32>("height", 8)
    static let pixelFormat = Field<UInt32>("pixel_format", 12)
    static let flags = Field<UInt32>("flags", 16)
    static let handles = Field<UInt32>("handles", 20, count: 4)
    static let pitches = Field<UInt32>("pitches", 36, count: 4)
    static let offsets = Field<UInt32>("offsets", 52, count: 4)
    static let modifier = Field<UInt64>("modifier", 72, count: 4)
    public static let fields = [fbId.info, width.info, height.info, pixelFormat.info, flags.info, handles.info, pitches.info, offsets.info, modifier.info]
}

public enum FbDirtyArg: UAPIStruct {
    public static let cName = "struct drm_mode_fb_dirty_cmd", size = 24
    static let fbId = Field<UInt32>("fb_id", 0)
    static let flags = Field<UInt32>("flags", 4)
    static let color = Field<UInt32>("color", 8)
    static let numClips = Field<UInt32>("num_clips", 12)
    static let clipsPtr = Field<UInt64>("clips_ptr", 16)
    public static let fields = [fbId.info, flags.info, color.info, numClips.info, clipsPtr.info]
}

public enum CursorArg: UAPIStruct {
    public static let cName = "struct drm_mode_cursor2", size = 36
    static let flags = Field<UInt32>("flags", 0)
    static let crtcId = Field<UInt32>("crtc_id", 4)
    static let x = Field<Int32>("x", 8)
    static let y = Field<Int32>("y", 12)
    static let width = Field<UInt32>("width", 16)
    static let height = Field<UInt32>("height", 20)
    static let handle = Field<UInt32>("handle", 24)
    static let hotX = Field<Int32>("hot_x", 28)
    static let hotY = Field<Int32>("hot_y", 32)
    public static let fields = [flags.info, crtcId.info, x.info, y.info, width.info, height.info, handle.info, hotX.info, hotY.info]
}

public enum CursorV1Layout: UAPIStruct {
    public static let cName = "struct drm_mode_cursor", size = 28
    public static let fields = Array(CursorArg.fields.prefix(7))
}

public enum CrtcLutArg: UAPIStruct {
    public static let cName = "struct drm_mode_crtc_lut", size = 32
    static let crtcId = Field<UInt32>("crtc_id", 0)
    static let gammaSize = Field<UInt32>("gamma_size", 4)
    static let red = Field<UInt64>("red", 8)
    static let green = Field<UInt64>("green", 16)
    static let blue = Field<UInt64>("blue", 24)
    public static let fields = [crtcId.info, gammaSize.info, red.info, green.info, blue.info]
}

public enum PageFlipArg: UAPIStruct {
    public static let cName = "struct drm_mode_crtc_page_flip", size = 24
    static let crtcId = Field<UInt32>("crtc_id", 0)
    static let fbId = Field<UInt32>("fb_id", 4)
    static let flags = Field<UInt32>("flags", 8)
    static let reserved = Field<UInt32>("reserved", 12)
    static let userData = Field<UInt64>("user_data", 16)
    public static let fields = [crtcId.info, fbId.info, flags.info, reserved.info, userData.info]
}

public enum CreateDumbArg: UAPIStruct {
    public static let cName = "struct drm_mode_create_dumb", size = 32
    static let height = Field<UInt32>("height", 0)
    static let width = Field<UInt32>("width", 4)
    static let bpp = Field<UInt32>("bpp", 8)
    static let flags = Field<UInt32>("flags", 12)
    static let handle = Field<UInt32>("handle", 16)
    static let pitch = Field<UInt32>("pitch", 20)
    static let size_ = Field<UInt64>("size", 24)
    public static let fields = [height.info, width.info, bpp.info, flags.info, handle.info, pitch.info, size_.info]
}

public enum MapDumbArg: UAPIStruct {
    public static let cName = "struct drm_mode_map_dumb", size = 16
    static let handle = Field<UInt32>("handle", 0)
    static let pad = Field<UInt32>("pad", 4)
    static let offset = Field<UInt64>("offset", 8)
    public static let fields = [handle.info, pad.info, offset.info]
}

public enum DestroyDumbArg: UAPIStruct {
    public static let cName = "struct drm_mode_destroy_dumb", size = 4
    static let handle = Field<UInt32>("handle", 0)
    public static let fields = [handle.info]
}

public enum AtomicArg: UAPIStruct {
    public static let cName = "struct drm_mode_atomic", size = 56
    static let flags = Field<UInt32>("flags", 0)
    static let countObjs = Field<UInt32>("count_objs", 4)
    static let objsPtr = Field<UInt64>("objs_ptr", 8)
    static let countPropsPtr = Field<UInt64>("count_props_ptr", 16)
    static let propsPtr = Field<UInt64>("props_ptr", 24)
    static let propValuesPtr = Field<UInt64>("prop_values_ptr", 32)
    static let reserved = Field<UInt64>("reserved", 40)
    static let userData = Field<UInt64>("user_data", 48)
    public static let fields = [flags.info, countObjs.info, objsPtr.info, countPropsPtr.info, propsPtr.info, propValuesPtr.info, reserved.info, userData.info]
}

public enum FormatModifierBlobLayout: UAPIStruct {
    public static let cName = "struct drm_format_modifier_blob", size = 24
    static let version = Field<UInt32>("version", 0)
    static let flags = Field<UInt32>("flags", 4)
    static let countFormats = Field<UInt32>("count_formats", 8)
    static let formatsOffset = Field<UInt32>("formats_offset", 12)
    static let countModifiers = Field<UInt32>("count_modifiers", 16)
    static let modifiersOffset = Field<UInt32>("modifiers_offset", 20)
    public static let fields = [version.info, flags.info, countFormats.info, formatsOffset.info, countModifiers.info, modifiersOffset.info]
}

public enum FormatModifierLayout: UAPIStruct {
    public static let cName = "struct drm_format_modifier", size = 24
    static let formats = Field<UInt64>("formats", 0)
    static let offset = Field<UInt32>("offset", 8)
    static let pad = Field<UInt32>("pad", 12)
    static let modifier = Field<UInt64>("modifier", 16)
    public static let fields = [formats.info, offset.info, pad.info, modifier.info]
}

public enum CreateLeaseArg: UAPIStruct {
    public static let cName = "struct drm_mode_create_lease", size = 24
    static let objectIds = Field<UInt64>("object_ids", 0)
    static let objectCount = Field<UInt32>("object_count", 8)
    static let flags = Field<UInt32>("flags", 12)
    static let lesseeId = Field<UInt32>("lessee_id", 16)
    static let fd = Field<UInt32>("fd", 20)
    public static let fields = [objectIds.info, objectCount.info, flags.info, lesseeId.info, fd.info]
}

public enum ListLesseesArg: UAPIStruct {
    public static let cName = "struct drm_mode_list_lessees", size = 16
    static let countLessees = Field<UInt32>("count_lessees", 0)
    static let pad = Field<UInt32>("pad", 4)
    static let lesseesPtr = Field<UInt64>("lessees_ptr", 8)
    public static let fields = [countLessees.info, pad.info, lesseesPtr.info]
}

public enum GetLeaseArg: UAPIStruct {
    public static let cName = "struct drm_mode_get_lease", size = 16
    static let countObjects = Field<UInt32>("count_objects", 0)
    static let pad = Field<UInt32>("pad", 4)
    static let objectsPtr = Field<UInt64>("objects_ptr", 8)
    public static let fields = [countObjects.info, pad.info, objectsPtr.info]
}

public enum RevokeLeaseArg: UAPIStruct {
    public static let cName = "struct drm_mode_revoke_lease", size = 4
    static let lesseeId = Field<UInt32>("lessee_id", 0)
    public static let fields = [lesseeId.info]
}

public enum ClipRectLayout: UAPIStruct {
    public static let cName = "struct drm_clip_rect", size = 8
    static let x1 = Field<UInt16>("x1", 0)
    static let y1 = Field<UInt16>("y1", 2)
    static let x2 = Field<UInt16>("x2", 4)
    static let y2 = Field<UInt16>("y2", 6)
    public static let fields = [x1.info, y1.info, x2.info, y2.info]
}

public enum ModeRectLayout: UAPIStruct {
    public static let cName = "struct drm_mode_rect", size = 16
    static let x1 = Field<Int32>("x1", 0)
    static let y1 = Field<Int32>("y1", 4)
    static let x2 = Field<Int32>("x2", 8)
    static let y2 = Field<Int32>("y2", 12)
    public static let fields = [x1.info, y1.info, x2.info, y2.info]
}

public enum ColorLutLayout: UAPIStruct {
    public static let cName = "struct drm_color_lut", size = 8
    static let red = Field<UInt16>("red", 0)
    static let green = Field<UInt16>("green", 2)
    static let blue = Field<UInt16>("blue", 4)
    static let reserved = Field<UInt16>("reserved", 6)
    public static let fields = [red.info, green.info, blue.info, reserved.info]
}

public enum CloseFbArg: UAPIStruct {
    public static let cName = "struct drm_mode_closefb", size = 8
    static let fbId = Field<UInt32>("fb_id", 0)
    static let pad = Field<UInt32>("pad", 4)
    public static let fields = [fbId.info, pad.info]
    /// Newer than Debian 12's libdrm-dev; the layout test skips structs the headers lack.
    public static let absentFromOldHeaders = true
}
