/// Bytes in, kernel-exact behaviour out: the drm_ioctl dispatcher. Dispatch is on (type, nr)
/// only; the caller's size is taken from the request, zero-extended to the kernel struct, and
/// copied back even when the handler fails.
public enum UAPICodec {
    typealias Handler = @Sendable (_ d: Device, _ f: FileContext, _ a: inout ArgBuffer, _ env: ClientEnv) throws(DRMError) -> Void

    /// One row of drm_ioctl.c's table: the name, the kernel struct's size, the permission
    /// flags the dispatcher applies before the handler runs, the handler.
    struct Entry: Sendable {
        let name: String
        let size: Int
        let flags: IoctlFlags
        /// Some flag needs the file's state checked (RENDER_ALLOW alone needs nothing here).
        let checksPermission: Bool
        /// In `snapshotNeutral`: set when the table is built.
        var keepsSnapshots: Bool
        let handler: Handler

        init(name: String, size: Int, flags: IoctlFlags = [], handler: @escaping Handler) {
            self.name = name
            self.size = size
            self.flags = flags
            checksPermission = !flags.isDisjoint(with: [.auth, .master, .rootOnly])
            keepsSnapshots = false
            self.handler = handler
        }
    }

    /// `firstPass`: false for the CUSE planner's later passes over the same request, so fault
    /// rules and statistics see each ioctl once.
    public static func ioctl(_ device: Device, _ file: FileContext, request: UInt32, arg: [UInt8], env: ClientEnv, firstPass: Bool = true) -> IoctlReply {
        let req = IoctlRequest(request)
        var bytes = arg
        let errno = ioctl(device, file, request: request, arg: &bytes, env: env, firstPass: firstPass)
        return IoctlReply(errno: errno, bytes: req.copiesOut && req.type == IoctlRequest.drmType ? bytes : [])
    }

    /// The same, in place: on return `arg` holds the `size` bytes the kernel copies back, or
    /// is as it was for a request that copies nothing back. The caller's buffer becomes the
    /// kernel's, so an ioctl that copies both ways allocates nothing for its argument.
    public static func ioctl(_ device: Device, _ file: FileContext, request: UInt32, arg: inout [UInt8], env: ClientEnv, firstPass: Bool = true) -> Int32 {
        let req = IoctlRequest(request)
        guard req.type == IoctlRequest.drmType else { return DRMError.notTTY.errno }
        guard let entry = dispatch[Int(req.nr)] else {
            if req.copiesOut { resize(&arg, to: req.size) }
            return DRMError.invalidArgument.errno
        }
        guard firstPass else { return run(entry, device, file, req, &arg, env) }
        let start = Monotonic.nowNs()
        var errno: Int32
        if let hit = device.faults.consult("ioctl \(IoctlNames.name(of: req.nr)) file \(file.id) pid \(file.pid)", { kind in
            if case .ioctl(let nr, _) = kind { return nr == nil || nr == req.nr }
            return false
        }), case .ioctl(_, let e) = hit.kind {
            errno = e
            if req.copiesOut { resize(&arg, to: req.size) }
        } else {
            errno = run(entry, device, file, req, &arg, env)
        }
        device.ioctlStats.record(nr: req.nr, ns: Monotonic.nowNs() - start, failed: errno != 0)
        return errno
    }

    /// The caller's bytes cut or zero-extended to `size`.
    private static func resize(_ a: inout [UInt8], to size: Int) {
        if a.count > size { a.removeLast(a.count - size) } else if a.count < size { a.append(contentsOf: repeatElement(0, count: size - a.count)) }
    }

    static func run(_ entry: Entry, _ device: Device, _ file: FileContext, _ req: IoctlRequest, _ arg: [UInt8], _ env: ClientEnv) -> IoctlReply {
        var bytes = arg
        let errno = run(entry, device, file, req, &bytes, env)
        return IoctlReply(errno: errno, bytes: req.copiesOut ? bytes : [])
    }

    static func run(_ entry: Entry, _ device: Device, _ file: FileContext, _ req: IoctlRequest, _ arg: inout [UInt8], _ env: ClientEnv) -> Int32 {
        let usize = req.size
        // The kernel's copy of the argument: the caller's first `usize` bytes, zero-extended to
        // the kernel struct; all zero when the request copies nothing in.
        var kbuf: ArgBuffer
        if req.copiesOut {
            var taken: [UInt8] = []
            swap(&taken, &arg)
            if !req.copiesIn { taken.removeAll(keepingCapacity: true) }
            resize(&taken, to: usize)
            if entry.size > usize { taken.append(contentsOf: repeatElement(0, count: entry.size - usize)) }
            kbuf = ArgBuffer(taken)
        } else {
            kbuf = ArgBuffer(size: max(usize, entry.size))
            if req.copiesIn {
                for i in 0..<min(usize, arg.count) { kbuf.bytes[i] = arg[i] }
            }
        }
        var errno: Int32 = 0
        // 0x100: DRM_MODE_ATOMIC_TEST_ONLY.
        let mutates = !entry.keepsSnapshots || (req.nr == 0xBC && kbuf[AtomicArg.flags] & 0x100 == 0)
        if mutates { device.snapshots.beginChange() }
        defer { if mutates { device.snapshots.endChange() } }
        RejectionSlot.clear()
        do {
            if entry.checksPermission { try IoctlFlags.permit(entry.flags, nr: req.nr, device, file) }
            try entry.handler(device, file, &kbuf, env)
            if device.trace.recordsSuccesses, !env.memory.isIncomplete { RejectionLog.recordSuccess(device, file, entry.name, req, kbuf) }
        } catch {
            errno = error.errno
            if !env.memory.isIncomplete { RejectionLog.record(device, file, entry.name, req, kbuf, error) }
        }
        if req.copiesOut {
            swap(&arg, &kbuf.bytes)
            resize(&arg, to: usize)
        }
        return errno
    }

    /// The queries a file's snapshot answers (SnapshotEncoder), at the library's struct sizes.
    static func isSnapshotted(_ request: UInt32) -> Bool {
        let req = IoctlRequest(request)
        guard req.type == IoctlRequest.drmType else { return false }
        // A switch: this runs per request of the socket path, and an array literal allocates.
        switch req.nr {
        case 0x0C, 0xA0, 0xA1, 0xA6, 0xA7, 0xAA, 0xAC, 0xB5, 0xB6, 0xB9: break
        default: return false
        }
        return table[Int(req.nr)]?.size == req.size
    }

    /// Ioctls that change nothing a snapshotted query answers (docs/snapshot.md); every other
    /// one keeps the query snapshots stale from its start until it returns, whatever its
    /// result. ATOMIC is in the list for TEST_ONLY only (checked in `run`).
    static let snapshotNeutral: Set<Int> = [
        0x00, 0x01, 0x02, 0x05, 0x0C,                   // VERSION, GET_UNIQUE, GET_MAGIC, GET_CLIENT, GET_CAP
        0xA0, 0xA1, 0xA4, 0xA6, 0xA7, 0xAA, 0xAC,       // GETRESOURCES, GETCRTC, GETGAMMA, GETENCODER, GETCONNECTOR, GETPROPERTY, GETPROPBLOB
        0xB5, 0xB6, 0xB9, 0xAD, 0xCE,                   // GETPLANERESOURCES, GETPLANE, OBJ_GETPROPERTIES, GETFB, GETFB2
        0x3A, 0x3B, 0x3C,                               // WAIT_VBLANK, CRTC_GET_SEQUENCE, CRTC_QUEUE_SEQUENCE
        0xB2, 0xB3,                                     // CREATE_DUMB, MAP_DUMB
        0xBC,                                           // ATOMIC (TEST_ONLY)
    ]

    static let table: [Int: Entry] = {
        var t = CodecTable()
        IdentityHandlers.register(&t)
        ModeHandlers.register(&t)
        BufferHandlers.register(&t)
        AtomicHandlers.register(&t)
        SyncobjHandlers.register(&t)
        VgemHandlers.register(&t)
        for nr in snapshotNeutral { t.entries[nr]?.keepsSnapshots = true }
        return t.entries
    }()

    /// `table` indexed by nr: dispatch without hashing.
    static let dispatch: [Entry?] = (0..<256).map { table[$0] }

    /// The nr values dispatched, for docs and fuzzing.
    public static var knownNumbers: [UInt8] { table.keys.sorted().map { UInt8($0) } }
    public static func kernelSize(nr: UInt8) -> Int? { dispatch[Int(nr)]?.size }
}

struct CodecTable {
    var entries: [Int: UAPICodec.Entry] = [:]
    mutating func add<S: UAPIStruct>(_ nr: Int, _ name: String, _ s: S.Type, _ flags: IoctlFlags = [], _ h: @escaping UAPICodec.Handler) {
        entries[nr] = UAPICodec.Entry(name: name, size: S.size, flags: flags, handler: h)
    }
    mutating func add(_ nr: Int, _ name: String, size: Int, _ flags: IoctlFlags = [], _ h: @escaping UAPICodec.Handler) {
        entries[nr] = UAPICodec.Entry(name: name, size: size, flags: flags, handler: h)
    }
}
