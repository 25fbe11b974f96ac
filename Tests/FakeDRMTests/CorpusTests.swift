import Foundation
import Testing
@testable import FakeDRM

/// The fuzz corpus (fuzz/corpus, recorded from real clients by scripts/fuzz-corpus.sh) replayed
/// through RecordingReplay: every recording keeps the rules, and at least a third of what (the errno probes fail on purpose) the clients asked
/// still succeeds (a recording that stopped parsing, or a card that changed under it, shows here).
@Suite struct CorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../fuzz/corpus").standardized.path

    @Test func everyRecordingReplaysWithinTheRules() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus).filter { $0.hasSuffix(".rec") }.sorted()
        #expect(names.count >= 8, "corpus at \(Self.corpus): \(names)")
        for name in names {
            let data = try #require(FileManager.default.contents(atPath: "\(Self.corpus)/\(name)"))
            let ops = IoctlRecording.parse([UInt8](data))
            // A recording parses to its end: re-encoding it gives the same bytes.
            #expect(ops.flatMap(IoctlRecording.encode) == [UInt8](data), "\(name) does not parse to its end")
            let outcome = try RecordingReplay.run(ops)
            #expect(outcome.violation == nil, "\(name): \(outcome.violation ?? "")")
            let ok = outcome.errnos[0, default: 0]
            #expect(outcome.ioctls >= 20 && ok * 3 >= outcome.ioctls, "\(name): \(outcome.ioctls) ioctls, \(ok) succeeded")
        }
    }

    @Test func truncatedAndCorruptedRecordingsParseToAPrefix() {
        let ops: [IoctlRecording.Op] = [.memory(address: 0x1000, bytes: [1, 2, 3]), .ioctl(file: 0, request: 0xC010_640C, arg: [UInt8](repeating: 7, count: 16)), .read(file: 1, max: 4096)]
        let bytes = ops.flatMap(IoctlRecording.encode)
        #expect(IoctlRecording.parse(bytes) == ops)
        for cut in 0..<bytes.count {
            let prefix = IoctlRecording.parse(Array(bytes.prefix(cut)))
            #expect(prefix.count <= ops.count && Array(ops.prefix(prefix.count)) == prefix)
        }
        var bad = bytes
        bad[0] = UInt8(ascii: "Z")
        #expect(IoctlRecording.parse(bad).isEmpty)
        // A memory record claiming more than the limit stops the parse without allocating it.
        let huge = [UInt8(ascii: "M")] + LE.bytes([UInt64(0)]) + LE.bytes([UInt32.max])
        #expect(IoctlRecording.parse(huge).isEmpty)
    }

    /// The replay issues what it reads: GET_CAP(DUMB_BUFFER) succeeds, GETCONNECTOR of id 999
    /// is ENOENT, a GETRESOURCES whose arrays point at unrecorded memory is EFAULT.
    @Test func replayIssuesTheRecordedIoctls() throws {
        let ops: [IoctlRecording.Op] = [
            .ioctl(file: 0, request: req(0x0C, 16), arg: LE.bytes([1 as UInt64, 0])),
            .ioctl(file: 1, request: req(0xA7, 80), arg: LE.bytes([0 as UInt64, 0, 0, 0]) + LE.bytes([0 as UInt32, 0, 999, 0]) + [UInt8](repeating: 0, count: 32)),
            .ioctl(file: 0, request: req(0xA0, 64), arg: LE.bytes([0x5000 as UInt64, 0x6000, 0x7000, 0x8000]) + LE.bytes([4 as UInt32, 4, 4, 4]) + [UInt8](repeating: 0, count: 16)),
        ]
        let outcome = try RecordingReplay.run(ops)
        #expect(outcome.violation == nil)
        #expect(outcome.ioctls == 3 && outcome.errnos == [0: 1, ENOENT: 1, EFAULT: 1], "\(outcome.errnos)")
    }
}
