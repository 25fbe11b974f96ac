import Glibc

/// A mutex with one condition variable on CLOCK_MONOTONIC: the device's single serialisation
/// point, as the kernel's mode_config mutex plus its wait queues.
///
/// @unchecked Sendable: the pthread objects live on the heap for the lock's whole life and are
/// only touched through pthread calls, which are thread-safe by contract.
public final class DeviceLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        var mattr = pthread_mutexattr_t()
        pthread_mutexattr_init(&mattr)
        pthread_mutexattr_settype(&mattr, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &mattr)
        pthread_mutexattr_destroy(&mattr)
        var cattr = pthread_condattr_t()
        pthread_condattr_init(&cattr)
        pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &cattr)
        pthread_condattr_destroy(&cattr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    @discardableResult
    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Called on the waiting thread before every wait below (a blocking read, commit, vblank
    /// or fence wait may sleep for long): the CUSE front end hands its /dev/cuse reader role to
    /// another worker there, so one client's blocking call does not stall the others.
    public static let willWait = Locked<(@Sendable () -> Void)?>(nil)

    /// Waits (lock held) until woken or until the absolute monotonic deadline passes.
    /// Returns false on timeout.
    @discardableResult
    public func wait(untilMonotonicNs deadline: Int64?) -> Bool {
        if let hook = Self.willWait.withLock({ $0 }) { hook() }
        guard let deadline else {
            pthread_cond_wait(cond, mutex)
            return true
        }
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        return pthread_cond_timedwait(cond, mutex, &ts) != ETIMEDOUT
    }

    public func broadcast() { pthread_cond_broadcast(cond) }
}
