import Glibc
import Testing
@testable import FakeDRM

/// The CUSE front end's one-round answer: the caller's memory reached with process_vm_readv/
/// writev (CallerMemory). Here the "caller" is this test process itself, its memory real pages:
/// mapped, unmapped (PROT_NONE) and read-only ones, so the copies fail as the kernel's would.
@Suite struct InPlaceIoctlTests {
    /// Pages of this process for one test, unmapped when it ends.
    final class Pages {
        private var maps: [(UnsafeMutableRawPointer, Int)] = []
        deinit { for (p, n) in maps { munmap(p, n) } }

        func map(_ bytes: [UInt8], prot: Int32 = PROT_READ | PROT_WRITE) -> UInt64 {
            let n = max(4096, (bytes.count + 4095) & ~4095)
            guard let p = mmap(nil, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else { return 0 }
            maps.append((p, n))
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            mprotect(p, n, prot)
            return UInt64(UInt(bitPattern: p))
        }

        func bytes(at address: UInt64, count: Int) -> [UInt8] {
            guard let p = UnsafeRawPointer(bitPattern: UInt(address)) else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: count))
        }
    }

    static func run(_ c: DirectClient, _ request: UInt32, at address: UInt64, pid: Int32 = getpid()) -> InPlaceIoctl.Answer {
        InPlaceIoctl.run(request: request, arg: address, device: c.device, file: c.file, memory: CallerMemory(pid: pid), files: c.files)
    }

    /// The errno the caller sees; nil when the request was not answered in place.
    static func result(_ answer: InPlaceIoctl.Answer) -> Int32? {
        switch answer {
        case .answered(.reply(let result, let bytes)): bytes.isEmpty ? -result : nil
        case .answered(.fail(let errno)): errno
        default: nil
        }
    }

    @Test func getCapAndFilledGetResourcesAreCopiedInPlace() throws {
        let c = try DirectClient(device: try makeDevice())
        let pages = Pages()
        let cap = pages.map(LE.bytes([UInt64(1), 0]))  // DRM_CAP_DUMB_BUFFER
        #expect(Self.result(Self.run(c, req(0x0C, 16), at: cap)) == 0)
        #expect(LE.u64s(pages.bytes(at: cap, count: 16)) == [1, 1])

        let res = c.device.objects.resources(c.file)
        let arrays = [res.fbs.count, res.crtcs.count, res.connectors.count, res.encoders.count].map { pages.map([UInt8](repeating: 0xAA, count: max(1, $0) * 4)) }
        let counts = [res.fbs, res.crtcs, res.connectors, res.encoders].map { UInt32($0.count) }
        let arg = pages.map(LE.bytes(arrays) + LE.bytes(counts) + [UInt8](repeating: 0, count: 16))
        #expect(Self.result(Self.run(c, req(0xA0, 64), at: arg)) == 0)
        #expect(LE.u32s(pages.bytes(at: arrays[1], count: res.crtcs.count * 4)) == res.crtcs)
        #expect(LE.u32s(pages.bytes(at: arrays[2], count: res.connectors.count * 4)) == res.connectors)
        #expect(LE.u32s(pages.bytes(at: arrays[3], count: res.encoders.count * 4)) == res.encoders)
        // The struct comes back as the Direct path returns it (counts, min/max sizes), whose
        // arrays are in its fake address space.
        let fake = counts.map { c.memory.alloc(max(1, Int($0)) * 4) }
        var direct = LE.bytes(fake) + LE.bytes(counts) + [UInt8](repeating: 0, count: 16)
        #expect(c.ioctl(req(0xA0, 64), &direct) == 0)
        #expect(pages.bytes(at: arg, count: 64)[32...] == direct[32...])
    }

    @Test func atomicTestOnlyMatchesTheDirectPath() throws {
        let c = try DirectClient(device: try makeDevice())
        c.setClientCap(3, 1)  // ATOMIC
        var (objs, counts, props, values) = try c.modesetArrays()
        let pages = Pages()
        let flags = DRMConst.atomicAllowModeset | 0x100  // TEST_ONLY
        func atomic(_ props: [UInt32]) -> (inPlace: Int32?, direct: Int32) {
            let arrays = [pages.map(LE.bytes(objs)), pages.map(LE.bytes(counts)), pages.map(LE.bytes(props)), pages.map(LE.bytes(values)), 0, 0]
            let inPlace = Self.result(Self.run(c, req(0xBC, 56), at: pages.map(LE.bytes([flags, UInt32(objs.count)]) + LE.bytes(arrays))))
            // The Direct path reads the same real pages' contents out of its fake address space.
            let fake = [c.memory.map(LE.bytes(objs)), c.memory.map(LE.bytes(counts)), c.memory.map(LE.bytes(props)), c.memory.map(LE.bytes(values)), 0, 0]
            var a = LE.bytes([flags, UInt32(objs.count)]) + LE.bytes(fake)
            return (inPlace, c.ioctl(req(0xBC, 56), &a))
        }
        let good = atomic(props)
        #expect(good.inPlace == 0 && good.direct == 0)
        props[0] = 0xdead
        let bad = atomic(props)
        #expect(bad.direct != 0)
        #expect(bad.inPlace == bad.direct)
    }

    @Test func faultsAreTheKernels() throws {
        let c = try DirectClient(device: try makeDevice())
        let pages = Pages()
        let none = pages.map([], prot: PROT_NONE)
        // The struct cannot be copied in: EFAULT before the handler runs, nothing copied back.
        guard case .answered(.fail(let e)) = Self.run(c, req(0x0C, 16), at: none) else { Issue.record("no failure"); return }
        #expect(e == EFAULT)
        // A struct on a read-only page: the handler runs, the copy back fails (drm_ioctl's EFAULT).
        let readOnly = pages.map(LE.bytes([UInt64(1), 0]), prot: PROT_READ)
        #expect(Self.result(Self.run(c, req(0x0C, 16), at: readOnly)) == EFAULT)
        #expect(LE.u64s(pages.bytes(at: readOnly, count: 16)) == [1, 0])
        // An array pointer into an unmapped page: the handler's copy fails.
        let res = c.device.objects.resources(c.file)
        let arg = pages.map(LE.bytes([UInt64(0), none, 0, 0]) + LE.bytes([UInt32(0), UInt32(res.crtcs.count), 0, 0]) + [UInt8](repeating: 0, count: 16))
        #expect(Self.result(Self.run(c, req(0xA0, 64), at: arg)) == EFAULT)
        // Unknown requests fail before any memory is touched, whatever the pointer.
        #expect(Self.result(Self.run(c, req(0x9F, 16), at: none)) == EINVAL)
        #expect(Self.result(Self.run(c, IoctlRequest(dir: 3, type: 0x55, nr: 1, size: 16).raw, at: none)) == ENOTTY)
    }

    /// The directions as drm_ioctl copies them: _IOW only in (a read-only page is fine), _IOR
    /// only out (the handler runs even when the page is bad, then the copy back fails).
    @Test func eachDirectionCopiesOnlyItsWay() throws {
        let c = try DirectClient(device: try makeDevice())
        let pages = Pages()
        // SET_CLIENT_CAP, _IOW: ATOMIC = 1 from a read-only page.
        let cap = pages.map(LE.bytes([UInt64(DRMConst.clientCapAtomic), 1]), prot: PROT_READ)
        #expect(Self.result(Self.run(c, IoctlRequest.drm(0x0D, size: 16, dir: 1).raw, at: cap)) == 0)
        #expect(c.device.lock.withLock { c.file.atomic })
        // GET_MAGIC, _IOR: to an unmapped page it runs and fails the copy back; to a mapped
        // page the magic it handed out arrives, whatever the page held.
        let getMagic = IoctlRequest.drm(0x02, size: 4, dir: 2).raw
        #expect(Self.result(Self.run(c, getMagic, at: pages.map([], prot: PROT_NONE))) == EFAULT)
        let magic = pages.map([0xAA, 0xAA, 0xAA, 0xAA])
        #expect(Self.result(Self.run(c, getMagic, at: magic)) == 0)
        let got = LE.u32s(pages.bytes(at: magic, count: 4))[0]
        #expect(got != 0 && got != 0xAAAA_AAAA)
        // A struct that would wrap the address space.
        #expect(Self.result(Self.run(c, req(0x0C, 16), at: UInt64.max - 4)) == EFAULT)
    }

    @Test func anUnreachableCallerIsLeftToTheRetries() throws {
        let c = try DirectClient(device: try makeDevice())
        let pages = Pages()
        // CREATE_DUMB 64×64×32: had it run, the caller's first handle would be taken.
        let dumb = LE.bytes([UInt32(64), 64, 32, 0]) + [UInt8](repeating: 0, count: 16)
        let arg = pages.map(dumb)
        // No process has this pid (beyond any pid_max): process_vm_readv says ESRCH.
        guard case .retry(always: true) = Self.run(c, req(0xB2, 32), at: arg, pid: Int32.max) else { Issue.record("answered"); return }
        #expect(pages.bytes(at: arg, count: 32) == dumb)
        #expect(Self.result(Self.run(c, req(0xB2, 32), at: arg)) == 0)
        #expect(LE.u32s(pages.bytes(at: arg, count: 32))[4] == 1, "the first handle: nothing ran before")
    }
}

