import Foundation

/// The vkms-like display: remembers the last scanout per CRTC, counts frames, and composes
/// to PNG every Nth flip when capture is on. Composition happens on a private queue so the
/// device lock is never held for a full-frame blend.
///
/// @unchecked Sendable: mutable fields are guarded by `stateLock`.
public final class VirtualBackend: ScanoutBackend, @unchecked Sendable {
    private let stateLock = DeviceLock()
    private var lastScanout: [Int: Scanout] = [:]
    private var flips: [Int: Int] = [:]
    private let queue = DispatchQueue(label: "fakedrm.capture")
    public let captureDirectory: String?
    public let captureEvery: Int

    public init(captureDirectory: String? = nil, captureEvery: Int = 1) {
        self.captureDirectory = captureDirectory
        self.captureEvery = max(captureEvery, 1)
    }

    public func present(crtcIndex: Int, scanout: Scanout, timestampNs: Int64) {
        let n: Int = stateLock.withLock {
            lastScanout[crtcIndex] = scanout
            flips[crtcIndex, default: 0] += 1
            return flips[crtcIndex] ?? 0
        }
        guard let dir = captureDirectory, scanout.active, n % captureEvery == 0 else { return }
        // Copy the planes' pixels now: the client may draw into the buffer after release.
        let frame = Composer.compose(scanout)
        let path = "\(dir)/crtc\(crtcIndex)-frame\(String(format: "%06d", n)).png"
        queue.async { try? PNGWriter.write(frame, to: path) }
    }

    public func flipCount(crtcIndex: Int) -> Int { stateLock.withLock { flips[crtcIndex] ?? 0 } }

    /// Waits until queued PNG writes are on disk.
    public func drain() { queue.sync {} }
}
