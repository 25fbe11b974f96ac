/// The base of the device's rooms: each room holds one kind of state and its rules, and
/// reaches the rooms beside it through the device that owns them all.
///
/// @unchecked Sendable: a room's stored state is read and written only with `device.lock`
/// held (the one lock of the card, as the kernel's mode_config mutex); `device` is set once,
/// before the device is shared, and the device outlives its rooms.
public class DeviceRoom: @unchecked Sendable {
    /// Unowned and unsafe, the device and each neighbour: a plain load on every request's path,
    /// where a weak or checked reference would cost an atomic, and going through the device
    /// would retain it (a device with weak references has a side table, so each retain takes the
    /// slow path). Each load of a neighbour still costs a retain and a release, so the hot paths
    /// take a local of it once (`let objects: ModeObjectRegistry = objects`). Safe because only
    /// the device holds its rooms, and work that outlives a request (timers, threads, queues)
    /// captures the device weakly, never a room.
    final unowned(unsafe) private(set) var device: Device!
    final unowned(unsafe) private(set) var objects: ModeObjectRegistry!
    final unowned(unsafe) private(set) var pipeline: AtomicPipeline!
    final unowned(unsafe) private(set) var clock: DeviceClock!
    final unowned(unsafe) private(set) var vblank: VblankCounters!
    final unowned(unsafe) private(set) var files: FileRegistry!
    final unowned(unsafe) private(set) var buffers: BufferManager!
    final unowned(unsafe) private(set) var hotplug: Hotplug!
    final unowned(unsafe) private(set) var display: Display!
    /// What no room points back to is held strongly: a `let` costs no retain per use.
    final let topology: Topology
    final let lock: DeviceLock
    final let faults: FaultPolicy
    final let config: DeviceConfig

    init(_ shared: Shared) {
        topology = shared.topology
        lock = shared.lock
        faults = shared.faults
        config = shared.config
    }

    /// What every room gets at creation: the parts of the device that hold no room.
    struct Shared {
        let topology: Topology
        let lock: DeviceLock
        let faults: FaultPolicy
        let config: DeviceConfig
    }

    /// Once, in Device.init, before the device is shared.
    final func bind(to d: Device) {
        device = d
        objects = d.objects
        pipeline = d.pipeline
        clock = d.clock
        vblank = d.vblank
        files = d.files
        buffers = d.buffers
        hotplug = d.hotplug
        display = d.display
    }
}
