import Foundation
import Testing
@testable import FakeDRM

/// One kernel rule of the ATOMIC ioctl: the request that breaks it, the errno the kernel
/// returns and a piece of the reason fakedrm gives (the file's last rejection, as `ctl state`
/// shows it). The tables sit beside the object kind whose rules they test (KMS/Objects/).
struct AtomicRuleRow: CustomTestStringConvertible, Sendable {
    let name: String
    let errno: Int32
    /// A word or two of the reason the rejection logs: the rule that failed is this one.
    let reason: String?
    let run: @Sendable (DirectClient, UInt32) throws -> Int32
    var testDescription: String { name }

    init(name: String, errno: Int32, reason: String? = nil, run: @escaping @Sendable (DirectClient, UInt32) throws -> Int32) {
        self.name = name
        self.errno = errno
        self.reason = reason
        self.run = run
    }

    static let A = DRMConst.atomicAllowModeset

    func check() throws {
        // A cursor plane that takes ARGB8888 only (as vkms's did before 6.8), so the format
        // rule has a format the card knows and the plane lacks.
        var config = DeviceConfig()
        for i in config.planes.indices where config.planes[i].type == "cursor" { config.planes[i].formats = ["AR24"] }
        let d = try makeDevice(config)
        defer { d.shutdown() }
        let c = try DirectClient(device: d)
        #expect(c.setClientCap(DRMConst.clientCapAtomic, 1) == 0)
        let (fb, _) = try c.makeFB()
        #expect(try run(c, fb) == errno, "\(name)")
        if let want = reason {
            let got = d.lock.withLock { c.file.lastRejection }
            #expect(got?.reason.contains(want) == true, "\(name): reason '\(got?.reason ?? "none")', want '\(want)'")
            #expect(got?.errno == DRMError(errno: errno)?.errnoName)
        }
    }
}
