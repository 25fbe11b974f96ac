/// Turns a validated DeviceConfig into mode objects and their properties (vkms_output's role):
/// the topology, the registry's properties and kernel blobs, and the initial state. Runs once,
/// before the device is shared (and for each connector plugged in later, under the lock).
struct CardBuilder {
    let config: DeviceConfig
    let objects: ModeObjectRegistry

    /// Fills `topology` (empty) and `objects`; returns the initial state.
    static func build(_ config: DeviceConfig, into objects: ModeObjectRegistry, topology: Topology) throws -> KMSState {
        let b = CardBuilder(config: config, objects: objects)
        let state = try b.build(topology)
        for c in topology.crtcs { objects.attach(c.properties, to: c.id) }
        for p in topology.planes { objects.attach(p.properties, to: p.id) }
        for c in topology.connectors { objects.attach(c.properties, to: c.id) }
        return state
    }

    private func build(_ topology: Topology) throws -> KMSState {
        func prop(_ name: String, _ flags: UInt32, _ values: [UInt64] = [], enums: [(UInt64, String)] = [], _ kind: PropertyKind) -> PropertyDef {
            let p = PropertyDef(id: objects.allocateID(.property), name: name, flags: flags, values: values, enums: enums, kind: kind)
            objects.properties[p.id] = p
            objects.propertyByKind[kind] = p
            return p
        }
        let R = PropertyDef.range, I = PropertyDef.immutable, E = PropertyDef.enumType, B = PropertyDef.blob
        let O = PropertyDef.object, S = PropertyDef.signedRange, A = PropertyDef.atomic
        let intMin = UInt64(bitPattern: Int64(Int32.min)), intMax = UInt64(Int32.max)

        // Standard properties first, as drm_mode_config_init creates them before any object.
        let edid = prop("EDID", B | I, [], .edid)
        let dpms = prop("DPMS", E, PropertyDef.enumDPMS.map(\.0), enums: PropertyDef.enumDPMS, .dpms)
        let planeType = prop("type", E | I, PropertyDef.enumPlaneType.map(\.0), enums: PropertyDef.enumPlaneType, .planeType)
        let srcX = prop("SRC_X", R | A, [0, UInt64(UInt32.max)], .srcX)
        let srcY = prop("SRC_Y", R | A, [0, UInt64(UInt32.max)], .srcY)
        let srcW = prop("SRC_W", R | A, [0, UInt64(UInt32.max)], .srcW)
        let srcH = prop("SRC_H", R | A, [0, UInt64(UInt32.max)], .srcH)
        let crtcX = prop("CRTC_X", S | A, [intMin, intMax], .crtcX)
        let crtcY = prop("CRTC_Y", S | A, [intMin, intMax], .crtcY)
        let crtcW = prop("CRTC_W", R | A, [0, intMax], .crtcW)
        let crtcH = prop("CRTC_H", R | A, [0, intMax], .crtcH)
        let fbID = prop("FB_ID", O | A, [UInt64(ObjectType.framebuffer.rawValue)], .fbID)
        let inFence = prop("IN_FENCE_FD", S | A, [UInt64(bitPattern: -1), intMax], .inFenceFD)
        let outFence = prop("OUT_FENCE_PTR", R | A, [0, UInt64.max], .outFencePtr)
        let crtcID = prop("CRTC_ID", O | A, [UInt64(ObjectType.crtc.rawValue)], .crtcID)
        let active = prop("ACTIVE", R | A, [0, 1], .active)
        let modeID = prop("MODE_ID", B | A, [], .modeID)
        let linkStatus = prop("link-status", E, PropertyDef.enumLinkStatus.map(\.0), enums: PropertyDef.enumLinkStatus, .linkStatus)
        let nonDesktop = prop("non-desktop", R | I, [0, 1], .nonDesktop)
        let tile = prop("TILE", B | I, [], .tile)
        let vrr = prop("VRR_ENABLED", R, [0, 1], .vrrEnabled)
        let inFormats = prop("IN_FORMATS", B | I, [], .inFormats)
        let damage = prop("FB_DAMAGE_CLIPS", B | A, [], .damageClips)
        let gammaLUT = prop("GAMMA_LUT", B, [], .gammaLUT)
        let gammaSize = prop("GAMMA_LUT_SIZE", R | I, [0, UInt64(UInt32.max)], .gammaLUTSize)
        let zpos = prop("zpos", R, [0, UInt64(max(config.planes.count - 1, 0))], .zpos)
        let alpha = prop("alpha", R, [0, 0xffff], .alpha)
        let blend = prop("pixel blend mode", E, PropertyDef.enumBlend.map(\.0), enums: PropertyDef.enumBlend, .blendMode)
        let X = PropertyDef.bitmask
        let rotation = prop("rotation", X, PropertyDef.enumRotation.map(\.0), enums: PropertyDef.enumRotation, .rotation)
        let colorEncoding = prop("COLOR_ENCODING", E, PropertyDef.enumColorEncoding.map(\.0), enums: PropertyDef.enumColorEncoding, .colorEncoding)
        let colorRange = prop("COLOR_RANGE", E, PropertyDef.enumColorRange.map(\.0), enums: PropertyDef.enumColorRange, .colorRange)
        let release: PropertyDef? = config.releaseFence.enabled ? prop("RELEASE_FENCE_PTR", R | A, [0, UInt64.max], .releaseFencePtr) : nil

        for (i, c) in config.crtcs.enumerated() {
            let obj = CRTCObject(id: objects.allocateID(.crtc), index: i, gammaSize: c.gammaSize, fenceContext: Fence.allocateContext())
            obj.properties = [active.id, modeID.id, outFence.id, vrr.id] + (c.gammaSize > 0 ? [gammaLUT.id, gammaSize.id] : []) + (release.map { [$0.id] } ?? [])
            topology.crtcs.append(obj)
        }
        for (i, p) in config.planes.enumerated() {
            let type: PlaneType = p.type == "primary" ? .primary : p.type == "cursor" ? .cursor : .overlay
            let names = p.formats ?? (type == .cursor ? DeviceConfig.defaultCursorFormats : DeviceConfig.defaultPrimaryFormats)
            let formats = names.compactMap(FourCC.parse)
            let mask = p.crtcs.reduce(UInt32(0)) { $0 | (1 << UInt32($1)) }
            let obj = PlaneObject(id: objects.allocateID(.plane), index: i, type: type, possibleCrtcs: mask, formats: formats)
            obj.inFormatsBlob = objects.makeKernelBlob(PlaneObject.inFormatsBlob(formats: formats))
            obj.properties = [planeType.id, fbID.id, inFence.id, crtcID.id, crtcX.id, crtcY.id, crtcW.id, crtcH.id,
                              srcX.id, srcY.id, srcW.id, srcH.id, inFormats.id, damage.id, zpos.id, alpha.id, blend.id,
                              rotation.id, colorEncoding.id, colorRange.id]
            topology.planes.append(obj)
        }
        for (i, e) in config.encoders.enumerated() {
            let mask = e.crtcs.reduce(UInt32(0)) { $0 | (1 << UInt32($1)) }
            topology.encoders.append(EncoderObject(id: objects.allocateID(.encoder), index: i, kind: EncoderKind(name: e.type) ?? .virtual,
                                          possibleCrtcs: mask, possibleClones: 1 << UInt32(i)))
        }
        var typeCounts: [ConnectorKind: UInt32] = [:]
        for (i, c) in config.connectors.enumerated() {
            let kind = ConnectorKind(name: c.type) ?? .virtual
            typeCounts[kind, default: 0] += 1
            let obj = makeConnector(c, kind: kind, index: i, typeIndex: typeCounts[kind] ?? 1, modes: nil)
            let hasEDID = obj.edidBlob != 0
            obj.properties = (hasEDID ? [edid.id] : []) + [dpms.id, linkStatus.id, nonDesktop.id, tile.id, crtcID.id]
            topology.connectors.append(obj)
        }

        // vkms_enable_writeback_connector: after the other objects, with its own encoder and the
        // three writeback properties created with the first one.
        var wbProps: (fb: PropertyDef, fence: PropertyDef, formats: PropertyDef)?
        for (ci, c) in config.crtcs.enumerated() where c.writeback {
            let props = wbProps ?? (prop("WRITEBACK_FB_ID", O | A, [UInt64(ObjectType.framebuffer.rawValue)], .writebackFBID),
                                    prop("WRITEBACK_OUT_FENCE_PTR", R | A, [0, UInt64.max], .writebackOutFencePtr),
                                    prop("WRITEBACK_PIXEL_FORMATS", B | A | I, [], .writebackPixelFormats))
            wbProps = props
            let enc = EncoderObject(id: objects.allocateID(.encoder), index: topology.encoders.count, kind: .virtual,
                                    possibleCrtcs: 1 << UInt32(ci), possibleClones: 1 << UInt32(topology.encoders.count))
            topology.encoders.append(enc)
            typeCounts[.writeback, default: 0] += 1
            let obj = ConnectorObject(id: objects.allocateID(.connector), index: topology.connectors.count, kind: .writeback,
                                      typeIndex: typeCounts[.writeback] ?? 1, encoderIndex: enc.index, status: .connected,
                                      modes: NoEDIDModes.list(maxWidth: Int(config.maxWidth), maxHeight: Int(config.maxHeight),
                                                              preferredWidth: 1024, preferredHeight: 768),
                                      mmWidth: 0, mmHeight: 0)
            let engine = WritebackEngine(crtcIndex: ci, formats: WritebackEngine.defaultFormats,
                                         timelineName: "CONNECTOR:\(obj.id)-Writeback-\(obj.typeIndex)")
            engine.formatsBlob = objects.makeKernelBlob(engine.formats.flatMap { LE.bytes([$0]) })
            obj.writeback = engine
            obj.properties = [dpms.id, linkStatus.id, nonDesktop.id, tile.id, crtcID.id, props.fence.id, props.fb.id, props.formats.id]
            topology.connectors.append(obj)
        }

        // Initial zpos: primaries at the bottom, overlays above them, cursors on top, each group
        // in plane order, as vkms blends (its overlays are created before its cursor).
        let stacking = topology.planes.filter { $0.type == .primary } + topology.planes.filter { $0.type == .overlay } + topology.planes.filter { $0.type == .cursor }
        var planeStates = topology.planes.map { _ in PlaneState() }
        for (z, p) in stacking.enumerated() { planeStates[p.index].zpos = UInt64(z) }
        return KMSState(planes: planeStates, crtcs: topology.crtcs.map { _ in CRTCState() }, connectors: topology.connectors.map { _ in ConnectorState() })
    }

    /// A connector as the config describes it: its modes (`modes` overrides the config's list)
    /// and, for every kind but Virtual and Writeback, the EDID the kernel attaches.
    func makeConnector(_ c: DeviceConfig.Connector, kind: ConnectorKind, index: Int, typeIndex: UInt32, modes override: [ModeInfo]?) -> ConnectorObject {
        let modes: [ModeInfo]
        if let override, !override.isEmpty {
            modes = NoEDIDModes.sortModes(override)
        } else if let custom = c.modes {
            modes = NoEDIDModes.sortModes(custom.map { m in
                ModeInfo(clock: m.clock, h: (m.h[0], m.h[1], m.h[2], m.h[3]), v: (m.v[0], m.v[1], m.v[2], m.v[3]), flags: m.flags,
                         type: ModeInfo.typeDriver | (m.preferred ? ModeInfo.typePreferred : 0))
            })
        } else {
            modes = NoEDIDModes.list(maxWidth: Int(config.maxWidth), maxHeight: Int(config.maxHeight),
                                     preferredWidth: c.preferredWidth, preferredHeight: c.preferredHeight)
        }
        let obj = ConnectorObject(id: objects.allocateID(.connector), index: index, kind: kind, typeIndex: typeIndex,
                                  encoderIndex: c.encoder, status: c.connected ? .connected : .disconnected,
                                  modes: modes, mmWidth: c.mmWidth, mmHeight: c.mmHeight)
        if kind != .virtual && kind != .writeback {
            let preferred = modes.first { $0.type & ModeInfo.typePreferred != 0 } ?? modes.first
            obj.edidBlob = objects.makeKernelBlob(EDID.baseBlock(preferred: preferred, mmWidth: c.mmWidth, mmHeight: c.mmHeight, serial: UInt32(index + 1)))
        }
        return obj
    }
}
