/// The base of the device's rooms: each room holds one kind of state and its rules, and
/// reaches the rooms beside it through the device that owns them all.
///
/// @unchecked Sendable: a room's stored state is read and written only with `device.lock`
/// held (the one lock of the card, as the kernel's mode_config mutex); `device` is set once,
/// before the device is shared, and the device outlives its rooms.
public class DeviceRoom: @unchecked Sendable {
    /// Unowned and unsafe: a plain load on every request's path, where a weak or checked
    /// reference would cost an atomic. Safe because only the device holds its rooms, and work
    /// that outlives a request (timers, threads, queues) captures the device weakly, never a room.
    unowned(unsafe) var device: Device!

    init() {}

    var config: DeviceConfig { device.config }
    var lock: DeviceLock { device.lock }
    var topology: Topology { device.topology }
    var objects: ModeObjectRegistry { device.objects }
    var pipeline: AtomicPipeline { device.pipeline }
    var clock: DeviceClock { device.clock }
    var vblank: VblankCounters { device.vblank }
    var files: FileRegistry { device.files }
    var buffers: BufferManager { device.buffers }
    var hotplug: Hotplug { device.hotplug }
    var display: Display { device.display }
    var faults: FaultPolicy { device.faults }
}
