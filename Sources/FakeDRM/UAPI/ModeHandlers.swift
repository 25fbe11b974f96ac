/// The mode-object queries and the legacy modeset ioctls.
enum ModeHandlers {
    static func register(_ t: inout CodecTable) {
        t.add(0xA0, "MODE_GETRESOURCES", CardResArg.self) { d, f, a, env throws(DRMError) in
            let r = CardResArg.self
            let res = d.objects.resources(f)
            // GETRESOURCES fills partially: the first min(caller count, actual) ids.
            try fillPartial(res.fbs, count: r.countFbs, ptr: r.fbIdPtr, &a, env)
            try fillPartial(res.crtcs, count: r.countCrtcs, ptr: r.crtcIdPtr, &a, env)
            try fillPartial(res.connectors, count: r.countConnectors, ptr: r.connectorIdPtr, &a, env)
            try fillPartial(res.encoders, count: r.countEncoders, ptr: r.encoderIdPtr, &a, env)
            a[r.minWidth] = res.minWidth
            a[r.maxWidth] = res.maxWidth
            a[r.minHeight] = res.minHeight
            a[r.maxHeight] = res.maxHeight
        }
        t.add(0xA1, "MODE_GETCRTC", CrtcArg.self) { d, f, a, _ throws(DRMError) in
            let info = try d.objects.crtcInfo(f, a[CrtcArg.crtcId])
            a[CrtcArg.gammaSize] = info.gammaSize
            a[CrtcArg.fbId] = info.fb
            a[CrtcArg.x] = info.x
            a[CrtcArg.y] = info.y
            if let m = info.mode {
                a[CrtcArg.modeValid] = 1
                a[CrtcArg.mode] = m.encode()
            } else {
                a[CrtcArg.modeValid] = 0
                a[CrtcArg.mode] = [UInt8](repeating: 0, count: ModeInfoLayout.size)
            }
        }
        t.add(0xA2, "MODE_SETCRTC", CrtcArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let c = CrtcArg.self
            var mode: ModeInfo? = nil
            if a[c.modeValid] != 0 {
                guard let m = ModeInfo.decode(a[c.mode]) else { throw .invalidArgument.because(.modeset, "SETCRTC mode does not decode") }
                mode = m
            }
            let ids = try env.memory.readU32s(at: a[c.setConnectorsPtr], count: a[c.countConnectors])
            try d.pipeline.setCrtc(f, AtomicPipeline.SetCrtcRequest(crtcID: a[c.crtcId], fbID: a[c.fbId], x: a[c.x], y: a[c.y], mode: mode, connectors: ids))
        }
        let cursor: UAPICodec.Handler = { d, f, a, env throws(DRMError) in
            let c = CursorArg.self
            try d.pipeline.cursor(f, crtcID: a[c.crtcId], flags: a[c.flags], x: a[c.x], y: a[c.y], width: a[c.width], height: a[c.height], handle: a[c.handle])
        }
        t.add(0xA3, "MODE_CURSOR", CursorV1Layout.self, [.master], cursor)
        t.add(0xBB, "MODE_CURSOR2", CursorArg.self, [.master], cursor)
        t.add(0xA4, "MODE_GETGAMMA", CrtcLutArg.self) { d, f, a, env throws(DRMError) in
            let l = CrtcLutArg.self
            let (size, lut) = try d.pipeline.gamma(f, crtcID: a[l.crtcId])
            guard size > 0 else { throw .notImplemented.because(.modeset, "[CRTC:\(a[l.crtcId])] has no gamma") }
            guard a[l.gammaSize] == size else { throw .invalidArgument.because(.modeset, "[CRTC:\(a[l.crtcId])] gamma_size \(a[l.gammaSize]), the CRTC has \(size)") }
            let n = Int(size)
            try env.memory.write(LE.bytes(Array(lut[0..<n])), at: a[l.red])
            try env.memory.write(LE.bytes(Array(lut[n..<2 * n])), at: a[l.green])
            try env.memory.write(LE.bytes(Array(lut[2 * n..<3 * n])), at: a[l.blue])
        }
        t.add(0xA5, "MODE_SETGAMMA", CrtcLutArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let l = CrtcLutArg.self
            let (size, _) = try d.pipeline.gamma(f, crtcID: a[l.crtcId])
            guard size > 0 else { throw .notImplemented.because(.modeset, "[CRTC:\(a[l.crtcId])] has no gamma") }
            guard a[l.gammaSize] == size else { throw .invalidArgument.because(.modeset, "[CRTC:\(a[l.crtcId])] gamma_size \(a[l.gammaSize]), the CRTC has \(size)") }
            func channel(_ p: Field<UInt64>) throws(DRMError) -> [UInt16] {
                let raw = try env.memory.readArray(at: a[p], count: size, elementSize: 2)
                return stride(from: 0, to: raw.count, by: 2).map { UInt16(raw[$0]) | UInt16(raw[$0 + 1]) << 8 }
            }
            try d.pipeline.setGamma(f, crtcID: a[l.crtcId], size: size, red: try channel(l.red), green: try channel(l.green), blue: try channel(l.blue))
        }
        t.add(0xA6, "MODE_GETENCODER", GetEncoderArg.self) { d, f, a, _ throws(DRMError) in
            let e = GetEncoderArg.self
            let info = try d.objects.encoderInfo(a[e.encoderId])
            a[e.encoderType] = info.type
            a[e.crtcId] = info.crtc
            a[e.possibleCrtcs] = d.files.filterCrtcs(f, info.possibleCrtcs)
            a[e.possibleClones] = info.possibleClones
        }
        t.add(0xA7, "MODE_GETCONNECTOR", GetConnectorArg.self) { d, f, a, env throws(DRMError) in
            let c = GetConnectorArg.self
            let info = try d.objects.connectorInfo(f, a[c.connectorId])
            a[c.connectorType] = info.type
            a[c.connectorTypeId] = info.typeID
            a[c.connection] = info.connection
            a[c.mmWidth] = info.mmWidth
            a[c.mmHeight] = info.mmHeight
            a[c.subpixel] = info.subpixel
            a[c.encoderId] = info.encoderID
            // Modes and encoders: all-or-nothing; properties: partial.
            if a[c.countModes] >= UInt32(info.modes.count), !info.modes.isEmpty {
                try env.memory.write(info.modes.flatMap { $0.encode() }, at: a[c.modesPtr])
            }
            a[c.countModes] = UInt32(info.modes.count)
            let n = Int(min(a[c.countProps], UInt32(info.props.count)))
            if n > 0 {
                try env.memory.write(LE.bytes(info.props.prefix(n).map(\.0)), at: a[c.propsPtr])
                try env.memory.write(LE.bytes(info.props.prefix(n).map(\.1)), at: a[c.propValuesPtr])
            }
            a[c.countProps] = UInt32(info.props.count)
            if a[c.countEncoders] >= UInt32(info.encoders.count), !info.encoders.isEmpty {
                try env.memory.write(LE.bytes(info.encoders), at: a[c.encodersPtr])
            }
            a[c.countEncoders] = UInt32(info.encoders.count)
        }
        t.add(0xA8, "MODE_ATTACHMODE", size: 72, [.master]) { _, _, _, _ in }  // ATTACHMODE: drm_noop
        t.add(0xA9, "MODE_DETACHMODE", size: 72, [.master]) { _, _, _, _ in }  // DETACHMODE: drm_noop
        t.add(0xAA, "MODE_GETPROPERTY", GetPropertyArg.self) { d, f, a, env throws(DRMError) in
            let g = GetPropertyArg.self
            let p = try d.objects.property(a[g.propId])
            a.setString(g.name, p.name)
            a[g.flags] = p.flags
            let isEnum = p.typeBits == PropertyDef.enumType || p.typeBits == PropertyDef.bitmask
            let values = p.typeBits == PropertyDef.blob ? [] : p.values
            let nv = Int(min(a[g.countValues], UInt32(values.count)))
            if nv > 0 { try env.memory.write(LE.bytes(values.prefix(nv)), at: a[g.valuesPtr]) }
            a[g.countValues] = UInt32(values.count)
            if isEnum {
                let ne = Int(min(a[g.countEnumBlobs], UInt32(p.enums.count)))
                if ne > 0 {
                    var out: [UInt8] = []
                    for e in p.enums.prefix(ne) {
                        var b = ArgBuffer(size: PropertyEnumLayout.size)
                        b[PropertyEnumLayout.value] = e.value
                        b.setString(PropertyEnumLayout.name, e.name)
                        out += b.bytes
                    }
                    try env.memory.write(out, at: a[g.enumBlobPtr])
                }
                a[g.countEnumBlobs] = UInt32(p.enums.count)
            } else {
                a[g.countEnumBlobs] = 0
            }
            _ = f
        }
        t.add(0xAB, "MODE_SETPROPERTY", ConnectorSetPropertyArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let s = ConnectorSetPropertyArg.self
            try d.pipeline.setObjectProperty(f, objectID: a[s.connectorId], objectType: ObjectType.connector.rawValue, propID: a[s.propId], value: a[s.value])
        }
        t.add(0xAC, "MODE_GETPROPBLOB", GetBlobArg.self) { d, _, a, env throws(DRMError) in
            let data = try d.objects.blobData(a[GetBlobArg.blobId])
            // Copied only when the caller's length matches exactly.
            if a[GetBlobArg.length] == UInt32(data.count), !data.isEmpty { try env.memory.write(data, at: a[GetBlobArg.data]) }
            a[GetBlobArg.length] = UInt32(data.count)
        }
        t.add(0xB5, "MODE_GETPLANERESOURCES", GetPlaneResArg.self) { d, f, a, env throws(DRMError) in
            try fillPartial(d.objects.planeIDs(f), count: GetPlaneResArg.countPlanes, ptr: GetPlaneResArg.planeIdPtr, &a, env)
        }
        t.add(0xB6, "MODE_GETPLANE", GetPlaneArg.self) { d, f, a, env throws(DRMError) in
            let g = GetPlaneArg.self
            let info = try d.objects.planeInfo(f, a[g.planeId])
            a[g.crtcId] = info.crtc
            a[g.fbId] = info.fb
            a[g.possibleCrtcs] = d.files.filterCrtcs(f, info.possibleCrtcs)
            a[g.gammaSize] = 0
            if a[g.countFormatTypes] >= UInt32(info.formats.count), !info.formats.isEmpty {
                try env.memory.write(LE.bytes(info.formats), at: a[g.formatTypePtr])
            }
            a[g.countFormatTypes] = UInt32(info.formats.count)
        }
        t.add(0xB7, "MODE_SETPLANE", SetPlaneArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let s = SetPlaneArg.self
            try d.pipeline.setPlane(f, AtomicPipeline.SetPlaneRequest(planeID: a[s.planeId], crtcID: a[s.crtcId], fbID: a[s.fbId], crtcX: a[s.crtcX], crtcY: a[s.crtcY],
                                                     crtcW: a[s.crtcW], crtcH: a[s.crtcH], srcX: a[s.srcX], srcY: a[s.srcY], srcW: a[s.srcW], srcH: a[s.srcH]))
        }
        t.add(0xB9, "MODE_OBJ_GETPROPERTIES", ObjGetPropertiesArg.self) { d, f, a, env throws(DRMError) in
            let o = ObjGetPropertiesArg.self
            let props = try d.objects.objectProperties(f, objectID: a[o.objId], type: a[o.objType])
            let n = Int(min(a[o.countProps], UInt32(props.count)))
            if n > 0 {
                try env.memory.write(LE.bytes(props.prefix(n).map(\.0)), at: a[o.propsPtr])
                try env.memory.write(LE.bytes(props.prefix(n).map(\.1)), at: a[o.propValuesPtr])
            }
            a[o.countProps] = UInt32(props.count)
        }
        t.add(0xBA, "MODE_OBJ_SETPROPERTY", ObjSetPropertyArg.self, [.master]) { d, f, a, env throws(DRMError) in
            let s = ObjSetPropertyArg.self
            try d.pipeline.setObjectProperty(f, objectID: a[s.objId], objectType: a[s.objType], propID: a[s.propId], value: a[s.value])
        }
        t.add(0xBD, "MODE_CREATEPROPBLOB", CreateBlobArg.self) { d, f, a, env throws(DRMError) in
            let len = a[CreateBlobArg.length]
            // Zero or absurd lengths are refused before any copy (drm_property_create_blob).
            guard len > 0, Int(len) <= 16 << 20 else { throw .invalidArgument.because(.buffers, "CREATEPROPBLOB length \(len): 1 to 16 MiB") }
            let data = try env.memory.read(at: a[CreateBlobArg.data], count: Int(len))
            a[CreateBlobArg.blobId] = try d.objects.createBlob(f, data: data)
        }
        t.add(0xBE, "MODE_DESTROYPROPBLOB", DestroyBlobArg.self) { d, f, a, _ throws(DRMError) in try d.objects.destroyBlob(f, a[DestroyBlobArg.blobId]) }
        t.add(0x3A, "WAIT_VBLANK", WaitVblankArg.self) { d, f, a, _ throws(DRMError) in
            let w = WaitVblankArg.self
            let r = try d.vblank.waitVblank(f, type: a[w.type], sequence: a[w.sequence], signal: a[w.signal])
            a[w.replySequence] = r.sequence
            a[w.tvSec] = r.timestampNs / 1_000_000_000
            a[w.tvUsec] = (r.timestampNs % 1_000_000_000) / 1000
        }
        t.add(0x3B, "CRTC_GET_SEQUENCE", CrtcGetSequenceArg.self) { d, _, a, _ throws(DRMError) in
            let s = CrtcGetSequenceArg.self
            let r = try d.vblank.crtcSequence(crtcID: a[s.crtcId])
            a[s.active] = r.active ? 1 : 0
            a[s.sequence] = r.sequence
            a[s.sequenceNs] = r.timestampNs
        }
        t.add(0x3C, "CRTC_QUEUE_SEQUENCE", CrtcQueueSequenceArg.self) { d, f, a, _ throws(DRMError) in
            let q = CrtcQueueSequenceArg.self
            a[q.sequence] = try d.vblank.queueSequence(f, crtcID: a[q.crtcId], flags: a[q.flags], sequence: a[q.sequence], userData: a[q.userData])
        }
    }

    static func fillPartial(_ ids: [ObjectID], count: Field<UInt32>, ptr: Field<UInt64>, _ a: inout ArgBuffer, _ env: ClientEnv) throws(DRMError) {
        let n = Int(min(a[count], UInt32(ids.count)))
        if n > 0 { try env.memory.write(LE.bytes(ids.prefix(n)), at: a[ptr]) }
        a[count] = UInt32(ids.count)
    }
}
