import CFuse3
import FakeDRM
import Foundation
import Glibc
import Synchronization

/// Turns "an event got queued" into fuse_lowlevel_notify_poll, so a client sleeping in
/// poll()/epoll on the card fd wakes as it would on the kernel's drm_poll wait queue.
///
/// One thread polls the readiness eventfd of every file that has a waiting poller (plus its
/// own wake-up eventfd); a readable file gets its pollhandle notified and dropped — the kernel
/// asks for a new one on the client's next poll.
final class PollNotifier: @unchecked Sendable {
    struct Armed {
        let file: FileContext  // keeps the eventfd open while the thread polls it
        let handle: CPointer
    }
    private let wake: Int32
    private let armed = Locked<[UInt64: Armed]>([:])
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    init?() {
        let fd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard fd >= 0 else { return nil }
        wake = fd
    }

    deinit { Glibc.close(wake) }

    func start() {
        started.store(true, ordering: .releasing)
        Thread.detachNewThread { [self] in
            loop()
            finished.signal()
        }
    }

    func stop() {
        guard started.load(ordering: .acquiring) else { return }
        stopping.store(true, ordering: .releasing)
        kick()
        finished.wait()
        armed.withLock { a in
            for e in a.values { fuse_pollhandle_destroy(e.handle.raw) }
            a = [:]
        }
    }

    func arm(_ fh: UInt64, _ file: FileContext, _ handle: CPointer) {
        armed.withLock { a in
            if let old = a[fh] { fuse_pollhandle_destroy(old.handle.raw) }
            a[fh] = Armed(file: file, handle: handle)
        }
        kick()
    }

    func disarm(_ fh: UInt64) {
        armed.withLock { a in
            if let old = a.removeValue(forKey: fh) { fuse_pollhandle_destroy(old.handle.raw) }
        }
        kick()
    }

    private func kick() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(wake, $0.baseAddress, 8) }
    }

    private func loop() {
        while !stopping.load(ordering: .acquiring) {
            let snapshot = armed.withLock { $0 }
            var fds = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            var keys: [UInt64] = []
            for (fh, e) in snapshot {
                fds.append(pollfd(fd: e.file.readiness.fd.raw, events: Int16(POLLIN), revents: 0))
                keys.append(fh)
            }
            let n = fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), -1) }
            if n < 0 { continue }  // EINTR
            if fds[0].revents != 0 {
                var v: UInt64 = 0
                _ = withUnsafeMutableBytes(of: &v) { read(wake, $0.baseAddress, 8) }
            }
            for (i, fh) in keys.enumerated() where fds[i + 1].revents & Int16(POLLIN) != 0 {
                // Only the handle that was polled: a newer one armed meanwhile stays.
                let taken: CPointer? = armed.withLock { a in
                    guard let e = a[fh], e.handle.raw == snapshot[fh]?.handle.raw else { return nil }
                    a[fh] = nil
                    return e.handle
                }
                if let h = taken {
                    fuse_lowlevel_notify_poll(h.raw)
                    fuse_pollhandle_destroy(h.raw)
                }
            }
            withExtendedLifetime(snapshot) {}
        }
    }
}
