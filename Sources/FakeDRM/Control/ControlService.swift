import Foundation
import Glibc

/// Carries out control requests on one card. Every request either succeeds or changes nothing.
public final class ControlService: Sendable {
    public let device: Device

    public init(device: Device) { self.device = device }

    static func json<T: Encodable>(_ v: T) -> String {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? e.encode(v) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    public func handle(_ request: ControlRequest) -> ControlResponse {
        switch request {
        case .state:
            return .success(Self.json(device.stateDump()))
        case .stats:
            return .success(Self.json(stats()))
        case .hotplug(let name, let connected, let modes, let edidPath):
            do throws(FaultSpec.ParseError) {
                let specs = try modes.map { text throws(FaultSpec.ParseError) in try FaultSpec.modes(text) }
                try device.changeConnector(named: name, connected: connected, modes: specs, edidPath: edidPath)
                return .success("ok")
            } catch {
                return .failure(error.message)
            }
        case .connectorAdd(let type, let encoder, let connected, let modes):
            var spec = DeviceConfig.Connector()
            spec.type = type
            spec.encoder = encoder
            spec.connected = connected
            do throws(FaultSpec.ParseError) {
                let infos = try modes.map { text throws(FaultSpec.ParseError) in
                    try FaultSpec.modes(text).enumerated().map {
                        ModeInfo.make(width: $0.element.width, height: $0.element.height, refresh: $0.element.refresh, preferred: $0.offset == 0)
                    }
                }
                do throws(Hotplug.TopologyError) {
                    return .success(try device.hotplug.addConnector(spec, modes: infos))
                } catch {
                    return .failure(error.message)
                }
            } catch {
                return .failure(error.message)
            }
        case .connectorRemove(let name):
            do throws(Hotplug.TopologyError) {
                try device.hotplug.removeConnector(named: name)
                return .success("ok")
            } catch {
                return .failure(error.message)
            }
        case .vblankStep(let count, let crtc):
            guard device.clock.isVirtualTime else { return .failure("vblank step needs virtual time (--virtual-time or --manual-vblank)") }
            guard (1...100_000).contains(count) else { return .failure("step count must be 1...100000") }
            if let crtc, !(0..<device.crtcCount).contains(crtc) { return .failure("no CRTC index \(crtc)") }
            device.clock.stepVblank(crtcIndex: crtc, count: count)
            return .success(Self.json(device.vblankCounts()))
        case .vblankRate(let hz):
            guard device.clock.isVirtualTime else { return .failure("vblank rate needs virtual time (--virtual-time or --manual-vblank)") }
            guard hz == 0 || (hz >= 0.01 && hz <= 10_000) else { return .failure("rate must be 0 (off) or 0.01...10000 Hz") }
            device.clock.setVirtualVblankRate(hz)
            return .success("ok")
        case .capture(let crtc, let path):
            guard crtc >= 0, crtc < device.crtcCount else { return .failure("no CRTC index \(crtc)") }
            guard let frame = device.pipeline.composeLatched(crtcIndex: crtc) else { return .failure("CRTC \(crtc) is not showing anything") }
            do {
                try PNGWriter.write(frame, to: path)
                return .success("\(path): \(frame.width)x\(frame.height)")
            } catch {
                return .failure("cannot write \(path): \(error)")
            }
        case .faultAdd(let spec):
            do throws(FaultSpec.ParseError) {
                return .success("\(try device.addFault(spec))")
            } catch {
                return .failure(error.message)
            }
        case .faultList:
            return .success(Self.json(device.faults.rules()))
        case .faultLog:
            return .success(Self.json(device.faults.injections()))
        case .faultClear:
            device.clearFaults()
            return .success("ok")
        case .faultSeed(let seed):
            device.faults.setSeed(seed)
            return .success("ok")
        case .trace(_, _, let file):
            // Following is a stream, which the server runs itself (ControlServer.streamTrace);
            // here: what the ring holds now.
            return .success(traceLines(after: 0, file: file).lines.joined(separator: "\n"))
        }
    }

    struct Stats: Encodable {
        var ioctls: [String: IoctlStats.Row]
        var fencesPending: Int
        var rssKb: Int
        var openFds: Int
        var uptimeS: Double
        var faultInjections: Int
    }

    func stats() -> Stats {
        var byName: [String: IoctlStats.Row] = [:]
        for r in device.ioctlStats.rows() { byName[r.name] = r }
        return Stats(ioctls: byName, fencesPending: device.pendingFenceCount(), rssKb: Self.rssKb(), openFds: Self.openFds(),
                     uptimeS: Double(Monotonic.nowNs() - device.clock.createdNs) / 1e9, faultInjections: device.faults.injectionTotal)
    }

    /// VmRSS from /proc/self/status.
    static func rssKb() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    static func openFds() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    /// The trace's entries after `seq` for one file or all, as lines, and the last seq seen.
    func traceLines(after seq: UInt64, file: Int?) -> (lines: [String], last: UInt64) {
        let (entries, lost) = device.trace.entries(after: seq)
        var lines = lost > 0 ? ["(\(lost) trace lines lost: the follower fell behind the ring)"] : []
        lines += entries.filter { file == nil || $0.file == file }.map { $0.line(since: device.trace.startNs) }
        return (lines, entries.last?.seq ?? seq)
    }
}
