import Testing
@testable import FakeDRM

/// The CUSE retry planner against a simulated kernel: the caller's memory is the client's
/// FakeAddressSpace, each retry copies the planned spans in, the final reply is scattered over
/// the planned output spans, exactly as fs/fuse/file.c fuse_do_ioctl does.
@Suite struct IoctlRetryTests {
    /// Returns (result errno, number of retries). `arg` is updated as the caller would see it.
    static func cuseIoctl(_ c: DirectClient, _ request: UInt32, _ arg: inout [UInt8]) -> (Int32, Int) {
        let address = arg.isEmpty ? 0 : c.memory.map(arg)
        var step = IoctlRetry.start(request: request, arg: address, device: c.device, file: c.file, files: c.files)
        var retries = 0
        var lastOutput: [ClientSpan] = []
        while true {
            switch step {
            case .retry(let plan):
                retries += 1
                if retries > 10 { return (-1, retries) }
                var input: [UInt8] = []
                for s in plan.input {
                    // The kernel's copy_from_user of an iovec: a bad span fails the ioctl.
                    guard let b = c.memory.bytes(at: s.address, count: s.count) else { return (14, retries) }
                    input += b
                }
                lastOutput = plan.output
                step = IoctlRetry.resume(plan, input: input, outputSize: plan.outputSize, device: c.device, file: c.file, files: c.files)
            case .reply(let result, let bytes):
                var o = 0
                for s in lastOutput {
                    guard o + s.count <= bytes.count else { break }
                    try? c.memory.write(Array(bytes[o..<o + s.count]), at: s.address)
                    o += s.count
                }
                if address != 0, let back = c.memory.bytes(at: address, count: arg.count) { arg = back }
                return (-result, retries)
            case .fail(let errno):
                return (errno, retries)
            }
        }
    }

    @Test func getCapTakesOneRetry() throws {
        let c = try DirectClient(device: try makeDevice())
        var a = LE.bytes([UInt64(1), 0])  // DRM_CAP_DUMB_BUFFER
        let (e, retries) = Self.cuseIoctl(c, req(0x0C, 16), &a)
        #expect(e == 0 && retries == 1)
        #expect(LE.u64s(a)[1] == 1)
    }

    @Test func filledGetResourcesFetchesAllArraysInOneRetry() throws {
        let c = try DirectClient(device: try makeDevice())
        var a = [UInt8](repeating: 0, count: 64)
        #expect(Self.cuseIoctl(c, req(0xA0, 64), &a).0 == 0)
        let counts = LE.u32s(Array(a[32..<48]))
        let bufs = counts.map { c.memory.alloc(Int($0) * 4) }
        var filled = LE.bytes(bufs) + LE.bytes(counts) + [UInt8](repeating: 0, count: 16)
        let (e, retries) = Self.cuseIoctl(c, req(0xA0, 64), &filled)
        #expect(e == 0)
        #expect(retries == 2, "struct, then every array at once")
        let crtcs = LE.u32s(c.memory.bytes(at: bufs[1], count: Int(counts[1]) * 4) ?? [])
        #expect(crtcs == c.device.objects.resources(c.file).crtcs)
        let conns = LE.u32s(c.memory.bytes(at: bufs[2], count: Int(counts[2]) * 4) ?? [])
        #expect(conns == c.device.objects.resources(c.file).connectors)
    }

    @Test func finishedPassIsReplayedNotRerun() throws {
        let c = try DirectClient(device: try makeDevice())
        var a = [UInt8](repeating: 0, count: 64)
        #expect(Self.cuseIoctl(c, req(0xA0, 64), &a).0 == 0)
        let counts = LE.u32s(Array(a[32..<48]))
        let bufs = counts.map { c.memory.alloc(Int($0) * 4) }
        let address = c.memory.map(LE.bytes(bufs) + LE.bytes(counts) + [UInt8](repeating: 0, count: 16))
        guard case .retry(let first) = IoctlRetry.start(request: req(0xA0, 64), arg: address, device: c.device, file: c.file, files: c.files),
              case .retry(let second) = IoctlRetry.resume(first, input: c.memory.bytes(at: address, count: 64) ?? [], outputSize: 64,
                                                          device: c.device, file: c.file, files: c.files)
        else { Issue.record("no retries"); return }
        // The handler only missed the arrays it fills: it finished, its output is kept.
        #expect(second.completed != nil)
        var input: [UInt8] = []
        for s in second.input { input += c.memory.bytes(at: s.address, count: s.count) ?? [] }
        guard case .reply(let result, let bytes) = IoctlRetry.resume(second, input: input, outputSize: second.outputSize,
                                                                     device: c.device, file: c.file, files: c.files)
        else { Issue.record("no reply"); return }
        #expect(result == 0 && bytes.count == second.outputSize)
        // The CRTC ids follow the struct and the fb array in the out iovecs' order.
        let spans = second.output
        var o = 0
        for s in spans {
            if s.address == bufs[1] { #expect(LE.u32s(Array(bytes[o..<o + s.count])) == c.device.objects.resources(c.file).crtcs) }
            o += s.count
        }
    }

    @Test func atomicTestOnlyTakesThreeRetriesAndMatchesDirect() throws {
        let c = try DirectClient(device: try makeDevice())
        c.setClientCap(3, 1)  // ATOMIC
        var (objs, counts, props, values) = try c.modesetArrays()
        let flags = DRMConst.atomicAllowModeset | 0x100  // TEST_ONLY
        var a = LE.bytes([flags, UInt32(objs.count)]) + LE.bytes([c.memory.map(LE.bytes(objs)), c.memory.map(LE.bytes(counts)),
                                                                  c.memory.map(LE.bytes(props)), c.memory.map(LE.bytes(values)), 0, 0])
        let (e, retries) = Self.cuseIoctl(c, req(0xBC, 56), &a)
        #expect(e == 0)
        #expect(retries == 3, "struct; objs + count_props; props + values")
        // A wrong property id fails the same way through both paths.
        props[0] = 0xdead
        var bad = LE.bytes([flags, UInt32(objs.count)]) + LE.bytes([c.memory.map(LE.bytes(objs)), c.memory.map(LE.bytes(counts)),
                                                                    c.memory.map(LE.bytes(props)), c.memory.map(LE.bytes(values)), 0, 0])
        var direct = bad
        #expect(Self.cuseIoctl(c, req(0xBC, 56), &bad).0 == c.ioctl(req(0xBC, 56), &direct))
    }

    @Test func badPointersAndUnknownRequests() throws {
        let c = try DirectClient(device: try makeDevice())
        // A fill pointer into nowhere: the kernel's copy of the retry's iovec gives EFAULT.
        var a = LE.bytes([UInt64(0), 0x10, 0, 0]) + LE.bytes([UInt32(0), 1, 0, 0]) + [UInt8](repeating: 0, count: 16)
        #expect(Self.cuseIoctl(c, req(0xA0, 64), &a).0 == 14)
        // Unknown driver ioctl and foreign type: no round trip at all.
        var x = [UInt8](repeating: 0, count: 16)
        #expect(Self.cuseIoctl(c, req(0x9F, 16), &x) == (22, 0))
        #expect(Self.cuseIoctl(c, IoctlRequest(dir: 3, type: 0x55, nr: 1, size: 16).raw, &x) == (25, 0))
        // Lying counts larger than a FUSE request can carry: ENOMEM, no crash.
        var setcrtc = LE.bytes([c.memory.alloc(4)]) + LE.bytes([UInt32(0x4000_0000), 1]) + [UInt8](repeating: 0, count: 88)
        let r = Self.cuseIoctl(c, req(0xA2, 104), &setcrtc).0
        #expect(r != 0)
    }

    @Test func staleOrMismatchedRetryStartsOver() throws {
        let c = try DirectClient(device: try makeDevice())
        let address = c.memory.map(LE.bytes([UInt64(1), 0]))
        guard case .retry(let plan) = IoctlRetry.start(request: req(0x0C, 16), arg: address, device: c.device, file: c.file, files: c.files) else {
            Issue.record("no retry"); return
        }
        // Data of the wrong size (a killed caller's plan reused): ask again for the struct.
        guard case .retry(let again) = IoctlRetry.resume(plan, input: [1, 2, 3], outputSize: 16, device: c.device, file: c.file, files: c.files) else {
            Issue.record("no restart"); return
        }
        #expect(again.input == [ClientSpan(address: address, count: 16)])
    }

    @Test func mergeJoinsOverlappingAndTouchingSpans() {
        let m = IoctlRetry.merge([ClientSpan(address: 100, count: 10), ClientSpan(address: 50, count: 50), ClientSpan(address: 105, count: 20), ClientSpan(address: 200, count: 0)])
        #expect(m == [ClientSpan(address: 50, count: 75)])
        // Unsorted, disjoint, an empty one between: sorted, only the touching pair joined.
        let d = IoctlRetry.merge([ClientSpan(address: 300, count: 4), ClientSpan(address: 0, count: 0), ClientSpan(address: 10, count: 2),
                                  ClientSpan(address: 12, count: 4), ClientSpan(address: 100, count: 8)])
        #expect(d == [ClientSpan(address: 10, count: 6), ClientSpan(address: 100, count: 8), ClientSpan(address: 300, count: 4)])
        #expect(IoctlRetry.merge([]).isEmpty && IoctlRetry.merge([ClientSpan(address: 5, count: 0)]).isEmpty)
    }

    /// The front end's plan table: a retry finds the plan of its own thread, request and arg
    /// only, and takes it (a second retry of the same key starts over).
    @Test func pendingRetriesAreKeyedByThreadRequestAndArg() throws {
        let c = try DirectClient(device: try makeDevice())
        func plan(_ request: UInt32, _ arg: UInt64) throws -> IoctlRetryPlan {
            guard case .retry(let p) = IoctlRetry.start(request: request, arg: arg, device: c.device, file: c.file, files: c.files) else {
                throw DRMError.invalidArgument
            }
            return p
        }
        var table = PendingRetries()
        table.put(try plan(req(0x0C, 16), 0x1000), tid: 7)
        table.put(try plan(req(0x0C, 16), 0x2000), tid: 7)
        table.put(try plan(req(0xA0, 64), 0x1000), tid: 8)
        #expect(table.take(tid: 8, request: req(0x0C, 16), arg: 0x1000) == nil, "another thread's key")
        #expect(table.take(tid: 7, request: req(0xA0, 64), arg: 0x1000) == nil, "another request")
        #expect(table.take(tid: 7, request: req(0x0C, 16), arg: 0x1000)?.arg == 0x1000)
        #expect(table.take(tid: 7, request: req(0x0C, 16), arg: 0x1000) == nil, "taken once")
        #expect(table.take(tid: 8, request: req(0xA0, 64), arg: 0x1000)?.request == req(0xA0, 64))
        #expect(table.take(tid: 7, request: req(0x0C, 16), arg: 0x2000)?.arg == 0x2000)
        #expect(table.isEmpty)
    }
}
