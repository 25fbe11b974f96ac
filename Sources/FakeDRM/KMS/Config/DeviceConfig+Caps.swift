/// GET_CAP: what the card's config offers (drm_getcap); the same for every file.
extension DeviceConfig {
    public func capability(_ cap: UInt64) throws(DRMError) -> UInt64 {
        switch cap {
        case DRMConst.capDumbBuffer: return 1
        case DRMConst.capVblankHighCrtc: return 1
        case DRMConst.capDumbPreferredDepth: return 24
        case DRMConst.capDumbPreferShadow: return 0
        case DRMConst.capPrime: return 3
        case DRMConst.capTimestampMonotonic: return 1
        case DRMConst.capAsyncPageFlip: return 0
        case DRMConst.capCursorWidth: return cursorWidth
        case DRMConst.capCursorHeight: return cursorHeight
        case DRMConst.capAddFB2Modifiers: return 1
        case DRMConst.capPageFlipTarget: return 0
        case DRMConst.capCrtcInVblankEvent: return 1
        case DRMConst.capSyncobj, DRMConst.capSyncobjTimeline: return syncobj ? 1 : 0
        // 0x15 is ATOMIC_ASYNC_PAGE_FLIP upstream; only the RFC compatibility mode says 1.
        case DRMConst.capAtomicAsyncPageFlip: return releaseFence.rfc2021Cap ? 1 : 0
        default: throw .invalidArgument.because(.uapi, "unknown capability 0x\(String(cap, radix: 16))")
        }
    }
}
