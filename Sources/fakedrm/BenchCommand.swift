import ArgumentParser
import FakeDRM
import Foundation

/// Figures for the Direct path, each next to a raw eventfd write→poll wake measured in the
/// same run. Medians and p99 of per-operation wall time.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure request costs (use a release build).")
    @Option(help: "Iterations per measurement.") var iterations = 20000

    func run() throws {
        let r = try DirectBench.run(iterations: iterations)
        print("fakedrm bench (Direct front end, \(iterations) iterations, ns per operation)")
        print("operation".padding(toLength: 42, withPad: " ", startingAt: 0) + "     median        p99  x floor")
        let floor = r.first { $0.name.hasPrefix("raw eventfd") }?.median ?? 1
        for m in r {
            print(m.name.padding(toLength: 42, withPad: " ", startingAt: 0) + String(format: " %10d %10d %8.2f", m.median, m.p99, Double(m.median) / Double(max(floor, 1))))
        }
    }
}
