import Foundation
import Glibc

/// Whether a process other than this one still holds an eventfd: the kernel closes a lessee
/// file at its last close anywhere, which the daemon cannot see for a bare eventfd that was
/// passed on (a compositor hands a lease fd to a Wayland client, then closes its own copy).
/// Reads /proc/<pid>/fdinfo of the processes this user may inspect; an fd in flight inside an
/// SCM_RIGHTS message is held by no process and is not seen.
enum EventfdHolders {
    /// `except`: the process whose last connection just ended (it is closing its own copy).
    static func heldElsewhere(id: UInt64, except: Int32) -> Bool {
        let me = getpid()
        guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return false }
        for name in pids {
            guard let pid = Int32(name), pid != me, pid != except else { continue }
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
            for fd in fds {
                var buf = [UInt8](repeating: 0, count: 64)
                let n = buf.withUnsafeMutableBufferPointer { p in
                    p.baseAddress.map { readlink("/proc/\(pid)/fd/\(fd)", UnsafeMutableRawPointer($0).assumingMemoryBound(to: CChar.self), 63) } ?? -1
                }
                guard n > 0, String(decoding: buf.prefix(n), as: UTF8.self).hasPrefix("anon_inode:[eventfd]") else { continue }
                guard let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8) else { continue }
                for line in info.split(separator: "\n") where line.hasPrefix("eventfd-id:") {
                    if UInt64(line.dropFirst("eventfd-id:".count).trimmingCharacters(in: .whitespaces)) == id { return true }
                }
            }
        }
        return false
    }
}
