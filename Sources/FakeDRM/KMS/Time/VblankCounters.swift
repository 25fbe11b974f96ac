import Foundation

/// Per-CRTC vblank counters (drm_vblank.c): the clocks that run while a CRTC is active, the
/// waiters for a count, and the CRC taps sampled at each vblank. Under the device lock.
///
/// @unchecked Sendable: a DeviceRoom (its state only with the device lock held).
public final class VblankCounters: DeviceRoom, @unchecked Sendable {
    var clocks: [VblankClock]
    var waiters: [VblankWaiter] = []
    /// The CRTCs' CRC taps behind debugfs `crtc-N/crc/` (thread-safe on their own).
    public let crc: CRCCapture

    init(_ shared: Shared, crtcCount: Int) {
        clocks = (0..<crtcCount).map { _ in VblankClock() }
        crc = CRCCapture(crtcCount: crtcCount)
        super.init(shared)
    }

    func dropWaiters(of file: FileContext) { waiters.removeAll { $0.file === file } }

    /// Called with the lock held whenever a CRTC's active state or mode changes.
    func updateVblankClock(_ i: Int) {
        let s = pipeline.state.crtcs[i]
        let shouldRun = s.active && s.mode != nil
        if let m = s.mode { clocks[i].periodNs = clocks[i].hostPacing?.periodNs ?? m.framePeriodNs }
        if shouldRun && !clocks[i].running {
            clocks[i].running = true
            clocks[i].lastNs = clock.nowNs()
            clocks[i].reportedNs = clocks[i].lastNs + clocks[i].offsetNs
        } else if !shouldRun && clocks[i].running {
            clocks[i].running = false
            clocks[i].hostPacing = nil
            // drm_crtc_vblank_off: pending vblank events are sent now with the last count.
            for w in waiters where w.crtcIndex == i { deliver(w, sequence: clocks[i].count, at: clocks[i].reportedNs) }
            waiters.removeAll { $0.crtcIndex == i }
        }
        lock.broadcast()
    }

    /// One vblank on CRTC i: latch the armed commit, then wake vblank waiters (the order of
    /// drm_crtc_handle_vblank: flip completion is sent for the frame that starts now).
    func tick(_ i: Int, at ts: Int64) {
        clocks[i].lastNs = ts
        guard let reported = vblankInterrupt(i, at: ts) else { return }
        let first = clocks[i].count &+ 1
        clocks[i].count &+= 1 &+ clocks[i].missed
        clocks[i].missed = 0
        clocks[i].reportedNs = reported
        let seq = clocks[i].count
        let pipeline: AtomicPipeline = pipeline
        if let p = pipeline.pendingCommits[i], p.armed, p.waitsForVblank, !p.held, ts >= p.notBeforeNs, !display.backend.completesFlips {
            pipeline.completeFlip(p, sequence: seq, at: reported)
        }
        // After the flip: the entry for frame `seq` is of the picture that frame shows.
        if crc.isCapturing(i) {
            crc.framesEnded(crtc: i, first: UInt32(truncatingIfNeeded: first), last: UInt32(truncatingIfNeeded: seq), scanout: pipeline.scanout(for: i))
        }
        var remaining: [VblankWaiter] = []
        for w in waiters {
            guard w.crtcIndex == i, w.target <= seq else { remaining.append(w); continue }
            deliver(w, sequence: seq, at: reported)
        }
        waiters = remaining
        lock.broadcast()
    }

    private func deliver(_ w: VblankWaiter, sequence seq: UInt64, at ts: Int64) {
        switch w.kind {
        case .vblankEvent(let ud):
            w.file.queue(event: DRMEvent.vblank(type: DRMConst.eventVblank, userData: ud, ts: ts,
                                                   sequence: UInt32(truncatingIfNeeded: seq), crtcID: topology.crtcs[w.crtcIndex].id))
        case .sequenceEvent(let ud):
            w.file.queue(event: DRMEvent.crtcSequence(userData: ud, ts: ts, sequence: seq))
        }
    }
}

/// A CRTC's vblank counter: runs at the mode's refresh while the CRTC is active.
struct VblankClock {
    var running = false
    var count: UInt64 = 0
    /// When the last vblank happened: the base of the next one.
    var lastNs: Int64 = 0
    /// The timestamp clients were given for it (differs under jitter and jump faults).
    var reportedNs: Int64 = 0
    var periodNs: Int64 = 16_666_667
    /// Interrupts lost to faults since the last delivered one: the counter catches up at the
    /// next, as drm_update_vblank_count does from timestamps when there is no hardware counter.
    var missed: UInt64 = 0
    var dropLeft = 0
    var stallUntilNs: Int64 = 0
    /// Added to timestamps after a `vblank-jump`.
    var offsetNs: Int64 = 0
    /// Set while a host display's frames pace this CRTC (Display.hostFrame).
    var hostPacing: HostFramePacing?
}

/// The period of a host display's frames, from the intervals between its frame callbacks: a
/// running mean that follows a host changing its rate within a few frames and ignores gaps
/// (the host sends no frame callbacks while nothing is committed).
struct HostFramePacing {
    private(set) var periodNs: Int64
    private var lastNs: Int64?

    init(initialPeriodNs: Int64) { periodNs = initialPeriodNs }

    static let minPeriodNs: Int64 = 4_000_000, maxPeriodNs: Int64 = 100_000_000

    mutating func frame(at ns: Int64) {
        defer { lastNs = ns }
        guard let last = lastNs else { return }
        let d = ns - last
        // Longer than the slowest plausible refresh: an idle gap, not a frame period.
        guard d >= Self.minPeriodNs / 2, d <= Self.maxPeriodNs else { return }
        periodNs = min(max((periodNs * 3 + d) / 4, Self.minPeriodNs), Self.maxPeriodNs)
    }
}

/// Someone waiting for a vblank count on one CRTC: an event to queue, or a sleeping ioctl.
struct VblankWaiter {
    enum Kind {
        case vblankEvent(userData: UInt64)
        case sequenceEvent(userData: UInt64)
    }
    let file: FileContext
    let crtcIndex: Int
    let target: UInt64
    let kind: Kind
}

