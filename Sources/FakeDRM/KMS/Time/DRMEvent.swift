/// The bytes of the events a file reads: drm_event_vblank and drm_event_crtc_sequence.
enum DRMEvent {
    static func crtcSequence(userData: UInt64, ts: Int64, sequence: UInt64) -> [UInt8] {
        var b = ArgBuffer(size: EventCrtcSequenceLayout.size)
        b[EventCrtcSequenceLayout.type] = DRMConst.eventCrtcSequence
        b[EventCrtcSequenceLayout.length] = UInt32(EventCrtcSequenceLayout.size)
        b[EventCrtcSequenceLayout.userData] = userData
        b[EventCrtcSequenceLayout.timeNs] = ts
        b[EventCrtcSequenceLayout.sequence] = sequence
        return b.bytes
    }

    static func vblank(type: UInt32, userData: UInt64, ts: Int64, sequence: UInt32, crtcID: ObjectID) -> [UInt8] {
        var b = ArgBuffer(size: EventVblankLayout.size)
        b[EventVblankLayout.type] = type
        b[EventVblankLayout.length] = UInt32(EventVblankLayout.size)
        b[EventVblankLayout.userData] = userData
        b[EventVblankLayout.tvSec] = UInt32(truncatingIfNeeded: ts / 1_000_000_000)
        b[EventVblankLayout.tvUsec] = UInt32(truncatingIfNeeded: (ts % 1_000_000_000) / 1000)
        b[EventVblankLayout.sequence] = sequence
        b[EventVblankLayout.crtcId] = crtcID
        return b.bytes
    }
}
