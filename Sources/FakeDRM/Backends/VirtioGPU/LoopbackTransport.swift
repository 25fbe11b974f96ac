import CFakeDRMSys
import Dispatch

/// An in-process virtio-gpu 2D device behind the transport seam, with the semantics of QEMU
/// 7.2's vhost-user-gpu mem path (the rules docs/vhost-user.md lists): resources with a host
/// copy, TRANSFER_TO_HOST_2D as the only read of guest backing, RESOURCE_FLUSH sending UPDATE
/// to the display, the cursor queue, GET_DISPLAY_INFO from the display. It reads the same
/// rings in the same guest memory the real backend would, so unit tests exercise the driver
/// end to end without a process. Faults can be injected (`stall`, `die`).
///
/// @unchecked Sendable: all device state is touched only on `queue`; `regions` and counters
/// are read by tests after the queue has drained (`sync`).
public final class LoopbackTransport: VirtioTransport, @unchecked Sendable {
    struct Resource {
        var format: UInt32
        var width: Int
        var height: Int
        var host: [UInt8]
        var backing: [(UnsafeMutableRawPointer, Int)]?
    }

    private let queue = DispatchQueue(label: "fakedrm.virtio-loopback")
    private var regions: [GuestRegion] = []
    private var layouts: [VirtqueueLayout] = []
    private var ring: GuestRegion?
    private var lastAvail: [UInt16] = []
    private var usedIdx: [UInt16] = []
    private var resources: [UInt32: Resource] = [:]
    private var scanouts: [Int: (resource: UInt32, rect: VirtioGPUWire.Rect)] = [:]
    private weak var delegate: VirtioTransportDelegate?
    private var display: VirtioDisplay?
    private var stalled = false
    private var dead = false

    public let maxRegions: Int
    /// Command types in processing order (tests check sequences).
    public private(set) var commandLog: [UInt32] = []

    public init(maxRegions: Int = 32) { self.maxRegions = maxRegions }

    public func start(ring: GuestRegion, queues: [VirtqueueLayout], display: VirtioDisplay, delegate: VirtioTransportDelegate) throws(VirtioError) {
        queue.sync {
            self.ring = ring
            regions = [ring]
            layouts = queues
            lastAvail = Array(repeating: 0, count: queues.count)
            usedIdx = Array(repeating: 0, count: queues.count)
            self.display = display
            self.delegate = delegate
        }
    }

    public func addRegion(_ r: GuestRegion) throws(VirtioError) {
        let n = queue.sync { regions.count }
        guard n < maxRegions else { throw .resources("loopback: no free memory slot") }
        queue.sync { regions.append(r) }
    }

    public func removeRegion(_ r: GuestRegion) throws(VirtioError) {
        let found = queue.sync { () -> Bool in
            guard let i = regions.firstIndex(where: { $0.gpa == r.gpa && $0.size == r.size }) else { return false }
            regions.remove(at: i)
            return true
        }
        if !found { throw .protocolError("loopback: unknown region") }
    }

    public var regionCount: Int { queue.sync { regions.count } }

    public func notify(queue q: Int) { queue.async { self.process(q) } }

    public func shutdown() { queue.sync { dead = true } }

    /// Stop answering (commands stay in flight): the driver must time out.
    public func stall() { queue.sync { stalled = true } }

    /// The device dies, as a killed backend process would.
    public func die(_ reason: String = "loopback device killed") {
        queue.async {
            guard !self.dead else { return }
            self.dead = true
            self.delegate?.transportDied(reason)
        }
    }

    private var failing: [UInt32: Int] = [:]

    /// The next `count` commands of `type` are answered ERR_UNSPEC without effect.
    public func fail(_ type: UInt32, count: Int = 1) { queue.sync { failing[type, default: 0] += count } }

    /// Waits until everything notified so far has been processed.
    public func sync() { queue.sync {} }

    // MARK: device

    private func translate(_ gpa: UInt64, _ len: Int) -> UnsafeMutableRawPointer? {
        guard let r = regions.first(where: { $0.contains(gpa: gpa, length: len) }) else { return nil }
        return r.base + Int(gpa - r.gpa)
    }

    private func fail(_ why: String) {
        dead = true
        delegate?.transportDied("loopback device: \(why)")
    }

    private func process(_ q: Int) {
        guard !dead, !stalled, q < layouts.count, let ring else { return }
        let l = layouts[q], n = l.size
        let avail = ring.base + l.availOffset, used = ring.base + l.usedOffset
        let idx = UInt16(littleEndian: cfd_load_acquire_u16(avail + 2))
        var any = false
        while lastAvail[q] != idx {
            let head = Int(UInt16(littleEndian: avail.load(fromByteOffset: 4 + 2 * (Int(lastAvail[q]) % n), as: UInt16.self)))
            lastAvail[q] &+= 1
            guard head < n else { return fail("avail head \(head) out of range") }
            // Walk the chain: readable parts form the command, the first writable part the response.
            var request: [UInt8] = []
            var response: (UnsafeMutableRawPointer, Int)?
            var d = head, hops = 0
            while true {
                let dp = ring.base + l.descOffset + 16 * d
                let gpa = UInt64(littleEndian: dp.load(as: UInt64.self))
                let len = Int(UInt32(littleEndian: dp.load(fromByteOffset: 8, as: UInt32.self)))
                let flags = UInt16(littleEndian: dp.load(fromByteOffset: 12, as: UInt16.self))
                guard len > 0, let p = translate(gpa, len) else { return fail("descriptor \(d) outside guest memory") }
                if flags & 2 != 0 {
                    if response == nil { response = (p, len) }
                } else {
                    request += UnsafeRawBufferPointer(start: p, count: len)
                }
                hops += 1
                guard flags & 1 != 0 else { break }
                d = Int(UInt16(littleEndian: dp.load(fromByteOffset: 14, as: UInt16.self)))
                guard d < n, hops < n else { return fail("descriptor chain loops") }
            }
            var written = 0
            if q == 0 {
                let resp = control(request)
                if let (p, cap) = response {
                    let k = min(cap, resp.count)
                    resp.withUnsafeBytes { if let src = $0.baseAddress { p.copyMemory(from: src, byteCount: k) } }
                    written = k
                }
            } else {
                cursor(request)
            }
            let e = used + 4 + 8 * (Int(usedIdx[q]) % n)
            e.storeBytes(of: UInt32(head).littleEndian, as: UInt32.self)
            e.storeBytes(of: UInt32(written).littleEndian, toByteOffset: 4, as: UInt32.self)
            usedIdx[q] &+= 1
            cfd_store_release_u16(used + 2, usedIdx[q].littleEndian)
            any = true
        }
        if any { delegate?.transportQueueUsed(q) }
    }

    private func rect(_ b: [UInt8], _ o: Int) -> VirtioGPUWire.Rect {
        .init(x: VirtioGPUWire.u32(b, o), y: VirtioGPUWire.u32(b, o + 4), width: VirtioGPUWire.u32(b, o + 8), height: VirtioGPUWire.u32(b, o + 12))
    }

    private func inside(_ r: VirtioGPUWire.Rect, _ res: Resource) -> Bool {
        UInt64(r.x) + UInt64(r.width) <= UInt64(res.width) && UInt64(r.y) + UInt64(r.height) <= UInt64(res.height)
    }

    private func control(_ c: [UInt8]) -> [UInt8] {
        let type = VirtioGPUWire.u32(c, 0), flags = VirtioGPUWire.u32(c, 4), fence = VirtioGPUWire.u64(c, 8)
        commandLog.append(type)
        func resp(_ t: UInt32) -> [UInt8] {
            var b = VirtioGPUWire.Builder()
            b.u32(t); b.u32(flags & VirtioGPUWire.flagFence); b.u64(flags & VirtioGPUWire.flagFence != 0 ? fence : 0); b.u32(0); b.u32(0)
            return b.bytes
        }
        if let n = failing[type], n > 0 {
            failing[type] = n - 1
            return resp(VirtioGPUWire.respErrUnspec)
        }
        let sizes: [UInt32: Int] = [0x100: 24, 0x101: 40, 0x102: 32, 0x103: 48, 0x104: 48, 0x105: 56, 0x106: 32, 0x107: 32]
        guard let need = sizes[type] else { return resp(VirtioGPUWire.respErrUnspec) }
        guard c.count >= need else { return resp(VirtioGPUWire.respOkNodata) }  // 7.2: short = silent OK
        let id = VirtioGPUWire.u32(c, 24)
        switch type {
        case VirtioGPUWire.cmdGetDisplayInfo:
            var info = display?.displayInfo() ?? VirtioGPUWire.displayInfo([])
            let f = resp(VirtioGPUWire.respOkDisplayInfo)
            info.replaceSubrange(0..<24, with: f)
            return info
        case VirtioGPUWire.cmdResourceCreate2D:
            let format = VirtioGPUWire.u32(c, 28), w = Int(VirtioGPUWire.u32(c, 32)), h = Int(VirtioGPUWire.u32(c, 36))
            guard id != 0, resources[id] == nil else { return resp(VirtioGPUWire.respErrInvalidResource) }
            guard VirtioGPUWire.drmFourcc(virtioFormat: format) != nil, w > 0, h > 0, w <= 16384, h <= 16384 else { return resp(VirtioGPUWire.respErrInvalidParameter) }
            resources[id] = Resource(format: format, width: w, height: h, host: [UInt8](repeating: 0, count: w * h * 4), backing: nil)
        case VirtioGPUWire.cmdResourceUnref:
            guard resources[id] != nil else { return resp(VirtioGPUWire.respErrInvalidResource) }
            for (s, v) in scanouts where v.resource == id {
                scanouts[s] = nil
                _ = display?.scanout(s, width: 0, height: 0)
            }
            resources[id] = nil
        case VirtioGPUWire.cmdAttachBacking:
            let count = Int(VirtioGPUWire.u32(c, 28))
            guard var res = resources[id] else { return resp(VirtioGPUWire.respErrInvalidResource) }
            guard res.backing == nil, count > 0, count <= 16384, c.count >= 32 + 16 * count else { return resp(VirtioGPUWire.respErrUnspec) }
            var entries: [(UnsafeMutableRawPointer, Int)] = []
            for i in 0..<count {
                let gpa = VirtioGPUWire.u64(c, 32 + 16 * i), len = Int(VirtioGPUWire.u32(c, 40 + 16 * i))
                guard let p = translate(gpa, len) else { return resp(VirtioGPUWire.respErrUnspec) }
                entries.append((p, len))
            }
            res.backing = entries
            resources[id] = res
        case VirtioGPUWire.cmdDetachBacking:
            guard resources[id] != nil else { return resp(VirtioGPUWire.respErrInvalidResource) }
            resources[id]?.backing = nil
        case VirtioGPUWire.cmdSetScanout:
            let r = rect(c, 24), s = Int(VirtioGPUWire.u32(c, 40)), rid = VirtioGPUWire.u32(c, 44)
            guard s < VirtioGPUWire.maxScanouts else { return resp(VirtioGPUWire.respErrInvalidScanout) }
            if rid == 0 {
                scanouts[s] = nil
                _ = display?.scanout(s, width: 0, height: 0)
                break
            }
            guard let res = resources[rid] else { return resp(VirtioGPUWire.respErrInvalidResource) }
            guard inside(r, res), r.width > 0, r.height > 0 else { return resp(VirtioGPUWire.respErrInvalidParameter) }
            scanouts[s] = (rid, r)
            _ = display?.scanout(s, width: Int(r.width), height: Int(r.height))
        case VirtioGPUWire.cmdTransferToHost2D:
            let r = rect(c, 24), offset = Int(clamping: VirtioGPUWire.u64(c, 40)), rid = VirtioGPUWire.u32(c, 48)
            guard var res = resources[rid] else { return resp(VirtioGPUWire.respErrInvalidResource) }
            guard inside(r, res) else { return resp(VirtioGPUWire.respErrInvalidParameter) }
            guard let backing = res.backing else { return resp(VirtioGPUWire.respErrUnspec) }
            let stride = res.width * 4
            // Gather reads from the backing entries as one linear space, bounds-checked.
            func read(_ from: Int, _ count: Int, into dst: UnsafeMutableRawPointer) {
                var pos = 0, want = from, left = count, out = 0
                for (p, len) in backing where left > 0 {
                    if want < pos + len {
                        let o = want - pos, k = min(len - o, left)
                        (dst + out).copyMemory(from: p + o, byteCount: k)
                        out += k; left -= k; want += k
                    }
                    pos += len
                }
            }
            res.host.withUnsafeMutableBytes { host in
                guard let h = host.baseAddress else { return }
                if offset == 0, r.x == 0, r.y == 0, Int(r.width) == res.width {
                    read(0, stride * res.height, into: h)  // the whole image, as 7.2 does
                } else {
                    for row in 0..<Int(r.height) {
                        read(offset + row * stride, Int(r.width) * 4, into: h + (Int(r.y) + row) * stride + Int(r.x) * 4)
                    }
                }
            }
            resources[rid] = res
        case VirtioGPUWire.cmdResourceFlush:
            let r = rect(c, 24), rid = VirtioGPUWire.u32(c, 40)
            guard let res = resources[rid] else { return resp(VirtioGPUWire.respErrInvalidResource) }
            guard inside(r, res) else { return resp(VirtioGPUWire.respErrInvalidParameter) }
            for (s, v) in scanouts.sorted(by: { $0.key < $1.key }) where v.resource == rid {
                let x0 = max(r.x, v.rect.x), y0 = max(r.y, v.rect.y)
                let x1 = min(r.x + r.width, v.rect.x + v.rect.width), y1 = min(r.y + r.height, v.rect.y + v.rect.height)
                guard x0 < x1, y0 < y1 else { continue }
                let w = Int(x1 - x0), h = Int(y1 - y0), stride = res.width * 4
                var row = 0
                res.host.withUnsafeBytes { host in
                    _ = display?.update(s, x: Int(x0), y: Int(y0), width: w, height: h) { dst, n in
                        guard let hb = host.baseAddress else { return false }
                        // Called once for the whole rect or once per row.
                        var done = 0
                        while done < n {
                            let k = min(w * 4, n - done)
                            (dst + done).copyMemory(from: hb + (Int(y0) + row) * stride + Int(x0) * 4, byteCount: k)
                            done += k; row += 1
                        }
                        return true
                    }
                }
            }
        default:
            return resp(VirtioGPUWire.respErrUnspec)
        }
        return resp(VirtioGPUWire.respOkNodata)
    }

    private func cursor(_ c: [UInt8]) {
        guard c.count == VirtioGPUWire.cursorCommandSize else { return }  // 7.2 ignores other sizes
        let type = VirtioGPUWire.u32(c, 0), s = Int(VirtioGPUWire.u32(c, 24))
        let x = Int32(bitPattern: VirtioGPUWire.u32(c, 28)), y = Int32(bitPattern: VirtioGPUWire.u32(c, 32))
        let rid = VirtioGPUWire.u32(c, 40)
        commandLog.append(type)
        if type == VirtioGPUWire.cmdUpdateCursor, rid != 0, let res = resources[rid], res.width == 64, res.height == 64 {
            res.host.withUnsafeBytes { h in
                _ = display?.cursorImage(scanout: s, x: x, y: y, hotX: Int(min(VirtioGPUWire.u32(c, 44), 63)), hotY: Int(min(VirtioGPUWire.u32(c, 48), 63))) { dst, n in
                    guard let hb = h.baseAddress else { return false }
                    dst.copyMemory(from: hb, byteCount: min(n, h.count))
                    return true
                }
            }
        } else {
            display?.cursorPosition(scanout: s, x: x, y: y, visible: rid != 0)
        }
    }
}
