import Foundation

/// Connector changes on a running card and who hears of them: hotplug generations and
/// observers (uevents), connectors plugged and unplugged, status and modes the display reports.
/// Under the device lock.
///
/// Connectors come and go on a running card, as a DisplayPort MST hub's do: the kernel
/// registers and unregisters connectors at runtime (drm_connector_register/unregister) but
/// never CRTCs, planes or encoders of a registered device (vkms's configfs refuses changes to
/// an enabled device), so those stay what the config file made.
///
/// @unchecked Sendable: a DeviceRoom (its state only with the device lock held).
public final class Hotplug: DeviceRoom, @unchecked Sendable {
    /// Bumped on every connector change; front ends turn it into hotplug uevents.
    public internal(set) var generation: UInt64 = 0
    var observers: [@Sendable (UInt64, ObjectID?) -> Void] = []
    var leaseObservers: [@Sendable () -> Void] = []

    /// Runs `observer` (on a global queue, never under the device lock) after every connector
    /// change, with the new hotplug generation and the connector when only one changed: what
    /// the kernel announces as a HOTPLUG uevent (with CONNECTOR=id).
    public func addObserver(_ observer: @escaping @Sendable (UInt64, ObjectID?) -> Void) {
        lock.withLock { observers.append(observer) }
    }

    /// Called with the lock held after a connector change: a new generation, announced.
    func announce(connector: ObjectID?) {
        device.snapshots.invalidate()
        generation += 1
        let generation = generation
        let observers = observers
        DispatchQueue.global().async { for o in observers { o(generation, connector) } }
    }

    /// Runs `observer` (on a global queue) after a lease is revoked or ends: the kernel's
    /// LEASE uevent.
    public func addLeaseObserver(_ observer: @escaping @Sendable () -> Void) {
        lock.withLock { leaseObservers.append(observer) }
    }

    func announceLeaseChange() {
        device.snapshots.invalidate()
        let observers = leaseObservers
        DispatchQueue.global().async { for o in observers { o() } }
    }
}

extension Hotplug {
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
            let taken = Set(topology.connectors.filter { $0.kind == kind && !$0.removed }.map(\.typeIndex))
            let typeIndex = (1...).first { !taken.contains($0) } ?? 1
            let obj = CardBuilder(config: config, objects: objects).makeConnector(spec, kind: kind, index: topology.connectors.count, typeIndex: typeIndex, modes: override)
            let hasEDID = obj.edidBlob != 0
            let kinds: [PropertyKind] = (hasEDID ? [.edid] : []) + [.dpms, .linkStatus, .nonDesktop, .tile, .crtcID]
            obj.properties = kinds.compactMap { objects.propertyByKind[$0]?.id }
            topology.connectors.append(obj)
            pipeline.state.connectors.append(ConnectorState())
            pipeline.latched.connectors.append(ConnectorState())
            objects.attach(obj.properties, to: obj.id)
            announce(connector: nil)
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
        do { k = try device.connectorIndex(named: name) } catch { throw TopologyError(message: error.message) }
        try lock.withLock { () throws(TopologyError) in
            let obj = topology.connectors[k]
            try waitForQuiescence()
            // Checked after the wait, which lets go of the lock: another removal may have run.
            if obj.removed { throw TopologyError(message: "\(obj.name) is already unplugged") }
            if obj.writeback != nil { throw TopologyError(message: "\(obj.name) is a writeback connector; crtcs[].writeback makes those") }
            if topology.connectors.filter({ !$0.removed && $0.writeback == nil }).count == 1 {
                throw TopologyError(message: "\(obj.name) is the card's last connector")
            }
            if let c = topology.crtcIndex(of: pipeline.state.connectors[k].crtc) {
                var p = AtomicProposal(new: pipeline.state)
                p.touchedConnectors.insert(k)
                p.new.connectors[k].crtc = 0
                let crtcID = topology.crtcs[c].id
                if !p.new.connectors.contains(where: { $0.crtc == crtcID }) {
                    p.touchedCRTCs.insert(c)
                    p.new.crtcs[c] = CRTCState(gammaBlob: pipeline.state.crtcs[c].gammaBlob, vrrEnabled: pipeline.state.crtcs[c].vrrEnabled)
                    for i in topology.planes.indices where p.new.planes[i].crtc == crtcID {
                        p.touchedPlanes.insert(i)
                        p.new.planes[i].crtc = 0
                        p.new.planes[i].fb = 0
                    }
                }
                do throws(DRMError) {
                    try pipeline.commitProposal(p, file: FileContext.kernel, flags: DRMConst.atomicAllowModeset, userData: 0)
                } catch {
                    throw TopologyError(message: "could not take \(obj.name) off its CRTC: \(error)")
                }
            }
            obj.removed = true
            obj.status = .disconnected
            // The id stays allocated (never reused for another object while the entry exists),
            // but no lookup finds it.
            objects.objectTypes[obj.id] = nil
            objects.attachedProperties[obj.id] = nil
            if obj.edidBlob != 0 {
                objects.dropKernelBlob(obj.edidBlob)
                obj.edidBlob = 0
            }
            announce(connector: nil)
            pipeline.collectGarbage()
            lock.broadcast()
        }
    }

    /// Pending commits carry whole copies of the state: a topology change waits (lock held,
    /// up to a second) until none is in flight, so no copy with the old connector count lands.
    private func waitForQuiescence() throws(TopologyError) {
        let deadline = Monotonic.nowNs() + 1_000_000_000
        while pipeline.pendingCommits.contains(where: { $0 != nil }) {
            if !lock.wait(untilMonotonicNs: deadline) {
                throw TopologyError(message: "a commit is still in flight (virtual time not stepping?); try again")
            }
        }
    }

    /// Connector status and modes as the display reports them (virtio GET_DISPLAY_INFO, or a
    /// hotplug from the control path).
    /// `connected: nil` keeps the status (a mode list or EDID change alone).
    public func setConnector(index k: Int, connected: Bool?, modes: [ModeInfo]? = nil, edid: [UInt8]? = nil) {
        lock.withLock {
            guard k >= 0, k < topology.connectors.count, !topology.connectors[k].removed else { return }
            if let connected { topology.connectors[k].status = connected ? .connected : .disconnected }
            if let modes, !modes.isEmpty { topology.connectors[k].modes = NoEDIDModes.sortModes(modes) }
            if let edid, topology.connectors[k].edidBlob != 0 {
                // A new blob id, as drm_connector_update_edid_property replaces the blob.
                let old = topology.connectors[k].edidBlob
                topology.connectors[k].edidBlob = objects.makeKernelBlob(edid)
                objects.dropKernelBlob(old)
            }
            topology.connectors[k].epoch += 1
            announce(connector: topology.connectors[k].id)
            lock.broadcast()
        }
    }
}
