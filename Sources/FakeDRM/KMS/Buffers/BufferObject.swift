/// A GEM object: memfd-backed memory that lives while any handle, framebuffer or export holds it.
///
/// @unchecked Sendable: `memory`, `size` and `serial` never change; the rest is touched only
/// with the device lock held (the reservation, as every fence, too).
public final class BufferObject: @unchecked Sendable {
    public let memory: SharedMemory
    public let size: Int
    /// Fake mmap offset handed out by MAP_DUMB (0 until first mapped).
    var mapOffset: UInt64 = 0
    /// Identity used for PRIME: repeated exports name the same buffer.
    public let serial: UInt64
    /// The dma_resv (DMA_BUF_IOCTL_IMPORT/EXPORT_SYNC_FILE).
    let reservation = Reservation()
    /// Handles on it across all files (drm_gem_object.handle_count): its flink name goes when
    /// the last one closes. Under the device lock.
    var handleCount = 0
    /// GEM_FLINK's global name, 0 while it has none. Under the device lock.
    var flinkName: UInt32 = 0

    /// Who made it, counted in `owners` while it lives (its memfd is the daemon's fd).
    private let owner: (owners: BufferOwners, uid: UInt32)?

    init(size: Int, serial: UInt64, owner: (owners: BufferOwners, uid: UInt32)? = nil) throws(DRMError) {
        memory = try SharedMemory(size: size, name: "fakedrm-gem")
        self.size = size
        self.serial = serial
        self.owner = owner
        if let owner { owner.owners.add(owner.uid) }
    }

    deinit { if let owner { owner.owners.remove(owner.uid) } }
}

/// Live buffers per creating uid, for FDReserve.perUserShare. A buffer's last reference may
/// go on any thread (an export's close), hence its own lock.
final class BufferOwners: Sendable {
    private let counts = Locked<[UInt32: Int]>([:])
    func add(_ uid: UInt32) { counts.withLock { $0[uid, default: 0] += 1 } }
    func remove(_ uid: UInt32) { counts.withLock { $0[uid, default: 0] -= 1 } }
    func count(_ uid: UInt32) -> Int { counts.withLock { $0[uid] ?? 0 } }
}

struct WeakBufferObject {
    weak var object: BufferObject?
}

/// A framebuffer object (ADDFB/ADDFB2). `listed` is the owning file's reference; plane
/// states hold the other references, so an unlisted fb lives until no state shows it.
final class Framebuffer {
    let id: ObjectID
    let ownerFile: Int
    let width: UInt32
    let height: UInt32
    let format: UInt32
    let flags: UInt32
    let buffers: [BufferObject?]
    let pitches: [UInt32]
    let offsets: [UInt32]
    let modifier: UInt64
    /// Legacy ADDFB view (bpp/depth), kept for GETFB.
    let bpp: UInt32
    let depth: UInt32
    var listed = true

    init(id: ObjectID, ownerFile: Int, width: UInt32, height: UInt32, format: UInt32, flags: UInt32,
         buffers: [BufferObject?], pitches: [UInt32], offsets: [UInt32], modifier: UInt64, bpp: UInt32, depth: UInt32) {
        self.id = id
        self.ownerFile = ownerFile
        self.width = width
        self.height = height
        self.format = format
        self.flags = flags
        self.buffers = buffers
        self.pitches = pitches
        self.offsets = offsets
        self.modifier = modifier
        self.bpp = bpp
        self.depth = depth
    }
}

/// A property blob. Kernel-owned blobs (IN_FORMATS, legacy MODE_ID) have no owner file.
final class Blob {
    let id: ObjectID
    let data: [UInt8]
    let ownerFile: Int?
    var listed = true

    init(id: ObjectID, data: [UInt8], ownerFile: Int?) {
        self.id = id
        self.data = data
        self.ownerFile = ownerFile
    }
}
