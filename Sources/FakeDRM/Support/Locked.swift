import Glibc

/// A value behind a pthread mutex, for state several threads share outside the device lock
/// (statistics, the CUSE front end's tables). Synchronization.Mutex locks with raw futex calls
/// on Linux, which ThreadSanitizer cannot see, so every access under one reports as a race; a
/// pthread mutex it intercepts, and a sanitizer run then shows real races only.
public final class Locked<Value>: @unchecked Sendable {
    // Visible to inlined callers: withLock is inlinable so that other modules (the CUSE front
    // end, per request) get it specialized instead of a generic call that looks its result
    // type's metadata up at runtime.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var value: Value

    public init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inlinable
    public func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
