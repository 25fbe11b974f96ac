import CFakeDRMSys
import Glibc

/// Why a transport or the device behind it failed. Every case carries text for the log.
public enum VirtioError: Error, Sendable, Equatable {
    case spawn(String)
    case connect(String)
    case protocolError(String)
    case timeout(String)
    case dead(String)
    case resources(String)

    public var message: String {
        switch self {
        case .spawn(let s), .connect(let s), .protocolError(let s), .timeout(let s), .dead(let s), .resources(let s): return s
        }
    }
}

/// A piece of "guest memory": a memfd mapped in fakedrm, shared with the device under a
/// guest-physical address of fakedrm's choosing. Descriptor and backing addresses are GPAs.
public struct GuestRegion: Sendable {
    public let gpa: UInt64
    public let size: Int
    /// The memfd; only read while the transport registers the region.
    public let fd: Int32
    /// fakedrm's own mapping. vhost-user also uses it to name the region ("userspace_addr").
    public nonisolated(unsafe) let base: UnsafeMutableRawPointer

    public init(gpa: UInt64, size: Int, fd: Int32, base: UnsafeMutableRawPointer) {
        self.gpa = gpa
        self.size = size
        self.fd = fd
        self.base = base
    }

    func contains(gpa a: UInt64, length: Int) -> Bool {
        a >= gpa && length >= 0 && a - gpa <= UInt64(size) && UInt64(length) <= UInt64(size) - (a - gpa)
    }
}

/// Where one split virtqueue lives (all three areas inside the ring region).
public struct VirtqueueLayout: Sendable {
    public let index: Int
    public let size: Int
    public let descOffset: Int
    public let availOffset: Int
    public let usedOffset: Int
}

/// Events a transport reports, from its own thread.
public protocol VirtioTransportDelegate: AnyObject, Sendable {
    /// The device may have put entries on `queue`'s used ring (spurious calls happen).
    func transportQueueUsed(_ queue: Int)
    /// The device is gone (exited, socket closed, protocol violation, stopped answering).
    func transportDied(_ reason: String)
}

/// How the virtio-gpu driver reaches a device: shared memory, virtqueues and notifications.
/// VhostUserTransport talks to an out-of-process backend; LoopbackTransport is an in-process
/// device for unit tests.
public protocol VirtioTransport: AnyObject, Sendable {
    /// Negotiates, shares `ring` (which holds the queues), sets up `queues` and the display
    /// channel feeding `display`, then starts reporting to `delegate`.
    func start(ring: GuestRegion, queues: [VirtqueueLayout], display: VirtioDisplay, delegate: VirtioTransportDelegate) throws(VirtioError)
    /// How many regions the device can map in total (the ring region included).
    var maxRegions: Int { get }
    /// Adds guest memory without disturbing regions already in use.
    func addRegion(_ r: GuestRegion) throws(VirtioError)
    func removeRegion(_ r: GuestRegion) throws(VirtioError)
    /// Kick: new buffers are available on `queue`.
    func notify(queue: Int)
    /// Stops the device and its threads; safe to call twice, and from any thread but the
    /// transport's own event thread.
    func shutdown()
}

/// Driver side of a split virtqueue in guest memory. Chains have a fixed shape per queue
/// (`chainLength` descriptors, the last one device-writable when `hasResponse`), so slot i
/// owns descriptors i*chainLength..., and its scratch memory; that keeps bookkeeping trivial.
/// Used only from the driver's serial queue.
final class SplitVirtqueue {
    let layout: VirtqueueLayout
    let ring: GuestRegion
    let slotCount: Int
    let chainLength: Int
    let requestCapacity: Int
    let responseCapacity: Int
    let scratchOffset: Int
    private var free: [Int]
    private var availIdx: UInt16 = 0
    private var lastUsed: UInt16 = 0

    var slotStride: Int { requestCapacity + responseCapacity }
    var inFlight: Int { slotCount - free.count }

    init(layout: VirtqueueLayout, ring: GuestRegion, hasResponse: Bool, requestCapacity: Int, responseCapacity: Int, scratchOffset: Int) {
        self.layout = layout
        self.ring = ring
        chainLength = hasResponse ? 2 : 1
        slotCount = layout.size / chainLength
        self.requestCapacity = requestCapacity
        self.responseCapacity = hasResponse ? responseCapacity : 0
        self.scratchOffset = scratchOffset
        free = Array((0..<slotCount).reversed())
    }

    static func bytes(size n: Int) -> (desc: Int, avail: Int, used: Int) { (16 * n, 6 + 2 * n, 6 + 8 * n) }

    private func requestOffset(_ slot: Int) -> Int { scratchOffset + slot * slotStride }
    private func responseOffset(_ slot: Int) -> Int { requestOffset(slot) + requestCapacity }

    /// Places one command; nil when every slot is in flight (the caller queues it).
    func add(_ request: [UInt8], responseSize: Int) -> Int? {
        guard request.count <= requestCapacity, responseSize <= responseCapacity, let slot = free.popLast() else { return nil }
        let base = ring.base
        request.withUnsafeBytes { src in
            guard let p = src.baseAddress else { return }
            (base + requestOffset(slot)).copyMemory(from: p, byteCount: request.count)
        }
        let d0 = slot * chainLength
        writeDesc(d0, gpa: ring.gpa + UInt64(requestOffset(slot)), len: UInt32(request.count), flags: chainLength == 2 ? 1 : 0, next: UInt16(d0 + 1))
        if chainLength == 2 {
            (base + responseOffset(slot)).initializeMemory(as: UInt8.self, repeating: 0, count: responseSize)
            writeDesc(d0 + 1, gpa: ring.gpa + UInt64(responseOffset(slot)), len: UInt32(responseSize), flags: 2, next: 0)
        }
        let n = layout.size
        let availRing = base + layout.availOffset
        availRing.storeBytes(of: UInt16(d0).littleEndian, toByteOffset: 4 + 2 * (Int(availIdx) % n), as: UInt16.self)
        availIdx &+= 1
        // The device may read the ring entry as soon as it sees the index move.
        cfd_store_release_u16(availRing + 2, availIdx.littleEndian)
        cfd_fence_seq_cst()
        return slot
    }

    private func writeDesc(_ i: Int, gpa: UInt64, len: UInt32, flags: UInt16, next: UInt16) {
        let p = ring.base + layout.descOffset + 16 * i
        p.storeBytes(of: gpa.littleEndian, as: UInt64.self)
        p.storeBytes(of: len.littleEndian, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: flags.littleEndian, toByteOffset: 12, as: UInt16.self)
        p.storeBytes(of: next.littleEndian, toByteOffset: 14, as: UInt16.self)
    }

    /// Completed slots with the response bytes the device wrote. An id or length the device
    /// invents is dropped (and reported) rather than trusted.
    func harvest() -> (done: [(slot: Int, response: [UInt8])], bogus: String?) {
        let used = ring.base + layout.usedOffset
        let idx = UInt16(littleEndian: cfd_load_acquire_u16(used + 2))
        var out: [(Int, [UInt8])] = []
        var bogus: String?
        let n = layout.size
        if idx &- lastUsed > UInt16(n) { return ([], "used index jumped from \(lastUsed) to \(idx)") }
        while lastUsed != idx {
            let e = used + 4 + 8 * (Int(lastUsed) % n)
            let id = Int(UInt32(littleEndian: e.load(as: UInt32.self)))
            let len = Int(UInt32(littleEndian: e.load(fromByteOffset: 4, as: UInt32.self)))
            lastUsed &+= 1
            guard id < n, id % chainLength == 0, !free.contains(id / chainLength) else {
                bogus = "used element with unknown id \(id)"
                continue
            }
            let slot = id / chainLength
            let count = min(len, responseCapacity)
            let resp = count > 0 ? [UInt8](UnsafeRawBufferPointer(start: ring.base + responseOffset(slot), count: count)) : []
            free.append(slot)
            out.append((slot, resp))
        }
        return (out, bogus)
    }
}
