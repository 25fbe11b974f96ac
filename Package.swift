// swift-tools-version: 6.3;(experimentalCGen)
// 6.3 with experimentalCGen: the WaylandScanner plugin generates C, which SwiftPM compiles
// only with this opt-in.
import PackageDescription

let package = Package(
    name: "fakedrm",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fakedrm", targets: ["fakedrm"]),
        .library(name: "FakeDRM", targets: ["FakeDRM"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // Only what Swift cannot reach directly: memfd/eventfd/timerfd, CMSG macros, ioctl.
        .target(name: "CFakeDRMSys"),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // libfuse3's cuse_lowlevel for the CUSE front end (a real /dev/dri/cardN node).
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .target(
            name: "FakeDRM",
            dependencies: ["CFakeDRMSys", "CPNG", .product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log")],
            // Release builds skip the dynamic exclusivity checks: every room's state is touched
            // under the device lock, and the checks were a tenth of an atomic commit's
            // instructions (docs/bench.md). Debug builds, which every test and sanitizer run
            // uses, keep them.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // Kept out of FakeDRM so the core and its tests do not link libfuse.
        .target(name: "FakeDRMCuse", dependencies: ["FakeDRM", "CFuse3"]),
        // libwayland-client, and the xdg-shell/presentation-time glue wayland-scanner writes at
        // build time: the host Wayland display (--backend wayland), also kept out of the core.
        .systemLibrary(name: "CWaylandClient", pkgConfig: "wayland-client", providers: [.apt(["libwayland-dev"])]),
        .target(name: "CWayland", dependencies: ["CWaylandClient"], plugins: ["WaylandScanner"]),
        .target(name: "FakeDRMWayland", dependencies: ["FakeDRM", "CWayland", "CFakeDRMSys"]),
        .executableTarget(
            name: "fakedrm",
            dependencies: ["FakeDRM", "FakeDRMCuse", "FakeDRMWayland", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            plugins: ["PreloadLibrary"]
        ),
        // libFuzzer's target with -DFUZZING -sanitize=fuzzer, a replayer of recordings otherwise.
        .executableTarget(name: "FakeDRMFuzz", dependencies: ["FakeDRM"]),
        // Compiles preload/fakedrm-preload.c with cc (no Swift runtime in preloaded processes).
        .plugin(name: "PreloadLibrary", capability: .buildTool()),
        .plugin(name: "WaylandScanner", capability: .buildTool()),
        .testTarget(name: "FakeDRMTests", dependencies: ["FakeDRM", "FakeDRMWayland", "CFakeDRMSys"]),
    ],
    swiftLanguageModes: [.v6]
)
