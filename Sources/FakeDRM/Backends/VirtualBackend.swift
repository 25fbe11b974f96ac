import Foundation

/// The vkms-like display: remembers the last scanout per CRTC, counts frames, and hands each
/// one to the capture (`--capture`), which composes it only when it writes it.
///
/// @unchecked Sendable: mutable fields are guarded by `stateLock`.
public final class VirtualBackend: ScanoutBackend, @unchecked Sendable {
    private let stateLock = DeviceLock()
    /// By CRTC index; the last scanout keeps the buffers it shows alive.
    private var lastScanout: [Scanout?] = []
    private var flips: [Int] = []
    public let capture: FrameCapture?

    public init(captureDirectory: String? = nil, captureEvery: Int = 1) {
        capture = captureDirectory.map { FrameCapture(directory: $0, every: captureEvery) }
    }

    /// Taking over another display's `--capture`, which goes on numbering its frames.
    public init(capture: FrameCapture?) { self.capture = capture }

    public func present(crtcIndex: Int, scanout: Scanout, timestampNs: Int64) {
        stateLock.withLock {
            if crtcIndex >= flips.count {
                flips += repeatElement(0, count: crtcIndex + 1 - flips.count)
                lastScanout += repeatElement(nil, count: crtcIndex + 1 - lastScanout.count)
            }
            lastScanout[crtcIndex] = scanout
            flips[crtcIndex] += 1
        }
        // Composed now: the client may draw into the buffer after release.
        capture?.frameShown(crtc: crtcIndex) { scanout.active ? Composer.compose(scanout) : nil }
    }

    public func flipCount(crtcIndex: Int) -> Int { stateLock.withLock { crtcIndex >= 0 && crtcIndex < flips.count ? flips[crtcIndex] : 0 } }
}
