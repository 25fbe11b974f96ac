/// An ioctl answered in the round trip that brought it: the caller's memory is reached where it
/// is (CallerMemory), so CUSE's retry protocol (IoctlRetry) is not needed. The steps are
/// drm_ioctl's: the struct copied in (EFAULT before anything runs), the handler, the struct
/// copied back whatever the handler returned (EFAULT when that copy fails).
public enum InPlaceIoctl {
    public enum Answer {
        /// Every byte is in the caller's memory already, so a `.reply` carries no data.
        case answered(IoctlRetryStep)
        /// Nothing has run; the request goes the retry way. `always`: the daemon may not
        /// reach this caller at all (CallerMemory.Copy.unreachable), so its next ones too.
        case retry(always: Bool)
    }

    /// `adjust` may change the struct before it is copied back.
    public static func run(request: UInt32, arg: UInt64, device: Device, file: FileContext, memory: CallerMemory, files: ClientFiles,
                           adjust: (Int32, inout [UInt8]) -> Void = { _, _ in }) -> Answer {
        let req = IoctlRequest(request)
        // As the planner's first round: unknown ioctls fail before any memory is touched.
        guard req.type == IoctlRequest.drmType else { return .answered(.fail(errno: DRMError.notTTY.errno)) }
        guard UAPICodec.kernelSize(nr: req.nr) != nil else { return .answered(.fail(errno: DRMError.invalidArgument.errno)) }
        let size = req.size
        let hasStruct = size > 0 && (req.copiesIn || req.copiesOut)
        var bytes: [UInt8] = hasStruct ? .zeroed(size) : []
        if hasStruct {
            if arg &+ UInt64(size) < arg { return .answered(.fail(errno: DRMError.badAddress.errno)) }
            // Copies nothing in (_IOR): one byte read only to learn whether the caller is
            // reachable; a fault there is for the copy back to report, as in the kernel.
            var probe: UInt8 = 0
            let copy = req.copiesIn
                ? bytes.withUnsafeMutableBytes { memory.copyIn(at: arg, into: $0) }
                : withUnsafeMutableBytes(of: &probe) { memory.copyIn(at: arg, into: $0) }
            switch copy {
            case .unreachable: return .retry(always: true)
            case .failed: return .retry(always: false)
            case .fault where req.copiesIn: return .answered(.fail(errno: DRMError.badAddress.errno))
            case .fault, .done: break
            }
        }
        let errno = UAPICodec.ioctl(device, file, request: request, arg: &bytes, env: ClientEnv(memory: memory, files: files))
        var result = -errno
        if hasStruct && req.copiesOut {
            // The codec leaves exactly the caller's `size` bytes here (UAPICodec.ioctl).
            adjust(result, &bytes)
            if bytes.withUnsafeBytes({ memory.copyOut($0, at: arg) }) != .done { result = -DRMError.badAddress.errno }
        }
        return .answered(.reply(result: result, bytes: []))
    }
}
