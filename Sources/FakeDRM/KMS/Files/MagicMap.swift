/// The authentication magics of drm_auth.c: magic → the file that asked for it, until a master
/// authenticates it (the entry then stays taken but names no file, so the magic neither works
/// twice nor goes to another file) or the file closes. Owned by the device, under its lock.
struct MagicMap {
    /// nil value: used by AUTH_MAGIC.
    private var entries: [UInt32: Int?] = [:]

    /// idr_alloc(map, file, 1, 0): the lowest free number from 1.
    mutating func allocate(for fileID: Int) -> UInt32 {
        var m: UInt32 = 1
        while entries[m] != nil { m += 1 }
        entries[m] = .some(fileID)
        return m
    }

    /// The file a magic names, emptying the entry (idr_replace(map, NULL, magic)).
    mutating func consume(_ magic: UInt32) -> Int? {
        guard magic != 0, let entry = entries[magic], let id = entry else { return nil }
        entries[magic] = .some(nil)
        return id
    }

    mutating func remove(_ magic: UInt32) {
        if magic != 0 { entries[magic] = nil }
    }
}
