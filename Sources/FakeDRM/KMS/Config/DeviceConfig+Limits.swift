extension DeviceConfig {
    /// What one open file may make the daemon hold, and the fds the daemon keeps free for
    /// everyone else (docs/limits.md). The kernel bounds these by memory alone; a shared
    /// daemon needs bounds so one client cannot take the card from the others. Exhausting one
    /// gives the errno the kernel gives when its allocation fails (ENOMEM).
    public struct Limits: Sendable, Codable, Equatable {
        /// GEM handles (CREATE_DUMB, PRIME import, GETFB/GETFB2 handles).
        public var buffersPerFile = 65536
        /// Bytes behind those handles (a buffer with two handles counts twice), in MiB.
        public var bufferMiBPerFile = 16384
        /// Framebuffers the file created and has not removed.
        public var framebuffersPerFile = 16384
        /// Property blobs the file created and has not destroyed, and their bytes in KiB.
        public var blobsPerFile = 16384
        public var blobKiBPerFile = 65536
        public var syncobjsPerFile = 65536
        /// SYNCOBJ_EVENTFD registrations holding a copy of a client eventfd.
        public var eventfdsPerFile = 1024
        /// Lessees the file created (each is an open file of its own).
        public var leasesPerFile = 256
        /// File descriptors the daemon never hands to a buffer or a fence: opens, `fakedrm
        /// ctl` and other clients' requests keep working when allocations run out.
        public var fdReserve = 512
        public init() {}

        func validate() throws {
            let values = [buffersPerFile, bufferMiBPerFile, framebuffersPerFile, blobsPerFile, blobKiBPerFile,
                          syncobjsPerFile, eventfdsPerFile, leasesPerFile]
            if values.contains(where: { $0 < 1 }) { throw Invalid(description: "invalid config: limits must be at least 1") }
            if fdReserve < 16 || fdReserve > 65536 { throw Invalid(description: "invalid config: limits.fdReserve must be 16..65536") }
        }
    }
}
