/// The bytes of a file's query snapshot, as preload/snapshot.c reads them (docs/snapshot.md).
///
/// ```
/// header (64 bytes): u32 magic "FDSN"; u32 version; u64 seq (seqlock: odd = stale or being
///                    written); u32 used bytes; u32 index count; u32 index offset; pad
/// index:   count × {u32 kind; u32 key; u32 offset; u32 length}, sorted by (kind, key)
/// entries: the kernel struct as the daemon's handler left it for that object (counts = the
///          full counts), then each of its arrays in full, in the order the handler writes them
/// ```
/// All integers little-endian. The library copies only the fields the handler writes (the
/// rest of the caller's struct stays as it was) and applies the handler's fill rule per
/// array (partial, or all-or-nothing) to the caller's counts.
enum SnapshotLayout {
    static let magic: UInt32 = 0x4E53_4446 // "FDSN"
    static let version: UInt32 = 1
    static let headerSize = 64
    static let seqOffset = 8
    static let usedOffset = 16
    static let indexCountOffset = 20
    static let indexOffsetOffset = 24
    static let indexEntrySize = 16
    /// The memfd's size: sparse, so only what an encoding uses costs memory. The default card
    /// needs about 30 KiB; a card whose answers do not fit is never snapshotted (every query
    /// goes to the daemon).
    static let capacity = 1 << 20

    /// Entry kinds; the key is the object id (the capability for `cap`, 0 for the lists).
    enum Kind: UInt32 {
        case cap = 1, resources, crtc, encoder, connector, planeResources, plane, objectProperties, property, blob
    }
}
