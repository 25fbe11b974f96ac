import Glibc

/// The CUSE front end's in-place answer (InPlaceIoctl) on a host without CUSE: this process
/// plays the caller, so CallerMemory's process_vm_readv/writev reach its own memory as they
/// reach a client's. Counted by scripts/bench-instructions.sh; the syscalls' kernel side is
/// not (callgrind counts user space only).
final class CuseInPlaceSimulation {
    let device: Device
    let file: FileContext
    let files: ClientFiles
    private let memory = CallerMemory(pid: getpid())

    init(device: Device, file: FileContext, files: ClientFiles) {
        self.device = device
        self.file = file
        self.files = files
    }

    /// The daemon's whole answer to one request: counted by scripts/bench-instructions.sh.
    @inline(never)
    func daemonRequest(request: UInt32, arg: UInt64) -> InPlaceIoctl.Answer {
        InPlaceIoctl.run(request: request, arg: arg, device: device, file: file, memory: memory, files: files)
    }

    /// ioctl(fd, request, arg) on the node: 0 or an errno (EIO if the memory were unreachable).
    func ioctl(_ request: UInt32, _ arg: UnsafeMutableRawPointer) -> Int32 {
        switch daemonRequest(request: request, arg: UInt64(UInt(bitPattern: arg))) {
        case .answered(.reply(let result, _)): -result
        case .answered(.fail(let errno)): errno
        case .answered(.retry), .retry: EIO
        }
    }
}
