/// What a property controls; the atomic decoder and the getters switch on this.
public enum PropertyKind: Sendable, Hashable {
    case planeType, fbID, crtcID, inFenceFD, crtcX, crtcY, crtcW, crtcH, srcX, srcY, srcW, srcH
    case inFormats, zpos, alpha, blendMode, damageClips, rotation, colorEncoding, colorRange
    case active, modeID, outFencePtr, vrrEnabled, gammaLUT, gammaLUTSize, releaseFencePtr
    case dpms, linkStatus, nonDesktop, tile, edid
    case writebackFBID, writebackOutFencePtr, writebackPixelFormats

    /// IN_FENCE_FD and the fence pointers: their values name client fds and memory, which the
    /// front end resolves before the device lock is taken.
    var isFence: Bool {
        switch self {
        case .inFenceFD, .outFencePtr, .releaseFencePtr, .writebackOutFencePtr: true
        default: false
        }
    }
}

/// A property object (DRM_MODE_PROP_*), with the kernel's flag encoding.
public final class PropertyDef: Sendable {
    public static let range: UInt32 = 2, immutable: UInt32 = 4, enumType: UInt32 = 8, blob: UInt32 = 16, bitmask: UInt32 = 32
    public static let object: UInt32 = 0x40, signedRange: UInt32 = 0x80
    public static let atomic: UInt32 = 0x8000_0000

    public let id: ObjectID
    public let name: String
    public let flags: UInt32
    /// RANGE/SIGNED_RANGE: [min, max]; ENUM: values; BITMASK: bit positions; OBJECT: [type].
    public let values: [UInt64]
    public let enums: [(value: UInt64, name: String)]
    public let kind: PropertyKind

    init(id: ObjectID, name: String, flags: UInt32, values: [UInt64] = [], enums: [(UInt64, String)] = [], kind: PropertyKind) {
        self.id = id
        self.name = name
        self.flags = flags
        self.values = values
        self.enums = enums.map { (value: $0.0, name: $0.1) }
        self.kind = kind
    }

    var typeBits: UInt32 { flags & (PropertyDef.range | PropertyDef.enumType | PropertyDef.blob | PropertyDef.bitmask | 0xffc0) }
    var isAtomicOnly: Bool { flags & PropertyDef.atomic != 0 }
    var isImmutable: Bool { flags & PropertyDef.immutable != 0 }

    /// drm_property_change_valid_get without the object lookups (done by the caller).
    func valueIsInRange(_ v: UInt64) -> Bool {
        switch typeBits {
        case PropertyDef.range:
            return v >= values[0] && v <= values[1]
        case PropertyDef.signedRange:
            let s = Int64(bitPattern: v)
            return s >= Int64(bitPattern: values[0]) && s <= Int64(bitPattern: values[1])
        case PropertyDef.bitmask:
            var mask: UInt64 = 0
            for bit in values where bit < 64 { mask |= 1 << bit }
            return v & ~mask == 0
        case PropertyDef.enumType:
            return values.contains(v)
        default:
            return true
        }
    }
}

extension PropertyDef {
    static let enumLinkStatus: [(UInt64, String)] = [(0, "Good"), (1, "Bad")]
    static let enumDPMS: [(UInt64, String)] = [(0, "On"), (1, "Standby"), (2, "Suspend"), (3, "Off")]
    static let enumPlaneType: [(UInt64, String)] = [(0, "Overlay"), (1, "Primary"), (2, "Cursor")]
    static let enumBlend: [(UInt64, String)] = [(2, "None"), (0, "Pre-multiplied"), (1, "Coverage")]
    /// Bit positions, as a BITMASK property lists them (drm_plane_create_rotation_property).
    static let enumRotation: [(UInt64, String)] = [
        (0, "rotate-0"), (1, "rotate-90"), (2, "rotate-180"), (3, "rotate-270"), (4, "reflect-x"), (5, "reflect-y"),
    ]
    static let enumColorEncoding: [(UInt64, String)] = [(0, "ITU-R BT.601 YCbCr"), (1, "ITU-R BT.709 YCbCr"), (2, "ITU-R BT.2020 YCbCr")]
    static let enumColorRange: [(UInt64, String)] = [(0, "YCbCr limited range"), (1, "YCbCr full range")]
}
