import ArgumentParser
import FakeDRM
import Foundation
import Logging

/// `--log-level` and `--drm-debug` of the daemons: swift-log to stderr, one logger per area
/// (`fakedrm.atomic`, `fakedrm.uapi`, ...). Rejections log at info (TEST_ONLY ones at debug),
/// so the default (notice) shows only fault injections and warnings.
struct LogOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Log level for every area: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel: Logger.Level = .notice

    @Option(help: ArgumentHelp("Areas logged at debug, as the kernel's drm.debug: a mask (0x1e: driver, kms, prime, atomic; 0x01 core, 0x80 lease) or names (\(LogArea.allCases.map(\.rawValue).joined(separator: ","))).", valueName: "mask"))
    var drmDebug: String?

    /// drm.debug's bits (include/drm/drm_print.h, enum drm_debug_category) onto fakedrm's areas.
    static let kernelBits: [(UInt32, [LogArea])] = [
        (0x01, [.uapi, .master]), (0x02, [.fences]), (0x04, [.modeset]), (0x08, [.buffers]), (0x10, [.atomic]), (0x80, [.leases]),
    ]

    func debugAreas() throws -> Set<LogArea> {
        guard let spec = drmDebug?.trimmingCharacters(in: .whitespaces), !spec.isEmpty else { return [] }
        let hex = spec.lowercased().hasPrefix("0x") ? UInt32(spec.dropFirst(2), radix: 16) : UInt32(spec)
        if let mask = hex {
            return Set(Self.kernelBits.filter { mask & $0.0 != 0 }.flatMap(\.1))
        }
        var out = Set<LogArea>()
        for name in spec.split(separator: ",") {
            guard let a = LogArea(rawValue: name.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ValidationError("--drm-debug: '\(name)' is neither a mask nor one of \(LogArea.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            out.insert(a)
        }
        return out
    }

    func bootstrap() throws {
        let level = logLevel
        let debug = Set(try debugAreas().map(\.label))
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = debug.contains(label) ? min(level, .debug) : level
            return h
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
