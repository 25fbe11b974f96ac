/// The syncobj ioctls. Structs that grew since libdrm 2.4.114 arrive zero-extended.
enum SyncobjHandlers {
    static func register(_ t: inout CodecTable) {
        t.add(0xBF, "SYNCOBJ_CREATE", SyncobjCreateArg.self, [.renderAllow]) { d, f, a, _ throws(DRMError) in
            a[SyncobjCreateArg.handle] = try d.syncobjs.syncobjCreate(f, flags: a[SyncobjCreateArg.flags])
        }
        t.add(0xC0, "SYNCOBJ_DESTROY", SyncobjDestroyArg.self, [.renderAllow]) { d, f, a, _ throws(DRMError) in
            try d.syncobjs.syncobjDestroy(f, handle: a[SyncobjDestroyArg.handle], pad: a[SyncobjDestroyArg.pad])
        }
        t.add(0xC1, "SYNCOBJ_HANDLE_TO_FD", SyncobjHandleArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            let h = SyncobjHandleArg.self
            guard a[h.pad] == 0 else { throw .invalidArgument.because(.fences, "drm_syncobj_handle.pad is not 0") }
            a[h.fd] = try d.syncobjs.syncobjHandleToFD(f, handle: a[h.handle], flags: a[h.flags], point: a[h.point], env: env)
        }
        t.add(0xC2, "SYNCOBJ_FD_TO_HANDLE", SyncobjHandleArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            let h = SyncobjHandleArg.self
            guard a[h.pad] == 0 else { throw .invalidArgument.because(.fences, "drm_syncobj_handle.pad is not 0") }
            a[h.handle] = try d.syncobjs.syncobjFDToHandle(f, fd: a[h.fd], flags: a[h.flags], handle: a[h.handle], point: a[h.point], env: env)
        }
        t.add(0xC3, "SYNCOBJ_WAIT", SyncobjWaitArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            let w = SyncobjWaitArg.self
            guard a[w.pad] == 0 else { throw .invalidArgument.because(.fences, "syncobj wait pad is not 0") }
            let handles = try env.memory.readU32s(at: a[w.handles], count: a[w.countHandles])
            a[w.firstSignaled] = try d.syncobjs.syncobjWait(f, handles: handles, points: nil, timeoutNs: a[w.timeoutNsec], flags: a[w.flags])
        }
        t.add(0xCA, "SYNCOBJ_TIMELINE_WAIT", SyncobjTimelineWaitArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            let w = SyncobjTimelineWaitArg.self
            guard a[w.pad] == 0 else { throw .invalidArgument.because(.fences, "syncobj wait pad is not 0") }
            let handles = try env.memory.readU32s(at: a[w.handles], count: a[w.countHandles])
            // No points array means point 0 for every handle (drm_syncobj_array_wait_timeout).
            let points = a[w.points] == 0 ? nil : try env.memory.readU64s(at: a[w.points], count: a[w.countHandles])
            a[w.firstSignaled] = try d.syncobjs.syncobjWait(f, handles: handles, points: points, timeoutNs: a[w.timeoutNsec], flags: a[w.flags])
        }
        t.add(0xC4, "SYNCOBJ_RESET", SyncobjArrayArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            guard a[SyncobjArrayArg.pad] == 0, a[SyncobjArrayArg.countHandles] > 0 else { throw .invalidArgument.because(.fences, "drm_syncobj_array pad is not 0 or count_handles is 0") }
            try d.syncobjs.syncobjReset(f, handles: try env.memory.readU32s(at: a[SyncobjArrayArg.handles], count: a[SyncobjArrayArg.countHandles]))
        }
        t.add(0xC5, "SYNCOBJ_SIGNAL", SyncobjArrayArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            guard a[SyncobjArrayArg.pad] == 0, a[SyncobjArrayArg.countHandles] > 0 else { throw .invalidArgument.because(.fences, "drm_syncobj_array pad is not 0 or count_handles is 0") }
            try d.syncobjs.syncobjSignal(f, handles: try env.memory.readU32s(at: a[SyncobjArrayArg.handles], count: a[SyncobjArrayArg.countHandles]))
        }
        t.add(0xCD, "SYNCOBJ_TIMELINE_SIGNAL", SyncobjTimelineArrayArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            let x = SyncobjTimelineArrayArg.self
            guard a[x.flags] == 0, a[x.countHandles] > 0 else { throw .invalidArgument.because(.fences, "TIMELINE_SIGNAL flags 0x\(String(a[x.flags], radix: 16)) or count_handles 0") }
            let handles = try env.memory.readU32s(at: a[x.handles], count: a[x.countHandles])
            let points = a[x.points] == 0 ? nil : try env.memory.readU64s(at: a[x.points], count: a[x.countHandles])
            try d.syncobjs.syncobjSignal(f, handles: handles, points: points)
        }
        t.add(0xCB, "SYNCOBJ_QUERY", SyncobjTimelineArrayArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            let x = SyncobjTimelineArrayArg.self
            guard a[x.flags] & ~1 == 0, a[x.countHandles] > 0 else { throw .invalidArgument.because(.fences, "SYNCOBJ_QUERY flags 0x\(String(a[x.flags], radix: 16)) beyond LAST_SUBMITTED or count_handles 0") }
            let handles = try env.memory.readU32s(at: a[x.handles], count: a[x.countHandles])
            let pts = try d.syncobjs.syncobjQuery(f, handles: handles, lastSubmitted: a[x.flags] & 1 != 0)
            try env.memory.write(LE.bytes(pts), at: a[x.points])
        }
        t.add(0xCC, "SYNCOBJ_TRANSFER", SyncobjTransferArg.self, [.renderAllow]) { d, f, a, _ throws(DRMError) in
            let x = SyncobjTransferArg.self
            try d.syncobjs.syncobjTransfer(f, src: a[x.srcHandle], srcPoint: a[x.srcPoint], dst: a[x.dstHandle], dstPoint: a[x.dstPoint], flags: a[x.flags], pad: a[x.pad])
        }
        t.add(0xCF, "SYNCOBJ_EVENTFD", SyncobjEventfdArg.self, [.renderAllow]) { d, f, a, env throws(DRMError) in
            let x = SyncobjEventfdArg.self
            try d.syncobjs.syncobjEventfd(f, handle: a[x.handle], flags: a[x.flags], point: a[x.point], fd: a[x.fd], pad: a[x.pad], env: env)
        }
        t.add(0xD2, "GEM_CHANGE_HANDLE", size: 8, [.renderAllow]) { _, _, _, _ throws(DRMError) in
            throw .notSupported.because(.buffers, "GEM_CHANGE_HANDLE is not offered")
        }
    }
}
