import Glibc
import Testing
@testable import FakeDRM

/// A SOCK_SEQPACKET connection to a daemon socket (raw clients in the socket front-end tests).
func connectSeqpacket(_ path: String) -> Int32? {
    let s = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard s >= 0 else { return nil }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { p in
        for (i, b) in path.utf8.prefix(p.count - 1).enumerated() { p[i] = b }
    }
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard rc == 0 else { close(s); return nil }
    return s
}

func makeDevice(_ config: DeviceConfig = DeviceConfig()) throws -> Device {
    try Device(config: config, virtualTime: true)
}

/// A card lit by an atomic client: two framebuffers, the first on screen after its vblank, the
/// modeset's events read.
func litCard() throws -> (Device, DirectClient, [UInt32]) {
    let d = try makeDevice()
    let c = try DirectClient(device: d)
    c.setClientCap(DRMConst.clientCapAtomic, 1)
    let fbs = [try c.makeFB().0, try c.makeFB().0]
    #expect(try c.modeset(fb: fbs[0]) == 0)
    d.clock.stepVblank()
    _ = c.events()
    return (d, c, fbs)
}

func req(_ nr: UInt8, _ size: Int, dir: UInt32 = 3) -> UInt32 { IoctlRequest.drm(nr, size: size, dir: dir).raw }

extension DirectClient {
    func getCap(_ cap: UInt64) -> (Int32, UInt64) {
        var a = LE.bytes([cap, 0])
        let e = ioctl(req(0x0C, 16), &a)
        return (e, LE.u64s(a)[1])
    }

    @discardableResult
    func setClientCap(_ cap: UInt64, _ value: UInt64) -> Int32 {
        var a = LE.bytes([cap, value])
        return ioctl(req(0x0D, 16, dir: 1), &a)
    }

    var crtcID: UInt32 { device.objects.resources(file).crtcs[0] }
    var connectorID: UInt32 { device.objects.resources(file).connectors[0] }
    func plane(_ type: PlaneType) -> UInt32 {
        device.lock.withLock { device.topology.planes.first { $0.type == type }?.id ?? 0 }
    }

    func prop(_ obj: UInt32, _ name: String) -> UInt32 {
        device.lock.withLock {
            let ids = device.topology.crtc(id: obj)?.properties ?? device.topology.plane(id: obj)?.properties ?? device.topology.connector(id: obj)?.properties ?? []
            return ids.first { device.objects.properties[$0]?.name == name } ?? 0
        }
    }

    func propValue(_ obj: UInt32, _ name: String) -> UInt64? {
        let id = prop(obj, name)
        return (try? device.objects.objectProperties(file, objectID: obj, type: 0))?.first { $0.0 == id }?.1
    }

    /// A dumb buffer + ADDFB2 XRGB8888 framebuffer; returns (fb, handle).
    func makeFB(_ w: UInt32 = 1024, _ h: UInt32 = 768, format: UInt32 = 0x3432_5258) throws -> (UInt32, UInt32) {
        let b = try device.buffers.createDumb(file, width: w, height: h, bpp: 32)
        let fb = try device.buffers.addFramebuffer(file, .init(width: w, height: h, format: format, flags: 0, handles: [b.handle, 0, 0, 0],
                                                       pitches: [b.pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0]))
        return (fb, b.handle)
    }

    func modeBlob(_ m: ModeInfo? = nil) throws -> UInt32 {
        let mode = try m ?? device.objects.connectorInfo(file, connectorID).modes[0]
        return try device.objects.createBlob(file, data: mode.encode())
    }

    /// Encodes an ATOMIC request into fake client memory and issues it through the codec.
    func atomic(_ flags: UInt32, _ objects: [(UInt32, [(String, UInt64)])], userData: UInt64 = 0) -> Int32 {
        var objs: [UInt32] = [], counts: [UInt32] = [], props: [UInt32] = [], values: [UInt64] = []
        for (o, ps) in objects {
            objs.append(o)
            counts.append(UInt32(ps.count))
            for (name, v) in ps {
                props.append(prop(o, name) == 0 ? 0xdead : prop(o, name))
                values.append(v)
            }
        }
        return atomicRaw(flags, objs: objs, counts: counts, props: props, values: values, userData: userData)
    }

    func atomicRaw(_ flags: UInt32, objs: [UInt32], counts: [UInt32], props: [UInt32], values: [UInt64], userData: UInt64 = 0) -> Int32 {
        let o = memory.map(LE.bytes(objs)), c = memory.map(LE.bytes(counts))
        let p = memory.map(LE.bytes(props)), v = memory.map(LE.bytes(values))
        var a = LE.bytes([flags, UInt32(objs.count)]) + LE.bytes([o, c, p, v, 0, userData])
        return ioctl(req(0xBC, 56), &a)
    }

    /// A full modeset with the primary plane showing `fb`.
    func modeset(fb: UInt32, flags: UInt32 = DRMConst.atomicAllowModeset, extraCRTC: [(String, UInt64)] = []) throws -> Int32 {
        let mode = try device.objects.connectorInfo(file, connectorID).modes[0]
        let blob = try modeBlob(mode)
        return atomic(flags, [
            (connectorID, [("CRTC_ID", UInt64(crtcID))]),
            (crtcID, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)] + extraCRTC),
            (plane(.primary), planeProps(fb: fb, w: UInt32(mode.hdisplay), h: UInt32(mode.vdisplay))),
        ])
    }

    /// The arrays of an atomic modeset of the first connector, CRTC and primary plane (with a
    /// new fb and mode blob), as a client lays them out for DRM_IOCTL_MODE_ATOMIC.
    func modesetArrays() throws -> (objs: [UInt32], counts: [UInt32], props: [UInt32], values: [UInt64]) {
        let (fb, _) = try makeFB()
        let mode = try device.objects.connectorInfo(file, connectorID).modes[0]
        let blob = try modeBlob(mode)
        let objects: [(UInt32, [(String, UInt64)])] = [
            (connectorID, [("CRTC_ID", UInt64(crtcID))]),
            (crtcID, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)]),
            (plane(.primary), planeProps(fb: fb, w: UInt32(mode.hdisplay), h: UInt32(mode.vdisplay))),
        ]
        var objs: [UInt32] = [], counts: [UInt32] = [], props: [UInt32] = [], values: [UInt64] = []
        for (o, ps) in objects {
            objs.append(o)
            counts.append(UInt32(ps.count))
            for (n, v) in ps { props.append(prop(o, n)); values.append(v) }
        }
        return (objs, counts, props, values)
    }

    func planeProps(fb: UInt32, w: UInt32, h: UInt32, x: Int32 = 0, y: Int32 = 0) -> [(String, UInt64)] {
        [("FB_ID", UInt64(fb)), ("CRTC_ID", UInt64(crtcID)), ("CRTC_X", UInt64(bitPattern: Int64(x))), ("CRTC_Y", UInt64(bitPattern: Int64(y))),
         ("CRTC_W", UInt64(w)), ("CRTC_H", UInt64(h)), ("SRC_X", 0), ("SRC_Y", 0), ("SRC_W", UInt64(w) << 16), ("SRC_H", UInt64(h) << 16)]
    }

    func events() -> [[UInt8]] {
        guard let bytes = try? read() else { return [] }
        var out: [[UInt8]] = []
        var i = 0
        while i + 8 <= bytes.count {
            let len = Int(ArgBuffer(bytes).load(UInt32.self, at: i + 4))
            guard len >= 8, i + len <= bytes.count else { break }
            out.append(Array(bytes[i..<i + len]))
            i += len
        }
        return out
    }
}
