/// A composed CRTC image. Pixels are 0xAARRGGBB words, row-major with no padding, alpha
/// always 0xff: scanout has no alpha, and a fixed value keeps CRCs and PNGs independent of
/// what the planes' alpha bytes held.
public struct Frame: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt32]

    public init(width: Int, height: Int, pixels: [UInt32]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// The memory of one plane of a framebuffer (a GEM object and where in it the plane starts).
public struct PlaneMemory: Sendable {
    /// Raw pointers are not Sendable; this one is only read, and only inside
    /// `Composer.compose`, while the device that built the plane keeps the mapping alive, so
    /// crossing isolation with it cannot race on anything the composer owns.
    public nonisolated(unsafe) var base: UnsafeRawPointer
    /// Bytes readable from `base`. No read ever leaves `base ..< base + size`.
    public var size: Int
    public var offset: Int
    public var pitch: Int

    public init(base: UnsafeRawPointer, size: Int, offset: Int = 0, pitch: Int) {
        self.base = base
        self.size = size
        self.offset = offset
        self.pitch = pitch
    }
}

/// One plane as scanout sees it after an atomic commit: which memory, how to read it, where it
/// lands. Values are the raw KMS property values, not yet validated; the composer skips or
/// clips whatever it cannot honour instead of trusting them.
public struct ComposerPlane: Sendable {
    /// Plane 0 of the framebuffer; `chroma` holds planes 1 and 2 of multi-planar formats.
    public var memory: PlaneMemory
    public var chroma: [PlaneMemory] = []
    public var format: UInt32
    public var fbWidth: UInt32
    public var fbHeight: UInt32
    /// Source rectangle in 16.16 fixed point, as in the SRC_* properties.
    public var srcX: UInt32
    public var srcY: UInt32
    public var srcW: UInt32
    public var srcH: UInt32
    public var crtcX: Int32
    public var crtcY: Int32
    public var crtcW: UInt32
    public var crtcH: UInt32
    public var zpos: UInt32
    /// The plane "alpha" property; 0xffff is opaque.
    public var alpha: UInt16
    /// The "pixel blend mode" property, with the kernel's values (drm_blend.h).
    public var blendMode: UInt8
    /// The "rotation" property: one DRM_MODE_ROTATE_* bit, optionally REFLECT_X/Y.
    public var rotation: UInt32 = ComposerPlane.rotate0
    public var colorEncoding: ColorEncoding = .bt601
    public var colorRange: ColorRange = .full
    /// Set for the CRTC's cursor plane: a display with a hardware cursor channel (virtio-gpu's
    /// cursor queue) sends it apart from the frame; the composer itself ignores it.
    public var isCursor: Bool = false

    /// Plane 0, for consumers that take single-plane RGB only (virtio-gpu resources, cursor).
    public var base: UnsafeRawPointer { memory.base }
    public var bufferSize: Int {
        get { memory.size }
        set { memory.size = newValue }
    }
    public var offset: Int {
        get { memory.offset }
        set { memory.offset = newValue }
    }
    public var pitch: Int {
        get { memory.pitch }
        set { memory.pitch = newValue }
    }

    public static let blendPremultiplied: UInt8 = 0
    public static let blendCoverage: UInt8 = 1
    public static let blendNone: UInt8 = 2

    public static let rotate0: UInt32 = 1 << 0
    public static let rotate90: UInt32 = 1 << 1
    public static let rotate180: UInt32 = 1 << 2
    public static let rotate270: UInt32 = 1 << 3
    public static let reflectX: UInt32 = 1 << 4
    public static let reflectY: UInt32 = 1 << 5
    public static let rotateMask: UInt32 = 0xf
    public static let reflectMask: UInt32 = 0x30

    public init(
        base: UnsafeRawPointer, bufferSize: Int, offset: Int = 0, pitch: Int, format: UInt32,
        fbWidth: UInt32, fbHeight: UInt32,
        srcX: UInt32, srcY: UInt32, srcW: UInt32, srcH: UInt32,
        crtcX: Int32, crtcY: Int32, crtcW: UInt32, crtcH: UInt32,
        zpos: UInt32 = 0, alpha: UInt16 = 0xffff, blendMode: UInt8 = ComposerPlane.blendPremultiplied
    ) {
        memory = PlaneMemory(base: base, size: bufferSize, offset: offset, pitch: pitch)
        self.format = format
        self.fbWidth = fbWidth
        self.fbHeight = fbHeight
        self.srcX = srcX
        self.srcY = srcY
        self.srcW = srcW
        self.srcH = srcH
        self.crtcX = crtcX
        self.crtcY = crtcY
        self.crtcW = crtcW
        self.crtcH = crtcH
        self.zpos = zpos
        self.alpha = alpha
        self.blendMode = blendMode
    }
}
