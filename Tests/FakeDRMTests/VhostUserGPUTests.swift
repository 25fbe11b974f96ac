import CFakeDRMSys
import Foundation
import Glibc
import Testing
@testable import FakeDRM

let vhostUserGPUBinary = VhostUserTransport.defaultBinary
let haveVhostUserGPU = FileManager.default.isExecutableFile(atPath: vhostUserGPUBinary)

/// A card whose display is a virtio-gpu device (loopback or the real vhost-user-gpu).
final class VirtioRig {
    let backend: VirtioGPUBackend
    let device: Device
    let client: DirectClient
    let loopback: LoopbackTransport?
    let vhost: VhostUserTransport?

    init(real: Bool, width: Int, height: Int, maxRegions: Int = 32, timeoutMs: Int = 5000, sink: HostWindowSink? = nil) throws {
        let transport: VirtioTransport
        if real {
            let t = VhostUserTransport(endpoint: .spawn(binary: vhostUserGPUBinary), timeoutMs: timeoutMs)
            vhost = t; loopback = nil; transport = t
        } else {
            let t = LoopbackTransport(maxRegions: maxRegions)
            loopback = t; vhost = nil; transport = t
        }
        let display = VirtioDisplay(outputs: [(width, height)])
        display.setSink(sink)
        backend = try VirtioGPUBackend(transport: transport, display: display, timeoutMs: timeoutMs)
        try backend.start()
        device = try Device(config: DeviceConfig(), backend: backend, virtualTime: true)
        backend.waitIdle()  // connector modes from GET_DISPLAY_INFO are in
        client = try DirectClient(device: device)
        client.setClientCap(DRMConst.clientCapAtomic, 1)
    }

    deinit {
        backend.shutdown()
        device.shutdown()
    }

    /// A dumb-buffer fb filled with a seeded pattern (the X/A byte varies too).
    func fb(_ w: Int, _ h: Int, seed: UInt32, format: UInt32 = 0x3432_5258) throws -> (fb: UInt32, bo: BufferObject, pitch: Int) {
        let b = try device.buffers.createDumb(client.file, width: UInt32(w), height: UInt32(h), bpp: 32)
        let fb = try device.buffers.addFramebuffer(client.file, .init(width: UInt32(w), height: UInt32(h), format: format, flags: 0, handles: [b.handle, 0, 0, 0],
                                                              pitches: [b.pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0]))
        let bo = try #require(device.lock.withLock { client.file.handles[b.handle] })
        paint(bo, w, h, Int(b.pitch), seed: seed, premultiplied: format == 0x3432_5241)
        return (fb, bo, Int(b.pitch))
    }

    func paint(_ bo: BufferObject, _ w: Int, _ h: Int, _ pitch: Int, seed: UInt32, premultiplied: Bool = false) {
        for y in 0..<h {
            let row = (bo.memory.base + y * pitch).assumingMemoryBound(to: UInt32.self)
            for x in 0..<w {
                var v = (UInt32(x) &* 2654435761) ^ (UInt32(y) &* 40503) ^ seed
                if premultiplied {
                    let a = (v >> 24) & 0xff
                    let ch = { (s: UInt32) in min((v >> s) & 0xff, a) }
                    v = a << 24 | ch(16) << 16 | ch(8) << 8 | ch(0)
                }
                row[x] = v
            }
        }
    }

    /// Waits for `count` DRM events (flip completions arrive from the backend's thread).
    func events(_ count: Int = 1, timeoutMs: Int = 5000) -> [[UInt8]] {
        var got: [[UInt8]] = []
        let deadline = Monotonic.nowNs() + Int64(timeoutMs) * 1_000_000
        while got.count < count, Monotonic.nowNs() < deadline {
            got += client.events()
            if got.count < count { usleep(500) }
        }
        return got
    }

    func syncFile(_ ptr: UInt64) -> SyncFile? {
        client.files.syncFile(fd: Int32(bitPattern: LE.u32s(client.memory.bytes(at: ptr, count: 4) ?? [0])[0]))
    }

    func modeset(_ fb: UInt32, extra: [(String, UInt64)] = [], cursor: (fb: UInt32, x: Int32, y: Int32)? = nil) throws -> Int32 {
        let c = client
        let mode = try device.objects.connectorInfo(c.file, c.connectorID).modes[0]
        let blob = try c.modeBlob(mode)
        var objs: [(UInt32, [(String, UInt64)])] = [
            (c.connectorID, [("CRTC_ID", UInt64(c.crtcID))]),
            (c.crtcID, [("MODE_ID", UInt64(blob)), ("ACTIVE", 1)] + extra),
            (c.plane(.primary), c.planeProps(fb: fb, w: UInt32(mode.hdisplay), h: UInt32(mode.vdisplay))),
        ]
        if let cursor { objs.append((c.plane(.cursor), c.planeProps(fb: cursor.fb, w: 64, h: 64, x: cursor.x, y: cursor.y))) }
        return c.atomic(DRMConst.atomicAllowModeset | DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent, objs)
    }

    func flip(_ fb: UInt32, crtc: [(String, UInt64)] = [], cursor: (fb: UInt32, x: Int32, y: Int32)? = nil) -> Int32 {
        let c = client
        var objs: [(UInt32, [(String, UInt64)])] = [(c.plane(.primary), [("FB_ID", UInt64(fb))])]
        if !crtc.isEmpty { objs.append((c.crtcID, crtc)) }
        if let cursor { objs.append((c.plane(.cursor), c.planeProps(fb: cursor.fb, w: 64, h: 64, x: cursor.x, y: cursor.y))) }
        return c.atomic(DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent, objs)
    }

    /// The display's picture (frame + cursor) equals the card's composed latched frame.
    /// (A Bool so a mismatch does not print megabytes of pixels.)
    func showsLatched(on b: VirtioGPUBackend? = nil) -> Bool {
        let shown = (b ?? backend).display.frame(scanout: 0), want = device.pipeline.composeLatched()
        guard let shown, let want else { return false }
        if shown != want {
            let diff = zip(shown.pixels, want.pixels).enumerated().first { $0.element.0 != $0.element.1 }
            print("frame mismatch \(shown.width)x\(shown.height) vs \(want.width)x\(want.height), first diff at \(diff.map { "\($0.offset): \($0.element)" } ?? "size")")
            return false
        }
        return true
    }

    /// The bytes the display received equal the framebuffer's visible bytes, row by row.
    func displayMatches(_ bo: BufferObject, _ w: Int, _ h: Int, _ pitch: Int) -> Bool {
        guard let got = backend.display.scanoutBytes(0), got.count == w * h * 4 else { return false }
        return got.withUnsafeBytes { g in
            guard let base = g.baseAddress else { return false }
            return (0..<h).allSatisfy { y in memcmp(base + y * w * 4, bo.memory.base + y * pitch, w * 4) == 0 }
        }
    }
}

/// A host window (`--host-display`) that shows pictures only when the test says so.
final class HeldWindow: HostWindowSink, @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [(frame: Frame, shown: @Sendable () -> Void)] = []
    func show(scanout id: Int, frame: Frame, shown: @escaping @Sendable () -> Void) { lock.withLock { pending.append((frame, shown)) } }
    func hide(scanout id: Int) {}
    var count: Int { lock.withLock { pending.count } }
    /// Shows everything handed over so far; returns those pictures.
    func showAll() -> [Frame] {
        let p = lock.withLock { () -> [(frame: Frame, shown: @Sendable () -> Void)] in
            defer { pending = [] }
            return pending
        }
        for x in p { x.shown() }
        return p.map(\.frame)
    }
}

@Suite(.serialized) struct VirtioGPULoopbackTests {
    @Test func aHostWindowHoldsTheFlipUntilItShowedThePicture() throws {
        let window = HeldWindow()
        let rig = try VirtioRig(real: false, width: 64, height: 64, sink: window)
        let a = try rig.fb(64, 64, seed: 1), b = try rig.fb(64, 64, seed: 2)
        #expect(try rig.modeset(a.fb) == 0)
        #expect(rig.events(timeoutMs: 300).isEmpty)  // received, but not on the host yet
        #expect(window.count >= 1)
        let shown = window.showAll()
        #expect(rig.events().count == 1)
        #expect(shown.last == rig.backend.display.frame(scanout: 0))
        #expect(rig.showsLatched())
        #expect(rig.flip(b.fb) == 0)
        #expect(rig.events(timeoutMs: 300).isEmpty)
        #expect(window.showAll().last == rig.backend.display.frame(scanout: 0))
        #expect(rig.events().count == 1)
        #expect(rig.displayMatches(b.bo, 64, 64, b.pitch))
    }

    @Test func flipsShowTheBufferInPlaceWithFencedFlush() throws {
        let rig = try VirtioRig(real: false, width: 64, height: 64)
        let c = rig.client
        #expect(try rig.device.objects.connectorInfo(c.file, c.connectorID).modes.first.map { ($0.hdisplay, $0.vdisplay) } ?? (0, 0) == (64, 64))
        let a = try rig.fb(64, 64, seed: 1), b = try rig.fb(64, 64, seed: 2)
        #expect(try rig.modeset(a.fb) == 0)
        #expect(rig.events().count == 1)
        #expect(rig.displayMatches(a.bo, 64, 64, a.pitch))
        #expect(rig.showsLatched())
        #expect(rig.flip(b.fb) == 0)
        #expect(rig.events().count == 1)
        #expect(rig.displayMatches(b.bo, 64, 64, b.pitch))
        let log = try #require(rig.loopback).commandLog
        // display info, cursor resource, then per fb: create, attach, set_scanout, transfer, flush
        #expect(log.prefix(3) == [0x100, 0x101, 0x106])
        #expect(log.suffix(5) == [0x101, 0x106, 0x103, 0x105, 0x104])
        #expect(rig.backend.stats.frameCopies == 0 && rig.backend.stats.directFlips == 2)
    }

    @Test func composedPathForOverlaysCountsCopies() throws {
        let rig = try VirtioRig(real: false, width: 64, height: 64)
        let c = rig.client
        let a = try rig.fb(64, 64, seed: 3), o = try rig.fb(16, 16, seed: 4)
        #expect(try rig.modeset(a.fb) == 0)
        _ = rig.events()
        let overlay = c.device.lock.withLock { c.device.topology.planes.first { $0.type == .overlay }?.id ?? 0 }
        #expect(c.atomic(DRMConst.atomicNonblock | DRMConst.atomicPageFlipEvent, [(overlay, c.planeProps(fb: o.fb, w: 16, h: 16, x: 5, y: 7))]) == 0)
        #expect(rig.events().count == 1)
        #expect(rig.showsLatched())
        #expect(rig.backend.stats.composedFlips == 1 && rig.backend.stats.frameCopies == 2)
    }

    @Test func cursorGoesThroughTheCursorQueue() throws {
        let rig = try VirtioRig(real: false, width: 64, height: 64)
        let a = try rig.fb(64, 64, seed: 5), cur = try rig.fb(64, 64, seed: 6, format: 0x3432_5241)
        #expect(try rig.modeset(a.fb, cursor: (cur.fb, 10, 20)) == 0)
        #expect(rig.events().count == 1)
        #expect(rig.showsLatched())
        #expect(rig.flip(a.fb, cursor: (cur.fb, -5, 30)) == 0)  // move only
        #expect(rig.events().count == 1)
        #expect(rig.showsLatched())
        #expect(try #require(rig.loopback).commandLog.filter { $0 >= 0x300 } == [0x300, 0x301])
    }

    @Test func fewMemorySlotsFallBackToCopiesAndRecycle() throws {
        let rig = try VirtioRig(real: false, width: 64, height: 64, maxRegions: 3)
        var fbs: [(fb: UInt32, bo: BufferObject, pitch: Int)] = []
        for i in 0..<6 { fbs.append(try rig.fb(64, 64, seed: UInt32(10 + i))) }
        #expect(try rig.modeset(fbs[0].fb) == 0)
        _ = rig.events()
        for i in 1..<6 {
            #expect(rig.flip(fbs[i].fb) == 0)
            #expect(rig.events().count == 1)
            #expect(rig.showsLatched())  // composed frames carry X = 0xff, so compare pictures
        }
        rig.backend.waitIdle()
        #expect(try #require(rig.loopback).regionCount <= 3)
        #expect(rig.backend.stats.composedFlips > 0)
    }

    /// A failed flush or SET_SCANOUT produces no UPDATE: the flip completes on the fence, and
    /// later flips are not held up waiting for the missing UPDATE.
    @Test func failedCommandsDoNotWedgeLaterFlips() throws {
        let rig = try VirtioRig(real: false, width: 64, height: 64, timeoutMs: 1000)
        let a = try rig.fb(64, 64, seed: 20), b = try rig.fb(64, 64, seed: 21)
        let lb = try #require(rig.loopback)
        lb.fail(VirtioGPUWire.cmdResourceFlush)
        #expect(try rig.modeset(a.fb) == 0)
        #expect(rig.events().count == 1)
        lb.fail(VirtioGPUWire.cmdSetScanout)
        #expect(rig.flip(b.fb) == 0)
        #expect(rig.events().count == 1)
        #expect(rig.flip(a.fb) == 0)
        #expect(rig.events().count == 1)
        #expect(rig.displayMatches(a.bo, 64, 64, a.pitch))
        #expect(rig.backend.stats.commandErrors == 2)
        #expect(!rig.backend.isDead)
    }

    @Test func stalledDeviceTimesOutAndTheCardSurvives() throws {
        let rig = try VirtioRig(real: false, width: 64, height: 64, timeoutMs: 300)
        let a = try rig.fb(64, 64, seed: 7)
        try #require(rig.loopback).stall()
        let out = rig.client.memory.alloc(4)
        #expect(try rig.modeset(a.fb, extra: [("OUT_FENCE_PTR", out)]) == 0)
        #expect(rig.events(timeoutMs: 3000).count == 1)  // completed by backendLost
        #expect(rig.syncFile(out)?.status == -19)
        #expect(try rig.device.objects.connectorInfo(rig.client.file, rig.client.connectorID).connection == 2)
        #expect(rig.backend.stats.lostReason?.contains("stopped answering") == true)
    }

    @Test func deadDeviceIsReplacedWithoutRestartingTheCard() throws {
        let rig = try VirtioRig(real: false, width: 64, height: 64)
        let a = try rig.fb(64, 64, seed: 8)
        #expect(try rig.modeset(a.fb) == 0)
        _ = rig.events()
        try #require(rig.loopback).die()
        rig.loopback?.sync()    // the death report is queued to the backend...
        rig.backend.waitIdle()  // ...which tells the card
        #expect(try rig.device.objects.connectorInfo(rig.client.file, rig.client.connectorID).connection == 2)
        let fresh = try VirtioGPUBackend(transport: LoopbackTransport(), display: VirtioDisplay(outputs: [(64, 64)]))
        try fresh.start()
        rig.device.display.attach(fresh)
        fresh.waitIdle()
        #expect(try rig.device.objects.connectorInfo(rig.client.file, rig.client.connectorID).connection == 1)
        #expect(fresh.display.waitForUpdates(scanout: 0, atLeast: 1))  // repainted on attach
        #expect(rig.showsLatched(on: fresh))
        fresh.shutdown()
    }
}

/// Bounds checks on what a backend may send on the display socket.
@Suite struct VhostDisplaySocketTests {
    func feed(_ messages: [[UInt8]], closeAfter: Bool = true) -> (VirtioDisplay, [String?]) {
        var sv: [Int32] = [-1, -1]
        _ = cfd_socketpair_stream(&sv)
        let display = VirtioDisplay(outputs: [(8, 8)])
        let t = VhostUserTransport.displayReaderForTesting(displayFD: sv[0], display: display)
        var results: [String?] = []
        let wfd = sv[1]
        let finished = DispatchSemaphore(value: 0)
        let writer = Thread {
            for m in messages { _ = m.withUnsafeBytes { send(wfd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
            if closeAfter { shutdown(wfd, Int32(SHUT_WR)) }
            finished.signal()
        }
        writer.start()
        for _ in 0..<messages.count + 1 {
            let r = t.readDisplayMessage()
            results.append(r)
            if r != nil { break }
        }
        close(sv[0])  // unblocks a writer stuck on a message the reader gave up on
        finished.wait()
        close(wfd)
        return (display, results)
    }

    func msg(_ req: UInt32, _ payload: [UInt32], size: UInt32? = nil, extra: [UInt8] = []) -> [UInt8] {
        let body = LE.bytes(payload) + extra
        return LE.bytes([req, 0, size ?? UInt32(body.count)]) + body
    }

    @Test func badMessagesAreDroppedOrEndTheConnectionNeverCrash() {
        let pixels = [UInt8](repeating: 0xab, count: 8 * 8 * 4)
        let (d, r) = feed([
            msg(7, [0, 8, 8]),                                   // SCANOUT 8x8
            msg(8, [0, 0, 0, 8, 8], extra: pixels),              // good UPDATE
            msg(8, [0, 0, 0, 9, 9], size: 20),                   // size disagrees with rect: dropped
            msg(8, [99, 0, 0, 1, 1], extra: [1, 2, 3, 4]),       // bad scanout id: dropped
            msg(8, [0, 4, 4, 8, 8], extra: pixels),              // partly outside: clipped
            msg(7, [0, 100_000, 5]),                             // absurd scanout: ignored
            msg(42, [1, 2, 3]),                                  // unknown: skipped
            msg(3, [7]),                                         // GET_DISPLAY_INFO with payload: skipped
            msg(8, [], size: 0x7fff_ffff),                       // oversized: connection is dead
        ])
        #expect(d.updateCount(scanout: 0) == 2)
        #expect(d.scanoutBytes(0).map { $0 == pixels } == true)
        #expect(r.last??.contains("claims") == true)
        #expect(d.protocolErrors().count >= 4)
    }

    /// The GBM/udmabuf path: the scanout arrives as a dmabuf (a memfd stands in for it), each
    /// DMABUF_UPDATE is copied out of it and answered.
    @Test func dmabufScanoutIsReadInPlaceAndUpdatesAreAnswered() throws {
        var sv: [Int32] = [-1, -1]
        #expect(cfd_socketpair_stream(&sv) == 0)
        defer { close(sv[0]); close(sv[1]) }
        let display = VirtioDisplay(outputs: [(8, 4)])
        let t = VhostUserTransport.displayReaderForTesting(displayFD: sv[0], display: display)
        let buf = try SharedMemory(size: 80 * 8, name: "fake-dmabuf")
        for i in 0..<(80 * 8) { buf.base.storeBytes(of: UInt8(truncatingIfNeeded: i * 7), toByteOffset: i, as: UInt8.self) }
        func sendMsg(_ bytes: [UInt8], fd: Int32? = nil) {
            let fds: [Int32] = fd.map { [$0] } ?? []
            _ = bytes.withUnsafeBytes { b in fds.withUnsafeBufferPointer { f in cfd_send_with_fds(sv[1], b.baseAddress, b.count, f.baseAddress, Int32(f.count)) } }
        }
        // Rejected: stride smaller than a row.
        sendMsg(msg(9, [0, 0, 0, 8, 4, 16, 8, 10, 0, 0x3432_5258]), fd: buf.fd.raw)
        #expect(t.readDisplayMessage() == nil)
        #expect(display.scanoutSize(0) == nil)
        // Scanout = rect (2,1) 8×4 of a 16×8 buffer with stride 80.
        sendMsg(msg(9, [0, 2, 1, 8, 4, 16, 8, 80, 0, 0x3432_5258]), fd: buf.fd.raw)
        #expect(t.readDisplayMessage() == nil)
        sendMsg(msg(10, [0, 0, 0, 16, 8]))
        #expect(t.readDisplayMessage() == nil)
        var reply = [UInt8](repeating: 0, count: 12)
        #expect(recv(sv[1], &reply, 12, Int32(MSG_DONTWAIT)) == 12)
        #expect(LE.u32s(reply) == [10, 4, 0])
        #expect(display.updateCount(scanout: 0) == 1)
        var want: [UInt8] = []
        for row in 1..<5 { want += (0..<32).map { UInt8(truncatingIfNeeded: (row * 80 + 8 + $0) * 7) } }
        #expect(display.scanoutBytes(0) == want)
    }

    @Test func truncatedMessageTimesOutOrEnds() {
        let (_, r) = feed([LE.bytes([UInt32(8), 0, 20 + 16]) + LE.bytes([UInt32(0), 0, 0, 2, 2])])
        #expect(r.compactMap { $0 }.count == 1)
    }
}

@Suite(.serialized, .enabled(if: haveVhostUserGPU, "\(vhostUserGPUBinary) missing: apt-get install qemu-system-gui (CI installs it)"))
struct VhostUserGPUTests {
    @Test(arguments: [(64, 64), (1920, 1080)])
    func pixelsOnTheDisplaySocketEqualTheComposedFrame(size: (Int, Int)) throws {
        let (w, h) = size
        let rig = try VirtioRig(real: true, width: w, height: h)
        let a = try rig.fb(w, h, seed: 0x11), b = try rig.fb(w, h, seed: 0x22)
        let cur = try rig.fb(64, 64, seed: 0x33, format: 0x3432_5241)
        #expect(try rig.modeset(a.fb) == 0)
        #expect(rig.events().count == 1)
        #expect(rig.displayMatches(a.bo, w, h, a.pitch))
        #expect(rig.showsLatched())
        #expect(rig.flip(b.fb, cursor: (cur.fb, Int32(w / 3), Int32(h / 4))) == 0)
        #expect(rig.events().count == 1)
        #expect(rig.displayMatches(b.bo, w, h, b.pitch))
        #expect(rig.backend.display.cursorState(scanout: 0) != nil)
        #expect(rig.showsLatched())
        #expect(rig.backend.stats.frameCopies == 0)
        #expect(rig.backend.stats.commandErrors == 0)
        // PNG capture of what the display received round-trips to the same picture.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vhost-\(w)x\(h)-\(getpid()).png").path
        defer { unlink(path) }
        #expect(try rig.backend.display.capturePNG(scanout: 0, to: path))
        let roundTrip = try PNGWriter.decode(path: path) == rig.device.pipeline.composeLatched()
        #expect(roundTrip)
    }

    @Test func fencesAndEventsInOrder() throws {
        let rig = try VirtioRig(real: true, width: 640, height: 480)
        let fbs = try (0..<3).map { try rig.fb(640, 480, seed: UInt32(0x40 + $0)) }
        #expect(try rig.modeset(fbs[0].fb) == 0)
        _ = rig.events()
        let out = rig.client.memory.alloc(4), rel = rig.client.memory.alloc(4)
        #expect(rig.flip(fbs[1].fb, crtc: [("OUT_FENCE_PTR", out), ("RELEASE_FENCE_PTR", rel)]) == 0)
        let outFence = try #require(rig.syncFile(out)), relFence = try #require(rig.syncFile(rel))
        #expect(rig.events().count == 1)
        // Event read ⇒ out fence signalled, the display already has fb 1, fb 1 not released.
        #expect(outFence.status == 1)
        #expect(rig.displayMatches(fbs[1].bo, 640, 480, fbs[1].pitch))
        #expect(relFence.status == 0)
        #expect(rig.flip(fbs[2].fb) == 0)
        #expect(rig.events().count == 1)
        #expect(relFence.status == 1)  // fb 1 left the screen with fb 2's fenced flush
        #expect(rig.displayMatches(fbs[2].bo, 640, 480, fbs[2].pitch))
    }

    /// More buffers over time than the backend has memory slots (32): freed buffers' regions
    /// are unref'd and removed (REM_MEM_REG), new ones added, nothing copied, nothing dies.
    @Test func memorySlotsAreRecycledAcrossManyBuffers() throws {
        let rig = try VirtioRig(real: true, width: 128, height: 64)
        let d = rig.device, f = rig.client.file
        var previous: (fb: UInt32, handle: UInt32)?
        for i in 0..<48 {
            let b = try d.buffers.createDumb(f, width: 128, height: 64, bpp: 32)
            let fb = try d.buffers.addFramebuffer(f, .init(width: 128, height: 64, format: 0x3432_5258, flags: 0, handles: [b.handle, 0, 0, 0],
                                                   pitches: [b.pitch, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0]))
            if let bo = d.lock.withLock({ f.handles[b.handle] }) { rig.paint(bo, 128, 64, Int(b.pitch), seed: UInt32(i)) }
            #expect((i == 0 ? try rig.modeset(fb) : rig.flip(fb)) == 0)
            #expect(rig.events().count == 1)
            #expect(rig.showsLatched())
            if let p = previous {
                try d.buffers.removeFramebuffer(f, p.fb, disablePlanes: false)
                try d.buffers.closeHandle(f, p.handle)
            }
            previous = (fb, b.handle)
        }
        rig.backend.waitIdle()
        #expect(!rig.backend.isDead)
        #expect(rig.backend.stats.regionsInUse <= 4)
        #expect(rig.backend.stats.frameCopies == 0)
        #expect(rig.backend.stats.commandErrors == 0)
    }

    /// A backend that stops answering (SIGSTOP) is timed out, marked dead and reaped; the
    /// client's flip still completes (fence in error) instead of hanging.
    @Test func frozenBackendTimesOut() throws {
        let rig = try VirtioRig(real: true, width: 320, height: 200, timeoutMs: 500)
        let a = try rig.fb(320, 200, seed: 0x61), b = try rig.fb(320, 200, seed: 0x62)
        #expect(try rig.modeset(a.fb) == 0)
        #expect(rig.events().count == 1)
        #expect(rig.flip(b.fb) == 0)  // both buffers registered: the next flip needs only the rings
        #expect(rig.events().count == 1)
        #expect(rig.flip(a.fb) == 0)
        #expect(rig.events().count == 1)
        let pid = try #require(rig.vhost?.childPID)
        kill(pid, SIGSTOP)
        let out = rig.client.memory.alloc(4)
        let t0 = Monotonic.nowNs()
        #expect(rig.flip(b.fb, crtc: [("OUT_FENCE_PTR", out)]) == 0)
        #expect(rig.events(timeoutMs: 5000).count == 1)
        #expect(Monotonic.nowNs() - t0 < 4_000_000_000)
        #expect(rig.syncFile(out)?.status == -19)
        #expect(rig.backend.isDead)
        #expect(rig.backend.stats.lostReason?.contains("stopped answering") == true)
        #expect(kill(pid, 0) != 0)  // killed and reaped by the transport's shutdown
    }

    /// Frozen while a new buffer needs memory: the unanswered ADD_MEM_REG is fatal too.
    @Test func frozenBackendDuringMemoryHotAddTimesOut() throws {
        let rig = try VirtioRig(real: true, width: 320, height: 200, timeoutMs: 500)
        let a = try rig.fb(320, 200, seed: 0x63), b = try rig.fb(320, 200, seed: 0x64)
        #expect(try rig.modeset(a.fb) == 0)
        #expect(rig.events().count == 1)
        kill(try #require(rig.vhost?.childPID), SIGSTOP)
        let out = rig.client.memory.alloc(4)
        #expect(rig.flip(b.fb, crtc: [("OUT_FENCE_PTR", out)]) == 0)
        #expect(rig.events(timeoutMs: 5000).count == 1)
        #expect(rig.syncFile(out)?.status == -19)
        #expect(rig.backend.stats.lostReason?.contains("addMemReg") == true)
    }

    @Test func supervisorRespawnsAKilledBackend() throws {
        let device = try Device(config: DeviceConfig(), virtualTime: true)
        defer { device.shutdown() }
        let sup = VhostUserSupervisor(device: device, endpoint: .spawn(binary: vhostUserGPUBinary), outputs: [(320, 200)])
        try sup.start()
        defer { sup.stop() }
        let first = try #require(sup.backend)
        first.waitIdle()
        let c = try DirectClient(device: device)
        c.setClientCap(DRMConst.clientCapAtomic, 1)
        let a = try c.makeFB(320, 200).0
        #expect(try c.modeset(fb: a) == 0)  // blocking: returns once the fenced flush is shown
        let pid = try #require((first.transport as? VhostUserTransport)?.childPID)
        kill(pid, SIGKILL)
        let deadline = Monotonic.nowNs() + 10_000_000_000
        while sup.restartCount < 1 || sup.backend === first, Monotonic.nowNs() < deadline { usleep(2000) }
        let second = try #require(sup.backend)
        #expect(second !== first)
        second.waitIdle()
        #expect(try device.objects.connectorInfo(c.file, c.connectorID).connection == 1)
        #expect(second.display.waitForUpdates(scanout: 0, atLeast: 1))
        let shown = second.display.frame(scanout: 0), want = device.pipeline.composeLatched()
        #expect(shown != nil && shown == want)
    }

    @Test func killedBackendIsDetectedAndReplaced() throws {
        let rig = try VirtioRig(real: true, width: 640, height: 480)
        let fbs = try (0..<2).map { try rig.fb(640, 480, seed: UInt32(0x50 + $0)) }
        #expect(try rig.modeset(fbs[0].fb) == 0)
        _ = rig.events()
        for i in 0..<10 {
            #expect(rig.flip(fbs[(i + 1) % 2].fb) == 0)
            #expect(rig.events().count == 1)
        }
        let pid = try #require(rig.vhost?.childPID)
        let out = rig.client.memory.alloc(4)
        #expect(rig.flip(fbs[1].fb, crtc: [("OUT_FENCE_PTR", out)]) == 0)
        kill(pid, SIGKILL)
        #expect(rig.events(timeoutMs: 5000).count == 1)  // the pending flip completes either way
        let deadline = Monotonic.nowNs() + 5_000_000_000
        while try rig.device.objects.connectorInfo(rig.client.file, rig.client.connectorID).connection != 2, Monotonic.nowNs() < deadline { usleep(1000) }
        #expect(try rig.device.objects.connectorInfo(rig.client.file, rig.client.connectorID).connection == 2)
        #expect(rig.syncFile(out)?.isSignalled == true)
        #expect(rig.backend.isDead)

        let fresh = try VirtioGPUBackend.vhostUser(.spawn(binary: vhostUserGPUBinary), outputs: [(640, 480)])
        rig.device.display.attach(fresh)
        fresh.waitIdle()
        #expect(try rig.device.objects.connectorInfo(rig.client.file, rig.client.connectorID).connection == 1)
        #expect(fresh.display.waitForUpdates(scanout: 0, atLeast: 1))
        #expect(rig.showsLatched(on: fresh))
        #expect(rig.flip(fbs[0].fb) == 0)
        #expect(rig.events().count == 1)
        #expect(rig.showsLatched(on: fresh))
        fresh.shutdown()
    }
}
