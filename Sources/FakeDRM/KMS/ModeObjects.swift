/// CRTC, encoder, connector and plane objects: the fixed hardware described by the config.
/// Their mutable per-commit state lives in KMSState, not here.

final class CRTCObject {
    let id: ObjectID
    let index: Int
    let gammaSize: UInt32
    var properties: [ObjectID] = []
    /// One fence context per CRTC for out fences, seqno counted from 1 (as drm_crtc_create_fence).
    let fenceContext: UInt64
    var fenceSeqno: UInt64 = 0
    var legacyGamma: [UInt16]
    /// The last legacy cursor position (crtc->cursor_x/y): a CURSOR_BO without MOVE uses it.
    var cursorX: Int32 = 0
    var cursorY: Int32 = 0

    init(id: ObjectID, index: Int, gammaSize: UInt32, fenceContext: UInt64) {
        self.id = id
        self.index = index
        self.gammaSize = gammaSize
        self.fenceContext = fenceContext
        legacyGamma = (0..<Int(gammaSize) * 3).map { i in
            let n = max(Int(gammaSize) - 1, 1)
            return UInt16(truncatingIfNeeded: (i % Int(max(gammaSize, 1))) * 0xffff / n)
        }
    }

    var timelineName: String { "CRTC:\(id)-crtc-\(index)" }
    /// How drm_dbg names it: "[CRTC:36:crtc-0]".
    var tag: String { "[CRTC:\(id):crtc-\(index)]" }
}

final class EncoderObject {
    let id: ObjectID
    let index: Int
    let kind: EncoderKind
    let possibleCrtcs: UInt32
    let possibleClones: UInt32

    init(id: ObjectID, index: Int, kind: EncoderKind, possibleCrtcs: UInt32, possibleClones: UInt32) {
        self.id = id
        self.index = index
        self.kind = kind
        self.possibleCrtcs = possibleCrtcs
        self.possibleClones = possibleClones
    }

    var tag: String { "[ENCODER:\(id):\(kind)-\(index)]" }
}

final class ConnectorObject {
    let id: ObjectID
    let index: Int
    let kind: ConnectorKind
    let typeIndex: UInt32
    let encoderIndex: Int
    var status: ConnectorStatus
    var modes: [ModeInfo]
    let mmWidth: UInt32
    let mmHeight: UInt32
    var properties: [ObjectID] = []
    /// The EDID blob (0 for Virtual connectors, which have no EDID property).
    var edidBlob: ObjectID = 0
    /// drm_connector's epoch_counter: bumped by every status, mode or EDID change.
    var epoch: UInt64 = 0
    /// Set for a writeback connector: what its engine writes and its out-fence timeline.
    var writeback: WritebackEngine?
    /// Unplugged at runtime (`ctl connector remove`): no longer an object clients can find. The
    /// entry stays so connector indices (and the state arrays they index) never shift.
    var removed = false

    init(id: ObjectID, index: Int, kind: ConnectorKind, typeIndex: UInt32, encoderIndex: Int,
         status: ConnectorStatus, modes: [ModeInfo], mmWidth: UInt32, mmHeight: UInt32) {
        self.id = id
        self.index = index
        self.kind = kind
        self.typeIndex = typeIndex
        self.encoderIndex = encoderIndex
        self.status = status
        self.modes = modes
        self.mmWidth = mmWidth
        self.mmHeight = mmHeight
    }

    var name: String { "\(kind.kernelName)-\(typeIndex)" }
    var tag: String { "[CONNECTOR:\(id):\(name)]" }
}

final class PlaneObject {
    let id: ObjectID
    let index: Int
    let type: PlaneType
    let possibleCrtcs: UInt32
    let formats: [UInt32]
    var inFormatsBlob: ObjectID = 0
    var properties: [ObjectID] = []

    init(id: ObjectID, index: Int, type: PlaneType, possibleCrtcs: UInt32, formats: [UInt32]) {
        self.id = id
        self.index = index
        self.type = type
        self.possibleCrtcs = possibleCrtcs
        self.formats = formats
    }

    var tag: String { "[PLANE:\(id):plane-\(index)]" }
}

/// drm_writeback_connector's own state: its formats (WRITEBACK_PIXEL_FORMATS) and the fence
/// timeline of WRITEBACK_OUT_FENCE_PTR.
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
