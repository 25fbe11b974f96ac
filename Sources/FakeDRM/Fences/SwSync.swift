/// drivers/dma-buf/sw_sync.c for clients: a timeline per open of /dev/sw_sync, fences at
/// points of it as sync files, signalled as the timeline advances. Owns nothing; every step
/// runs under the device lock, because signalling a fence runs the card's in-fence callbacks
/// (a commit waiting on it is armed then).
public enum SwSync {
    /// The kernel names a timeline after the opener's comm; its fences' driver is "sw_sync".
    public static func timeline(named name: String) -> Timeline { Timeline(name: name) }

    /// SW_SYNC_IOC_CREATE_FENCE: a sync file named `name` holding the fence at `value`
    /// (signalled at once when the timeline is already there).
    public static func createFence(_ device: Device, on t: Timeline, value: UInt32, name: String) throws(DRMError) -> SyncFile {
        try device.lock.withLock { () throws(DRMError) -> SyncFile in
            try SyncFile(name: name, fences: [t.createFence(at: UInt64(value))])
        }
    }

    /// SW_SYNC_IOC_INC: the timeline moves by `count`, signalling the points it passes.
    public static func increment(_ device: Device, _ t: Timeline, by count: UInt32) {
        device.lock.withLock {
            t.advance(by: UInt64(count))
            device.lock.broadcast()
        }
    }

    /// The timeline's last close: fences still pending signal with -ENOENT.
    public static func close(_ device: Device, _ t: Timeline) {
        device.lock.withLock {
            t.close()
            device.lock.broadcast()
        }
    }
}
