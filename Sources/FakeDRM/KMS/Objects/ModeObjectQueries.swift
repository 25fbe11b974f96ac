/// The read-only views: resources, CRTC/encoder/connector/plane, properties and blobs.
extension ModeObjectRegistry {
    public struct Resources: Sendable {
        public var fbs: [ObjectID], crtcs: [ObjectID], connectors: [ObjectID], encoders: [ObjectID]
        public var minWidth, maxWidth, minHeight, maxHeight: UInt32
    }

    public func resources(_ file: FileContext) -> Resources {
        lock.withLock {
            let files: FileRegistry = files
            // One array per kind, filled in one pass (chained filter/map/sorted allocate an
            // array per step, and this answers every GETRESOURCES).
            var fbs: [ObjectID] = []
            for fb in framebuffers.values where fb.ownerFile == file.id && fb.listed { fbs.append(fb.id) }
            fbs.sort()
            var crtcs: [ObjectID] = []
            for c in topology.crtcs where files.leaseHeld(file, c.id) { crtcs.append(c.id) }
            var connectors: [ObjectID] = []
            // Writeback connectors only for files with DRM_CLIENT_CAP_WRITEBACK_CONNECTORS.
            for c in topology.connectors where !c.removed && (c.writeback == nil || file.writebackConnectors) && files.leaseHeld(file, c.id) {
                connectors.append(c.id)
            }
            return Resources(fbs: fbs, crtcs: crtcs, connectors: connectors, encoders: topology.encoders.map(\.id),
                             minWidth: config.minWidth, maxWidth: config.maxWidth, minHeight: config.minHeight, maxHeight: config.maxHeight)
        }
    }

    public struct CrtcInfo: Sendable { public var fb: ObjectID, x: UInt32, y: UInt32, gammaSize: UInt32, mode: ModeInfo? }

    public func crtcInfo(_ file: FileContext, _ id: ObjectID) throws(DRMError) -> CrtcInfo {
        try lock.withLock { () throws(DRMError) -> CrtcInfo in
            guard let c = files.crtcIndex(id, for: file) else { throw .notFound.because(.modeset, "Unknown CRTC ID \(id)") }
            let primary = topology.planes.firstIndex { $0.type == .primary && pipeline.state.planes[$0.index].crtc == id }
            let ps = primary.map { pipeline.state.planes[$0] }
            return CrtcInfo(fb: ps?.fb ?? 0, x: (ps?.srcX ?? 0) >> 16, y: (ps?.srcY ?? 0) >> 16,
                            gammaSize: topology.crtcs[c].gammaSize, mode: pipeline.state.crtcs[c].enabled ? pipeline.state.crtcs[c].mode : nil)
        }
    }

    public struct EncoderInfo: Sendable { public var type: UInt32, crtc: ObjectID, possibleCrtcs: UInt32, possibleClones: UInt32 }

    public func encoderInfo(_ id: ObjectID) throws(DRMError) -> EncoderInfo {
        try lock.withLock { () throws(DRMError) -> EncoderInfo in
            guard let e = topology.encoder(id: id) else { throw .notFound.because(.modeset, "Unknown encoder ID \(id)") }
            let crtc = topology.connectors.indices.first { topology.connectors[$0].encoderIndex == e.index && pipeline.state.connectors[$0].crtc != 0 }
                .map { pipeline.state.connectors[$0].crtc } ?? 0
            return EncoderInfo(type: e.kind.rawValue, crtc: crtc, possibleCrtcs: e.possibleCrtcs, possibleClones: e.possibleClones)
        }
    }

    public struct ConnectorInfo: Sendable {
        public var encoders: [ObjectID], modes: [ModeInfo], props: [(ObjectID, UInt64)]
        public var encoderID: ObjectID, type: UInt32, typeID: UInt32, connection: UInt32, mmWidth: UInt32, mmHeight: UInt32, subpixel: UInt32
    }

    /// GETCONNECTOR: aspect-ratio flags stripped (and such duplicates dropped) without the cap.
    public func connectorInfo(_ file: FileContext, _ id: ObjectID) throws(DRMError) -> ConnectorInfo {
        try lock.withLock { () throws(DRMError) -> ConnectorInfo in
            guard let k = files.connectorIndex(id, for: file) else { throw .notFound.because(.modeset, "Unknown connector ID \(id)") }
            let c = topology.connectors[k]
            var modes: [ModeInfo] = []
            if c.status == .connected {
                for var m in c.modes {
                    if !file.aspectRatio {
                        m.flags &= ~ModeInfo.flagPicARMask
                        if modes.contains(where: { $0.sameTiming(m) && $0.name == m.name }) { continue }
                    }
                    if !file.stereo3D && m.flags & ModeInfo.flag3DMask != 0 { continue }
                    modes.append(m)
                }
            }
            let props = (visibleProperties(of: id, for: file) ?? []).map { ($0.id, propertyValue($0, objectID: id)) }
            let encoderID = pipeline.state.connectors[k].crtc != 0 ? topology.encoders[c.encoderIndex].id : 0
            return ConnectorInfo(encoders: [topology.encoders[c.encoderIndex].id], modes: modes, props: props, encoderID: encoderID,
                                 type: c.kind.rawValue, typeID: c.typeIndex, connection: c.status.rawValue,
                                 mmWidth: c.mmWidth, mmHeight: c.mmHeight, subpixel: 0)
        }
    }

    public func planeIDs(_ file: FileContext) -> [ObjectID] {
        lock.withLock { topology.planes.filter { (file.universalPlanes || $0.type == .overlay) && files.leaseHeld(file, $0.id) }.map(\.id) }
    }

    public struct PlaneInfo: Sendable { public var crtc: ObjectID, fb: ObjectID, possibleCrtcs: UInt32, formats: [UInt32] }

    public func planeInfo(_ file: FileContext, _ id: ObjectID) throws(DRMError) -> PlaneInfo {
        try lock.withLock { () throws(DRMError) -> PlaneInfo in
            guard let i = files.planeIndex(id, for: file) else { throw .notFound.because(.modeset, "Unknown plane ID \(id)") }
            let p = topology.planes[i], s = pipeline.state.planes[i]
            return PlaneInfo(crtc: s.crtc, fb: s.fb, possibleCrtcs: p.possibleCrtcs, formats: p.formats)
        }
    }

    public func property(_ id: ObjectID) throws(DRMError) -> PropertyDef {
        try lock.withLock { () throws(DRMError) -> PropertyDef in
            guard let p = properties[id] else { throw .notFound.because(.modeset, "Unknown property ID \(id)") }
            return p
        }
    }

    /// OBJ_GETPROPERTIES: unknown object or type mismatch → ENOENT; objects without
    /// properties (fbs, blobs) → EINVAL as drm_mode_obj_get_properties_ioctl does.
    public func objectProperties(_ file: FileContext, objectID: ObjectID, type: UInt32) throws(DRMError) -> [(ObjectID, UInt64)] {
        try lock.withLock { () throws(DRMError) -> [(ObjectID, UInt64)] in
            guard let want = ObjectType(rawValue: type), let t = objectType(objectID, expecting: want), files.leaseHeld(file, objectID) else {
                throw .notFound.because(.modeset, "[OBJECT:\(objectID)] not found as type 0x\(String(type, radix: 16))")
            }
            guard t.carriesAtomicState else {
                throw .invalidArgument.because(.modeset, "[OBJECT:\(objectID)] (\(t)) has no properties")
            }
            return (visibleProperties(of: objectID, for: file) ?? []).map { ($0.id, propertyValue($0, objectID: objectID)) }
        }
    }

    public func blobData(_ id: ObjectID) throws(DRMError) -> [UInt8] {
        try lock.withLock { () throws(DRMError) -> [UInt8] in
            guard let b = blobs[id] else { throw .notFound.because(.buffers, "[BLOB:\(id)] not found") }
            return b.data
        }
    }

    public func createBlob(_ file: FileContext, data: [UInt8]) throws(DRMError) -> ObjectID {
        try lock.withLock { () throws(DRMError) -> ObjectID in
            if file.blobCount >= config.limits.blobsPerFile || file.blobBytes + data.count > config.limits.blobKiBPerFile << 10 {
                throw .noMemory.because(.buffers, "file \(file.id) blob of \(data.count) bytes over limits.blobsPerFile \(config.limits.blobsPerFile) or blobKiBPerFile \(config.limits.blobKiBPerFile) (has \(file.blobCount), \(file.blobBytes) bytes)")
            }
            let b = Blob(id: allocateID(.blob), data: data, ownerFile: file.id)
            file.blobCount += 1
            file.blobBytes += data.count
            blobs[b.id] = b
            return b.id
        }
    }

    /// DESTROYPROPBLOB: ENOENT unknown, EPERM for another file's blob; state keeps it alive.
    public func destroyBlob(_ file: FileContext, _ id: ObjectID) throws(DRMError) {
        try lock.withLock { () throws(DRMError) in
            guard let b = blobs[id], b.listed, b.ownerFile != nil else { throw .notFound.because(.buffers, "[BLOB:\(id)] not found") }
            guard b.ownerFile == file.id else {
                throw .notPermitted.because(.buffers, "[BLOB:\(id)] belongs to another file, not file \(file.id)")
            }
            unlist(b)
            file.blobCount -= 1
            file.blobBytes -= b.data.count
            pipeline.collectGarbage()
        }
    }
}

extension ModeObjectRegistry {
    public func isAtomicClient(_ f: FileContext) -> Bool { lock.withLock { f.atomic } }

    /// An object the ATOMIC ioctl accepts (CRTC, plane, connector); anything else is ENOENT.
    public func isModeObjectWithProperties(_ id: ObjectID) -> Bool {
        lock.withLock { objectTypes[id]?.carriesAtomicState ?? false }
    }
}
