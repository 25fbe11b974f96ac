/// `fakedrm ctl state`: the card as the daemon sees it, shaped like `drm_info -j` where the
/// two overlap (docs/control.md). Built under the lock, so it is one consistent snapshot.
public struct StateDump: Codable, Sendable {
    public struct Driver: Codable, Sendable { var name, desc, date, version: String }
    public struct Mode: Codable, Sendable {
        var name: String
        var hdisplay, vdisplay: Int
        var vrefresh: Int
        var clock: Int
        var preferred: Bool
    }
    public struct Connector: Codable, Sendable {
        var id: UInt32
        var name, type, status: String
        var crtcID: UInt32
        var edidBlob: UInt32
        var epoch: UInt64
        var modes: [Mode]
    }
    public struct Vblank: Codable, Sendable { var running: Bool; var count: UInt64; var timestampNs: Int64 }
    public struct CRTC: Codable, Sendable {
        var id: UInt32
        var index: Int
        var active: Bool
        var mode: Mode?
        var vblank: Vblank
        var pendingCommit: Bool
    }
    public struct Plane: Codable, Sendable {
        var id: UInt32
        var type: String
        var fbID, crtcID: UInt32
        var src: [UInt32]
        var dst: [Int64]
    }
    public struct Framebuffer: Codable, Sendable {
        var id: UInt32
        var width, height: UInt32
        var format: String
        var ownerFile: Int
    }
    public struct Blob: Codable, Sendable { var id: UInt32; var length: Int; var ownerFile: Int? }
    /// A fence the card made that has not signalled: an out-fence of a pending flip, or a
    /// release fence waiting for its framebuffers to leave the screen.
    public struct PendingFence: Codable, Sendable {
        var kind: String
        var crtcIndex: Int?
        var timeline: String
        var seqno: UInt64
    }
    public struct File: Codable, Sendable {
        var id: Int
        var pid: Int32
        var uid: UInt32
        var master, atomic: Bool
        var handles, syncobjs, queuedEvents: Int
        var authenticated: Bool
        var magic: UInt32
        /// Its last failed request and why (nil: none failed yet).
        var lastRejection: LastRejection?
    }
    public struct Summary: Codable, Sendable, Equatable {
        public var files, framebuffers, userBlobs, pendingCommits, vblankWaiters, queuedEvents: Int
        public var releaseFencesPending, buffers, objects: Int
    }

    var driver: Driver
    var virtualTime: Bool
    var hotplugEpoch: UInt64
    var connectors: [Connector]
    var crtcs: [CRTC]
    var planes: [Plane]
    var framebuffers: [Framebuffer]
    var blobs: [Blob]
    var files: [File]
    var pendingFences: [PendingFence]
    var masterFile: Int?
    public var summary: Summary
    /// The display behind the card, when its backend reports one (the Wayland host's).
    var display: DisplaySummary?
}

extension StateDump.Mode {
    init(_ m: ModeInfo) {
        self.init(name: m.name, hdisplay: Int(m.hdisplay), vdisplay: Int(m.vdisplay), vrefresh: Int(m.vrefresh),
                  clock: Int(m.clock), preferred: m.type & ModeInfo.typePreferred != 0)
    }
}

extension Device {
    /// The card's fences that have not signalled (lock held): out-fences of pending flips and
    /// release fences waiting for their framebuffers to leave the screen.
    func unsignalledFences() -> [StateDump.PendingFence] {
        let out = pipeline.pendingCommits.compactMap { $0 }.compactMap { pc -> StateDump.PendingFence? in
            guard let f = pc.outFence, !f.isSignalled else { return nil }
            return .init(kind: "out", crtcIndex: pc.crtcIndex, timeline: f.timelineName, seqno: f.seqno)
        }
        return out + pipeline.releaseWaits.map { .init(kind: "release", crtcIndex: nil, timeline: $0.fence.timelineName, seqno: $0.fence.seqno) }
    }

    public func stateDump() -> StateDump {
        lock.withLock {
            buffers.createdBuffers.removeAll { $0.object == nil }
            let conns = topology.connectors.filter { !$0.removed }.map { c in
                StateDump.Connector(id: c.id, name: c.name, type: c.kind.kernelName,
                                    status: c.status == .connected ? "connected" : c.status == .disconnected ? "disconnected" : "unknown",
                                    crtcID: pipeline.state.connectors[c.index].crtc, edidBlob: c.edidBlob, epoch: c.epoch,
                                    modes: c.modes.map(StateDump.Mode.init))
            }
            let crtcList = topology.crtcs.map { c in
                StateDump.CRTC(id: c.id, index: c.index, active: pipeline.state.crtcs[c.index].active, mode: pipeline.state.crtcs[c.index].mode.map(StateDump.Mode.init),
                               vblank: .init(running: vblank.clocks[c.index].running, count: vblank.clocks[c.index].count, timestampNs: vblank.clocks[c.index].reportedNs),
                               pendingCommit: pipeline.pendingCommits[c.index] != nil)
            }
            let planeList = topology.planes.map { p in
                let s = pipeline.state.planes[p.index]
                return StateDump.Plane(id: p.id, type: "\(p.type)", fbID: s.fb, crtcID: s.crtc,
                                       src: [s.srcX >> 16, s.srcY >> 16, s.srcW >> 16, s.srcH >> 16],
                                       dst: [Int64(s.crtcX), Int64(s.crtcY), Int64(s.crtcW), Int64(s.crtcH)])
            }
            let fbs = objects.framebuffers.values.filter(\.listed).sorted { $0.id < $1.id }.map {
                StateDump.Framebuffer(id: $0.id, width: $0.width, height: $0.height, format: PixelFormat.name($0.format), ownerFile: $0.ownerFile)
            }
            let blobList = objects.blobs.values.sorted { $0.id < $1.id }.map { StateDump.Blob(id: $0.id, length: $0.data.count, ownerFile: $0.listed ? $0.ownerFile : nil) }
            let fileList = files.all.values.sorted { $0.id < $1.id }.map { f in
                StateDump.File(id: f.id, pid: f.pid, uid: f.uid, master: files.master === f || files.isActiveLessee(f), atomic: f.atomic,
                               handles: f.handles.count, syncobjs: f.syncobjs.count, queuedEvents: f.events.count,
                               authenticated: f.authenticated, magic: f.magic, lastRejection: f.lastRejection)
            }
            let fences = unsignalledFences()
            let summary = StateDump.Summary(
                files: files.all.count, framebuffers: objects.framebuffers.count, userBlobs: objects.blobs.values.filter { $0.ownerFile != nil && $0.listed }.count,
                pendingCommits: pipeline.pendingCommits.compactMap { $0 }.count, vblankWaiters: vblank.waiters.count,
                queuedEvents: files.all.values.reduce(0) { $0 + $1.events.count }, releaseFencesPending: pipeline.releaseWaits.count,
                buffers: buffers.createdBuffers.count, objects: objects.objectTypes.count)
            return StateDump(driver: .init(name: config.driver.name, desc: config.driver.description, date: config.driver.date,
                                           version: "\(config.driver.major).\(config.driver.minor).\(config.driver.patchlevel)"),
                             virtualTime: clock.virtualTime, hotplugEpoch: hotplug.generation, connectors: conns, crtcs: crtcList,
                             planes: planeList, framebuffers: fbs, blobs: blobList, files: fileList, pendingFences: fences,
                             masterFile: files.master?.id, summary: summary, display: display.backend.summary)
        }
    }
}
