/// One file's vgem fences (vgem_fence.c's per-file idr): ids from 1, a signalled fence's slot
/// kept empty rather than freed (idr_replace with NULL), so an id is never handed out twice.
///
/// @unchecked Sendable: mutated only under the device lock, as the file that owns it.
final class VgemFences: @unchecked Sendable {
    private var slots: [UInt32: Fence?] = [:]
    private var next: UInt32 = 1

    var count: Int { slots.count }

    func add(_ f: Fence) -> UInt32 {
        let id = next
        next &+= 1
        slots[id] = .some(f)
        return id
    }

    /// The fence at `id`, emptying its slot; nil when there is no such id or it was taken.
    func take(_ id: UInt32) -> Fence? {
        guard let slot = slots[id], let f = slot else { return nil }
        slots[id] = .some(nil)
        return f
    }

    /// vgem_fence_close: every fence still held is signalled as the file goes.
    func signalAll(at ts: Int64) {
        for case let f?? in slots.values { f.signal(at: ts) }
        slots = [:]
    }
}
