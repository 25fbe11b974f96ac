/// The display behind the card: the scanout backend and how it reports back (flips done, the
/// display lost), plus the hook that kills its process. Under the device lock.
///
/// @unchecked Sendable: a DeviceRoom (its state only with the device lock held).
public final class Display: DeviceRoom, @unchecked Sendable {
    public private(set) var backend: ScanoutBackend
    var crashHook: (@Sendable () -> Bool)?

    init(_ shared: Shared, backend: ScanoutBackend) {
        self.backend = backend
        super.init(shared)
    }

    /// Swaps the display behind the card (e.g. a restarted vhost-user backend) without
    /// restarting the daemon.
    public func attach(_ b: ScanoutBackend) {
        lock.withLock {
            backend = b
            b.attach(to: device)
            lock.broadcast()
        }
    }

    /// Kills the attached backend's process (`backend-crash`); set by whoever spawned it.
    public var crashBackendProcess: (@Sendable () -> Bool)? {
        get { lock.withLock { crashHook } }
        set { lock.withLock { crashHook = newValue } }
    }
}

extension Display {
    /// A flip-completing backend finished showing the commit named by `token`.
    public func flipDone(crtcIndex c: Int, token: UInt64, timestampNs: Int64? = nil) {
        lock.withLock {
            guard c >= 0, c < pipeline.pendingCommits.count, let pc = pipeline.pendingCommits[c], pc.token == token, pc.armed else { return }
            var ts = timestampNs ?? clock.nowNs()
            if clock.virtualTime && pc.waitsForVblank {
                // Virtual time has no vblank thread: the backend's completion is the frame, so
                // the counter and the clock advance with it and events carry distinct sequences.
                vblank.clocks[c].count &+= 1
                clock.virtualNowNs = max(clock.virtualNowNs, vblank.clocks[c].lastNs + vblank.clocks[c].periodNs)
                vblank.clocks[c].lastNs = clock.virtualNowNs
                ts = clock.virtualNowNs
            } else {
                // A host's presentation time can be older than the frame callback that last
                // ticked this CRTC's clock. The kernel stamps a flip with its vblank's time,
                // never earlier than a vblank already reported: weston asserts it
                // (weston_output_finish_frame) and aborts otherwise.
                ts = max(ts, vblank.clocks[c].reportedNs)
            }
            pipeline.completeFlip(pc, sequence: vblank.clocks[c].count, at: ts)
        }
    }

    /// A frame of the host display showing CRTC c (a frame callback), in real time: the
    /// CRTC's vblank clock follows the host's frames, counting this one (or taking its phase
    /// when the clock just ticked) and running at the host's period, so the sequences of flip
    /// events and vblank waits advance with what the host shows. Between host frames (the host
    /// sends none while nothing is committed) the clock keeps running at that period. Virtual
    /// time needs none of this: there a backend's completion is the frame (flipDone).
    public func hostFrame(crtcIndex c: Int, at ts: Int64? = nil) {
        lock.withLock {
            guard c >= 0, c < vblank.clocks.count, vblank.clocks[c].running, !clock.virtualTime else { return }
            let now = ts ?? clock.nowNs()
            var pacing = vblank.clocks[c].hostPacing ?? HostFramePacing(initialPeriodNs: vblank.clocks[c].periodNs)
            pacing.frame(at: now)
            vblank.clocks[c].hostPacing = pacing
            let period = pacing.periodNs
            vblank.clocks[c].periodNs = period
            if now - vblank.clocks[c].lastNs >= period / 2 {
                // After a stamp that only took the host's phase (moving lastNs back), the next
                // may still be older than the vblank the card's own clock last reported: a
                // kernel's vblank timestamps never go back, and weston aborts if they do.
                vblank.tick(c, at: max(now, vblank.clocks[c].reportedNs - vblank.clocks[c].offsetNs))
            } else {
                vblank.clocks[c].lastNs = now
                lock.broadcast()
            }
        }
    }

    /// A buffer-holding backend's host let go of every buffer the commits on this CRTC up to
    /// `token` put on screen: their release fences signal (each once its commit latched).
    public func buffersReleased(crtcIndex c: Int, throughToken token: UInt64) {
        markReleased(crtcIndex: c) { $0 <= token }
    }

    /// The same for exactly these commits (the host let go of their buffers, maybe not of
    /// older ones).
    public func buffersReleased(crtcIndex c: Int, tokens: [UInt64]) {
        let set = Set(tokens)
        markReleased(crtcIndex: c) { set.contains($0) }
    }

    private func markReleased(crtcIndex c: Int, _ match: (UInt64) -> Bool) {
        lock.withLock {
            var changed = false
            for i in pipeline.releaseWaits.indices where pipeline.releaseWaits[i].crtcIndex == c && match(pipeline.releaseWaits[i].token)
                && !pipeline.releaseWaits[i].hostReleased {
                pipeline.releaseWaits[i].hostReleased = true
                changed = true
            }
            if changed { pipeline.settleReleases(at: clock.nowNs()) }
        }
    }

    /// The display behind the card went away (backend killed, socket closed): connectors turn
    /// disconnected, pending flips complete with their fences signalled in error so no client
    /// waits forever, and release fences fail with ENODEV. The KMS side keeps serving.
    public func lost(error: Int32 = -19) {
        lock.withLock {
            let ts = clock.nowNs()
            for c in pipeline.pendingCommits.indices {
                guard let pc = pipeline.pendingCommits[c] else { continue }
                pc.outFence?.signal(at: ts, error: error)
                pipeline.completeFlip(pc, sequence: vblank.clocks[c].count, at: ts)
            }
            for w in pipeline.releaseWaits { w.fence.signal(at: ts, error: error) }
            pipeline.releaseWaits = []
            for c in vblank.clocks.indices { vblank.clocks[c].hostPacing = nil }
            for k in topology.connectors.indices where topology.connectors[k].status != .disconnected && !topology.connectors[k].removed {
                topology.connectors[k].status = .disconnected
                topology.connectors[k].epoch += 1
            }
            hotplug.announce(connector: nil)
            lock.broadcast()
        }
    }
}
