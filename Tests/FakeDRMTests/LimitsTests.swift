import Glibc
import Testing
@testable import FakeDRM

/// Per-file limits (DeviceConfig.Limits, docs/limits.md): each kind is ENOMEM one past its
/// limit, freeing one makes room again, and another file of the card is not affected.
@Suite struct LimitsTests {
    func device(_ edit: (inout DeviceConfig.Limits) -> Void) throws -> (Device, DirectClient, DirectClient) {
        var config = DeviceConfig()
        edit(&config.limits)
        let d = try makeDevice(config)
        return (d, try DirectClient(device: d), try DirectClient(device: d))
    }

    @Test func buffersAndTheirBytes() throws {
        let (d, a, b) = try device { $0.buffersPerFile = 8; $0.bufferMiBPerFile = 1 }
        var handles: [UInt32] = []
        for _ in 0..<8 { handles.append(try d.buffers.createDumb(a.file, width: 64, height: 64, bpp: 32).handle) }
        #expect(throws: DRMError.noMemory) { try d.buffers.createDumb(a.file, width: 64, height: 64, bpp: 32) }
        // The other file has its own budget; closing one handle makes room.
        #expect(throws: Never.self) { try d.buffers.createDumb(b.file, width: 64, height: 64, bpp: 32) }
        try d.buffers.closeHandle(a.file, handles[0])
        #expect(throws: Never.self) { try d.buffers.createDumb(a.file, width: 64, height: 64, bpp: 32) }
        // 1 MiB of bytes: a 512x512x32bpp buffer is exactly 1 MiB, one more page is too much.
        #expect(throws: Never.self) { try d.buffers.createDumb(b.file, width: 256, height: 256, bpp: 32) }
        #expect(throws: DRMError.noMemory) { try d.buffers.createDumb(b.file, width: 512, height: 512, bpp: 32) }
        // GETFB's new handles count too.
        let (d2, c, _) = try device { $0.buffersPerFile = 2 }
        let (fb, _) = try c.makeFB(64, 64)
        _ = try d2.buffers.framebufferInfo(c.file, fb, legacy: true)
        #expect(throws: DRMError.noMemory) { try d2.buffers.framebufferInfo(c.file, fb, legacy: true) }
    }

    @Test func framebuffersBlobsSyncobjsLeases() throws {
        let (d, a, b) = try device {
            $0.framebuffersPerFile = 3; $0.blobsPerFile = 4; $0.blobKiBPerFile = 1; $0.syncobjsPerFile = 5; $0.leasesPerFile = 1
        }
        let bo = try d.buffers.createDumb(a.file, width: 64, height: 64, bpp: 32)
        func addFB(_ f: FileContext, _ handle: UInt32) throws -> UInt32 {
            try d.buffers.addFramebuffer(f, .init(width: 64, height: 64, format: 0x3432_5258, flags: 0, handles: [handle, 0, 0, 0],
                                          pitches: [256, 0, 0, 0], offsets: [0, 0, 0, 0], modifiers: [0, 0, 0, 0]))
        }
        var fbs: [UInt32] = []
        for _ in 0..<3 { fbs.append(try addFB(a.file, bo.handle)) }
        #expect(throws: DRMError.noMemory) { try addFB(a.file, bo.handle) }
        try d.buffers.removeFramebuffer(a.file, fbs[0], disablePlanes: true)
        #expect(throws: Never.self) { try addFB(a.file, bo.handle) }

        var blobs: [UInt32] = []
        for _ in 0..<4 { blobs.append(try d.objects.createBlob(a.file, data: [1, 2, 3, 4])) }
        #expect(throws: DRMError.noMemory) { try d.objects.createBlob(a.file, data: [1]) }
        try d.objects.destroyBlob(a.file, blobs[0])
        // Room for one more blob, but not for more than 1 KiB in all.
        #expect(throws: DRMError.noMemory) { try d.objects.createBlob(a.file, data: [UInt8](repeating: 0, count: 1024)) }
        #expect(throws: Never.self) { try d.objects.createBlob(a.file, data: [UInt8](repeating: 0, count: 1000)) }
        #expect(throws: Never.self) { try d.objects.createBlob(b.file, data: [UInt8](repeating: 0, count: 1024)) }

        for _ in 0..<5 { _ = try d.syncobjs.syncobjCreate(a.file, flags: 0) }
        #expect(throws: DRMError.noMemory) { try d.syncobjs.syncobjCreate(a.file, flags: 0) }
        #expect(throws: Never.self) { try d.syncobjs.syncobjCreate(b.file, flags: 0) }

        // a is the master (first opener): one lessee, then ENOMEM; an empty lease suffices.
        let first = try d.files.createLease(a.file, objects: [], flags: 0)
        #expect(throws: DRMError.noMemory) { try d.files.createLease(a.file, objects: [], flags: 0) }
        try d.files.revokeLease(a.file, id: first.id)
        #expect(throws: Never.self) { try d.files.createLease(a.file, objects: [], flags: 0) }
    }

    @Test func limitsAreValidatedAsTheConfig() throws {
        #expect(throws: (any Error).self) { try DeviceConfig.load(yaml: "limits: {buffersPerFile: 0}") }
        #expect(throws: (any Error).self) { try DeviceConfig.load(yaml: "limits: {fdReserve: 2}") }
        let config = try DeviceConfig.load(yaml: "limits: {blobsPerFile: 7}")
        #expect(config.limits.blobsPerFile == 7 && config.limits.buffersPerFile == DeviceConfig.Limits().buffersPerFile)
    }
}
