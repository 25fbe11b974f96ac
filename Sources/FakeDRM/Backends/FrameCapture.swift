import Foundation

/// `--capture DIR`: what each CRTC showed, as numbered PNGs (`crtcN-frameNNNNNN.png`, the Nth
/// frame shown), whichever backend showed it: the virtual display's composed frame, or the
/// pictures virtio-gpu's backend sent its display. Outlives backends (a replaced vhost-user
/// backend continues the numbering). PNGs are written on a private queue.
///
/// @unchecked Sendable: `shown` is guarded by `lock`.
public final class FrameCapture: @unchecked Sendable {
    public let directory: String
    public let every: Int
    private let lock = DeviceLock()
    private var shown: [Int: Int] = [:]
    private let queue = DispatchQueue(label: "fakedrm.capture")

    public init(directory: String, every: Int = 1) {
        self.directory = directory
        self.every = max(every, 1)
    }

    /// Counts one frame shown on `crtc`; every `every`th, `picture` (called now, before the
    /// client may draw into its buffer again; nil: nothing to show) is written.
    public func frameShown(crtc: Int, _ picture: () -> Frame?) {
        let n: Int = lock.withLock {
            shown[crtc, default: 0] += 1
            return shown[crtc] ?? 0
        }
        guard n % every == 0, let frame = picture() else { return }
        let path = "\(directory)/crtc\(crtc)-frame\(String(format: "%06d", n)).png"
        queue.async { try? PNGWriter.write(frame, to: path) }
    }

    /// Waits until queued PNG writes are on disk.
    public func drain() { queue.sync {} }
}
