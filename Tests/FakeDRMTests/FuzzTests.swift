import Foundation
import Testing
@testable import FakeDRM

/// Seeded random requests through the codec: no crash, no hang, only kernel errnos, and object
/// counts back to baseline once the files close. FAKEDRM_FUZZ_ITERATIONS raises the count,
/// FAKEDRM_FUZZ_SEED picks another sequence.
@Suite struct FuzzTests {
    /// The fault policy's generator, with the seed as its whole state.
    typealias SplitMix = SplitMix64

    static let kernelErrnos: Set<Int32> = [0, 1, 2, 9, 12, 13, 14, 16, 19, 22, 25, 28, 34, 38, 62, 95, 6]

    @Test func randomRequestsOnlyGiveKernelErrnos() throws {
        let n = Int(ProcessInfo.processInfo.environment["FAKEDRM_FUZZ_ITERATIONS"] ?? "") ?? 100_000
        let d = try makeDevice()
        d.clock.eagerVirtualTime = true
        let baseline = d.counts()
        let seed = UInt64(ProcessInfo.processInfo.environment["FAKEDRM_FUZZ_SEED"] ?? "") ?? 0xfa4e_d12a
        var rng = SplitMix(state: seed)
        let numbers = UAPICodec.knownNumbers
        var clients = [try DirectClient(device: d), try DirectClient(device: d)]
        var seen: [Int32: Int] = [:]
        // Some valid ids so requests get past the first lookups now and then.
        let ids: [UInt64] = d.lock.withLock { Array(d.objects.objectTypes.keys).map(UInt64.init) } + [0, 1, 0xffff_ffff]
        for i in 0..<n {
            let c = clients[Int(rng.next() % 2)]
            let nr = rng.next() % 4 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : numbers[Int(rng.next() % UInt64(numbers.count))]
            let size = rng.next() % 3 == 0 ? Int(rng.next() % 200) : (UAPICodec.kernelSize(nr: nr) ?? 16)
            var arg = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Plant plausible values: small counts, mapped pointers, real object ids.
            for k in stride(from: 0, to: size - 7, by: 8) where rng.next() % 3 == 0 {
                let v: UInt64
                switch rng.next() % 4 {
                case 0: v = c.memory.alloc(Int(rng.next() % 512))
                case 1: v = ids[Int(rng.next() % UInt64(ids.count))]
                case 2: v = rng.next() % 8
                default: v = UInt64(rng.next() % 2048) | (UInt64(rng.next() % 4) << 32)
                }
                arg.replaceSubrange(k..<k + 8, with: LE.bytes([v]))
            }
            let dir = UInt32(rng.next() % 4)
            let e = c.ioctl(IoctlRequest(dir: dir, type: 0x64, nr: nr, size: size).raw, &arg)
            seen[e, default: 0] += 1
            #expect(FuzzTests.kernelErrnos.contains(e), "nr \(nr) gave errno \(e)")
            if i % 5000 == 4999 {
                // Reopen a client now and then so close paths run mid-stream.
                let k = Int(rng.next() % 2)
                clients[k].close()
                clients[k] = try DirectClient(device: d)
            }
        }
        for c in clients { c.close() }
        d.clock.stepVblank(count: 3)
        let after = d.counts()
        #expect(after.framebuffers == baseline.framebuffers)
        #expect(after.blobs == baseline.blobs)
        #expect(after.objects == baseline.objects)
        #expect(after.pendingCommits == 0 && after.waiters == 0)
        #expect(seen[0, default: 0] > 100, "some requests must succeed: \(seen)")
    }

    @Test func randomSyncFileRequestsOnlyGiveKernelErrnos() throws {
        let d = try makeDevice()
        let c = try DirectClient(device: d)
        let tl = Timeline(name: "fuzz")
        let fences = d.lock.withLock { (1...4).map { tl.createFence(at: UInt64($0)) } }
        let fds = try fences.map { try c.files.install(.syncFile(try SyncFile(fences: [$0])), cloexec: true) }
        var rng = SplitMix(state: 0x5eed)
        for i in 0..<20_000 {
            let nr = UInt8(rng.next() % 8)
            let size = rng.next() % 4 == 0 ? Int(rng.next() % 100) : [48, 56, 16][Int(rng.next() % 3)]
            var arg = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if size >= 48 {
                // Plausible fd2 / counts / pointers now and then.
                arg.replaceSubrange(32..<36, with: LE.bytes([fds[Int(rng.next() % 4)]]))
                if rng.next() % 2 == 0 { arg.replaceSubrange(36..<48, with: [UInt8](repeating: 0, count: 12)) }
                if size >= 56, rng.next() % 2 == 0 { arg.replaceSubrange(48..<56, with: LE.bytes([c.memory.alloc(Int(rng.next() % 400))])) }
            }
            let req = IoctlRequest(dir: UInt32(rng.next() % 4), type: rng.next() % 8 == 0 ? 0x64 : 0x3e, nr: nr, size: size).raw
            let e = c.syncFileIoctl(fd: fds[Int(rng.next() % 4)], req, &arg)
            #expect([0, 2, 9, 14, 22, 25].contains(e), "sync ioctl nr \(nr) gave \(e)")
            if i % 1000 == 0 { d.lock.withLock { tl.advance(by: 1) } }
        }
    }
}
