import Foundation
import Glibc

/// The card's time: CLOCK_MONOTONIC, or virtual time that steps only when asked (or eagerly,
/// whenever work is pending); timed actions; the threads that tick; and the wait every
/// blocking ioctl uses. Under the device lock.
///
/// @unchecked Sendable: a DeviceRoom (its state only with the device lock held).
public final class DeviceClock: DeviceRoom, @unchecked Sendable {
    var virtualTime: Bool
    /// Virtual time that steps itself whenever work is pending (fakedrm run --virtual-time).
    public var eagerVirtualTime = false
    /// Starts at CLOCK_MONOTONIC's now: compositors compare vblank timestamps with their own
    /// clock (weston computes repaint delays from them), so virtual time must start there.
    var virtualNowNs: Int64 = Monotonic.nowNs()
    /// `eager`: eager virtual time runs to it as outstanding work; a timeout that only ends a
    /// wait nobody may be in (vgem's fence timeout) is not, or it would fire at once.
    var timedActions: [(dueNs: Int64, eager: Bool, action: () -> Void)] = []
    var timerThreadRunning = false
    /// Bumped by `ctl vblank rate`: the previous rate thread sees it and ends.
    var virtualRateGeneration = 0
    var shuttingDown = false
    /// Real time the device started, for uptime in `ctl stats`.
    public let createdNs = Monotonic.nowNs()

    init(_ shared: Shared, virtualTime: Bool) {
        self.virtualTime = virtualTime
        super.init(shared)
    }

    public var isVirtualTime: Bool { lock.withLock { virtualTime } }

    func nowNs() -> Int64 { virtualTime ? virtualNowNs : Monotonic.nowNs() }
}

extension DeviceClock {
    func startTimerThread() {
        timerThreadRunning = true
        // The thread holds the device only for one iteration at a time, so dropping the
        // last reference ends it within a period.
        let t = Thread { [weak device = self.device] in
            while let device, device.clock.timerIteration() {}
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
            for i in vblank.clocks.indices where vblank.clocks[i].running {
                let period = vblank.clocks[i].periodNs
                if vblank.clocks[i].lastNs + period <= now {
                    // Woken late (a loaded host): the vblanks that passed are counted, not
                    // dropped, and the clock keeps its phase, as vkms's hrtimer overrun count and
                    // drm_update_vblank_count's timestamp-based catch-up give.
                    let periods = (now - vblank.clocks[i].lastNs) / period
                    vblank.clocks[i].missed += UInt64(periods - 1)
                    vblank.tick(i, at: vblank.clocks[i].lastNs + periods * period)
                }
                let nd = vblank.clocks[i].lastNs + vblank.clocks[i].periodNs
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
        let vblank: VblankCounters = vblank
        for i in vblank.clocks.indices where vblank.clocks[i].running && (only == nil || only == i) {
            let period = vblank.clocks[i].periodNs
            if vblank.clocks[i].stallUntilNs > vblank.clocks[i].lastNs + period {
                // A stalled clock in virtual time: the stall passes at once, its vblanks lost
                // and counted by time, instead of one step per lost frame.
                let k = (vblank.clocks[i].stallUntilNs - vblank.clocks[i].lastNs) / period
                vblank.clocks[i].lastNs += k * period
                vblank.clocks[i].missed &+= UInt64(k)
            }
            let ts = vblank.clocks[i].lastNs + vblank.clocks[i].periodNs
            virtualNowNs = max(virtualNowNs, ts)
            vblank.tick(i, at: ts)
        }
        runTimedActions(now: virtualNowNs)
    }

    /// Eager virtual time: keep stepping while a flip, a vblank wait or a timed action is
    /// outstanding, so clients run as fast as they can with exact frame timestamps.
    func runEagerClock() {
        guard virtualTime, eagerVirtualTime else { return }
        let vblank: VblankCounters = vblank
        for _ in 0..<10_000 {
            let needsVblank = hasVblankWork()
            if needsVblank, vblank.clocks.contains(where: \.running) {
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
        let vblank: VblankCounters = vblank
        guard virtualTime, vblank.waiters.isEmpty, !display.backend.completesFlips else { return }
        var target = Int64.max
        for case let pc? in pipeline.pendingCommits where pc.armed && pc.waitsForVblank && !pc.held { target = min(target, pc.notBeforeNs) }
        guard target != .max else { return }
        if timedActions.contains(where: { $0.dueNs < target }) { return }
        for i in vblank.clocks.indices where vblank.clocks[i].running {
            let period = vblank.clocks[i].periodNs
            let k = (target - vblank.clocks[i].lastNs) / period - 1
            guard k > 0 else { continue }
            vblank.clocks[i].lastNs += k * period
            vblank.clocks[i].missed &+= UInt64(k)
            virtualNowNs = max(virtualNowNs, vblank.clocks[i].lastNs)
        }
    }

    /// Work that another vblank would move forward (so virtual time may step for it).
    func hasVblankWork() -> Bool {
        // A held commit (fault) is not: stepping would never end.
        let vblank: VblankCounters = vblank, pipeline: AtomicPipeline = pipeline
        return !vblank.waiters.isEmpty || (!display.backend.completesFlips && pipeline.pendingCommits.contains { $0.map { $0.armed && $0.waitsForVblank && !$0.held } ?? false })
    }

    /// Blocks (lock held) until `done()`; virtual time advances itself instead of sleeping when
    /// a vblank can make progress (`stepsVblanks`: the caller itself waits for a vblank count).
    /// Returns false after `timeoutNs` of real time without success.
    func waitUntil(timeoutNs: Int64 = 3_000_000_000, crtcIndex: Int?, stepsVblanks: Bool = false, _ done: () -> Bool) -> Bool {
        let deadline = Monotonic.nowNs() &+ max(timeoutNs, 0)
        var steps = 0
        while !done() {
            if shuttingDown { return false }
            if virtualTime, vblank.clocks.contains(where: \.running), stepsVblanks || hasVblankWork() {
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

    /// Calls `step` on a thread of its own every `periodNs` of real time (the first call
    /// after `firstAfterNs`) until it returns false or the card shuts down. The device is held
    /// only during a step, never across a sleep (at most 50 ms each), so a card that goes away
    /// ends the thread; a stalled host does not make it burst to catch up.
    func startPacedThread(name: String, periodNs: Int64, firstAfterNs: Int64, _ step: @escaping (Device) -> Bool) {
        // Only the new thread ever calls `step` (and touches what it captures).
        nonisolated(unsafe) let step = step
        let t = Thread { [weak device = self.device] in
            var next = Monotonic.nowNs() + firstAfterNs
            while let device, !device.lock.withLock({ device.clock.shuttingDown }) {
                let now = Monotonic.nowNs()
                if now >= next {
                    guard step(device) else { break }
                    next += periodNs
                    if next < now { next = now + periodNs }
                }
                usleep(useconds_t(max(0, min(next - Monotonic.nowNs(), 50_000_000)) / 1000))
            }
        }
        t.name = name
        t.start()
    }

    /// Virtual time steps itself `hz` times per real second (0: only explicit steps).
    public func setVirtualVblankRate(_ hz: Double) {
        let generation: Int = lock.withLock {
            virtualRateGeneration += 1
            return virtualRateGeneration
        }
        guard hz > 0 else { return }
        let periodNs = Int64(1e9 / hz)
        startPacedThread(name: "fakedrm-vblank-rate", periodNs: periodNs, firstAfterNs: periodNs) { device in
            guard device.lock.withLock({ device.clock.virtualRateGeneration }) == generation else { return false }
            device.clock.stepVblank()
            return true
        }
    }
}
