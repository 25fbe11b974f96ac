import Logging

/// A file's last failed request as `fakedrm ctl state` shows it.
public struct LastRejection: Codable, Sendable, Equatable {
    public var ioctl: String
    public var errno: String
    public var reason: String
    public var area: String
    public var testOnly: Bool
    /// CLOCK_MONOTONIC, ns.
    public var timeNs: Int64
}

/// Where a failed request's reason goes: the log of its area (`fakedrm.atomic`, ...) at debug
/// for a TEST_ONLY commit, which compositors use to probe, and at info for everything else;
/// and the file's last rejection.
enum RejectionLog {
    static let loggers: [LogArea: Logger] = Dictionary(uniqueKeysWithValues: LogArea.allCases.map { ($0, Logger(label: $0.label)) })

    static func record(_ device: Device, _ file: FileContext, _ name: String, _ req: IoctlRequest, _ arg: ArgBuffer, _ error: DRMError) {
        // A reason recorded with another errno belongs to a failure the request recovered
        // from (a `try?`), not to this one.
        let recorded = RejectionSlot.take().flatMap { $0.error == error ? $0 : nil }
        let area = recorded?.area ?? .uapi
        let reason = recorded?.reason ?? "no reason recorded"
        let testOnly = isTestOnly(req, arg)
        loggers[area]?.log(level: testOnly ? .debug : .info, "\(name)\(testOnly ? " (TEST_ONLY)" : "") \(error.errnoName): \(reason)",
                           metadata: ["file": "\(file.id)", "pid": "\(file.pid)"])
        device.trace.record(file: file.id, pid: file.pid, ioctl: name, errno: error.errnoName, reason: reason, testOnly: testOnly)
        guard file !== FileContext.kernel else { return }
        let last = LastRejection(ioctl: name, errno: error.errnoName, reason: reason, area: area.rawValue, testOnly: testOnly, timeNs: Monotonic.nowNs())
        device.lock.withLock { file.lastRejection = last }
    }

    /// A successful request, for a follower of `ctl trace --all`.
    static func recordSuccess(_ device: Device, _ file: FileContext, _ name: String, _ req: IoctlRequest, _ arg: ArgBuffer) {
        device.trace.record(file: file.id, pid: file.pid, ioctl: name, errno: nil, reason: nil, testOnly: isTestOnly(req, arg))
    }

    /// An ATOMIC with DRM_MODE_ATOMIC_TEST_ONLY: a probe, which compositors expect to fail.
    static func isTestOnly(_ req: IoctlRequest, _ arg: ArgBuffer) -> Bool {
        req.type == IoctlRequest.drmType && req.nr == 0xBC && arg.bytes.count >= 4
            && arg.load(UInt32.self, at: 0) & DRMConst.atomicTestOnly != 0
    }
}
