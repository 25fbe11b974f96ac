import Foundation
import Glibc

extension Device {
    /// Calls `step` on a thread of its own every `periodNs` of real time (the first call
    /// after `firstAfterNs`) until it returns false or the card shuts down. The device is held
    /// only during a step, never across a sleep (at most 50 ms each), so a card that goes away
    /// ends the thread; a stalled host does not make it burst to catch up.
    func startPacedThread(name: String, periodNs: Int64, firstAfterNs: Int64, _ step: @escaping (Device) -> Bool) {
        // Only the new thread ever calls `step` (and touches what it captures).
        nonisolated(unsafe) let step = step
        let t = Thread { [weak self] in
            var next = Monotonic.nowNs() + firstAfterNs
            while let device = self, !device.lock.withLock({ device.shuttingDown }) {
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
}
