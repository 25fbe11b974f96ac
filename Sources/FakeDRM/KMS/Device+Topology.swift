import Foundation

/// Connectors that come and go on a running card, as a DisplayPort MST hub's do: the kernel
/// registers and unregisters connectors at runtime (drm_connector_register/unregister) but
/// never CRTCs, planes or encoders of a registered device (vkms's configfs refuses changes to
/// an enabled device), so those stay what the config file made.
extension Device {
    public struct TopologyError: Error, Sendable {
        public let message: String
    }

    /// Plugs in a connector described as in the config file (type, encoder, modes, size,
    /// status), checked by the same DeviceConfig validation; returns its name. Clients get a
    /// HOTPLUG uevent and find it in GETRESOURCES. `modes` replaces the spec's mode list (the
    /// control path's WxH@Hz form).
    public func addConnector(_ spec: DeviceConfig.Connector, modes override: [ModeInfo]? = nil) throws(TopologyError) -> String {
        var next = config
        next.connectors.append(spec)
        do { try next.validate() } catch { throw TopologyError(message: "\(error)") }
        guard let kind = ConnectorKind(name: spec.type) else { throw TopologyError(message: "unknown connector type \(spec.type)") }
        return try lock.withLock { () throws(TopologyError) -> String in
            try waitForQuiescence()
            // connector_type_id comes from an ida: the lowest number no live connector of the
            // kind holds, so a replugged HDMI-A-2 is HDMI-A-2 again.
            let taken = Set(connectors.filter { $0.kind == kind && !$0.removed }.map(\.typeIndex))
            let typeIndex = (1...).first { !taken.contains($0) } ?? 1
            let obj = makeConnector(spec, kind: kind, index: connectors.count, typeIndex: typeIndex, modes: override)
            let hasEDID = obj.edidBlob != 0
            let kinds: [PropertyKind] = (hasEDID ? [.edid] : []) + [.dpms, .linkStatus, .nonDesktop, .tile, .crtcID]
            obj.properties = kinds.compactMap { propertyByKind[$0]?.id }
            connectors.append(obj)
            state.connectors.append(ConnectorState())
            latched.connectors.append(ConnectorState())
            let all = obj.properties.compactMap { properties[$0] }
            attachedProperties[obj.id] = (all, all.filter { !$0.isAtomicOnly })
            hotplugGeneration += 1
            announceHotplug(connector: nil)
            lock.broadcast()
            return obj.name
        }
    }

    /// Unplugs a connector: a commit of the kernel's own takes it off its CRTC (switching the
    /// CRTC off when no other connector drives it), then the object is gone: GETCONNECTOR and
    /// any use of its id give ENOENT. The kernel keeps an unregistered MST connector listed
    /// until the last atomic state referencing it is replaced; fakedrm replaces that state
    /// itself, so the connector disappears at once.
    public func removeConnector(named name: String) throws(TopologyError) {
        let k: Int
        do { k = try connectorIndex(named: name) } catch { throw TopologyError(message: error.message) }
        try lock.withLock { () throws(TopologyError) in
            let obj = connectors[k]
            try waitForQuiescence()
            // Checked after the wait, which lets go of the lock: another removal may have run.
            if obj.removed { throw TopologyError(message: "\(obj.name) is already unplugged") }
            if obj.writeback != nil { throw TopologyError(message: "\(obj.name) is a writeback connector; crtcs[].writeback makes those") }
            if connectors.filter({ !$0.removed && $0.writeback == nil }).count == 1 {
                throw TopologyError(message: "\(obj.name) is the card's last connector")
            }
            if let c = crtcIndex(of: state.connectors[k].crtc) {
                var p = AtomicProposal(new: state)
                p.touchedConnectors.insert(k)
                p.new.connectors[k].crtc = 0
                let crtcID = crtcs[c].id
                if !p.new.connectors.contains(where: { $0.crtc == crtcID }) {
                    p.touchedCRTCs.insert(c)
                    p.new.crtcs[c] = CRTCState(gammaBlob: state.crtcs[c].gammaBlob, vrrEnabled: state.crtcs[c].vrrEnabled)
                    for i in planes.indices where p.new.planes[i].crtc == crtcID {
                        p.touchedPlanes.insert(i)
                        p.new.planes[i].crtc = 0
                        p.new.planes[i].fb = 0
                    }
                }
                do throws(DRMError) {
                    try commitProposal(p, file: FileContext.kernel, flags: DRMConst.atomicAllowModeset, userData: 0)
                } catch {
                    throw TopologyError(message: "could not take \(obj.name) off its CRTC: \(error)")
                }
            }
            obj.removed = true
            obj.status = .disconnected
            // The id stays allocated (never reused for another object while the entry exists),
            // but no lookup finds it.
            objectTypes[obj.id] = nil
            attachedProperties[obj.id] = nil
            if obj.edidBlob != 0 {
                blobs[obj.edidBlob] = nil
                freeID(obj.edidBlob)
                obj.edidBlob = 0
            }
            hotplugGeneration += 1
            announceHotplug(connector: nil)
            collectGarbage()
            lock.broadcast()
        }
    }

    /// Pending commits carry whole copies of the state: a topology change waits (lock held,
    /// up to a second) until none is in flight, so no copy with the old connector count lands.
    private func waitForQuiescence() throws(TopologyError) {
        let deadline = Monotonic.nowNs() + 1_000_000_000
        while pendingCommits.contains(where: { $0 != nil }) {
            if !lock.wait(untilMonotonicNs: deadline) {
                throw TopologyError(message: "a commit is still in flight (virtual time not stepping?); try again")
            }
        }
    }
}
