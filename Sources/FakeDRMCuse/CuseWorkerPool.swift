import CFuse3
import FakeDRM
import Dispatch
import Foundation
import Glibc
import Synchronization

/// The threads that read /dev/cuse and handle its requests, leader/followers: one worker (the
/// reader) reads a request, handles it and reads again, so a stream of quick requests stays on
/// one thread (a switch to another worker per request cost ~10 % under TCG). The others wait
/// for the reader role. No client's request may hold the others up:
/// - before a request sleeps in the device (DeviceLock.wait: a blocking read, commit, vblank
///   or fence wait) its thread hands the role to a follower (`handOffReader`);
/// - a reader that has been on one request for a whole `stallCheck` without sleeping (its
///   copies in a caller's memory wait for a page that does not come in: swapped out, or on a
///   FUSE mount the caller serves itself) loses the role to a follower that sees it;
/// - when no follower is left to take the role, another worker starts, up to `maxWorkers`;
///   workers beyond `baseWorkers` end when they find themselves idle.
/// (libfuse's own multi-threaded loop ends by pthread_cancel-ing its workers, which cannot
/// unwind through Swift frames; this pool ends them with a signal that interrupts the read.)
final class CuseWorkerPool: @unchecked Sendable {
    /// Wakes a worker out of its blocking read for shutdown (no-op handler, no SA_RESTART).
    /// Sent only with pthread_kill to the workers.
    static let wakeSignal = SIGUSR2
    static let baseWorkers = 4
    /// A caller that keeps this many requests asleep in the device at once (each a blocked
    /// read or wait) holds that many threads; beyond it, requests queue in the kernel.
    static let maxWorkers = 64
    static let stallCheck = DispatchTimeInterval.milliseconds(200)

    private let session: CPointer
    private let isStopping: @Sendable () -> Bool
    /// The session ended (0) or /dev/cuse failed (-1): the front end stops.
    private let ended: @Sendable (Int32) -> Void
    /// The workers, to be woken for shutdown.
    private let threads = Locked<[Int: pthread_t]>([:])
    private let nextID = Atomic<Int>(0)
    private let live = Atomic<Int>(0)
    /// Followers waiting for the reader role.
    private let idle = Atomic<Int>(0)
    /// The worker that reads /dev/cuse (its pthread_t; 0: none, a follower may take over).
    private let reader = Atomic<UInt>(0)
    /// The worker inside a request it read as the reader, and how many requests were started:
    /// the same reader on the same request at two checks of a follower is stuck.
    private let busyReader = Atomic<UInt>(0)
    private let started = Atomic<UInt64>(0)
    /// One permit while no worker is the reader.
    private let readerRole = DispatchSemaphore(value: 1)
    private let group = DispatchGroup()

    init(session: CPointer, isStopping: @escaping @Sendable () -> Bool, ended: @escaping @Sendable (Int32) -> Void) {
        self.session = session
        self.isStopping = isStopping
        self.ended = ended
    }

    func start() {
        for _ in 0..<Self.baseWorkers { spawn() }
    }

    /// After a stop was requested: lets every follower in, interrupts every read, and returns
    /// once all workers have ended.
    func finish() {
        // The reader may be between its stop check and its read and miss one signal: repeat.
        for _ in 0..<live.load(ordering: .acquiring) { readerRole.signal() }
        while group.wait(timeout: .now() + .milliseconds(20)) == .timedOut {
            threads.withLock { for t in $0.values { pthread_kill(t, Self.wakeSignal) } }
            readerRole.signal()
        }
    }

    /// Called before the current thread may sleep in the device: when it is the reader, a
    /// follower takes over reading /dev/cuse (a new worker when none is waiting).
    func handOffReader() {
        let me = UInt(pthread_self())
        guard reader.compareExchange(expected: me, desired: 0, ordering: .acquiringAndReleasing).exchanged else { return }
        readerRole.signal()
        if idle.load(ordering: .acquiring) == 0 { spawn() }
    }

    /// Called from a worker (so the group cannot have drained) or from `start`.
    private func spawn() {
        // Registered under the threads lock with the stop check, so `finish` sees every
        // worker started before the stop.
        let admitted = threads.withLock { _ -> Bool in
            guard !isStopping(), live.load(ordering: .relaxed) < Self.maxWorkers else { return false }
            live.add(1, ordering: .relaxed)
            group.enter()
            return true
        }
        guard admitted else { return }
        Thread.detachNewThread { [self] in
            work()
            live.subtract(1, ordering: .relaxed)
            group.leave()
        }
    }

    private func work() {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let me = UInt(pthread_self())
        // Registered and removed under the lock `finish` holds: it never signals a thread that
        // has exited.
        threads.withLock { $0[id] = pthread_self() }
        defer { threads.withLock { _ = $0.removeValue(forKey: id) } }
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, Self.wakeSignal)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        var buf = fuse_buf()
        defer { free(buf.mem) }
        while !isStopping() {
            if reader.load(ordering: .acquiring) != me {
                guard awaitReaderRole(me) else { break }
            }
            let res = fuse_session_receive_buf(session.raw, &buf)
            if res == -EINTR || res == -EAGAIN || res == -ENOENT { continue }  // woken for shutdown / interrupted request
            if res <= 0 {
                // 0: the kernel ended the session (the device is gone); <0: /dev/cuse failed
                // (e.g. ENODEV when the kernel refused our INIT reply).
                ended(res == 0 ? 0 : -1)
                break
            }
            started.add(1, ordering: .relaxed)
            busyReader.store(me, ordering: .releasing)
            fuse_session_process_buf(session.raw, &buf)
            _ = busyReader.compareExchange(expected: me, desired: 0, ordering: .releasing)
        }
    }

    /// Waits as a follower until this worker is the reader. False when it should end: a stop,
    /// or more idle workers than the pool keeps.
    private func awaitReaderRole(_ me: UInt) -> Bool {
        idle.add(1, ordering: .acquiringAndReleasing)
        defer { idle.subtract(1, ordering: .acquiringAndReleasing) }
        var seen: (reader: UInt, request: UInt64) = (0, 0)
        while true {
            if readerRole.wait(timeout: .now() + Self.stallCheck) == .success {
                if isStopping() { return false }
                reader.store(me, ordering: .releasing)
                return true
            }
            if isStopping() { return false }
            let r = reader.load(ordering: .acquiring)
            let now = (reader: busyReader.load(ordering: .acquiring) == r ? r : 0, request: started.load(ordering: .acquiring))
            if r != 0, now.reader == r, now == seen, reader.compareExchange(expected: r, desired: me, ordering: .acquiringAndReleasing).exchanged {
                // The stuck worker becomes a follower when its request is done; keep one
                // follower watching this reader in turn.
                if idle.load(ordering: .acquiring) <= 1 { spawn() }
                return true
            }
            seen = now
            if live.load(ordering: .acquiring) > Self.baseWorkers && idle.load(ordering: .acquiring) >= Self.baseWorkers { return false }
        }
    }
}
