import Dispatch
import Glibc

/// A scanout backend that drives a virtio-gpu device (2D) through a `VirtioTransport`, the way
/// the Linux virtio-gpu driver does for dumb buffers: TRANSFER_TO_HOST_2D, SET_SCANOUT when
/// the picture's resource changes, and RESOURCE_FLUSH with VIRTIO_GPU_FLAG_FENCE. A flip
/// completes when that fenced flush has completed *and* the display has consumed the UPDATE it
/// produced (fakedrm is the display, so that is "on screen").
///
/// Framebuffers are not copied by fakedrm when the plane maps 1:1 onto the scanout: each dumb
/// buffer's memfd is added to the guest memory table (ADD_MEM_REG) and attached as the
/// resource's backing, so the backend reads it in place. Anything else (overlays, scaling,
/// offsets, other formats, no free memory slot) is composed into a per-scanout pool buffer:
/// counted in `stats.frameCopies`.
///
/// Threads: `submit`/`attach` come under the device lock and only enqueue; everything else runs
/// on `queue`, which is also where device calls (backendFlipDone, backendLost, setConnector)
/// are made, never under the device lock.
///
/// @unchecked Sendable: mutable state is touched only on `queue`, except `stats` (statsLock).
public final class VirtioGPUBackend: ScanoutBackend, VirtioTransportDelegate, @unchecked Sendable {
    public var completesFlips: Bool { true }
    public func present(crtcIndex: Int, scanout: Scanout, timestampNs: Int64) {}

    public struct Stats: Sendable {
        public var flips = 0
        public var directFlips = 0
        public var composedFlips = 0
        /// Full-frame copies made by fakedrm (compose + copy into the pool on the composed path).
        public var frameCopies = 0
        /// Submit of the fenced RESOURCE_FLUSH → its completion, ns.
        public var flushLatencies: [Int64] = []
        public var commandErrors = 0
        public var regionsInUse = 0
        public var lostReason: String?
    }

    final class FBResource {
        let id: UInt32
        weak var bo: BufferObject?
        /// Keeps the memfd mapped and open while the device may map it.
        let memory: SharedMemory
        let region: GuestRegion
        var lastUsed: UInt64 = 0
        init(id: UInt32, bo: BufferObject, region: GuestRegion) {
            self.id = id
            self.bo = bo
            memory = bo.memory
            self.region = region
        }
    }

    final class Pool {
        let memory: SharedMemory
        let region: GuestRegion
        let resource: UInt32
        let width: Int, height: Int
        init(memory: SharedMemory, region: GuestRegion, resource: UInt32, width: Int, height: Int) {
            self.memory = memory; self.region = region; self.resource = resource; self.width = width; self.height = height
        }
    }

    final class InFlight {
        let crtc: Int
        let token: UInt64?
        var building = true
        var pending = 0
        var updateTarget: (scanout: Int, count: Int)?
        var updateDropped = false
        var cursorTarget = 0
        let startedNs = Monotonic.nowNs()
        init(crtc: Int, token: UInt64?) { self.crtc = crtc; self.token = token }
    }

    struct Pending {
        let type: UInt32
        let sentNs: Int64
        let commit: InFlight?
        let onDone: (([UInt8]) -> Void)?
    }

    struct CursorShown: Equatable { var x: Int32; var y: Int32; var image: [UInt8] }

    public let transport: VirtioTransport
    public let display: VirtioDisplay
    public let timeoutMs: Int

    private let queue = DispatchQueue(label: "fakedrm.virtio-gpu")
    private let statsLock = DeviceLock()
    private var _stats = Stats()
    private weak var device: Device?

    // Guest memory: rings, command scratch and the cursor image live in one memfd.
    private static let ringGPA: UInt64 = 0x10_0000
    private static let ramSize = 1 << 20
    private static let cursorOffset = 0x8_0000
    private let ram: SharedMemory
    private let ring: GuestRegion
    private let vqs: [SplitVirtqueue]
    private var pending: [[Int: Pending]] = [[:], [:]]
    private var backlog: [(q: Int, bytes: [UInt8], response: Int, pending: Pending)] = []
    private var needsKick = [false, false]

    private var resources: [String: FBResource] = [:]
    private var pools: [Int: Pool] = [:]
    private var shown: [Int: (resource: UInt32, rect: VirtioGPUWire.Rect)] = [:]
    private var cursorResource: UInt32 = 0
    private var cursorShown: CursorShown?
    private var commits: [InFlight] = []
    private var expectedUpdates: [Int: Int] = [:]
    private var expectedCursorMessages = 0
    private var nextResource: UInt32 = 1
    private var nextFence: UInt64 = 1
    private var nextGPA: UInt64 = 0x1_0000_0000
    private var regionsInUse = 1
    private var useCounter: UInt64 = 0
    private var dead = false
    private var started = false
    private var watchdog: DispatchSourceTimer?
    private var reportedOutputs: [(width: Int, height: Int)?] = []
    /// Host outputs as the device reported them (GET_DISPLAY_INFO). Not for use on `queue`.
    public var outputs: [(width: Int, height: Int)?] { queue.sync { reportedOutputs } }

    public init(transport: VirtioTransport, display: VirtioDisplay, timeoutMs: Int = 5000) throws(VirtioError) {
        self.transport = transport
        self.display = display
        self.timeoutMs = timeoutMs
        do {
            ram = try SharedMemory(size: Self.ramSize, name: "fakedrm-virtio-ram")
        } catch {
            throw .resources("guest RAM memfd: \(error)")
        }
        ring = GuestRegion(gpa: Self.ringGPA, size: Self.ramSize, fd: ram.fd.raw, base: ram.base)
        // controlq: 64 descriptors = 32 two-descriptor chains; cursorq: 16 one-descriptor chains.
        let c = SplitVirtqueue.bytes(size: 64), k = SplitVirtqueue.bytes(size: 16)
        let cq = VirtqueueLayout(index: 0, size: 64, descOffset: 0, availOffset: c.desc, usedOffset: 0x1000)
        let kq = VirtqueueLayout(index: 1, size: 16, descOffset: 0x2000, availOffset: 0x2000 + k.desc, usedOffset: 0x3000)
        vqs = [SplitVirtqueue(layout: cq, ring: ring, hasResponse: true, requestCapacity: 128, responseCapacity: 512, scratchOffset: 0x1_0000),
               SplitVirtqueue(layout: kq, ring: ring, hasResponse: false, requestCapacity: 64, responseCapacity: 0, scratchOffset: 0x4_0000)]
    }

    public var stats: Stats { statsLock.withLock { _stats } }
    private func stat(_ f: (inout Stats) -> Void) { statsLock.withLock { f(&_stats) } }

    /// Brings the device up: transport handshake, display info, cursor resource. Call before
    /// handing the backend to a Device.
    public func start() throws(VirtioError) {
        display.setProgressHandler { [weak self] in
            guard let self else { return }
            self.queue.async { self.checkCommits() }
        }
        try transport.start(ring: ring, queues: vqs.map(\.layout), display: display, delegate: self)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var info: [(width: Int, height: Int)?]?
        queue.sync {
            started = true
            startWatchdog()
            send(0, VirtioGPUWire.getDisplayInfo(), response: VirtioGPUWire.displayInfoSize, commit: nil) { r in
                info = VirtioGPUWire.parseDisplayInfo(r)
                done.signal()
            }
            // The cursor image lives in guest RAM: 64×64 ARGB8888, copied per cursor change.
            cursorResource = allocateResource()
            send(0, VirtioGPUWire.create2D(resource: cursorResource, format: 1, width: 64, height: 64), response: 24, commit: nil)
            send(0, VirtioGPUWire.attachBacking(resource: cursorResource, gpa: ring.gpa + UInt64(Self.cursorOffset), length: 64 * 64 * 4), response: 24, commit: nil)
            kick()
        }
        // Start-up is not latency-critical and a loaded machine can be slow to schedule a
        // fresh process: allow more than the steady-state timeout.
        guard done.wait(timeout: .now() + .milliseconds(max(timeoutMs, 10_000))) == .success else {
            queue.sync { die("no answer to GET_DISPLAY_INFO") }
            throw .timeout("no answer to GET_DISPLAY_INFO")
        }
        let got = queue.sync { info }
        guard let got else { throw .protocolError("GET_DISPLAY_INFO returned no display info") }
        queue.sync { reportedOutputs = got }
    }

    // MARK: ScanoutBackend

    public func attach(to device: Device) {
        // Under the device lock: read what is on screen now, act later on our queue.
        let crtcCount = device.topology.crtcs.count
        let current = (0..<crtcCount).map { device.pipeline.scanout(for: $0) }
        queue.async { [self] in
            self.device = device
            applyDisplayInfo()
            // A backend attached to a running card (e.g. after a restart) shows the current
            // picture at once instead of waiting for the next commit.
            for (c, s) in current.enumerated() where s.active && !dead { handle(crtc: c, scanout: s, token: nil) }
        }
    }

    public func submit(crtcIndex: Int, scanout: Scanout, token: UInt64) {
        queue.async { [self] in handle(crtc: crtcIndex, scanout: scanout, token: token) }
    }

    /// Waits until the backend's queue has handled everything enqueued so far.
    public func waitIdle() { queue.sync {} }

    // MARK: transport events

    public func transportQueueUsed(_ q: Int) { queue.async { self.drain(q) } }
    public func transportDied(_ reason: String) { queue.async { self.die(reason) } }

    // MARK: connectors

    private func applyDisplayInfo() {
        guard let device else { return }
        for (k, o) in reportedOutputs.enumerated() where k < device.config.connectors.count {
            if let o {
                device.hotplug.setConnector(index: k, connected: true, modes: Self.modes(width: o.width, height: o.height))
            } else {
                device.hotplug.setConnector(index: k, connected: false)
            }
        }
    }

    /// The host output's size as the preferred mode (60 Hz, CVT-like blanking when it is not
    /// a DMT size), plus the DMT modes that fit, as a virtio-gpu guest sees without EDID.
    public static func modes(width w: Int, height h: Int) -> [ModeInfo] {
        var list = NoEDIDModes.list(maxWidth: w, maxHeight: h, preferredWidth: w, preferredHeight: h)
        if !list.contains(where: { Int($0.hdisplay) == w && Int($0.vdisplay) == h }) {
            let hw = UInt16(clamping: w), vh = UInt16(clamping: h)
            let ht = UInt16(clamping: w + 160), vt = UInt16(clamping: h + h / 20 + 8)
            let clock = UInt32(clamping: Int(ht) * Int(vt) * 60 / 1000)
            let m = ModeInfo(clock: max(clock, 1), h: (hw, UInt16(clamping: w + 48), UInt16(clamping: w + 80), ht),
                             v: (vh, UInt16(clamping: h + 3), UInt16(clamping: h + 8), vt),
                             flags: ModeInfo.flagPHSync | ModeInfo.flagNVSync, type: ModeInfo.typeDriver | ModeInfo.typePreferred)
            list.insert(m, at: 0)
        }
        return NoEDIDModes.sortModes(list)
    }

    // MARK: commits

    private func handle(crtc s: Int, scanout: Scanout, token: UInt64?) {
        guard started, !dead else {
            if let token { device?.display.flipDone(crtcIndex: s, token: token) }
            return
        }
        collectResources()
        let commit = InFlight(crtc: s, token: token)
        commits.append(commit)
        defer {
            commit.building = false
            kick()
            checkCommits()
        }
        guard s < VirtioGPUWire.maxScanouts else { return }
        let w = scanout.width, h = scanout.height
        guard scanout.active, w > 0, h > 0 else {
            if shown[s] != nil {
                shown[s] = nil
                send(0, VirtioGPUWire.setScanout(scanout: UInt32(s), resource: 0, rect: .init(x: 0, y: 0, width: 0, height: 0), fence: fence()), response: 24, commit: commit)
            }
            updateCursor(s, nil, commit: commit)
            return
        }
        let indices = scanout.planes.indices
        // The cursor queue carries an unrotated ARGB/XRGB image as it is; any other cursor (a
        // format, a rotation or a GAMMA_LUT the queue cannot express) is composed into the frame.
        let cursorIndex = indices.first {
            scanout.planes[$0].isCursor && scanout.gamma == nil && cursorImage(scanout.planes[$0]) != nil
        }
        let frameIndices = indices.filter { $0 != cursorIndex }

        var target: (resource: UInt32, fourcc: UInt32)?
        if frameIndices.count == 1, let i = frameIndices.first, i < scanout.buffers.count, scanout.gamma == nil,
           let r = directResource(scanout.planes[i], scanout.buffers[i], width: w, height: h, reserve: pools[s] == nil ? 1 : 0) {
            target = (r, scanout.planes[i].format)
            stat { $0.directFlips += 1 }
        } else if !dead, let pool = pool(for: s, width: w, height: h) {
            let frame = Composer.compose(width: w, height: h, planes: frameIndices.map { scanout.planes[$0] }, gamma: scanout.gamma)
            frame.pixels.withUnsafeBytes { px in
                if let p = px.baseAddress { pool.memory.base.copyMemory(from: p, byteCount: min(px.count, pool.memory.size)) }
            }
            target = (pool.resource, 0x3432_5258)
            stat { $0.composedFlips += 1; $0.frameCopies += 2 }  // compose + copy into guest memory
        }
        guard let target, !dead else { return }
        let rect = VirtioGPUWire.Rect(x: 0, y: 0, width: UInt32(w), height: UInt32(h))
        if let old = shown[s], old.resource == target.resource, old.rect == rect {
        } else {
            display.prepareScanout(s, originX: 0, originY: 0, fourcc: target.fourcc)
            send(0, VirtioGPUWire.setScanout(scanout: UInt32(s), resource: target.resource, rect: rect), response: 24, commit: commit)
            shown[s] = (target.resource, rect)
        }
        // The whole resource width from (0,0) with offset 0: 7.2 copies the image in one go.
        let resWidth = resourceWidth(target.resource) ?? w
        send(0, VirtioGPUWire.transfer(resource: target.resource, rect: .init(x: 0, y: 0, width: UInt32(resWidth), height: UInt32(h)), offset: 0), response: 24, commit: commit)
        let sent = Monotonic.nowNs()
        send(0, VirtioGPUWire.flush(resource: target.resource, rect: rect, fence: fence()), response: 24, commit: commit) { [weak self] _ in
            let lat = Monotonic.nowNs() - sent
            self?.stat { if $0.flushLatencies.count < 1_000_000 { $0.flushLatencies.append(lat) } }
        }
        expectedUpdates[s, default: 0] += 1
        commit.updateTarget = (s, expectedUpdates[s] ?? 0)
        stat { $0.flips += 1 }
        updateCursor(s, cursorIndex.map { scanout.planes[$0] }, commit: commit)
    }

    private var resourceWidths: [UInt32: Int] = [:]
    private func resourceWidth(_ id: UInt32) -> Int? { resourceWidths[id] }

    private func fence() -> UInt64 {
        defer { nextFence += 1 }
        return nextFence
    }

    private func allocateResource() -> UInt32 {
        defer { nextResource += 1 }
        return nextResource
    }

    private func allocateGPA(_ size: Int) -> UInt64 {
        let gpa = nextGPA
        nextGPA += (UInt64(size) + 0x1f_ffff) & ~0x1f_ffff  // 2 MiB apart, never reused
        return gpa
    }

    /// The resource showing `bo` in place, or nil when the plane does not map 1:1 onto the
    /// scanout (then the caller composes). Creates resource + region on first use.
    /// `reserve` slots stay free for this scanout's pool, so the composed fallback always fits.
    private func directResource(_ p: ComposerPlane, _ bo: BufferObject, width w: Int, height h: Int, reserve: Int) -> UInt32? {
        guard let vformat = VirtioGPUWire.format(drmFourcc: p.format), p.offset == 0, p.pitch % 4 == 0,
              p.srcX == 0, p.srcY == 0, p.srcW == UInt32(w) << 16, p.srcH == UInt32(h) << 16,
              p.crtcX == 0, p.crtcY == 0, p.crtcW == UInt32(w), p.crtcH == UInt32(h), p.alpha == 0xffff,
              p.rotation == ComposerPlane.rotate0,
              p.pitch / 4 >= w, Int(p.fbHeight) >= h else { return nil }
        let resW = p.pitch / 4, resH = Int(p.fbHeight)
        let (bytes, o) = p.pitch.multipliedReportingOverflow(by: resH)
        guard !o, bytes <= bo.size, bytes <= Int(UInt32.max) else { return nil }
        let key = "\(bo.serial)/\(p.format)/\(p.pitch)/\(resH)"
        useCounter += 1
        if let r = resources[key] {
            r.lastUsed = useCounter
            return r.id
        }
        guard regionsInUse + reserve < transport.maxRegions else {
            evictOne()
            return nil  // this frame goes through the pool; a slot frees once the unref completes
        }
        let region = GuestRegion(gpa: allocateGPA(bo.memory.size), size: bo.memory.size, fd: bo.memory.fd.raw, base: bo.memory.base)
        do {
            try transport.addRegion(region)
        } catch {
            FakeDRMLog.warn("virtio-gpu: could not add guest memory for buffer \(bo.serial): \(error.message)")
            failControl(error)
            return nil
        }
        regionsInUse += 1
        stat { $0.regionsInUse = regionsInUse }
        let r = FBResource(id: allocateResource(), bo: bo, region: region)
        r.lastUsed = useCounter
        resources[key] = r
        resourceWidths[r.id] = resW
        send(0, VirtioGPUWire.create2D(resource: r.id, format: vformat, width: UInt32(resW), height: UInt32(resH)), response: 24, commit: nil)
        send(0, VirtioGPUWire.attachBacking(resource: r.id, gpa: region.gpa, length: UInt32(bytes)), response: 24, commit: nil)
        return r.id
    }

    private func isShown(_ id: UInt32) -> Bool { shown.values.contains { $0.resource == id } }

    /// Unrefs resources whose buffer is gone, then drops their memory region.
    private func collectResources() {
        for (key, r) in resources where r.bo == nil && !isShown(r.id) { destroy(key, r) }
    }

    private func evictOne() {
        guard let (key, r) = resources.filter({ !isShown($0.value.id) }).min(by: { $0.value.lastUsed < $1.value.lastUsed }) else { return }
        destroy(key, r)
    }

    private func destroy(_ key: String, _ r: FBResource) {
        resources[key] = nil
        resourceWidths[r.id] = nil
        // REM_MEM_REG only after the unref completed: the backend must not hold pointers into it.
        send(0, VirtioGPUWire.unref(resource: r.id), response: 24, commit: nil) { [weak self] _ in
            guard let self, !self.dead else { return }
            do throws(VirtioError) {
                try self.transport.removeRegion(r.region)
                self.regionsInUse -= 1
                self.stat { $0.regionsInUse = self.regionsInUse }
            } catch {
                FakeDRMLog.warn("virtio-gpu: REM_MEM_REG failed: \(error.message)")
                self.failControl(error)
            }
            _ = r.memory  // keeps the memfd until here
        }
    }

    /// The per-scanout buffer for composed frames (created or resized on demand).
    private func pool(for s: Int, width w: Int, height h: Int) -> Pool? {
        if let p = pools[s], p.width == w, p.height == h { return p }
        if let old = pools[s] {
            pools[s] = nil
            if shown[s]?.resource == old.resource { shown[s] = nil }
            send(0, VirtioGPUWire.unref(resource: old.resource), response: 24, commit: nil) { [weak self] _ in
                guard let self, !self.dead else { return }
                do throws(VirtioError) {
                    try self.transport.removeRegion(old.region)
                } catch {
                    self.failControl(error)
                }
                self.regionsInUse -= 1
            }
        }
        guard regionsInUse < transport.maxRegions || evictAndRetry() else { return nil }
        let size = (w * h * 4 + 4095) & ~4095
        guard let mem = try? SharedMemory(size: size, name: "fakedrm-virtio-pool") else { return nil }
        let region = GuestRegion(gpa: allocateGPA(size), size: size, fd: mem.fd.raw, base: mem.base)
        do {
            try transport.addRegion(region)
        } catch {
            FakeDRMLog.warn("virtio-gpu: could not add the pool for scanout \(s): \(error.message)")
            failControl(error)
            return nil
        }
        regionsInUse += 1
        let p = Pool(memory: mem, region: region, resource: allocateResource(), width: w, height: h)
        resourceWidths[p.resource] = w
        send(0, VirtioGPUWire.create2D(resource: p.resource, format: 2, width: UInt32(w), height: UInt32(h)), response: 24, commit: nil)
        send(0, VirtioGPUWire.attachBacking(resource: p.resource, gpa: region.gpa, length: UInt32(w * h * 4)), response: 24, commit: nil)
        pools[s] = p
        return p
    }

    private func evictAndRetry() -> Bool {
        evictOne()
        return false  // the slot is free only once the unref completed
    }

    // MARK: cursor

    /// Sends the cursor plane on the cursor queue: UPDATE_CURSOR when the image changed (after
    /// its TRANSFER completed on the control queue: the two queues are independent),
    /// MOVE_CURSOR when only the position did, MOVE_CURSOR with resource 0 to hide it.
    private func updateCursor(_ s: Int, _ plane: ComposerPlane?, commit: InFlight) {
        guard let plane, let image = cursorImage(plane) else {
            if cursorShown != nil {
                cursorShown = nil
                sendCursor(VirtioGPUWire.cursor(VirtioGPUWire.cmdMoveCursor, scanout: UInt32(s), x: 0, y: 0, resource: 0), commit: commit)
            }
            return
        }
        let now = CursorShown(x: plane.crtcX, y: plane.crtcY, image: image)
        guard now != cursorShown else { return }
        let imageChanged = cursorShown?.image != image
        cursorShown = now
        if !imageChanged {
            sendCursor(VirtioGPUWire.cursor(VirtioGPUWire.cmdMoveCursor, scanout: UInt32(s), x: now.x, y: now.y, resource: cursorResource), commit: commit)
            return
        }
        image.withUnsafeBytes { src in
            if let p = src.baseAddress { (ram.base + Self.cursorOffset).copyMemory(from: p, byteCount: src.count) }
        }
        commit.pending += 1  // held until the cursor command itself is queued
        let update = VirtioGPUWire.cursor(VirtioGPUWire.cmdUpdateCursor, scanout: UInt32(s), x: now.x, y: now.y, resource: cursorResource)
        send(0, VirtioGPUWire.transfer(resource: cursorResource, rect: .init(x: 0, y: 0, width: 64, height: 64), offset: 0), response: 24, commit: commit) { [weak self] _ in
            guard let self else { return }
            self.sendCursor(update, commit: commit)
            commit.pending -= 1
            self.kick()
        }
    }

    private func sendCursor(_ bytes: [UInt8], commit: InFlight) {
        expectedCursorMessages += 1
        commit.cursorTarget = expectedCursorMessages
        send(1, bytes, response: 0, commit: commit)
    }

    /// The cursor plane's 64×64 ARGB8888 image (cropped at the source origin, transparent
    /// beyond the fb); nil for formats the cursor channel cannot carry.
    private func cursorImage(_ p: ComposerPlane) -> [UInt8]? {
        guard p.format == 0x3432_5241 || p.format == 0x3432_5258, p.rotation == ComposerPlane.rotate0, p.crtcW > 0, p.crtcH > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: 64 * 64 * 4)
        let sx = Int(p.srcX >> 16), sy = Int(p.srcY >> 16)
        let w = min(64, Int(p.fbWidth) - sx, Int(p.srcW >> 16)), h = min(64, Int(p.fbHeight) - sy, Int(p.srcH >> 16))
        guard w > 0, h > 0 else { return out }
        let opaque = p.format == 0x3432_5258
        out.withUnsafeMutableBytes { dst in
            guard let d = dst.baseAddress else { return }
            for y in 0..<h {
                let src = p.offset + (sy + y) * p.pitch + sx * 4
                guard src >= 0, src + w * 4 <= p.bufferSize else { break }
                (d + y * 256).copyMemory(from: p.base + src, byteCount: w * 4)
                if opaque { for x in 0..<w { dst[y * 256 + x * 4 + 3] = 0xff } }
            }
        }
        return out
    }

    // MARK: queues

    private func send(_ q: Int, _ bytes: [UInt8], response: Int, commit: InFlight?, onDone: (([UInt8]) -> Void)? = nil) {
        commit?.pending += 1
        let p = Pending(type: VirtioGPUWire.u32(bytes, 0), sentNs: Monotonic.nowNs(), commit: commit, onDone: onDone)
        if backlog.isEmpty, let slot = vqs[q].add(bytes, responseSize: response) {
            pending[q][slot] = p
            needsKick[q] = true
        } else {
            backlog.append((q, bytes, response, p))  // ring full: goes out as slots free up
        }
    }

    private func kick() {
        for q in 0..<2 where needsKick[q] {
            needsKick[q] = false
            transport.notify(queue: q)
        }
    }

    private func drain(_ q: Int) {
        guard !dead, q >= 0, q < vqs.count else { return }
        let (done, bogus) = vqs[q].harvest()
        if let bogus { return die("device wrote a bad used ring: \(bogus)") }
        for (slot, resp) in done {
            guard let p = pending[q].removeValue(forKey: slot) else { continue }
            if q == 0 {
                let type = VirtioGPUWire.u32(resp, 0)
                if resp.count < VirtioGPUWire.headerSize || (type != VirtioGPUWire.respOkNodata && type != VirtioGPUWire.respOkDisplayInfo) {
                    stat { $0.commandErrors += 1 }
                    FakeDRMLog.warn("virtio-gpu: command 0x\(String(p.type, radix: 16)) answered 0x\(String(type, radix: 16)) (\(resp.count) bytes)")
                    // A failed SET_SCANOUT or FLUSH produces no UPDATE: stop waiting for it, and
                    // take it out of the running count so later flips are not held up.
                    if p.type == VirtioGPUWire.cmdSetScanout || p.type == VirtioGPUWire.cmdResourceFlush,
                       let c = p.commit, !c.updateDropped, let t = c.updateTarget {
                        c.updateDropped = true
                        c.updateTarget = nil
                        expectedUpdates[t.scanout, default: 0] -= 1
                        if p.type == VirtioGPUWire.cmdSetScanout { shown[t.scanout] = nil }
                    }
                }
            }
            p.onDone?(resp)
            p.commit?.pending -= 1
            if dead { return }
        }
        // Refill the ring from the backlog, in order.
        while let first = backlog.first, let slot = vqs[first.q].add(first.bytes, responseSize: first.response) {
            backlog.removeFirst()
            pending[first.q][slot] = first.pending
            needsKick[first.q] = true
        }
        kick()
        checkCommits()
    }

    /// Completes every commit whose commands are done and whose pictures the display has.
    private func checkCommits() {
        guard !dead else { return }
        let cursorSeen = display.cursorMessageCount()
        var keep: [InFlight] = []
        var done: [InFlight] = []
        for c in commits {
            let updatesIn = c.updateTarget.map { display.updateCount(scanout: $0.scanout) >= $0.count } ?? true
            if !c.building, c.pending == 0, updatesIn, cursorSeen >= c.cursorTarget { done.append(c) } else { keep.append(c) }
        }
        commits = keep
        for c in done {
            guard let t = c.token else { continue }
            // What the user sees: the pictures the backend sent, cursor on top.
            capture?.frameShown(crtc: c.crtc) { display.frame(scanout: c.updateTarget?.scanout ?? c.crtc) }
            device?.display.flipDone(crtcIndex: c.crtc, token: t)
        }
    }

    // MARK: failure

    private func startWatchdog() {
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + .milliseconds(100), repeating: .milliseconds(100))
        t.setEventHandler { [weak self] in self?.checkTimeouts() }
        t.resume()
        watchdog = t
    }

    private func checkTimeouts() {
        guard !dead else { return }
        let now = Monotonic.nowNs(), limit = Int64(timeoutMs) * 1_000_000
        // A command older than 250 ms gets its queue kicked again: kicks are idempotent, and
        // this covers a notification lost anywhere between us and the backend's main loop.
        for q in 0..<2 where pending[q].values.contains(where: { now - $0.sentNs > 250_000_000 }) {
            transport.notify(queue: q)
        }
        for q in 0..<2 {
            if let oldest = pending[q].values.min(by: { $0.sentNs < $1.sentNs }), now - oldest.sentNs > limit {
                return die("backend stopped answering: command 0x\(String(oldest.type, radix: 16)) pending for \((now - oldest.sentNs) / 1_000_000) ms")
            }
        }
        if let stuck = commits.first(where: { now - $0.startedNs > 2 * limit }) {
            die("flip on CRTC \(stuck.crtc) not shown after \((now - stuck.startedNs) / 1_000_000) ms")
        }
    }

    /// A control-channel failure other than "no free slot" (a timeout, a closed socket, a
    /// refused request) means the backend can no longer be trusted with memory: it is dead.
    private func failControl(_ error: VirtioError) {
        if case .resources = error { return }
        die("control channel: \(error.message)")
    }

    /// The device is gone: stop it, fail what was in flight, tell the card (connectors go
    /// disconnected, fences signal with an error). A new backend can be attached afterwards.
    private func die(_ reason: String) {
        guard !dead else { return }
        dead = true
        stat { $0.lostReason = reason }
        FakeDRMLog.warn("virtio-gpu backend dead: \(reason)")
        watchdog?.cancel()
        watchdog = nil
        pending = [[:], [:]]
        backlog = []
        commits = []
        // Clients first (their fences fail now), then the transport, whose shutdown may wait
        // up to a second for a frozen process before killing it.
        device?.display.lost()
        transport.shutdown()
        let hook = statsLock.withLock { lostHandler }
        hook?(reason)
    }

    private var lostHandler: (@Sendable (String) -> Void)?

    /// Runs (on the backend's queue) after the card has been told the device is lost; a
    /// supervisor uses it to bring up a replacement.
    public func setLostHandler(_ h: (@Sendable (String) -> Void)?) { statsLock.withLock { lostHandler = h } }

    /// `--capture`: each flip the display has shown is written as what the display shows.
    public func setCapture(_ c: FrameCapture?) { queue.sync { capture = c } }
    private var capture: FrameCapture?

    /// Stops the device (vhost-user: the backend process exits). The card is not told:
    /// this is an orderly shutdown, not a loss.
    public func shutdown() {
        queue.sync {
            guard !dead else { return }
            dead = true
            watchdog?.cancel()
            watchdog = nil
            transport.shutdown()
        }
    }

    public var isDead: Bool { queue.sync { dead } }
}

extension VirtioGPUBackend {
    /// Parses `vhost-user-gpu[=BINARY]` or `vhost-user=SOCKET`.
    public static func endpoint(fromSpec spec: String) -> VhostUserTransport.Endpoint? {
        if spec == "vhost-user-gpu" { return .spawn(binary: VhostUserTransport.defaultBinary) }
        if spec.hasPrefix("vhost-user-gpu="), spec.count > 15 { return .spawn(binary: String(spec.dropFirst(15))) }
        if spec.hasPrefix("vhost-user="), spec.count > 11 { return .socket(path: String(spec.dropFirst(11))) }
        return nil
    }

    /// A started backend on a vhost-user-gpu process (spawned or connected), showing
    /// `outputs` as the host's displays.
    public static func vhostUser(_ endpoint: VhostUserTransport.Endpoint, outputs: [(width: Int, height: Int)?],
                                 timeoutMs: Int = 5000, verbose: Bool = false, sink: HostWindowSink? = nil) throws(VirtioError) -> VirtioGPUBackend {
        let t = VhostUserTransport(endpoint: endpoint, timeoutMs: timeoutMs, verbose: verbose)
        let display = VirtioDisplay(outputs: outputs)
        display.setSink(sink)
        let b = try VirtioGPUBackend(transport: t, display: display, timeoutMs: timeoutMs)
        try b.start()
        return b
    }
}
