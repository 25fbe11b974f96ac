import Glibc
import Testing
@testable import FakeDRM

@Suite struct SharedMemoryTests {
    /// A client holding a dumb buffer's memfd cannot change its size under the composer or a
    /// host compositor that maps it.
    @Test func theSizeIsSealed() throws {
        let m = try SharedMemory(size: 8192, name: "fakedrm-test")
        #expect(ftruncate(m.fd.raw, 0) == -1 && errno == EPERM)
        #expect(ftruncate(m.fd.raw, 16384) == -1 && errno == EPERM)
        var st = stat()
        #expect(fstat(m.fd.raw, &st) == 0 && st.st_size == 8192)
        m.base.storeBytes(of: 0x1234_5678, toByteOffset: 8188, as: UInt32.self)  // still writable
    }
}
