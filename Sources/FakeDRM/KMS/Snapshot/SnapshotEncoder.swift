/// Encodes one file's answers to the read-only queries (SnapshotLayout) by running the codec's
/// own handlers for every object, so the snapshot says byte for byte what the daemon answers:
/// there is no second implementation of the queries to drift from the first. Each handler
/// runs with every count at its maximum and a distinct fake address per array; the recording
/// memory keeps what the handler wrote there. A query that fails for an object (not visible
/// to this file, not the type asked) is left out, and the library asks the daemon instead.
struct SnapshotEncoder {
    private struct Entry { let kind: UInt32, key: UInt32, bytes: [UInt8] }
    private var entries: [Entry] = []
    let device: Device
    let file: FileContext

    /// Called with the device lock held, so every answer is of one state.
    static func encode(_ device: Device, _ file: FileContext) -> [UInt8] {
        var e = SnapshotEncoder(device: device, file: file)
        e.addAll()
        return e.bytes()
    }

    private mutating func addAll() {
        let topology = device.topology
        for cap in UInt64(0)..<64 {
            var a = ArgBuffer(size: CapArg.size)
            a[CapArg.capability] = cap
            add(.cap, key: UInt32(cap), nr: 0x0C, a, arrays: [])
        }
        add(.resources, key: 0, nr: 0xA0, ArgBuffer(size: CardResArg.size), arrays: [
            (CardResArg.fbIdPtr, CardResArg.countFbs), (CardResArg.crtcIdPtr, CardResArg.countCrtcs),
            (CardResArg.connectorIdPtr, CardResArg.countConnectors), (CardResArg.encoderIdPtr, CardResArg.countEncoders)])
        add(.planeResources, key: 0, nr: 0xB5, ArgBuffer(size: GetPlaneResArg.size), arrays: [(GetPlaneResArg.planeIdPtr, GetPlaneResArg.countPlanes)])
        for c in topology.crtcs {
            var a = ArgBuffer(size: CrtcArg.size)
            a[CrtcArg.crtcId] = c.id
            add(.crtc, key: c.id, nr: 0xA1, a, arrays: [])
            objectProperties(c.id, .crtc)
        }
        for enc in topology.encoders {
            var a = ArgBuffer(size: GetEncoderArg.size)
            a[GetEncoderArg.encoderId] = enc.id
            add(.encoder, key: enc.id, nr: 0xA6, a, arrays: [])
        }
        for k in topology.connectors {
            var a = ArgBuffer(size: GetConnectorArg.size)
            a[GetConnectorArg.connectorId] = k.id
            add(.connector, key: k.id, nr: 0xA7, a, arrays: [
                (GetConnectorArg.modesPtr, GetConnectorArg.countModes), (GetConnectorArg.propsPtr, GetConnectorArg.countProps),
                (GetConnectorArg.propValuesPtr, GetConnectorArg.countProps), (GetConnectorArg.encodersPtr, GetConnectorArg.countEncoders)])
            objectProperties(k.id, .connector)
        }
        for p in topology.planes {
            var a = ArgBuffer(size: GetPlaneArg.size)
            a[GetPlaneArg.planeId] = p.id
            add(.plane, key: p.id, nr: 0xB6, a, arrays: [(GetPlaneArg.formatTypePtr, GetPlaneArg.countFormatTypes)])
            objectProperties(p.id, .plane)
        }
        for id in device.objects.properties.keys.sorted() {
            var a = ArgBuffer(size: GetPropertyArg.size)
            a[GetPropertyArg.propId] = id
            add(.property, key: id, nr: 0xAA, a, arrays: [(GetPropertyArg.valuesPtr, GetPropertyArg.countValues),
                                                         (GetPropertyArg.enumBlobPtr, GetPropertyArg.countEnumBlobs)])
        }
        for (id, blob) in device.objects.blobs.sorted(by: { $0.key < $1.key }) {
            // GETPROPBLOB copies only when the caller's length is exact: ask with it.
            var a = ArgBuffer(size: GetBlobArg.size)
            a[GetBlobArg.blobId] = id
            a[GetBlobArg.length] = UInt32(blob.data.count)
            add(.blob, key: id, nr: 0xAC, a, arrays: [(GetBlobArg.data, GetBlobArg.length)])
        }
    }

    private mutating func objectProperties(_ id: ObjectID, _ type: ObjectType) {
        var a = ArgBuffer(size: ObjGetPropertiesArg.size)
        a[ObjGetPropertiesArg.objId] = id
        a[ObjGetPropertiesArg.objType] = type.rawValue
        add(.objectProperties, key: id, nr: 0xB9, a, arrays: [(ObjGetPropertiesArg.propsPtr, ObjGetPropertiesArg.countProps),
                                                             (ObjGetPropertiesArg.propValuesPtr, ObjGetPropertiesArg.countProps)])
    }

    /// Runs the handler of `nr` on `arg` with each array's count at its maximum (unless the
    /// caller set it, as for blobs) and its pointer at a fake address; keeps the struct the
    /// handler left and the bytes it wrote to each array.
    private mutating func add(_ kind: SnapshotLayout.Kind, key: UInt32, nr: Int, _ arg: ArgBuffer,
                              arrays: [(ptr: Field<UInt64>, count: Field<UInt32>)]) {
        guard let handler = UAPICodec.table[nr]?.handler else { return }
        var a = arg
        for (i, array) in arrays.enumerated() {
            a[array.ptr] = Self.fakeAddress(i)
            if kind != .blob { a[array.count] = UInt32.max }
        }
        let memory = SnapshotMemory()
        do {
            try handler(device, file, &a, ClientEnv(memory: memory, files: memory))
        } catch {
            RejectionSlot.clear()
            return
        }
        var out = a.bytes
        for i in arrays.indices { out += memory.written[Self.fakeAddress(i)] ?? [] }
        entries.append(Entry(kind: kind.rawValue, key: key, bytes: out))
    }

    static func fakeAddress(_ i: Int) -> UInt64 { UInt64(i + 1) << 40 }

    private func bytes() -> [UInt8] {
        let sorted = entries.sorted { ($0.kind, $0.key) < ($1.kind, $1.key) }
        let indexOffset = SnapshotLayout.headerSize
        var offset = indexOffset + sorted.count * SnapshotLayout.indexEntrySize
        var index: [UInt32] = []
        index.reserveCapacity(sorted.count * 4)
        for e in sorted {
            offset = (offset + 7) & ~7
            index += [e.kind, e.key, UInt32(offset), UInt32(e.bytes.count)]
            offset += e.bytes.count
        }
        var out = [UInt8](repeating: 0, count: indexOffset)
        func put(_ v: UInt32, at o: Int) { for b in 0..<4 { out[o + b] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(b))) } }
        put(SnapshotLayout.magic, at: 0)
        put(SnapshotLayout.version, at: 4)
        put(UInt32(offset), at: SnapshotLayout.usedOffset)
        put(UInt32(sorted.count), at: SnapshotLayout.indexCountOffset)
        put(UInt32(indexOffset), at: SnapshotLayout.indexOffsetOffset)
        out += LE.bytes(index)
        out.reserveCapacity(offset)
        for e in sorted {
            while out.count % 8 != 0 { out.append(0) }
            out += e.bytes
        }
        return out
    }
}

/// The encoder's client: writes are kept by address; nothing is read, and no fd is made
/// (none of the snapshotted queries reads client memory or installs fds).
final class SnapshotMemory: ClientMemory, ClientFiles {
    var written: [UInt64: [UInt8]] = [:]
    func read(at address: UInt64, count: Int) throws(DRMError) -> [UInt8] { throw .badAddress }
    func write(_ bytes: [UInt8], at address: UInt64) throws(DRMError) { written[address] = bytes }
    func install(_ file: ExportedFile, cloexec: Bool) throws(DRMError) -> Int32 { throw .badFileDescriptor }
    func lookup(fd: Int32) throws(DRMError) -> ExportedFile? { throw .badFileDescriptor }
    func uninstall(fd: Int32) {}
    func eventfd(fd: Int32) throws(DRMError) -> OwnedFD { throw .badFileDescriptor }
}
