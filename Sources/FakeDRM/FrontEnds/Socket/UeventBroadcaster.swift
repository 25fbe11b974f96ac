import CFakeDRMSys
import Glibc

/// Hotplug uevents for clients of the socket front end. A client's NETLINK_KOBJECT_UEVENT
/// socket is replaced by the library with one end of a unix datagram pair (UEVENT_SUBSCRIBE);
/// the daemon keeps the other end and writes, on every connector change, what udevd would
/// broadcast: a libudev-format message ("libudev" header, then NUL-separated properties) with
/// ACTION=change and HOTPLUG=1 for the card. The library makes it look like it came from the
/// udev netlink group (docs/socket-protocol.md, "Hotplug uevents").
///
/// @unchecked Sendable: `ends` and `seqnum` are guarded by `lock`.
final class UeventBroadcaster: @unchecked Sendable {
    private let lock = DeviceLock()
    private var ends: [OwnedFD] = []
    private var seqnum: UInt64 = 1000
    let minor: UInt32
    let driver: String

    init(minor: UInt32, driver: String) {
        self.minor = minor
        self.driver = driver
    }

    /// A new subscriber: returns the end for the client (the caller sends and closes it).
    func subscribe() -> Int32? {
        var sv: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sv) == 0 else { return nil }
        // Never block the daemon on a client that stopped reading: drop the event instead,
        // as a full netlink receive buffer does.
        _ = fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK)
        lock.withLock { ends.append(OwnedFD(sv[1])) }
        return sv[0]
    }

    var subscriberCount: Int { lock.withLock { ends.count } }

    /// `lease`: drm_sysfs_lease_event's LEASE=1 (a lease revoked or its lessee closed)
    /// instead of a connector hotplug.
    func broadcast(connector: ObjectID? = nil, lease: Bool = false) {
        lock.withLock {
            seqnum += 1
            let message = Self.message(minor: minor, driver: driver, seqnum: seqnum, connector: connector, lease: lease)
            ends.removeAll { end in
                let r = message.withUnsafeBytes { send(end.raw, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
                // The client closed its end (or its process died): forget it.
                return r < 0 && (errno == ECONNREFUSED || errno == EPIPE || errno == ENOTCONN)
            }
        }
    }

    /// systemd's monitor_netlink_header: "libudev\0", magic 0xfeedcafe and the four filter
    /// words big-endian, offsets little (host) endian; then the properties.
    static func message(minor: UInt32, driver: String, seqnum: UInt64, connector: ObjectID?, lease: Bool = false) -> [UInt8] {
        var props = [
            "ACTION=change", "DEVPATH=/devices/platform/\(driver)/drm/card\(minor)", "SUBSYSTEM=drm",
            lease ? "LEASE=1" : "HOTPLUG=1", "DEVNAME=/dev/dri/card\(minor)", "DEVTYPE=drm_minor", "SEQNUM=\(seqnum)",
            "MAJOR=226", "MINOR=\(minor)",
        ]
        if let connector { props.append("CONNECTOR=\(connector)") }
        let body: [UInt8] = props.flatMap { (p: String) -> [UInt8] in Array(p.utf8) + [0] }
        var h = [UInt8](repeating: 0, count: 40)
        for (i, c) in "libudev".utf8.enumerated() { h[i] = c }
        func be(_ v: UInt32, _ at: Int) { for k in 0..<4 { h[at + k] = UInt8(truncatingIfNeeded: v >> (24 - 8 * k)) } }
        func le(_ v: UInt32, _ at: Int) { for k in 0..<4 { h[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
        be(0xfeed_cafe, 8)
        le(40, 12)
        le(40, 16)
        le(UInt32(body.count), 20)
        be(murmur2("drm"), 24)
        be(murmur2("drm_minor"), 28)
        return h + body
    }

    /// MurmurHash2 with seed 0, the hash libudev puts in the header for in-kernel BPF filters
    /// (our sockets have no BPF, but a client may compare it).
    static func murmur2(_ s: String) -> UInt32 {
        let data = Array(s.utf8)
        let m: UInt32 = 0x5bd1_e995
        var h: UInt32 = UInt32(truncatingIfNeeded: data.count)
        var i = 0
        while i + 4 <= data.count {
            var k = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
            k &*= m
            k ^= k >> 24
            k &*= m
            h &*= m
            h ^= k
            i += 4
        }
        let rest = data.count - i
        if rest >= 3 { h ^= UInt32(data[i + 2]) << 16 }
        if rest >= 2 { h ^= UInt32(data[i + 1]) << 8 }
        if rest >= 1 {
            h ^= UInt32(data[i])
            h &*= m
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return h
    }
}
