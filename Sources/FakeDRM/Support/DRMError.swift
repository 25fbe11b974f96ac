import Glibc

/// Every failure a request can end in. The errno a client sees is decided here and nowhere else.
public enum DRMError: Error, Equatable, Sendable {
    case invalidArgument
    case notFound
    case permissionDenied
    case notPermitted
    case busy
    case noSpace
    case outOfRange
    case noMemory
    case badAddress
    case badFileDescriptor
    case notSupported
    case notImplemented
    case notTTY
    case noDevice
    case noDeviceOrAddress
    case interrupted
    case io
    case wouldBlock
    case timeExpired
    case timedOut
    case argumentListTooLong
    /// An errno chosen by a fault rule (docs/faults.md), passed through as it is.
    case injected(Int32)

    public var errno: Int32 {
        switch self {
        case .invalidArgument: EINVAL
        case .notFound: ENOENT
        case .permissionDenied: EACCES
        case .notPermitted: EPERM
        case .busy: EBUSY
        case .noSpace: ENOSPC
        case .outOfRange: ERANGE
        case .noMemory: ENOMEM
        case .badAddress: EFAULT
        case .badFileDescriptor: EBADF
        case .notSupported: EOPNOTSUPP
        case .notImplemented: ENOSYS
        case .notTTY: ENOTTY
        case .noDevice: ENODEV
        case .noDeviceOrAddress: ENXIO
        case .interrupted: EINTR
        case .io: EIO
        case .wouldBlock: EAGAIN
        case .timeExpired: ETIME
        case .timedOut: ETIMEDOUT
        case .argumentListTooLong: E2BIG
        case .injected(let e): e
        }
    }

    /// The errno's symbolic name, as a log line or `ctl state` shows it.
    public var errnoName: String {
        switch self {
        case .invalidArgument: "EINVAL"
        case .notFound: "ENOENT"
        case .permissionDenied: "EACCES"
        case .notPermitted: "EPERM"
        case .busy: "EBUSY"
        case .noSpace: "ENOSPC"
        case .outOfRange: "ERANGE"
        case .noMemory: "ENOMEM"
        case .badAddress: "EFAULT"
        case .badFileDescriptor: "EBADF"
        case .notSupported: "EOPNOTSUPP"
        case .notImplemented: "ENOSYS"
        case .notTTY: "ENOTTY"
        case .noDevice: "ENODEV"
        case .noDeviceOrAddress: "ENXIO"
        case .interrupted: "EINTR"
        case .io: "EIO"
        case .wouldBlock: "EAGAIN"
        case .timeExpired: "ETIME"
        case .timedOut: "ETIMEDOUT"
        case .argumentListTooLong: "E2BIG"
        case .injected(let e): DRMError(errno: e)?.errnoName ?? "errno \(e)"
        }
    }

    public init?(errno: Int32) {
        let all: [DRMError] = [
            .invalidArgument, .notFound, .permissionDenied, .notPermitted, .busy, .noSpace,
            .outOfRange, .noMemory, .badAddress, .badFileDescriptor, .notSupported,
            .notImplemented, .notTTY, .noDevice, .noDeviceOrAddress, .interrupted, .io, .wouldBlock, .timeExpired, .timedOut, .argumentListTooLong,
        ]
        guard let match = all.first(where: { $0.errno == errno }) else { return nil }
        self = match
    }
}
