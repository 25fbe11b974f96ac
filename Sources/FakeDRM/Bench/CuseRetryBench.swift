/// The CUSE path's Swift work per request, measured on a host that has no CUSE: the retry
/// planner against a simulated fs/fuse/file.c fuse_do_ioctl over this process's own memory.
/// The kernel's part (copying the iovecs) is done outside the counted function, so
/// scripts/bench-instructions.sh counts what the daemon does per request: the same
/// `IoctlRetry.round` the CUSE front end calls, the codec and the core. What it leaves out is
/// libfuse, the front end's lock and its reply calls.
final class CuseRetrySimulation {
    let device: Device
    let file: FileContext
    let files: ClientFiles
    /// The kernel's copy of the input iovecs (fuse_do_ioctl's pages).
    private let pages = UnsafeMutableRawBufferPointer.allocate(byteCount: IoctlRetry.maxTransfer, alignment: 16)
    private var pending = PendingRetries()
    private let tid: Int32 = 1

    init(device: Device, file: FileContext, files: ClientFiles) {
        self.device = device
        self.file = file
        self.files = files
    }

    deinit { pages.deallocate() }

    /// One round as the daemon sees it, its plan table included: counted by
    /// scripts/bench-instructions.sh.
    @inline(never)
    func daemonRound(request: UInt32, arg: UInt64, input: UnsafeRawBufferPointer, outputSize: Int) -> IoctlRetryStep {
        let previous = pending.isEmpty ? nil : pending.take(tid: tid, request: request, arg: arg)
        let step = IoctlRetry.round(previous, request: request, arg: arg, input: input, outputSize: outputSize, device: device, file: file, files: files)
        if case .retry(let plan) = step { pending.put(plan, tid: tid) }
        return step
    }

    /// ioctl(fd, request, arg) on the node: 0 or an errno. `arg` and every pointer in it must
    /// be this process's memory (the spans are copied with memcpy).
    func ioctl(_ request: UInt32, _ arg: UnsafeMutableRawPointer) -> Int32 {
        let address = UInt64(UInt(bitPattern: arg))
        var plan: IoctlRetryPlan? = nil
        var inSize = 0, outSize = 0
        while true {
            let step = daemonRound(request: request, arg: address, input: UnsafeRawBufferPointer(rebasing: pages[0..<inSize]), outputSize: outSize)
            switch step {
            case .retry(let p):
                inSize = 0
                p.forEachInput { s in
                    guard let from = UnsafeRawPointer(bitPattern: UInt(s.address)) else { return }
                    (pages.baseAddress! + inSize).copyMemory(from: from, byteCount: s.count)
                    inSize += s.count
                }
                outSize = p.outputSize
                plan = p
            case .reply(let result, let bytes):
                var o = 0
                plan?.forEachOutput { s in
                    guard o + s.count <= bytes.count, let to = UnsafeMutableRawPointer(bitPattern: UInt(s.address)) else { return }
                    bytes.withUnsafeBytes { to.copyMemory(from: $0.baseAddress! + o, byteCount: s.count) }
                    o += s.count
                }
                return -result
            case .fail(let errno):
                return errno
            }
        }
    }
}

extension DirectBench {
    /// The three requests of the CUSE bench in the VM (scripts/bench/cuse-bench.c), through the
    /// retry planner and answered in place, each next to the same request on the Direct path.
    /// A card of their own: the client must be its master, and its first GETRESOURCES lists no
    /// framebuffers.
    static func cuseRows(_ n: Int, only: String?) throws -> [Measurement] {
        let device = try Device(config: DeviceConfig(), virtualTime: true)
        defer { device.shutdown() }
        let d = device
        let c = try DirectClient(device: device)
        let sim = CuseRetrySimulation(device: device, file: c.file, files: c.files)
        let inPlace = CuseInPlaceSimulation(device: device, file: c.file, files: c.files)
        var out: [Measurement] = []
        let getCap = IoctlRequest.drm(0x0C, size: 16).raw
        let cap = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 8)
        defer { cap.deallocate() }
        cap.storeBytes(of: UInt64(DRMConst.capDumbBuffer).littleEndian, as: UInt64.self)
        out.append(measure("CUSE planner: GET_CAP", n, only: only) { _ = sim.ioctl(getCap, cap) })
        out.append(measure("CUSE in place: GET_CAP", n, only: only) { _ = inPlace.ioctl(getCap, cap) })

        // GETRESOURCES with room for 64 ids of each kind and the card's counts, as the C bench.
        let getRes = IoctlRequest.drm(0xA0, size: 64).raw
        let res = d.objects.resources(c.file)
        let ids = UnsafeMutableRawPointer.allocate(byteCount: 4 * 64 * 4, alignment: 8)
        let filled = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
        let arg = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
        defer { ids.deallocate(); filled.deallocate(); arg.deallocate() }
        filled.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        for k in 0..<4 { filled.storeBytes(of: UInt64(UInt(bitPattern: ids + k * 256)).littleEndian, toByteOffset: k * 8, as: UInt64.self) }
        let counts = [res.fbs.count, res.crtcs.count, res.connectors.count, res.encoders.count]
        for (k, n) in counts.enumerated() { filled.storeBytes(of: UInt32(n).littleEndian, toByteOffset: 32 + k * 4, as: UInt32.self) }
        out.append(measure("CUSE planner: GETRESOURCES (filled)", n, only: only) {
            arg.copyMemory(from: filled, byteCount: 64)
            _ = sim.ioctl(getRes, arg)
        })
        out.append(measure("CUSE in place: GETRESOURCES (filled)", n, only: only) {
            arg.copyMemory(from: filled, byteCount: 64)
            _ = inPlace.ioctl(getRes, arg)
        })

        // TEST_ONLY of a full modeset: connector -> CRTC with a mode blob, the primary plane
        // with a dumb fb, 13 properties on 3 objects.
        try d.files.setClientCap(c.file, cap: DRMConst.clientCapAtomic, value: 1)
        let conn = try d.objects.connectorInfo(c.file, res.connectors[0])
        guard let mode = conn.modes.first else { throw DRMError.invalidArgument }
        let b = try d.buffers.createDumb(c.file, width: UInt32(mode.hdisplay), height: UInt32(mode.vdisplay), bpp: 32)
        let fb = try d.buffers.addFramebuffer(c.file, .init(width: UInt32(mode.hdisplay), height: UInt32(mode.vdisplay), format: 0x3432_5258, flags: 0,
                                                     handles: [b.handle, 0, 0, 0], pitches: [b.pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0]))
        let blob = try d.objects.createBlob(c.file, data: mode.encode())
        let crtc = res.crtcs[0]
        let plane = d.objects.planeIDs(c.file)[0]
        func prop(_ obj: ObjectID, _ name: String) throws -> UInt32 {
            let ids = try d.objects.objectProperties(c.file, objectID: obj, type: 0).map(\.0)
            return ids.first { (try? d.objects.property($0))?.name == name } ?? 0
        }
        let w = UInt64(mode.hdisplay), h = UInt64(mode.vdisplay)
        let planeProps: [(String, UInt64)] = [("FB_ID", UInt64(fb)), ("CRTC_ID", UInt64(crtc)), ("SRC_X", 0), ("SRC_Y", 0), ("SRC_W", w << 16),
                                              ("SRC_H", h << 16), ("CRTC_X", 0), ("CRTC_Y", 0), ("CRTC_W", w), ("CRTC_H", h)]
        let objects: [(ObjectID, [(String, UInt64)])] = [(res.connectors[0], [("CRTC_ID", UInt64(crtc))]),
                                                         (crtc, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)]), (plane, planeProps)]
        var objs: [UInt32] = [], propCounts: [UInt32] = [], props: [UInt32] = [], values: [UInt64] = []
        for (o, ps) in objects {
            objs.append(o)
            propCounts.append(UInt32(ps.count))
            for (name, v) in ps { props.append(try prop(o, name)); values.append(v) }
        }
        let flags = DRMConst.atomicTestOnly | DRMConst.atomicAllowModeset
        let atomic = IoctlRequest.drm(0xBC, size: 56).raw
        try objs.withUnsafeBytes { objsBuf in
            try propCounts.withUnsafeBytes { countsBuf in
                try props.withUnsafeBytes { propsBuf in
                    try values.withUnsafeBytes { valuesBuf in
                        let pointers = [objsBuf, countsBuf, propsBuf, valuesBuf].map { UInt64(UInt(bitPattern: $0.baseAddress)) }
                        let request = LE.bytes([flags, UInt32(objs.count)]) + LE.bytes(pointers + [0, 0])
                        // The Direct path needs the arrays in its fake address space.
                        let direct = LE.bytes([flags, UInt32(objs.count)]) + LE.bytes([c.memory.map(LE.bytes(objs)), c.memory.map(LE.bytes(propCounts)),
                                                                                     c.memory.map(LE.bytes(props)), c.memory.map(LE.bytes(values)), 0, 0])
                        var check = direct
                        guard c.ioctl(atomic, &check) == 0 else { throw DRMError.invalidArgument }
                        let a = UnsafeMutableRawPointer.allocate(byteCount: 56, alignment: 8)
                        defer { a.deallocate() }
                        request.withUnsafeBytes { a.copyMemory(from: $0.baseAddress!, byteCount: 56) }
                        guard sim.ioctl(atomic, a) == 0, inPlace.ioctl(atomic, a) == 0 else { throw DRMError.invalidArgument }
                        out.append(measure("atomic TEST_ONLY modeset", n, only: only) {
                            var x = direct
                            _ = c.ioctl(atomic, &x)
                        })
                        out.append(measure("CUSE planner: atomic TEST_ONLY modeset", n, only: only) {
                            request.withUnsafeBytes { a.copyMemory(from: $0.baseAddress!, byteCount: 56) }
                            _ = sim.ioctl(atomic, a)
                        })
                        out.append(measure("CUSE in place: atomic TEST_ONLY modeset", n, only: only) {
                            request.withUnsafeBytes { a.copyMemory(from: $0.baseAddress!, byteCount: 56) }
                            _ = inPlace.ioctl(atomic, a)
                        })
                    }
                }
            }
        }
        return out
    }
}
