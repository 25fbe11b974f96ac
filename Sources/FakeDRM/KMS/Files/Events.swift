/// read() on the card: the file's queue of whole events (drm_read), and the wake-ups of a
/// blocked reader.
extension FileRegistry {
    /// read() on the card: whole events only; 0 when the first does not fit; EAGAIN when
    /// empty and non-blocking; blocks otherwise.
    public func readEvents(_ file: FileContext, maxBytes: Int, nonblocking: Bool) throws(DRMError) -> [UInt8] {
        try lock.withLock { () throws(DRMError) -> [UInt8] in
            if file.events.isEmpty {
                if nonblocking { throw .wouldBlock }
                _ = clock.waitUntil(timeoutNs: .max / 4, crtcIndex: nil) { !file.events.isEmpty || file.closed || clock.shuttingDown || file.readInterrupted }
                file.readInterrupted = false
                if file.events.isEmpty { throw .interrupted }
            }
            var out: [UInt8] = []
            while let e = file.events.first, out.count + e.count <= maxBytes {
                out += e
                file.events.removeFirst()
                file.eventSpace += e.count
            }
            if file.events.isEmpty { file.readiness.clear() }
            return out
        }
    }

    public func hasEvents(_ file: FileContext) -> Bool { lock.withLock { !file.events.isEmpty } }

    /// Ends a blocking read of `file` with EINTR: a front end whose caller got a signal while
    /// the read waits (CUSE forwards it as FUSE_INTERRUPT; without this a killed reader would
    /// hang in the kernel until an event arrived).
    public func interruptRead(_ file: FileContext) {
        lock.withLock {
            file.readInterrupted = true
            lock.broadcast()
        }
    }
}
