/// Mode object ids and types (DRM_MODE_OBJECT_*), and the kinds of connectors, encoders and
/// planes, as the uAPI numbers them. Plain values, no lock.
public typealias ObjectID = UInt32

/// DRM_MODE_OBJECT_* values; a lookup with the wrong type behaves as "not found".
public enum ObjectType: UInt32, Sendable {
    case any = 0
    case crtc = 0xcccc_cccc
    case connector = 0xc0c0_c0c0
    case encoder = 0xe0e0_e0e0
    case mode = 0xdede_dede
    case property = 0xb0b0_b0b0
    case framebuffer = 0xfbfb_fbfb
    case blob = 0xbbbb_bbbb
    case plane = 0xeeee_eeee

    /// CRTCs, planes and connectors: the objects atomic properties are set on. (A switch: an
    /// array literal's `contains` allocates the array on every call.)
    var carriesAtomicState: Bool {
        switch self {
        case .crtc, .plane, .connector: true
        default: false
        }
    }
}

public enum PlaneType: UInt64, Sendable, Codable {
    case overlay = 0
    case primary = 1
    case cursor = 2
}

public enum ConnectorStatus: UInt32, Sendable {
    case connected = 1
    case disconnected = 2
    case unknown = 3
}

/// Constants from drm.h / drm_mode.h the core needs by name.
public enum DRMConst {
    public static let capDumbBuffer: UInt64 = 0x1
    public static let capVblankHighCrtc: UInt64 = 0x2
    public static let capDumbPreferredDepth: UInt64 = 0x3
    public static let capDumbPreferShadow: UInt64 = 0x4
    public static let capPrime: UInt64 = 0x5
    public static let capTimestampMonotonic: UInt64 = 0x6
    public static let capAsyncPageFlip: UInt64 = 0x7
    public static let capCursorWidth: UInt64 = 0x8
    public static let capCursorHeight: UInt64 = 0x9
    public static let capAddFB2Modifiers: UInt64 = 0x10
    public static let capPageFlipTarget: UInt64 = 0x11
    public static let capCrtcInVblankEvent: UInt64 = 0x12
    public static let capSyncobj: UInt64 = 0x13
    public static let capSyncobjTimeline: UInt64 = 0x14
    /// Upstream: ATOMIC_ASYNC_PAGE_FLIP. The 2021 RFC used the same number for RELEASE_FENCE.
    public static let capAtomicAsyncPageFlip: UInt64 = 0x15

    public static let clientCapStereo3D: UInt64 = 1
    public static let clientCapUniversalPlanes: UInt64 = 2
    public static let clientCapAtomic: UInt64 = 3
    public static let clientCapAspectRatio: UInt64 = 4
    public static let clientCapWritebackConnectors: UInt64 = 5
    public static let clientCapCursorPlaneHotspot: UInt64 = 6

    public static let eventVblank: UInt32 = 0x01
    public static let eventFlipComplete: UInt32 = 0x02
    public static let eventCrtcSequence: UInt32 = 0x03

    public static let atomicPageFlipEvent: UInt32 = 0x1
    public static let atomicPageFlipAsync: UInt32 = 0x2
    public static let atomicTestOnly: UInt32 = 0x100
    public static let atomicNonblock: UInt32 = 0x200
    public static let atomicAllowModeset: UInt32 = 0x400
    public static let atomicFlags: UInt32 = 0x703

    public static let fbInterlaced: UInt32 = 1
    public static let fbModifiers: UInt32 = 2

    public static let formatModLinear: UInt64 = 0
    public static let formatModInvalid: UInt64 = 0x00ff_ffff_ffff_ffff
}
