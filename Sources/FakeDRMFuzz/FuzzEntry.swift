import FakeDRM
import Foundation

/// The coverage-guided fuzz target (docs/fuzzing.md): each input is a recording
/// (IoctlRecording) replayed on a fresh card; a broken rule of RecordingReplay is a crash.
/// Built with -DFUZZING and -sanitize=fuzzer it hands its arguments to libFuzzer's driver;
/// otherwise it replays the recordings named on the command line (a crash's input, the
/// corpus) and exits 1 at the first broken rule.
@main struct FuzzEntry {
    static func main() throws {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
        #else
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            FileHandle.standardError.write(Data("usage: FakeDRMFuzz RECORDING...\n".utf8))
            exit(2)
        }
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("FakeDRMFuzz: cannot read \(path)\n".utf8))
                exit(2)
            }
            let outcome = try RecordingReplay.run(IoctlRecording.parse([UInt8](data)))
            let errnos = outcome.errnos.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
            print("\(path): \(outcome.ioctls) ioctls, errnos \(errnos)\(outcome.violation.map { ", BROKEN: \($0)" } ?? "")")
            if outcome.violation != nil { exit(1) }
        }
        #endif
    }
}

#if FUZZING
/// One input. libFuzzer's own main (linked in, but replaced by ours through SwiftPM's
/// `--defsym main=`) names it too.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let ops = IoctlRecording.parse(UnsafeBufferPointer(start: data, count: size))
    guard let outcome = try? RecordingReplay.run(ops) else { fatalError("the default card did not build") }
    if let v = outcome.violation { fatalError(v) }
    return 0
}

/// libFuzzer's driver for programs with their own main (SwiftPM links executables with one).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif
