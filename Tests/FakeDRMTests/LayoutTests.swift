import Foundation
import Testing
@testable import FakeDRM

/// Compiles the real uAPI headers and compares sizeof and every offsetof/sizeof-of-member with
/// what the Swift codec uses.
@Suite struct LayoutTests {
    @Test func everyStructMatchesTheCHeaders() throws {
        var c = """
        #include <stdio.h>
        #include <stddef.h>
        #include <stdint.h>
        #include <drm.h>
        #include <drm_mode.h>
        #include <linux/sync_file.h>
        #define M(T, f) printf("%s.%s %zu %zu\\n", #T, #f, offsetof(T, f), sizeof(((T *)0)->f));
        int main(void) {

        """
        var checked = 0
        for s in UAPILayouts.all where !s.absentFromOldHeaders {
            c += "printf(\"%s %zu\\n\", \"\(s.cName)\", sizeof(\(s.cName)));\n"
            let cSize = s.oldHeaderSize ?? s.size
            for f in s.fields where f.offset + f.size <= cSize {
                c += "M(\(s.cName), \(f.name))\n"
                checked += 1
            }
        }
        c += "return 0; }\n"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fakedrm-layout-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("l.c"), exe = dir.appendingPathComponent("l")
        try c.write(to: src, atomically: true, encoding: .utf8)
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        cc.arguments = ["-I/usr/include/libdrm", "-o", exe.path, src.path]
        try cc.run()
        cc.waitUntilExit()
        try #require(cc.terminationStatus == 0, "the C layout program must compile (libdrm-dev installed?)")
        let run = Process()
        run.executableURL = exe
        let pipe = Pipe()
        run.standardOutput = pipe
        try run.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.waitUntilExit()
        var c2: [String: [Int]] = [:]
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 4 { c2[String(parts[0] + " " + parts[1])] = [Int(parts[2]) ?? -1, Int(parts[3]) ?? -1] }
            if parts.count == 3 { c2[String(parts[0] + " " + parts[1])] = [Int(parts[2]) ?? -1] }
        }
        var compared = 0
        for s in UAPILayouts.all where !s.absentFromOldHeaders {
            #expect(c2[s.cName] == [s.oldHeaderSize ?? s.size], "sizeof(\(s.cName))")
            for f in s.fields where f.offset + f.size <= (s.oldHeaderSize ?? s.size) {
                #expect(c2["\(s.cName).\(f.name)"] == [f.offset, f.size], "\(s.cName).\(f.name)")
                compared += 1
            }
        }
        #expect(compared == checked && compared > 250)
    }

    /// Fields past the 2.4.114 headers (grown syncobj structs) still sit inside the new size.
    @Test func grownStructsKeepTheirTailInside() {
        for s in UAPILayouts.all {
            for f in s.fields { #expect(f.offset + f.size <= s.size, "\(s.cName).\(f.name)") }
        }
    }
}
