/// Mode object ids as the kernel's object idr hands them out: the lowest free id from 1, so an
/// id freed by RMFB or DESTROYPROPBLOB is the next one given (IGT caches property values that
/// rely on it: a framebuffer recreated after a removal keeps its id). Owned by the device,
/// under its lock.
struct ObjectIDAllocator {
    private var next: ObjectID = 1
    /// Freed ids below `next`, a min-heap.
    private var freed: [ObjectID] = []

    mutating func allocate() -> ObjectID {
        guard let top = freed.first else {
            defer { next += 1 }
            return next
        }
        let last = freed.removeLast()
        if !freed.isEmpty {
            freed[0] = last
            siftDown(0)
        }
        return top
    }

    mutating func free(_ id: ObjectID) {
        guard id != 0, id < next else { return }
        freed.append(id)
        var i = freed.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard freed[i] < freed[parent] else { break }
            freed.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < freed.count && freed[l] < freed[m] { m = l }
            if r < freed.count && freed[r] < freed[m] { m = r }
            if m == i { return }
            freed.swapAt(i, m)
            i = m
        }
    }
}
