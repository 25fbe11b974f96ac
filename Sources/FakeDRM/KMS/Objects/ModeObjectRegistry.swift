/// Every mode object's id and type, the properties and what each object has attached, and the
/// objects clients create (framebuffers, blobs): drm_mode_object_find's world. Under the device lock.
///
/// @unchecked Sendable: a DeviceRoom (its state only with the device lock held).
public final class ModeObjectRegistry: DeviceRoom, @unchecked Sendable {
    var objectIDs = ObjectIDAllocator()
    var objectTypes: [ObjectID: ObjectType] = [:]
    var properties: [ObjectID: PropertyDef] = [:]
    /// Per object, its properties in attachment order, all of them and the legacy-visible ones.
    var attachedProperties: [ObjectID: (all: [PropertyDef], legacy: [PropertyDef])] = [:]
    var propertyByKind: [PropertyKind: PropertyDef] = [:]
    var framebuffers: [ObjectID: Framebuffer] = [:]
    var blobs: [ObjectID: Blob] = [:]

    func allocateID(_ type: ObjectType) -> ObjectID {
        let id = objectIDs.allocate()
        objectTypes[id] = type
        return id
    }

    func freeID(_ id: ObjectID) {
        guard objectTypes.removeValue(forKey: id) != nil else { return }
        objectIDs.free(id)
    }

    /// drm_mode_object_find: a type mismatch is "not found".
    func objectType(_ id: ObjectID, expecting: ObjectType = .any) -> ObjectType? {
        guard let t = objectTypes[id] else { return nil }
        if expecting != .any && expecting != t { return nil }
        return t
    }

    func makeKernelBlob(_ data: [UInt8]) -> ObjectID {
        let b = Blob(id: allocateID(.blob), data: data, ownerFile: nil)
        blobs[b.id] = b
        return b.id
    }

    func dropKernelBlob(_ id: ObjectID) {
        blobs[id] = nil
        unlistedBlobs.removeAll { $0 == id }
        freeID(id)
    }

    /// Properties attached to an object that this file may see (ATOMIC ones need the cap).
    func visibleProperties(of objectID: ObjectID, for file: FileContext) -> [PropertyDef]? {
        if let attached = attachedProperties[objectID] { return file.atomic ? attached.all : attached.legacy }
        return objectTypes[objectID] != nil ? [] : nil
    }

    /// Indexes an object's attachments once: they never change after the object is made.
    func attach(_ ids: [ObjectID], to objectID: ObjectID) {
        let all = ids.compactMap { properties[$0] }
        attachedProperties[objectID] = (all, all.filter { !$0.isAtomicOnly })
    }

    /// Drops unlisted fbs and blobs outside `live` (what some state still references).
    /// Unlisted objects some state may still show: collectGarbage's candidates, kept here so a
    /// commit does not search every fb and blob for them.
    private(set) var unlistedFramebuffers: [ObjectID] = []
    private(set) var unlistedBlobs: [ObjectID] = []

    /// The owning file's reference is gone (RMFB, a closed file, an internal fb): the fb lives
    /// on until no state shows it.
    func unlist(_ fb: Framebuffer) {
        guard fb.listed else { return }
        fb.listed = false
        unlistedFramebuffers.append(fb.id)
    }

    /// The same for a blob (DESTROYPROPBLOB, a closed file, a kernel blob of one state).
    func unlist(_ b: Blob) {
        guard b.listed else { return }
        b.listed = false
        unlistedBlobs.append(b.id)
    }

    /// Frees unlisted objects no state references any more (AtomicPipeline.collectGarbage).
    func free(framebuffers fbs: [ObjectID], blobs dead: [ObjectID]) {
        for id in fbs {
            framebuffers[id] = nil
            freeID(id)
        }
        unlistedFramebuffers.removeAll { fbs.contains($0) }
        for id in dead {
            blobs[id] = nil
            freeID(id)
        }
        unlistedBlobs.removeAll { dead.contains($0) }
        // GETPROPBLOB of a freed blob is ENOENT now, also when a vblank freed it.
        if !dead.isEmpty { device.snapshots.invalidate() }
    }

    /// Current value of a property on an object, as OBJ_GETPROPERTIES reports it.
    func propertyValue(_ prop: PropertyDef, objectID: ObjectID) -> UInt64 {
        let state = pipeline.state
        if let i = topology.planeIndex(of: objectID) { return topology.planes[i].value(of: prop, in: state.planes[i]) }
        if let c = topology.crtcIndex(of: objectID) { return topology.crtcs[c].value(of: prop, in: state.crtcs[c]) }
        if let k = topology.connectorIndex(id: objectID) { return topology.connectors[k].value(of: prop, in: state, topology: topology) }
        return 0
    }
}
