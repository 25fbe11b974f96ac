import Foundation

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

/// A commit swapped into the software state whose flip has not completed yet (per CRTC).
final class PendingCommit {
    let crtcIndex: Int
    let newState: KMSState
    var events: [(file: FileContext, userData: UInt64)]
    let outFence: Fence?
    var armed = false
    var done = false
    /// The commit needs at least one vblank (the CRTC is active afterwards).
    let waitsForVblank: Bool
    /// Names the commit to a flip-completing backend.
    let token: UInt64
    /// The file that made it (0: the kernel itself, e.g. RMFB on close).
    var ownerFile = 0
    /// Held by a fault (`commit-hang`, `fence-never which=in`): it does not complete until the
    /// rules are cleared or its file closes.
    var held = false
    /// `commit-late`/`backend-slow`: no completion before this time.
    var notBeforeNs: Int64 = 0
    /// `backend-error`: the frame is not shown and the out-fence fails with this (negative).
    var backendError: Int32 = 0
    /// `fence-late which=in`: arms the commit when the delay is over (or its file closes).
    var deferredArm: (() -> Void)?
    /// Writeback jobs of the CRTC's writeback connectors, run once the commit is on screen.
    var writebacks: [WritebackJob] = []

    init(crtcIndex: Int, newState: KMSState, events: [(FileContext, UInt64)], outFence: Fence?, waitsForVblank: Bool, token: UInt64) {
        self.token = token
        self.crtcIndex = crtcIndex
        self.newState = newState
        self.events = events.map { (file: $0.0, userData: $0.1) }
        self.outFence = outFence
        self.waitsForVblank = waitsForVblank
    }

    func dropEvents(for file: FileContext) { events.removeAll { $0.file === file } }
}

/// A release fence waiting for the fbs its commit put on screen to leave it.
struct ReleaseWait {
    let fence: Fence
    var shown: [(planeIndex: Int, fb: ObjectID)]
    /// The commit that put them on screen: release is judged only after it latched.
    var armedAfter: PendingCommit?
}

extension Device {
    func nowNs() -> Int64 { virtualTime ? virtualNowNs : Monotonic.nowNs() }

    /// Called with the lock held whenever a CRTC's active state or mode changes.
    func updateVblankClock(_ i: Int) {
        let s = state.crtcs[i]
        let shouldRun = s.active && s.mode != nil
        if let m = s.mode { vblank[i].periodNs = m.framePeriodNs }
        if shouldRun && !vblank[i].running {
            vblank[i].running = true
            vblank[i].lastNs = nowNs()
            vblank[i].reportedNs = vblank[i].lastNs + vblank[i].offsetNs
        } else if !shouldRun && vblank[i].running {
            vblank[i].running = false
            // drm_crtc_vblank_off: pending vblank events are sent now with the last count.
            for w in vblankWaiters where w.crtcIndex == i { deliver(w, sequence: vblank[i].count, at: vblank[i].reportedNs) }
            vblankWaiters.removeAll { $0.crtcIndex == i }
        }
        lock.broadcast()
    }

    /// One vblank on CRTC i: latch the armed commit, then wake vblank waiters (the order of
    /// drm_crtc_handle_vblank: flip completion is sent for the frame that starts now).
    func tick(_ i: Int, at ts: Int64) {
        vblank[i].lastNs = ts
        guard let reported = vblankInterrupt(i, at: ts) else { return }
        let first = vblank[i].count &+ 1
        vblank[i].count &+= 1 &+ vblank[i].missed
        vblank[i].missed = 0
        vblank[i].reportedNs = reported
        let seq = vblank[i].count
        if let p = pendingCommits[i], p.armed, p.waitsForVblank, !p.held, ts >= p.notBeforeNs, !backend.completesFlips {
            completeFlip(p, sequence: seq, at: reported)
        }
        // After the flip: the entry for frame `seq` is of the picture that frame shows.
        if crc.isCapturing(i) {
            crc.framesEnded(crtc: i, first: UInt32(truncatingIfNeeded: first), last: UInt32(truncatingIfNeeded: seq), scanout: scanout(for: i))
        }
        var remaining: [VblankWaiter] = []
        for w in vblankWaiters {
            guard w.crtcIndex == i, w.target <= seq else { remaining.append(w); continue }
            deliver(w, sequence: seq, at: reported)
        }
        vblankWaiters = remaining
        lock.broadcast()
    }

    private func deliver(_ w: VblankWaiter, sequence seq: UInt64, at ts: Int64) {
        switch w.kind {
        case .vblankEvent(let ud):
            w.file.queue(event: Device.vblankEvent(type: DRMConst.eventVblank, userData: ud, ts: ts,
                                                   sequence: UInt32(truncatingIfNeeded: seq), crtcID: crtcs[w.crtcIndex].id))
        case .sequenceEvent(let ud):
            w.file.queue(event: Device.crtcSequenceEvent(userData: ud, ts: ts, sequence: seq))
        }
    }

    static func crtcSequenceEvent(userData: UInt64, ts: Int64, sequence: UInt64) -> [UInt8] {
        var b = ArgBuffer(size: EventCrtcSequenceLayout.size)
        b[EventCrtcSequenceLayout.type] = DRMConst.eventCrtcSequence
        b[EventCrtcSequenceLayout.length] = UInt32(EventCrtcSequenceLayout.size)
        b[EventCrtcSequenceLayout.userData] = userData
        b[EventCrtcSequenceLayout.timeNs] = ts
        b[EventCrtcSequenceLayout.sequence] = sequence
        return b.bytes
    }

    static func vblankEvent(type: UInt32, userData: UInt64, ts: Int64, sequence: UInt32, crtcID: ObjectID) -> [UInt8] {
        var b = ArgBuffer(size: EventVblankLayout.size)
        b[EventVblankLayout.type] = type
        b[EventVblankLayout.length] = UInt32(EventVblankLayout.size)
        b[EventVblankLayout.userData] = userData
        b[EventVblankLayout.tvSec] = UInt32(truncatingIfNeeded: ts / 1_000_000_000)
        b[EventVblankLayout.tvUsec] = UInt32(truncatingIfNeeded: (ts % 1_000_000_000) / 1000)
        b[EventVblankLayout.sequence] = sequence
        b[EventVblankLayout.crtcId] = crtcID
        return b.bytes
    }

    // MARK: time sources

    func startTimerThread() {
        timerThreadRunning = true
        // The thread holds the device only for one iteration at a time, so dropping the
        // last reference ends it within a period.
        let t = Thread { [weak self] in
            while let device = self, device.timerIteration() {}
        }
        t.name = "fakedrm-vblank"
        t.start()
    }

    /// The realtime clock: sleeps on the device condition until the next vblank or timed action.
    private func timerIteration() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if shuttingDown {
            timerThreadRunning = false
            return false
        }
        do {
            let now = Monotonic.nowNs()
            var next: Int64? = nil
            for i in vblank.indices where vblank[i].running {
                let period = vblank[i].periodNs
                if vblank[i].lastNs + period <= now {
                    // Woken late (a loaded host): the vblanks that passed are counted, not
                    // dropped, and the clock keeps its phase, as vkms's hrtimer overrun count and
                    // drm_update_vblank_count's timestamp-based catch-up give.
                    let periods = (now - vblank[i].lastNs) / period
                    vblank[i].missed += UInt64(periods - 1)
                    tick(i, at: vblank[i].lastNs + periods * period)
                }
                let nd = vblank[i].lastNs + vblank[i].periodNs
                next = min(next ?? nd, nd)
            }
            runTimedActions(now: now)
            if let t = timedActions.map(\.dueNs).min() { next = min(next ?? t, t) }
            lock.wait(untilMonotonicNs: min(next ?? (now + 200_000_000), now + 200_000_000))
        }
        return true
    }

    func runTimedActions(now: Int64) {
        while let i = timedActions.firstIndex(where: { $0.dueNs <= now }) {
            let a = timedActions.remove(at: i)
            a.action()
        }
    }

    func schedule(after delayNs: Int64, eager: Bool = true, _ action: @escaping () -> Void) {
        timedActions.append((nowNs() + delayNs, eager, action))
        lock.broadcast()
    }

    /// Virtual time: one vblank on every running CRTC (or only `crtcIndex`).
    public func stepVblank(crtcIndex: Int? = nil, count: Int = 1) {
        lock.withLock {
            for _ in 0..<max(count, 0) { stepLocked(crtcIndex) }
        }
    }

    func stepLocked(_ only: Int?) {
        skipToLateCommits()
        for i in vblank.indices where vblank[i].running && (only == nil || only == i) {
            let period = vblank[i].periodNs
            if vblank[i].stallUntilNs > vblank[i].lastNs + period {
                // A stalled clock in virtual time: the stall passes at once, its vblanks lost
                // and counted by time, instead of one step per lost frame.
                let k = (vblank[i].stallUntilNs - vblank[i].lastNs) / period
                vblank[i].lastNs += k * period
                vblank[i].missed &+= UInt64(k)
            }
            let ts = vblank[i].lastNs + vblank[i].periodNs
            virtualNowNs = max(virtualNowNs, ts)
            tick(i, at: ts)
        }
        runTimedActions(now: virtualNowNs)
    }

    /// Eager virtual time: keep stepping while a flip, a vblank wait or a timed action is
    /// outstanding, so clients run as fast as they can with exact frame timestamps.
    func runEagerClock() {
        guard virtualTime, eagerVirtualTime else { return }
        for _ in 0..<10_000 {
            let needsVblank = hasVblankWork()
            if needsVblank, vblank.contains(where: \.running) {
                stepLocked(nil)
            } else if let due = timedActions.filter(\.eager).map(\.dueNs).min() {
                virtualNowNs = max(virtualNowNs, due)
                runTimedActions(now: virtualNowNs)
            } else {
                return
            }
        }
    }

    /// Virtual time: when the only vblank work is commits that may not complete before their
    /// `notBeforeNs` (commit-late, backend-slow), the clock jumps to the vblank before the
    /// earliest instead of stepping through every frame in between.
    func skipToLateCommits() {
        guard virtualTime, vblankWaiters.isEmpty, !backend.completesFlips else { return }
        let late = pendingCommits.compactMap { $0 }.filter { $0.armed && $0.waitsForVblank && !$0.held }
        guard !late.isEmpty, let target = late.map(\.notBeforeNs).min() else { return }
        if let due = timedActions.map(\.dueNs).min(), due < target { return }
        for i in vblank.indices where vblank[i].running {
            let period = vblank[i].periodNs
            let k = (target - vblank[i].lastNs) / period - 1
            guard k > 0 else { continue }
            vblank[i].lastNs += k * period
            vblank[i].missed &+= UInt64(k)
            virtualNowNs = max(virtualNowNs, vblank[i].lastNs)
        }
    }

    /// Work that another vblank would move forward (so virtual time may step for it).
    func hasVblankWork() -> Bool {
        // A held commit (fault) is not: stepping would never end.
        !vblankWaiters.isEmpty || (!backend.completesFlips && pendingCommits.contains { $0.map { $0.armed && $0.waitsForVblank && !$0.held } ?? false })
    }

    /// Blocks (lock held) until `done()`; virtual time advances itself instead of sleeping when
    /// a vblank can make progress (`stepsVblanks`: the caller itself waits for a vblank count).
    /// Returns false after `timeoutNs` of real time without success.
    func waitUntil(timeoutNs: Int64 = 3_000_000_000, crtcIndex: Int?, stepsVblanks: Bool = false, _ done: () -> Bool) -> Bool {
        let deadline = Monotonic.nowNs() &+ max(timeoutNs, 0)
        var steps = 0
        while !done() {
            if shuttingDown { return false }
            if virtualTime, vblank.contains(where: \.running), stepsVblanks || hasVblankWork() {
                stepLocked(crtcIndex)
                steps += 1
                if steps % 256 == 0 {
                    // Faults can make the wanted vblank never come (every interrupt dropped):
                    // honour the real-time limit, and let other threads have the lock.
                    if Monotonic.nowNs() >= deadline { return done() }
                    lock.wait(untilMonotonicNs: Monotonic.nowNs() + 100_000)
                }
                continue
            }
            if virtualTime, let due = timedActions.map(\.dueNs).min() {
                virtualNowNs = max(virtualNowNs, due)
                runTimedActions(now: virtualNowNs)
                continue
            }
            // Only another thread (an in-fence, a backend, a client) can help now: sleep.
            if !lock.wait(untilMonotonicNs: deadline) { return done() }
        }
        return true
    }
}
