import ArgumentParser
import FakeDRM
import Foundation

/// `fakedrm ctl`: talks to a running daemon's control socket (docs/control.md).
struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Inspect and steer a running fake card through its control socket.",
        discussion: """
            fakedrm ctl [--control PATH] COMMAND ...
            The socket is --control PATH, else $FAKEDRM_CONTROL
            (which `fakedrm run` sets for its command).
            Exit status: 0 done; 1 refused by the daemon (nothing changed);
            2 no daemon; 64 bad command line.
            Socket and state JSON: docs/control.md. Fault specs: docs/faults.md.
            """,
        subcommands: [State.self, Stats.self, Trace.self, Hotplug.self, Connector.self, Vblank.self, Capture.self, Fault.self])

    /// `fakedrm ctl --control PATH state` reads better than `fakedrm ctl state --control PATH`,
    /// but argument-parser only gives options to the command that declares them: move the
    /// option behind the (sub)subcommand's name.
    static func placingControlOption(_ args: [String]) -> [String] {
        guard args.first == "ctl", args.count > 1 else { return args }
        var rest = Array(args.dropFirst())
        var option: [String] = []
        if rest.first == "--control", rest.count > 1 {
            option = Array(rest.prefix(2))
            rest.removeFirst(2)
        } else if let first = rest.first, first.hasPrefix("--control=") {
            option = [first]
            rest.removeFirst()
        } else {
            return args
        }
        var depth = rest.isEmpty ? 0 : 1
        if let verb = rest.first, verb == "fault" || verb == "vblank", rest.count > 1, !rest[1].hasPrefix("-") { depth = 2 }
        return ["ctl"] + rest.prefix(depth) + option + rest.dropFirst(depth)
    }

    struct Target: ParsableArguments {
        @Option(help: "Control socket of the daemon (default: $FAKEDRM_CONTROL).") var control: String?

        func send(_ request: ControlRequest) throws {
            guard let path = control ?? ProcessInfo.processInfo.environment["FAKEDRM_CONTROL"], !path.isEmpty else {
                FileHandle.standardError.write(Data("fakedrm ctl: no control socket: pass --control PATH or set FAKEDRM_CONTROL\n".utf8))
                throw ExitCode(2)
            }
            let response: ControlResponse
            do {
                response = try ControlServer.send(request, to: path)
            } catch {
                FileHandle.standardError.write(Data("fakedrm ctl: \(error)\n".utf8))
                throw ExitCode(2)
            }
            guard response.ok else {
                FileHandle.standardError.write(Data("fakedrm ctl: \(response.error ?? "refused")\n".utf8))
                throw ExitCode(1)
            }
            print(response.output)
        }
    }

    struct State: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print objects, atomic state, files, pending commits and fences as JSON.")
        @OptionGroup var target: Target
        func run() throws { try target.send(.state) }
    }

    struct Trace: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the rejected ioctls the daemon remembers, with their reasons, as dmesg does with drm.debug.",
            discussion: "Example: fakedrm ctl trace --follow --all --file 3   (every ioctl of file 3 as it happens)")
        @OptionGroup var target: Target
        @Flag(help: "Keep printing new lines until interrupted.") var follow = false
        @Flag(help: "With --follow: every ioctl with its result, not only rejections.") var all = false
        @Option(help: "Only this file (its id in `ctl state`).") var file: Int?

        func run() throws {
            guard follow else { return try target.send(.trace(follow: false, all: all, file: file)) }
            guard let path = target.control ?? ProcessInfo.processInfo.environment["FAKEDRM_CONTROL"], !path.isEmpty else {
                FileHandle.standardError.write(Data("fakedrm ctl: no control socket: pass --control PATH or set FAKEDRM_CONTROL\n".utf8))
                throw ExitCode(2)
            }
            do {
                // Each line flushed as it comes: the reader may be a pipe (grep, a test).
                try ControlServer.stream(.trace(follow: true, all: all, file: file), to: path) { line in
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
            } catch {
                FileHandle.standardError.write(Data("fakedrm ctl: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print ioctl counts and latencies, pending fences, RSS and open fds as JSON.")
        @OptionGroup var target: Target
        func run() throws { try target.send(.stats) }
    }

    struct Hotplug: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect or disconnect a connector; clients get a HOTPLUG uevent.",
            discussion: "Example: fakedrm ctl hotplug Virtual-1 connected --modes 1280x720@60,800x600")
        @OptionGroup var target: Target
        @Argument(help: "Connector name (Virtual-1, HDMI-A-1) or object id.") var connector: String
        @Argument(help: "connected or disconnected.") var status: String
        @Option(help: "New mode list: WxH[@HZ],... (the first is preferred).") var modes: String?
        @Option(help: "A raw EDID file for the connector's EDID property.") var edid: String?

        func validate() throws {
            guard status == "connected" || status == "disconnected" else { throw ValidationError("status must be connected or disconnected") }
        }

        func run() throws {
            let path = edid.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            try target.send(.hotplug(connector: connector, connected: status == "connected", modes: modes, edidPath: path))
        }
    }

    struct Connector: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Plug in or unplug a connector at runtime, as a DisplayPort MST hub does; clients get a HOTPLUG uevent.",
            discussion: """
                CRTCs, planes and encoders stay what the config file made: the kernel never changes them on a \
                registered device. Example: fakedrm ctl connector add HDMI-A --encoder 1 --modes 1920x1080@60
                """,
            subcommands: [Add.self, Remove.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add a connector; prints its name (HDMI-A-2).")
            @OptionGroup var target: Target
            @Argument(help: "Connector type, as in the config file (Virtual, HDMI-A, DP, eDP, DVI-D, VGA...).") var type: String
            @Option(help: "Index of the encoder (in the config's encoders) that drives it.") var encoder = 0
            @Option(help: "Mode list: WxH[@HZ],... (the first is preferred); default: the config's no-EDID list.") var modes: String?
            @Flag(help: "Plug it in disconnected.") var disconnected = false
            func run() throws { try target.send(.connectorAdd(type: type, encoder: encoder, connected: !disconnected, modes: modes)) }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Unplug a connector: taken off its CRTC, then gone (ENOENT).")
            @OptionGroup var target: Target
            @Argument(help: "Connector name (HDMI-A-2) or object id.") var connector: String
            func run() throws { try target.send(.connectorRemove(connector: connector)) }
        }
    }

    struct Vblank: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drive virtual vblank time.", subcommands: [Step.self, Rate.self])

        struct Step: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Advance N vblanks (virtual time only); prints the counts.")
            @OptionGroup var target: Target
            @Argument(help: "How many vblanks.") var count: Int = 1
            @Option(help: "Only this CRTC index.") var crtc: Int?
            func run() throws { try target.send(.vblankStep(count: count, crtc: crtc)) }
        }

        struct Rate: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Let virtual time step itself HZ times per real second (0: only `step`).")
            @OptionGroup var target: Target
            @Argument(help: "Steps per real second.") var hz: Double
            func run() throws { try target.send(.vblankRate(hz: hz)) }
        }
    }

    struct Capture: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write what a CRTC shows now as a PNG.")
        @OptionGroup var target: Target
        @Option(help: "CRTC index.") var crtc: Int = 0
        @Argument(help: "Output PNG path.") var file: String
        func run() throws {
            try target.send(.capture(crtc: crtc, path: URL(fileURLWithPath: file).standardizedFileURL.path))
        }
    }

    struct Fault: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add, list and clear fault rules (docs/faults.md).",
            subcommands: [Add.self, List.self, Log.self, Clear.self, Seed.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a rule; prints its id.",
                discussion: """
                    SPEC is KIND key=value ... plus triggers:
                      once, every=N, after=N, p=P, count=N, start-ms=S, for-ms=T
                    Kinds:
                      ioctl name=NAME|nr=0xNN errno=E
                      commit-fail errno=E [test-only=yes]
                      commit-hang
                      commit-late ms=D
                      fence-late which=out|release|in ms=D
                      fence-error which=out|release|in errno=E
                      fence-never which=out|release|in
                      vblank-drop frames=N [crtc=I]
                      vblank-jitter us=J [crtc=I]
                      vblank-stall ms=D [crtc=I]
                      vblank-jump ms=D [crtc=I]
                      hotplug-storm connector=C rate=K [seconds=S]
                      connector-modes connector=C modes=WxH[@HZ],...
                      connector-edid connector=C file=PATH
                      master-revoke
                      backend-error errno=E
                      backend-slow ms=D
                      backend-crash [restart-ms=R]
                    Example:
                      fakedrm ctl fault add "ioctl name=MODE_ATOMIC errno=EBUSY every=3"
                    """)
            @OptionGroup var target: Target
            @Argument(parsing: .remaining, help: "The spec (one argument or several words).") var spec: [String]
            func validate() throws {
                if spec.isEmpty { throw ValidationError("missing fault spec") }
            }
            func run() throws {
                var words = spec.joined(separator: " ")
                if words.contains("file="), let range = words.range(of: #"file=\S+"#, options: .regularExpression) {
                    // The daemon reads the file: make a relative path absolute here.
                    let path = String(words[range].dropFirst(5))
                    words.replaceSubrange(range, with: "file=" + URL(fileURLWithPath: path).standardizedFileURL.path)
                }
                try target.send(.faultAdd(spec: words))
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print the rules with consultation and injection counts (JSON).")
            @OptionGroup var target: Target
            func run() throws { try target.send(.faultList) }
        }

        struct Log: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print every injection so far (JSON).")
            @OptionGroup var target: Target
            func run() throws { try target.send(.faultLog) }
        }

        struct Clear: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove every rule; hung commits complete, storms stop.")
            @OptionGroup var target: Target
            func run() throws { try target.send(.faultClear) }
        }

        struct Seed: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Seed the rules' random generators.")
            @OptionGroup var target: Target
            @Argument var seed: UInt64
            func run() throws { try target.send(.faultSeed(seed)) }
        }
    }
}
