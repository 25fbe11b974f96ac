/// What `fakedrm ctl` asks the daemon (one JSON line per connection) and what it answers.
public enum ControlRequest: Codable, Sendable, Equatable {
    case state
    case stats
    case hotplug(connector: String, connected: Bool, modes: String?, edidPath: String?)
    case connectorAdd(type: String, encoder: Int, connected: Bool, modes: String?)
    case connectorRemove(connector: String)
    case vblankStep(count: Int, crtc: Int?)
    case vblankRate(hz: Double)
    case capture(crtc: Int, path: String)
    case faultAdd(spec: String)
    case faultList
    case faultLog
    case faultClear
    case faultSeed(UInt64)
    /// Rejections (and with `all` every ioctl) as dmesg-like lines; `follow` keeps streaming.
    case trace(follow: Bool, all: Bool, file: Int?)
}

public struct ControlResponse: Codable, Sendable {
    public var ok: Bool
    public var output: String
    public var error: String?

    public static func success(_ output: String) -> ControlResponse { ControlResponse(ok: true, output: output, error: nil) }
    public static func failure(_ message: String) -> ControlResponse { ControlResponse(ok: false, output: "", error: message) }
}
