import Dispatch
import Foundation
import Glibc

/// Fault rules applied to the card: the action kinds run here when added; the consulted kinds
/// are asked for by the core at its named points (codec entry, commit, fences, vblank).
extension Device {
    /// Parses and applies one spec (docs/faults.md). A bad spec changes nothing.
    @discardableResult
    public func addFault(_ text: String) throws(FaultSpec.ParseError) -> Int {
        try addFault(FaultSpec(parsing: text))
    }

    @discardableResult
    public func addFault(_ spec: FaultSpec) throws(FaultSpec.ParseError) -> Int {
        // Queries must meet the rule (and actions change what they answer): snapshots stand down.
        defer { snapshots.invalidate() }
        switch spec.kind {
        case .hotplugStorm(let name, let rate, let seconds):
            let k = try connectorIndex(named: name)
            let id = faults.add(spec)
            startHotplugStorm(rule: id, connector: k, rate: rate, seconds: seconds)
            return id
        case .connectorModes(let name, let modes):
            try changeConnector(named: name, connected: nil, modes: modes)
            return faults.recordAction(spec, detail: "connector \(name): \(modes.count) modes")
        case .connectorEDID(let name, let path):
            try changeConnector(named: name, connected: nil, edidPath: path)
            return faults.recordAction(spec, detail: "connector \(name): EDID from \(path)")
        case .masterRevoke:
            let who = revokeMaster()
            return faults.recordAction(spec, detail: who.map { "master revoked from file \($0)" } ?? "no master to revoke")
        case .backendCrash(let restartNs):
            return faults.recordAction(spec, detail: crashBackend(restartNs: restartNs))
        default:
            return faults.add(spec)
        }
    }

    /// Removes every rule; held commits complete at the next vblank, storms stop.
    public func clearFaults() {
        faults.clear()
        lock.withLock {
            for pc in pipeline.pendingCommits.compactMap({ $0 }) where pc.held { pipeline.releaseHeld(pc) }
            clock.runEagerClock()
            lock.broadcast()
        }
    }

    /// A connector by name (`Virtual-1`, `HDMI-A-1`), object id, or index.
    public func connectorIndex(named name: String) throws(FaultSpec.ParseError) -> Int {
        let found = lock.withLock { () -> Int? in
            if let k = topology.connectors.firstIndex(where: { $0.name == name && !$0.removed }) { return k }
            if let id = UInt32(name), let k = topology.connectorIndex(id: id) { return k }
            return nil
        }
        guard let found else {
            let names = lock.withLock { topology.connectors.filter { !$0.removed }.map(\.name) }.joined(separator: ", ")
            throw FaultSpec.ParseError(message: "no connector '\(name)' (have: \(names))")
        }
        return found
    }

    /// A hotplug as `ctl hotplug` and the connector fault kinds make it: everything is checked
    /// (connector, modes, EDID file and property) before anything changes.
    public func changeConnector(named name: String, connected: Bool?, modes: [FaultSpec.ModeSpec]? = nil, edidPath: String? = nil) throws(FaultSpec.ParseError) {
        let k = try connectorIndex(named: name)
        let infos = modes?.enumerated().map {
            ModeInfo.make(width: $0.element.width, height: $0.element.height, refresh: $0.element.refresh, preferred: $0.offset == 0)
        }
        let edid = try edidPath.map { path throws(FaultSpec.ParseError) in try Self.readEDID(path) }
        if edid != nil, lock.withLock({ topology.connectors[k].edidBlob == 0 }) {
            throw FaultSpec.ParseError(message: "connector \(name) has no EDID property (Virtual connectors have none)")
        }
        hotplug.setConnector(index: k, connected: connected, modes: infos, edid: edid)
    }

    static func readEDID(_ path: String) throws(FaultSpec.ParseError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FaultSpec.ParseError(message: "cannot read EDID file \(path)")
        }
        guard data.count >= 128, data.count % 128 == 0, data.count <= 32768 else {
            throw FaultSpec.ParseError(message: "\(path): \(data.count) bytes is not raw EDID (a multiple of 128)")
        }
        return [UInt8](data)
    }

    /// As logind on a VT switch: the holder is no longer master (it may SET_MASTER again).
    /// Returns the file that lost it.
    public func revokeMaster() -> Int? {
        lock.withLock {
            guard let m = files.master else { return nil }
            files.master = nil
            lock.broadcast()
            return m.id
        }
    }

    /// Kills the backend process when there is one; otherwise the display goes away as if
    /// its backend died and comes back after `restartNs` of real time.
    func crashBackend(restartNs: Int64) -> String {
        if let hook = lock.withLock({ display.crashHook }), hook() { return "backend process killed" }
        let before = lock.withLock { topology.connectors.map(\.status) }
        display.lost()
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(restartNs))) { [weak self] in
            guard let self, !self.lock.withLock({ self.clock.shuttingDown }) else { return }
            for (k, s) in before.enumerated() where s == .connected { self.hotplug.setConnector(index: k, connected: true) }
        }
        return "virtual display lost; back in \(restartNs / 1_000_000) ms"
    }

    /// Toggles connector k `rate` times a second until the rule is cleared or `seconds` pass;
    /// the storm always ends where it started.
    private func startHotplugStorm(rule: Int, connector k: Int, rate: Double, seconds: Double?) {
        let original = lock.withLock { topology.connectors[k].status == .connected }
        let start = Monotonic.nowNs()
        var connected = original
        var toggles = 0
        clock.startPacedThread(name: "fakedrm-hotplug-storm", periodNs: Int64(1e9 / rate), firstAfterNs: 0) { device in
            let over = seconds.map { Double(Monotonic.nowNs() - start) / 1e9 >= $0 } ?? false
            // A storm's toggles are its injections; a cleared rule ends it.
            if over || !device.faults.consultRule(id: rule, detail: "toggle \(toggles + 1): \(connected ? "disconnected" : "connected")") {
                if connected != original { device.hotplug.setConnector(index: k, connected: original) }
                return false
            }
            connected.toggle()
            toggles += 1
            device.hotplug.setConnector(index: k, connected: connected)
            return true
        }
    }
}
