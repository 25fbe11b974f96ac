import Glibc

/// The areas a rejection's reason is logged under (`fakedrm.<area>`), as drm.debug's
/// categories split the kernel's messages; `--debug` on run/serve/cuse picks some of them.
public enum LogArea: String, Sendable, CaseIterable {
    case uapi, atomic, modeset, buffers, fences, leases, master

    public var label: String { "fakedrm.\(rawValue)" }
}

/// Why a request failed: the errno the client sees, the area, and one sentence naming the
/// object (kind and id) and the rule, in the kernel's drm_dbg wording where it has one.
public struct Rejection: Sendable, Equatable {
    public let error: DRMError
    public let area: LogArea
    public let reason: String
}

extension DRMError {
    /// The error, with its reason kept for the ioctl on this thread (the dispatcher logs it
    /// and keeps it as the file's last rejection): `throw .invalidArgument.because(...)`.
    func because(_ area: LogArea, _ reason: String) -> DRMError {
        RejectionSlot.put(Rejection(error: self, area: area, reason: reason))
        return self
    }
}

/// One rejection per thread: the core runs a request on the caller's thread from handler to
/// throw, so the reason needs no path through every function between them.
enum RejectionSlot {
    private final class Box {
        let rejection: Rejection
        init(_ r: Rejection) { rejection = r }
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in
            if let p { Unmanaged<AnyObject>.fromOpaque(p).release() }
        }
        return k
    }()

    static func put(_ r: Rejection) {
        clear()
        pthread_setspecific(key, Unmanaged.passRetained(Box(r) as AnyObject).toOpaque())
    }

    /// The reason recorded since the last clear, removed.
    static func take() -> Rejection? {
        guard let p = pthread_getspecific(key) else { return nil }
        pthread_setspecific(key, nil)
        return (Unmanaged<AnyObject>.fromOpaque(p).takeRetainedValue() as? Box)?.rejection
    }

    /// Before a request: a reason an earlier request recorded and then recovered from is not
    /// this one's.
    static func clear() {
        guard let p = pthread_getspecific(key) else { return }
        pthread_setspecific(key, nil)
        Unmanaged<AnyObject>.fromOpaque(p).release()
    }
}
