/// The "unrestricted ioctl" protocol of FUSE/CUSE as a pure state machine, so it can be tested
/// without a kernel that has CUSE. The CUSE front end takes this way only for callers whose
/// memory it cannot reach in place (InPlaceIoctl), or when told to (`--ioctl-retries`).
///
/// Under CUSE the daemon only gets the raw `arg` value of an ioctl. To see the caller's memory it
/// answers "retry with these spans copied in and these spans ready to be copied out"
/// (`fuse_reply_ioctl_retry`); the kernel then re-issues the same ioctl with the spans' contents.
/// Each retry is a full round trip (≈ the cost of the ioctl itself), so the planner asks for
/// everything it can foresee at once:
///   1. first call: only the struct (its size and direction come from the request number);
///   2. the handler runs against what was fetched; every span it misses is recorded. Reads of a
///      missing span throw (handlers read their input before they change anything, so nothing
///      has happened yet), writes to a missing span are recorded and the handler goes on, so every
///      array a GET ioctl fills is discovered in the same pass. Per-ioctl hints add the arrays a
///      handler would read next (atomic: objs + count_props, then props + values);
///   3. one retry with all of them, then the handler runs again for real.
/// Invariant relied on (true of every handler in UAPI/): a handler never writes client memory
/// after a side effect it could not repeat, except the fd-returning paths, which fail under CUSE
/// before they write (see CuseFiles).

/// A span of the caller's address space.
public struct ClientSpan: Hashable, Sendable, CustomStringConvertible {
    public let address: UInt64
    public let count: Int
    public init(address: UInt64, count: Int) {
        self.address = address
        self.count = count
    }
    var end: UInt64 { address &+ UInt64(count) }
    public var description: String { "0x\(String(address, radix: 16))+\(count)" }
}

/// What the planner remembers between the rounds of one ioctl.
public struct IoctlRetryPlan: Sendable {
    public let request: UInt32
    public let arg: UInt64
    /// Spans fetched after the struct, sorted and disjoint, in the order the kernel copies them.
    var spans: [ClientSpan]
    /// Indices into `spans` that are also copied back (after the struct).
    var outSpans: [Int]
    var passes: Int
    /// The handler already ran to completion in the pass that asked for this retry (it only
    /// missed spans it writes): its result, struct and writes, replayed on the retry's data
    /// instead of running it again.
    var completed: Completed?

    struct Completed: Sendable {
        let errno: Int32
        let structOut: [UInt8]
        let writes: [SpanWrite]
    }

    var req: IoctlRequest { IoctlRequest(request) }
    var structSpan: ClientSpan { ClientSpan(address: arg, count: req.size) }
    var needsStruct: Bool { req.size > 0 && (req.copiesIn || req.copiesOut) }

    /// The in/out iovecs of the retry that carries this plan.
    public var input: [ClientSpan] { (needsStruct && req.copiesIn ? [structSpan] : []) + spans }
    public var output: [ClientSpan] { (needsStruct && req.copiesOut ? [structSpan] : []) + outSpans.map { spans[$0] } }
    public var inputSize: Int {
        spans.reduce(needsStruct && req.copiesIn ? req.size : 0) { $0 + $1.count }
    }
    public var outputSize: Int {
        outSpans.reduce(needsStruct && req.copiesOut ? req.size : 0) { $0 + spans[$1].count }
    }
    /// The input iovecs' spans in order, without building an array.
    public func forEachInput(_ body: (ClientSpan) -> Void) {
        if needsStruct && req.copiesIn { body(structSpan) }
        for s in spans { body(s) }
    }
    public func forEachOutput(_ body: (ClientSpan) -> Void) {
        if needsStruct && req.copiesOut { body(structSpan) }
        for i in outSpans { body(spans[i]) }
    }
    public var spanCounts: (input: Int, output: Int) {
        (spans.count + (needsStruct && req.copiesIn ? 1 : 0), outSpans.count + (needsStruct && req.copiesOut ? 1 : 0))
    }
}

public enum IoctlRetryStep: Sendable {
    /// Answer with fuse_reply_ioctl_retry(plan.input, plan.output) and keep the plan.
    case retry(IoctlRetryPlan)
    /// Answer with fuse_reply_ioctl(result, bytes): result 0 or -errno; `bytes` fill the
    /// output spans of the last retry in order (the kernel copies them even on failure, as
    /// drm_ioctl copies the struct back whatever the handler returned).
    case reply(result: Int32, bytes: [UInt8])
    /// Answer with fuse_reply_err(errno): nothing is copied back.
    case fail(errno: Int32)
}

public enum IoctlRetry {
    /// Per direction, per ioctl: FUSE_DEFAULT_MAX_PAGES_PER_REQ (32) pages in kernel 6.1.
    public static let maxTransfer = 32 * 4096
    /// FUSE_IOCTL_MAX_IOV.
    public static let maxSpans = 256
    /// Each retry discovers at least one new level of pointers; DRM structs have two at most,
    /// so more passes than this means a bug or a hostile caller: EIO rather than looping.
    public static let maxPasses = 6

    /// The first call (CUSE gives no data yet), or a retry whose data does not match the plan
    /// (a stale plan of a killed caller): start from the request number alone.
    public static func start(request: UInt32, arg: UInt64, device: Device, file: FileContext, files: ClientFiles) -> IoctlRetryStep {
        let req = IoctlRequest(request)
        // Unknown ioctls fail before the kernel's drm_ioctl touches memory: no round trip,
        // and a junk pointer does not turn EINVAL/ENOTTY into EFAULT.
        guard req.type == IoctlRequest.drmType else { return .fail(errno: DRMError.notTTY.errno) }
        guard UAPICodec.kernelSize(nr: req.nr) != nil else { return .fail(errno: DRMError.invalidArgument.errno) }
        let plan = IoctlRetryPlan(request: request, arg: arg, spans: [], outSpans: [], passes: 0, completed: nil)
        guard plan.needsStruct else {
            // _IO requests carry nothing: run now (a retry with no spans would come back
            // looking like a first call and loop).
            return resume(plan, input: [], outputSize: 0, device: device, file: file, files: files)
        }
        if arg &+ UInt64(req.size) < arg { return .fail(errno: DRMError.badAddress.errno) }
        return .retry(plan)
    }

    /// One ioctl request as CUSE delivers it: `previous` is the plan the last round of the same
    /// (thread, request, arg) left, `input` the data the kernel copied for it.
    public static func round(_ previous: IoctlRetryPlan?, request: UInt32, arg: UInt64, input: UnsafeRawBufferPointer, outputSize: Int,
                             device: Device, file: FileContext, files: ClientFiles) -> IoctlRetryStep {
        // A first call carries no data; then a leftover plan is stale.
        guard let previous, !input.isEmpty || outputSize != 0 else {
            return start(request: request, arg: arg, device: device, file: file, files: files)
        }
        return resume(previous, input: input, outputSize: outputSize, device: device, file: file, files: files)
    }

    public static func resume(_ plan: IoctlRetryPlan, input: [UInt8], outputSize: Int, device: Device, file: FileContext, files: ClientFiles) -> IoctlRetryStep {
        input.withUnsafeBytes { resume(plan, input: $0, outputSize: outputSize, device: device, file: file, files: files) }
    }

    /// Runs the handler against the data of a retry. `input` is the concatenation of the
    /// plan's input spans as the kernel copied them.
    public static func resume(_ plan: IoctlRetryPlan, input: UnsafeRawBufferPointer, outputSize: Int, device: Device, file: FileContext, files: ClientFiles) -> IoctlRetryStep {
        guard input.count == plan.inputSize, outputSize == plan.outputSize else {
            return start(request: plan.request, arg: plan.arg, device: device, file: file, files: files)
        }
        let req = plan.req
        let structIn = plan.needsStruct && req.copiesIn ? req.size : 0
        let memory = SpanMemory(spans: plan.spans, data: UnsafeRawBufferPointer(rebasing: input[structIn...]))
        let structInput = UnsafeRawBufferPointer(rebasing: input[0..<structIn])
        if let done = plan.completed, memory.replay(done.writes) {
            return .reply(result: -done.errno, bytes: replyBytes(plan, done.structOut, memory))
        }
        // The codec works in this buffer: on return it holds the struct the kernel copies back.
        var arg: [UInt8] = structIn > 0 ? .copying(raw: structInput) : []
        let errno = UAPICodec.ioctl(device, file, request: plan.request, arg: &arg, env: ClientEnv(memory: memory, files: files), firstPass: plan.passes == 0)
        guard memory.isIncomplete || memory.wroteOutside(plan.outSpans) else {
            return .reply(result: -errno, bytes: replyBytes(plan, arg, memory))
        }

        var next = plan
        next.passes += 1
        next.completed = nil
        guard next.passes < maxPasses else { return .fail(errno: DRMError.io.errno) }
        let missedRead = memory.missing.contains { !$0.isWrite }
        var wanted: [ClientSpan] = []
        wanted.reserveCapacity(plan.spans.count + memory.missing.count + 4)
        wanted += plan.spans
        for m in memory.missing { wanted.append(m.span) }
        if missedRead {
            // The struct as the caller passed it (`arg` now holds what the handler left).
            hints(nr: req.nr, arg: ArgBuffer(.copying(raw: structInput)), memory: memory, into: &wanted)
        }
        next.spans = merge(wanted)
        // Copy back every span that was (or is about to be) written; the rest only flows in.
        var outSpans: [Int] = []
        for (i, s) in next.spans.enumerated() where memory.wrote(overlapping: s) || plan.outSpans.contains(where: { overlaps(plan.spans[$0], s) }) {
            outSpans.append(i)
        }
        next.outSpans = outSpans
        let counts = next.spanCounts
        guard counts.input + counts.output <= maxSpans,
              next.inputSize <= maxTransfer, next.outputSize <= maxTransfer
        else {
            // The kernel would copy any size; a FUSE request cannot. Documented in docs/cuse.md.
            return .fail(errno: DRMError.noMemory.errno)
        }
        // Only writes missed: the handler finished (it reads before it changes anything),
        // so the retry only has to carry its output to the caller.
        if !missedRead {
            next.completed = .init(errno: errno, structOut: arg, writes: memory.log)
        }
        return .retry(next)
    }

    /// The struct (zero-extended to the caller's size) then every output span, in the order
    /// of the retry's out iovecs.
    static func replyBytes(_ plan: IoctlRetryPlan, _ structOut: [UInt8], _ memory: SpanMemory) -> [UInt8] {
        let req = plan.req
        let structSize = plan.needsStruct && req.copiesOut ? req.size : 0
        // The common case: the struct alone, already the caller's size.
        if plan.outSpans.isEmpty && structOut.count == structSize { return structOut }
        // One buffer of the reply's size, each part copied into place.
        var out = [UInt8].zeroed(plan.outputSize)
        out.withUnsafeMutableBytes { dst in
            structOut.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: dst[0..<min($0.count, structSize)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<min($0.count, structSize)])) }
            var at = structSize
            for i in plan.outSpans { at += memory.copy(span: i, to: UnsafeMutableRawBufferPointer(rebasing: dst[at...])) }
        }
        return out
    }

    /// Arrays a handler reads one after another: fetching them together saves a round trip
    /// each. Only spans whose length the already-fetched data determines are named.
    static func hints(nr: UInt8, arg a: ArgBuffer, memory: SpanMemory, into out: inout [ClientSpan]) {
        // Appended one by one: an array literal of optionals allocates through the runtime.
        func add(_ address: UInt64, _ count: UInt32, _ size: Int) {
            let (n, o) = Int(count).multipliedReportingOverflow(by: size)
            guard !o, n > 0, n <= maxTransfer, address &+ UInt64(n) > address else { return }
            out.append(ClientSpan(address: address, count: n))
        }
        switch nr {
        case 0xBC where a.bytes.count >= AtomicArg.size:  // MODE_ATOMIC
            let c = AtomicArg.self
            let n = a[c.countObjs]
            add(a[c.objsPtr], n, 4)
            add(a[c.countPropsPtr], n, 4)
            if Int(n) <= maxTransfer / 4, let total = memory.sumU32s(ClientSpan(address: a[c.countPropsPtr], count: Int(n) * 4)) {
                if total <= UInt64(UInt32.max) {
                    add(a[c.propsPtr], UInt32(total), 4)
                    add(a[c.propValuesPtr], UInt32(total), 8)
                }
            }
        case 0xA5 where a.bytes.count >= CrtcLutArg.size:  // MODE_SETGAMMA
            let l = CrtcLutArg.self
            let n = a[l.gammaSize]
            add(a[l.red], n, 2)
            add(a[l.green], n, 2)
            add(a[l.blue], n, 2)
        case 0xCA where a.bytes.count >= SyncobjTimelineWaitArg.size:  // SYNCOBJ_TIMELINE_WAIT
            let w = SyncobjTimelineWaitArg.self
            add(a[w.handles], a[w.countHandles], 4)
            add(a[w.points], a[w.countHandles], 8)
        case 0xCB, 0xCD:  // SYNCOBJ_QUERY (points written), SYNCOBJ_TIMELINE_SIGNAL (points read)
            guard a.bytes.count >= SyncobjTimelineArrayArg.size else { return }
            let x = SyncobjTimelineArrayArg.self
            add(a[x.handles], a[x.countHandles], 4)
            add(a[x.points], a[x.countHandles], 8)
        default:
            return
        }
    }

    static func overlaps(_ a: ClientSpan, _ b: ClientSpan) -> Bool { a.address < b.end && b.address < a.end }

    /// Sorted, disjoint spans covering every input span (touching spans are joined: one iovec
    /// is cheaper than two).
    static func merge(_ spans: [ClientSpan]) -> [ClientSpan] {
        // Sorted and joined in one copy of the input (a few spans: insertion sort; sorted(by:),
        // filter and appends to a fresh array would allocate again and again).
        var out = spans
        for r in out.indices.dropFirst() {
            var i = r
            while i > 0 && out[i - 1].address > out[i].address {
                out.swapAt(i - 1, i)
                i -= 1
            }
        }
        var kept = 0
        for r in out.indices where out[r].count > 0 {
            let b = out[r]
            if kept > 0, b.address <= out[kept - 1].end {
                let a = out[kept - 1]
                out[kept - 1] = ClientSpan(address: a.address, count: Int(max(a.end, b.end) - a.address))
            } else {
                out[kept] = b
                kept += 1
            }
        }
        out.removeLast(out.count - kept)
        return out
    }
}

/// One write of a handler to client memory (a struct, not a tuple: arrays of tuples are
/// destroyed through the runtime's generic tuple witnesses).
struct SpanWrite: Sendable {
    let address: UInt64
    let bytes: [UInt8]
}

/// Client memory made of the spans a retry fetched; records what the handler missed.
final class SpanMemory: ClientMemory {
    struct Miss {
        let span: ClientSpan
        let isWrite: Bool
    }
    /// The plan's spans, sorted and disjoint; their bytes one after another in `data`.
    private let spans: [ClientSpan]
    private var data: [UInt8]
    /// Per span: 1 once the handler wrote into it; empty until the first write (most ioctls
    /// make none). Bytes rather than Bools: `Array.zeroed` allocates the fast way.
    private var written: [UInt8] = []
    private(set) var missing: [Miss] = []
    /// Every write the handler made, in order (fetched or missed).
    private(set) var log: [SpanWrite] = []
    var isIncomplete: Bool { !missing.isEmpty }

    /// `data`: the spans' contents in order, as the kernel copied them.
    init(spans: [ClientSpan], data: UnsafeRawBufferPointer) {
        self.spans = spans
        self.data = data.isEmpty ? [] : .copying(raw: data)
    }

    /// The span holding `count` bytes at `address` and where they are in `data`.
    private func locate(_ address: UInt64, _ count: Int) -> (span: Int, at: Int)? {
        var start = 0
        for (i, s) in spans.enumerated() {
            if address >= s.address && address - s.address <= UInt64(s.count) {
                let o = Int(address - s.address)
                if count <= s.count - o { return (i, start + o) }
            }
            start += s.count
        }
        return nil
    }

    func read(at address: UInt64, count: Int) throws(DRMError) -> [UInt8] {
        if count == 0 { return [] }
        let at = try locateRead(address, count)
        return .copying(data[at..<at + count])
    }

    func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DRMError) {
        let count = buffer.count
        if count == 0 { return }
        let at = try locateRead(address, count)
        data.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[at..<at + count])) }
    }

    /// Where in `data` a read of `count` (> 0) bytes is; a read outside the fetched spans is
    /// recorded as missed and faults.
    private func locateRead(_ address: UInt64, _ count: Int) throws(DRMError) -> Int {
        guard count > 0, address &+ UInt64(count) > address else { throw .badAddress }
        guard let found = locate(address, count) else {
            miss(ClientSpan(address: address, count: count), isWrite: false)
            throw .badAddress
        }
        return found.at
    }

    func write(_ bytes: [UInt8], at address: UInt64) throws(DRMError) {
        if bytes.isEmpty { return }
        guard address &+ UInt64(bytes.count) > address else { throw .badAddress }
        // Room for a few at once: appending to an empty array grows it one element at a time.
        if log.isEmpty { log.reserveCapacity(8) }
        log.append(SpanWrite(address: address, bytes: bytes))
        guard let (i, at) = locate(address, bytes.count) else {
            miss(ClientSpan(address: address, count: bytes.count), isWrite: true)
            return
        }
        store(bytes, span: i, at: at)
    }

    private func miss(_ span: ClientSpan, isWrite: Bool) {
        if missing.isEmpty { missing.reserveCapacity(8) }
        missing.append(Miss(span: span, isWrite: isWrite))
    }

    private func store(_ bytes: [UInt8], span i: Int, at: Int) {
        data.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: dst[at..<at + $0.count]).copyMemory(from: $0) }
        }
        if written.isEmpty { written = .zeroed(spans.count) }
        written[i] = 1
    }

    /// Applies a finished pass's writes to the fetched spans; false when one falls outside
    /// them (the caller then runs the handler again).
    func replay(_ writes: [SpanWrite]) -> Bool {
        // All or nothing: checked first, then applied (a second search costs less than an array).
        guard writes.allSatisfy({ locate($0.address, $0.bytes.count) != nil }) else { return false }
        for w in writes {
            guard let t = locate(w.address, w.bytes.count) else { return false }
            store(w.bytes, span: t.span, at: t.at)
        }
        return true
    }

    private func wasWritten(_ i: Int) -> Bool { !written.isEmpty && written[i] != 0 }
    /// The handler wrote into `s`, fetched or not.
    func wrote(overlapping s: ClientSpan) -> Bool {
        missing.contains { $0.isWrite && IoctlRetry.overlaps($0.span, s) } || spans.indices.contains { wasWritten($0) && IoctlRetry.overlaps(spans[$0], s) }
    }
    /// A fetched span was written that the plan does not copy back.
    func wroteOutside(_ declared: [Int]) -> Bool { spans.indices.contains { wasWritten($0) && !declared.contains($0) } }

    /// Copies span `i`'s bytes (as the handler left them) to the start of `out`; returns their count.
    func copy(span i: Int, to out: UnsafeMutableRawBufferPointer) -> Int {
        var start = 0
        for s in spans[..<i] { start += s.count }
        let n = spans[i].count
        data.withUnsafeBytes { src in UnsafeMutableRawBufferPointer(rebasing: out[0..<n]).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<start + n])) }
        return n
    }

    /// The sum of the little-endian u32s of a span if it was fetched, without recording a miss.
    func sumU32s(_ span: ClientSpan) -> UInt64? {
        guard span.count > 0, let (_, at) = locate(span.address, span.count) else { return nil }
        return data.withUnsafeBytes { b in
            (0..<span.count / 4).reduce(UInt64(0)) { $0 + UInt64(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at + $1 * 4, as: UInt32.self))) }
        }
    }
}
