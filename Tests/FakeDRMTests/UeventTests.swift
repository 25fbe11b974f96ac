import Glibc
import Testing
@testable import FakeDRM

@Suite struct UeventTests {
    /// The header layout systemd's monitor checks before it looks at the properties.
    @Test func libudevMessageLayout() {
        let m = UeventBroadcaster.message(minor: 0, driver: "fakedrm", seqnum: 7, connector: 38)
        #expect(Array(m[0..<8]) == Array("libudev".utf8) + [0])
        #expect(Array(m[8..<12]) == [0xfe, 0xed, 0xca, 0xfe])
        let a = ArgBuffer(m)
        #expect(a.load(UInt32.self, at: 12) == 40 && a.load(UInt32.self, at: 16) == 40)
        #expect(Int(a.load(UInt32.self, at: 20)) == m.count - 40)
        #expect(a.load(UInt32.self, at: 16) + 32 <= UInt32(m.count))
        let props = String(decoding: m[40...], as: UTF8.self).split(separator: "\0").map(String.init)
        #expect(props.contains("ACTION=change") && props.contains("HOTPLUG=1") && props.contains("SUBSYSTEM=drm"))
        #expect(props.contains("DEVPATH=/devices/platform/fakedrm/drm/card0") && props.contains("SEQNUM=7"))
        #expect(props.contains("CONNECTOR=38"))
        // MurmurHash2("drm"), seed 0, computed independently in Python (see the commit message).
        #expect(UeventBroadcaster.murmur2("drm") == 0x1666_4179)
    }

    @Test func connectorChangesReachSubscribers() throws {
        let d = try makeDevice()
        let b = UeventBroadcaster(minor: 0, driver: "fakedrm")
        d.hotplug.addObserver { _, _ in b.broadcast() }
        let end = try #require(b.subscribe())
        d.hotplug.setConnector(index: 0, connected: false)
        var p = pollfd(fd: end, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 2000) == 1)
        var buf = [UInt8](repeating: 0, count: 512)
        let n = read(end, &buf, buf.count)
        #expect(n > 40 && Array(buf[0..<7]) == Array("libudev".utf8))
        // A subscriber that went away is forgotten at the next broadcast. A process spawned by
        // a test running in parallel may hold the end between its fork and exec (CLOEXEC only
        // acts at exec), so the peer can outlive close() for a moment: broadcast until it goes.
        close(end)
        for _ in 0..<200 where b.subscriberCount > 0 {
            b.broadcast()
            if b.subscriberCount > 0 { usleep(10_000) }
        }
        #expect(b.subscriberCount == 0)
    }
}
