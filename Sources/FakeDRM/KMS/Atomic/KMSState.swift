/// The mutable display state, duplicated per commit, checked on the copy and swapped in whole.

public struct PlaneState: Equatable, Sendable {
    public var crtc: ObjectID = 0
    public var fb: ObjectID = 0
    public var crtcX: Int32 = 0, crtcY: Int32 = 0
    public var crtcW: UInt32 = 0, crtcH: UInt32 = 0
    /// 16.16 fixed point.
    public var srcX: UInt32 = 0, srcY: UInt32 = 0, srcW: UInt32 = 0, srcH: UInt32 = 0
    public var zpos: UInt64 = 0
    public var alpha: UInt64 = 0xffff
    public var blendMode: UInt64 = 0
    public var damageBlob: ObjectID = 0
    /// "rotation" (DRM_MODE_ROTATE_0), COLOR_ENCODING (BT.601), COLOR_RANGE (full): vkms's defaults.
    public var rotation: UInt64 = 1
    public var colorEncoding: UInt64 = 0
    public var colorRange: UInt64 = 1
}

public struct CRTCState: Equatable, Sendable {
    public var active = false
    /// enable = MODE_ID set; ACTIVE may be 0 with a mode ("DPMS off").
    public var modeBlob: ObjectID = 0
    public var mode: ModeInfo?
    public var gammaBlob: ObjectID = 0
    public var vrrEnabled: UInt64 = 0
    public var enabled: Bool { mode != nil }
}

public struct ConnectorState: Equatable, Sendable {
    public var crtc: ObjectID = 0
    public var linkStatus: UInt64 = 0
}

public struct KMSState: Equatable, Sendable {
    public var planes: [PlaneState]
    public var crtcs: [CRTCState]
    public var connectors: [ConnectorState]
}
