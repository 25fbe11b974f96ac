import Glibc

/// One fault rule as written by a user: `KIND key=value ... [once]` (docs/faults.md).
/// Parsing is all-or-nothing: a bad word makes the whole spec fail with a message naming it.
public struct FaultSpec: Sendable, Equatable, CustomStringConvertible {
    public enum FenceKind: String, Sendable { case out, release, `in` }

    public enum Kind: Sendable, Equatable {
        /// `nr == nil`: any ioctl.
        case ioctl(nr: UInt8?, errno: Int32)
        case commitFail(errno: Int32, includeTestOnly: Bool)
        case commitHang
        case commitLate(ns: Int64)
        case fenceLate(FenceKind, ns: Int64)
        case fenceError(FenceKind, errno: Int32)
        case fenceNever(FenceKind)
        case vblankDrop(count: Int, crtc: Int?)
        case vblankJitter(ns: Int64, crtc: Int?)
        case vblankStall(ns: Int64, crtc: Int?)
        case vblankJump(ns: Int64, crtc: Int?)
        case hotplugStorm(connector: String, rate: Double, seconds: Double?)
        case connectorModes(connector: String, modes: [ModeSpec])
        case connectorEDID(connector: String, path: String)
        case masterRevoke
        case backendError(errno: Int32)
        case backendSlow(ns: Int64)
        case backendCrash(restartNs: Int64)

        /// Kinds that act once when added instead of being consulted.
        var isAction: Bool {
            switch self {
            case .hotplugStorm, .connectorModes, .connectorEDID, .masterRevoke, .backendCrash: true
            default: false
            }
        }
    }

    /// When a consulted rule injects (all conditions must hold).
    public struct Trigger: Sendable, Equatable {
        public var every = 1
        public var after = 0
        public var probability: Double?
        public var count: Int?
        public var startMs: Int64 = 0
        public var forMs: Int64?
    }

    public struct ModeSpec: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var refresh: Int
    }

    public var kind: Kind
    public var trigger: Trigger
    public let text: String

    public var description: String { text }

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let message: String
        public var description: String { message }
    }

    public init(parsing text: String) throws(ParseError) {
        self.text = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        var words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard !words.isEmpty else { throw ParseError(message: "empty fault spec") }
        let kindWord = words.removeFirst()
        var keys: [String: String] = [:]
        var trigger = Trigger()
        for w in words {
            if w == "once" {
                guard !words.contains(where: { $0.hasPrefix("count=") }) else { throw ParseError(message: "'once' and count= together") }
                trigger.count = 1
                continue
            }
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else {
                throw ParseError(message: "'\(w)': expected key=value or 'once'")
            }
            let key = String(w[..<eq]), value = String(w[w.index(after: eq)...])
            guard !value.isEmpty else { throw ParseError(message: "'\(w)': empty value") }
            guard keys[key] == nil else { throw ParseError(message: "'\(key)' given twice") }
            keys[key] = value
        }
        var p = KeyReader(keys: keys)
        trigger.every = try p.int("every", default: 1, min: 1)
        trigger.after = try p.int("after", default: 0, min: 0)
        if let c = try p.optionalInt("count", min: 1) { trigger.count = c }
        trigger.startMs = Int64(try p.int("start-ms", default: 0, min: 0))
        trigger.forMs = try p.optionalInt("for-ms", min: 1).map(Int64.init)
        if let s = p.take("p") {
            guard let v = Double(s), v > 0, v <= 1 else { throw ParseError(message: "p=\(s): expected a probability in (0, 1]") }
            trigger.probability = v
        }
        self.trigger = trigger
        self.kind = try Self.kind(kindWord, &p)
        if let left = p.keys.keys.sorted().first {
            throw ParseError(message: "'\(left)' is not a key of '\(kindWord)'")
        }
    }

    private static func kind(_ word: String, _ p: inout KeyReader) throws(ParseError) -> Kind {
        switch word {
        case "ioctl":
            let errno = try p.errno("errno")
            switch (p.take("name"), p.take("nr")) {
            case (let name?, nil):
                if name == "*" { return .ioctl(nr: nil, errno: errno) }
                guard let nr = IoctlNames.number(of: name) else { throw ParseError(message: "name=\(name): unknown DRM ioctl (e.g. MODE_ATOMIC, WAIT_VBLANK)") }
                return .ioctl(nr: nr, errno: errno)
            case (nil, let nrText?):
                let digits = nrText.hasPrefix("0x") ? String(nrText.dropFirst(2)) : nrText
                guard let nr = UInt8(digits, radix: nrText.hasPrefix("0x") ? 16 : 10) else { throw ParseError(message: "nr=\(nrText): expected 0..255 (0xNN)") }
                return .ioctl(nr: nr, errno: errno)
            default:
                if let unknown = p.keys.keys.sorted().first { throw ParseError(message: "'\(unknown)' is not a key of 'ioctl'") }
                throw ParseError(message: "ioctl needs exactly one of name=NAME or nr=0xNN")
            }
        case "commit-fail":
            let e = try p.errno("errno")
            let t = p.take("test-only")
            guard t == nil || t == "yes" || t == "no" else { throw ParseError(message: "test-only=\(t ?? ""): expected yes or no") }
            return .commitFail(errno: e, includeTestOnly: t == "yes")
        case "commit-hang": return .commitHang
        case "commit-late": return .commitLate(ns: try p.ms("ms"))
        case "fence-late": return .fenceLate(try p.fence(), ns: try p.ms("ms"))
        case "fence-error": return .fenceError(try p.fence(), errno: try p.errno("errno"))
        case "fence-never": return .fenceNever(try p.fence())
        case "vblank-drop": return .vblankDrop(count: try p.int("frames", default: 1, min: 1), crtc: try p.optionalInt("crtc", min: 0))
        case "vblank-jitter":
            let us = try p.int("us", default: nil, min: 1)
            guard us <= 1_000_000 else { throw ParseError(message: "us=\(us): jitter is at most 1000000 us") }
            return .vblankJitter(ns: Int64(us) * 1000, crtc: try p.optionalInt("crtc", min: 0))
        case "vblank-stall": return .vblankStall(ns: try p.ms("ms"), crtc: try p.optionalInt("crtc", min: 0))
        case "vblank-jump": return .vblankJump(ns: try p.ms("ms"), crtc: try p.optionalInt("crtc", min: 0))
        case "hotplug-storm":
            let c = try p.required("connector")
            guard let r = p.take("rate").flatMap(Double.init), r >= 0.01, r <= 1000 else { throw ParseError(message: "hotplug-storm needs rate=K toggles per second (0.01 <= K <= 1000)") }
            var secs: Double?
            if let s = p.take("seconds") {
                guard let v = Double(s), v > 0, v <= 1e6 else { throw ParseError(message: "seconds=\(s): expected a number in (0, 1000000]") }
                secs = v
            }
            return .hotplugStorm(connector: c, rate: r, seconds: secs)
        case "connector-modes":
            let c = try p.required("connector")
            return .connectorModes(connector: c, modes: try Self.modes(try p.required("modes")))
        case "connector-edid":
            return .connectorEDID(connector: try p.required("connector"), path: try p.required("file"))
        case "master-revoke": return .masterRevoke
        case "backend-error": return .backendError(errno: try p.errno("errno"))
        case "backend-slow": return .backendSlow(ns: try p.ms("ms"))
        case "backend-crash":
            return .backendCrash(restartNs: Int64(try p.int("restart-ms", default: 500, min: 0)) * 1_000_000)
        default:
            throw ParseError(message: "'\(word)': unknown fault kind (see docs/faults.md)")
        }
    }

    /// `1920x1080@60,1280x720` (refresh defaults to 60).
    public static func modes(_ text: String) throws(ParseError) -> [ModeSpec] {
        var out: [ModeSpec] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "@")
            let wh = parts.first.map { $0.split(separator: "x") } ?? []
            guard parts.count <= 2, wh.count == 2, let w = Int(wh[0]), let h = Int(wh[1]),
                  (1...16384).contains(w), (1...16384).contains(h) else {
                throw ParseError(message: "mode '\(item)': expected WxH or WxH@HZ")
            }
            var hz = 60
            if parts.count == 2 {
                guard let r = Int(parts[1]), (1...1000).contains(r) else { throw ParseError(message: "mode '\(item)': refresh must be 1..1000") }
                hz = r
            }
            out.append(ModeSpec(width: w, height: h, refresh: hz))
        }
        guard !out.isEmpty else { throw ParseError(message: "empty mode list") }
        return out
    }

    static let errnoNames: [String: Int32] = [
        "EPERM": EPERM, "ENOENT": ENOENT, "EINTR": EINTR, "EIO": EIO, "ENXIO": ENXIO, "EBADF": EBADF,
        "EAGAIN": EAGAIN, "ENOMEM": ENOMEM, "EACCES": EACCES, "EFAULT": EFAULT, "EBUSY": EBUSY,
        "ENODEV": ENODEV, "EINVAL": EINVAL, "ENOSPC": ENOSPC, "ERANGE": ERANGE, "ENOSYS": ENOSYS,
        "EOPNOTSUPP": EOPNOTSUPP, "ETIMEDOUT": ETIMEDOUT, "ETIME": ETIME, "EDEADLK": EDEADLK,
        "ENOTTY": ENOTTY, "ECANCELED": ECANCELED,
    ]

    public static func errnoName(_ e: Int32) -> String {
        errnoNames.first { $0.value == e }?.key ?? "\(e)"
    }
}

/// Takes keys out of a parsed spec so that leftovers can be reported as unknown.
private struct KeyReader {
    var keys: [String: String]
    typealias ParseError = FaultSpec.ParseError

    mutating func take(_ k: String) -> String? { keys.removeValue(forKey: k) }

    mutating func required(_ k: String) throws(ParseError) -> String {
        guard let v = take(k) else { throw ParseError(message: "missing \(k)=") }
        return v
    }

    mutating func optionalInt(_ k: String, min: Int) throws(ParseError) -> Int? {
        guard let s = take(k) else { return nil }
        guard let v = Int(s), v >= min, v <= 1_000_000_000 else { throw ParseError(message: "\(k)=\(s): expected an integer in \(min)...1000000000") }
        return v
    }

    mutating func int(_ k: String, default d: Int?, min: Int) throws(ParseError) -> Int {
        if let v = try optionalInt(k, min: min) { return v }
        guard let d else { throw ParseError(message: "missing \(k)=") }
        return d
    }

    mutating func ms(_ k: String) throws(ParseError) -> Int64 {
        Int64(try int(k, default: nil, min: 1)) * 1_000_000
    }

    mutating func errno(_ k: String) throws(ParseError) -> Int32 {
        let s = try required(k)
        if let e = FaultSpec.errnoNames[s.uppercased()] { return e }
        guard let n = Int32(s), n > 0, n < 4096 else { throw ParseError(message: "\(k)=\(s): unknown errno (EINVAL, EBUSY, EIO, ...)") }
        return n
    }

    mutating func fence() throws(ParseError) -> FaultSpec.FenceKind {
        let s = try required("which")
        guard let f = FaultSpec.FenceKind(rawValue: s) else { throw ParseError(message: "which=\(s): expected out, release or in") }
        return f
    }
}
