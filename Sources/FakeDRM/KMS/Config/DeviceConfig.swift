import Yams

/// The card's topology and policy as plain data, decoded from YAML and validated before any
/// object exists (vkms_config's approach). Building the Device from it is a separate step.
public struct DeviceConfig: Sendable, Codable, Equatable {
    public struct Driver: Sendable, Codable, Equatable {
        public var name = "fakedrm"
        public var description = "Fake DRM card (userspace)"
        public var date = "0"
        public var major: Int32 = 1
        public var minor: Int32 = 0
        public var patchlevel: Int32 = 0
        /// Reported by GET_UNIQUE after SET_VERSION(1.1+): a platform device name.
        public var unique = "fakedrm"
        public init() {}
    }

    public struct CRTC: Sendable, Codable, Equatable {
        public var gammaSize: UInt32 = 256
        /// A writeback connector (and its encoder) for this CRTC, as vkms's enable_writeback.
        public var writeback = true
        public init() {}
    }

    public struct Encoder: Sendable, Codable, Equatable {
        public var type = "virtual"
        public var crtcs: [Int] = [0]
        public init() {}
    }

    public struct Mode: Sendable, Codable, Equatable {
        public var clock: UInt32
        public var h: [UInt16]
        public var v: [UInt16]
        public var flags: UInt32 = 5
        public var preferred = false
    }

    public struct Connector: Sendable, Codable, Equatable {
        public var type = "Virtual"
        public var encoder = 0
        public var connected = true
        public var mmWidth: UInt32 = 0
        public var mmHeight: UInt32 = 0
        /// Omitted: the no-EDID DMT list capped at maxWidth/maxHeight, as vkms.
        public var modes: [Mode]?
        public var preferredWidth = 1024
        public var preferredHeight = 768
        public init() {}
    }

    public struct Plane: Sendable, Codable, Equatable {
        public var type: String
        public var crtcs: [Int] = [0]
        public var formats: [String]?
        public init(type: String) { self.type = type }
    }

    public struct ReleaseFence: Sendable, Codable, Equatable {
        /// Attach the RFC's RELEASE_FENCE_PTR CRTC property.
        public var enabled = true
        /// Answer GET_CAP(0x15) with 1 as the 2021 RFC did (upstream: ATOMIC_ASYNC_PAGE_FLIP).
        public var rfc2021Cap = false
        /// Emulated host delay between a buffer leaving the screen and its release.
        public var hostDelayMs: Int = 0
        public init() {}
    }

    public var driver = Driver()
    public var minWidth: UInt32 = 10
    public var minHeight: UInt32 = 10
    public var maxWidth: UInt32 = 8192
    public var maxHeight: UInt32 = 8192
    public var cursorWidth: UInt64 = 512
    public var cursorHeight: UInt64 = 512
    public var crtcs = [CRTC()]
    public var encoders = [Encoder()]
    public var connectors = [Connector()]
    public var planes = [Plane(type: "primary"), Plane(type: "cursor"), Plane(type: "overlay")]
    /// "realtime" (vblanks at the mode's refresh on a timer) or "virtual" (stepped).
    public var vblank = "realtime"
    public var releaseFence = ReleaseFence()
    public var syncobj = true
    /// The card's owner (the daemon's user) counts as CAP_SYS_ADMIN in drm_master_check_perm,
    /// as root does on a kernel card: it is the owner's private card (docs/igt.md). false: only
    /// uid 0 does, and a never-master file of another process gets EACCES from SET_MASTER.
    public var ownerIsPrivileged = true
    /// Fault rules active from the start (docs/faults.md), and the seed of their generators.
    public struct Faults: Sendable, Codable, Equatable {
        public var seed: UInt64 = 1
        public var rules: [String] = []
        public init() {}
    }
    public var faults = Faults()
    public var limits = Limits()

    public init() {}

    /// Every plane type gets the formats of current vkms (vkms_plane.c), plus XB24, RG24,
    /// XR30 and AR30, which fakedrm offered before. ADDFB refuses a format no plane takes
    /// (drm_gem_fb_init_with_funcs), and IGT's kms_writeback creates XR30 framebuffers.
    public static let defaultPrimaryFormats = [
        "XR24", "AR24", "XB24", "AB24", "XR48", "AR48", "RG16",
        "NV12", "NV16", "NV24", "NV21", "NV61", "NV42", "YU12", "YU16", "YU24", "YV12", "YV16", "YV24",
        "R1", "R2", "R4", "R8", "RG24", "XR30", "AR30",
    ]
    public static let defaultCursorFormats = defaultPrimaryFormats

    /// Decodes a partial YAML document: every key left out takes the default's value, and
    /// each element of crtcs/encoders/connectors/planes/modes starts from a default element.
    public static func load(yaml: String) throws -> DeviceConfig {
        let user = try Yams.load(yaml: yaml) ?? [String: Any]()
        guard let userMap = user as? [String: Any] else { throw Invalid(description: "invalid config: top level must be a mapping") }
        guard let base = try Yams.load(yaml: DeviceConfig().yaml()) as? [String: Any] else { throw Invalid(description: "internal: default config") }
        let merged = merge(base, userMap)
        let config = try YAMLDecoder().decode(DeviceConfig.self, from: try Yams.dump(object: merged))
        try config.validate()
        return config
    }

    private static var elementDefaults: [String: [String: Any]] { [
        "crtcs": ["gammaSize": 256, "writeback": true],
        "encoders": ["type": "virtual", "crtcs": [0]],
        "connectors": ["type": "Virtual", "encoder": 0, "connected": true, "mmWidth": 0, "mmHeight": 0,
                       "preferredWidth": 1024, "preferredHeight": 768],
        "planes": ["type": "overlay", "crtcs": [0]],
        "modes": ["flags": 5, "preferred": false],
    ] }

    private static func merge(_ base: [String: Any], _ over: [String: Any]) -> [String: Any] {
        var out = base
        for (k, v) in over {
            if let vm = v as? [String: Any], let bm = base[k] as? [String: Any] {
                out[k] = merge(bm, vm)
            } else if let list = v as? [Any], let def = elementDefaults[k] {
                out[k] = list.map { e -> Any in (e as? [String: Any]).map { merge(def, $0) } ?? e }
            } else {
                out[k] = v
            }
        }
        return out
    }

    public func yaml() -> String {
        (try? YAMLEncoder().encode(self)) ?? ""
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Rejects a shape the kernel would never register, with a message naming the culprit.
    public func validate() throws {
        func fail(_ s: String) -> Invalid { Invalid(description: "invalid config: \(s)") }
        if driver.name.isEmpty || driver.name.utf8.count > 63 { throw fail("driver.name must be 1..63 bytes") }
        for rule in faults.rules {
            do throws(FaultSpec.ParseError) { _ = try FaultSpec(parsing: rule) } catch { throw fail("faults.rules: '\(rule)': \(error.message)") }
        }
        if crtcs.isEmpty || crtcs.count > 32 { throw fail("need 1..32 crtcs") }
        if connectors.isEmpty { throw fail("need at least one connector") }
        if encoders.isEmpty { throw fail("need at least one encoder") }
        if minWidth == 0 || minWidth > maxWidth || minHeight == 0 || minHeight > maxHeight || maxWidth > 16384 || maxHeight > 16384 {
            throw fail("min/max width/height out of order or above 16384")
        }
        for (i, e) in encoders.enumerated() {
            if EncoderKind(name: e.type) == nil { throw fail("encoders[\(i)].type '\(e.type)' unknown") }
            if e.crtcs.isEmpty || e.crtcs.contains(where: { $0 < 0 || $0 >= crtcs.count }) { throw fail("encoders[\(i)].crtcs out of range") }
        }
        for (i, c) in connectors.enumerated() {
            guard let kind = ConnectorKind(name: c.type) else { throw fail("connectors[\(i)].type '\(c.type)' unknown") }
            if kind == .writeback { throw fail("connectors[\(i)]: writeback connectors come from crtcs[].writeback") }
            if c.encoder < 0 || c.encoder >= encoders.count { throw fail("connectors[\(i)].encoder out of range") }
            for (k, m) in (c.modes ?? []).enumerated() {
                guard m.h.count == 4, m.v.count == 4 else { throw fail("connectors[\(i)].modes[\(k)] needs h and v of 4 values") }
                let mode = ModeInfo(clock: m.clock, h: (m.h[0], m.h[1], m.h[2], m.h[3]), v: (m.v[0], m.v[1], m.v[2], m.v[3]), flags: m.flags)
                if !mode.isValid { throw fail("connectors[\(i)].modes[\(k)] is not a valid mode") }
            }
        }
        for (ci, _) in crtcs.enumerated() {
            let primaries = planes.filter { $0.type == "primary" && $0.crtcs.contains(ci) }
            if primaries.isEmpty { throw fail("crtc \(ci) has no primary plane") }
        }
        for (i, p) in planes.enumerated() {
            guard ["primary", "cursor", "overlay"].contains(p.type) else { throw fail("planes[\(i)].type must be primary, cursor or overlay") }
            if p.crtcs.isEmpty || p.crtcs.contains(where: { $0 < 0 || $0 >= crtcs.count }) { throw fail("planes[\(i)].crtcs out of range") }
            for f in p.formats ?? [] where FourCC.parse(f) == nil { throw fail("planes[\(i)] format '\(f)' unknown") }
            if (p.formats ?? ["XR24"]).isEmpty || (p.formats?.count ?? 0) > 64 { throw fail("planes[\(i)] needs 1..64 formats") }
        }
        if planes.count > 32 { throw fail("at most 32 planes") }
        if !["realtime", "virtual"].contains(vblank) { throw fail("vblank must be realtime or virtual") }
        if releaseFence.hostDelayMs < 0 || releaseFence.hostDelayMs > 10_000 { throw fail("releaseFence.hostDelayMs must be 0..10000") }
        try limits.validate()
    }
}

public enum EncoderKind: UInt32, Sendable {
    case none = 0, dac, tmds, lvds, tvdac, virtual, dsi, dpmst, dpi
    init?(name: String) {
        switch name.lowercased() {
        case "none": self = .none
        case "dac": self = .dac
        case "tmds": self = .tmds
        case "lvds": self = .lvds
        case "tvdac": self = .tvdac
        case "virtual": self = .virtual
        case "dsi": self = .dsi
        case "dpmst": self = .dpmst
        case "dpi": self = .dpi
        default: return nil
        }
    }
}

public enum ConnectorKind: UInt32, Sendable, CaseIterable {
    case unknown = 0, vga, dvii, dvid, dvia, composite, svideo, lvds, component, din9, displayPort, hdmiA, hdmiB, tv, eDP, virtual, dsi, dpi, writeback, spi, usb

    /// The kernel's drm_connector_enum_list names, used in connector names ("Virtual-1").
    public var kernelName: String {
        ["Unknown", "VGA", "DVI-I", "DVI-D", "DVI-A", "Composite", "SVIDEO", "LVDS", "Component", "DIN",
         "DP", "HDMI-A", "HDMI-B", "TV", "eDP", "Virtual", "DSI", "DPI", "Writeback", "SPI", "USB"][Int(rawValue)]
    }

    init?(name: String) {
        guard let k = ConnectorKind.allCases.first(where: { $0.kernelName.lowercased() == name.lowercased() }) else { return nil }
        self = k
    }
}

public enum FourCC {
    /// "XR24" → 0x34325258; shorter codes are padded with spaces as drm_fourcc.h's are
    /// ("R8" is 'R', '8', ' ', ' ').
    public static func parse(_ s: String) -> UInt32? {
        var b = Array(s.utf8)
        guard (1...4).contains(b.count) else { return nil }
        b += Array(repeating: 0x20, count: 4 - b.count)
        let v = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        return PixelFormat.lookup(v) == nil ? nil : v
    }
}
