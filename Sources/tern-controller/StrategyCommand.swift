import ArgumentParser
import Controller
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct StrategyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strategy",
        abstract: "Roll content out over the fleet: serial or parallel, a window of sites at a time, stopping on failure.",
        subcommands: [Create.self, Apply.self, Abort.self, Delete.self, Show.self, List.self]
    )

    static func parseType(_ text: String) throws -> StrategyType {
        guard let type = StrategyType(rawValue: text) else {
            throw ValidationError("TYPE is one of \(StrategyType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return type
    }

    /// `90`, `90s`, `15m`, `2h` as seconds.
    static func seconds(_ text: String) throws -> Double {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        if let unit = text.last, let factor = units[unit], let value = Double(text.dropLast()), value > 0 { return value * factor }
        if let value = Double(text), value > 0 { return value }
        throw ValidationError("a duration is a positive number of seconds, or with s, m or h: 90s, 15m, 2h")
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a strategy (it starts with `strategy apply`).",
            discussion: """
                software REF [--version COMMIT] · firmware COMPONENT --version V · images IMAGE:TAG · \
                config --generation N · prestage REF|IMAGE:TAG · backup [--local-only] [--keep N] · \
                restore (each site's newest complete backup)
                """
        )
        @Argument(help: "software, firmware, images, config, prestage, backup or restore.") var type: String
        @Argument(help: "The OSTree ref, firmware component or image name:tag.") var what: String?
        @Option(help: "The firmware version, or the commit or manifest digest to pin (default: the newest imported).") var version: String?
        @Option(help: "For config: the generation every target must apply.") var generation: Int?
        @Option(name: .customLong("subcloud"), parsing: .upToNextOption, help: "Subclouds (one or more).") var subclouds: [String] = []
        @Option(name: .customLong("group"), parsing: .upToNextOption, help: "Subcloud groups (one or more), taken in priority order.") var groups: [String] = []
        @Flag(help: "Every subcloud.") var all = false
        @Option(help: "serial or parallel (default: each group's).") var applyType: String?
        @Option(help: "Steps at once when parallel (default: each group's).") var maxParallel: Int?
        @Flag(inversion: .prefixedNo, help: "Start no new step after a failure.") var stopOnFailure = true
        @Option(help: "With --no-stop-on-failure: stop once this percentage of finished steps failed.") var failureThreshold: Int?
        @Option(help: "A step with no result for this long fails: 90s, 15m, 2h.") var stepTimeout: String = "1h"
        @Flag(help: "Give offline subclouds a step instead of skipping them.") var includeOffline = false
        @Flag(help: "For backup: the archives stay on the sites; only their manifests are sent.") var localOnly = false
        @Option(help: "For backup: backups each site keeps (older ones are deleted).") var keep: Int?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            let type = try StrategyCommand.parseType(self.type)
            guard [!self.subclouds.isEmpty, !self.groups.isEmpty, self.all].filter({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of --subcloud NAME..., --group G... or --all")
            }
            if type != .backup, self.localOnly || self.keep != nil { throw ValidationError("--local-only and --keep are for backup strategies") }
            if let keep, keep < 1 { throw ValidationError("--keep must be at least 1") }
            if type == .config {
                guard self.generation != nil else { throw ValidationError("a config strategy needs --generation N") }
            } else if type == .backup || type == .restore {
                if self.what != nil { throw ValidationError("a \(type.rawValue) strategy takes no content name") }
            } else if self.what == nil {
                throw ValidationError("name what the \(type.rawValue) strategy rolls out")
            }
            if type == .firmware, self.version == nil { throw ValidationError("a firmware strategy needs --version V") }
            if let applyType, SubcloudGroup.ApplyType(rawValue: applyType) == nil { throw ValidationError("--apply-type is serial or parallel") }
            if let maxParallel, maxParallel < 1 { throw ValidationError("--max-parallel must be at least 1") }
            if let failureThreshold, !(1...100).contains(failureThreshold) { throw ValidationError("--failure-threshold is a percentage, 1 to 100") }
            _ = try StrategyCommand.seconds(self.stepTimeout)
        }

        func run() async throws {
            let request = Strategies.Request(
                type: try StrategyCommand.parseType(self.type), what: self.what, version: self.version, generation: self.generation,
                targets: TargetSelection(
                    subclouds: self.subclouds.isEmpty ? nil : self.subclouds, groups: self.groups.isEmpty ? nil : self.groups, all: self.all ? true : nil
                ),
                settings: StrategySettings(
                    applyType: self.applyType.flatMap(SubcloudGroup.ApplyType.init(rawValue:)), maxParallel: self.maxParallel,
                    stopOnFailure: self.stopOnFailure, failureThreshold: self.failureThreshold,
                    stepTimeout: try StrategyCommand.seconds(self.stepTimeout), includeOffline: self.includeOffline
                ),
                localOnly: self.localOnly ? true : nil, keep: self.keep
            )
            let data = try await self.options.client().send(.POST, "/v1/strategies", body: try JSONEncoder().encode(request))
            if self.options.json { return try self.options.printJSON(data) }
            print(StrategyCommand.render(try apiDecoder.decode(StrategyView.self, from: data)))
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a created strategy.")
        @Argument var type: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await StrategyCommand.post(self.type, "apply", self.options) }
    }

    struct Abort: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a strategy: no new step starts, steps in flight finish.")
        @Argument var type: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await StrategyCommand.post(self.type, "abort", self.options) }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a strategy that is not running.")
        @Argument var type: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            _ = try await self.options.client().send(.DELETE, "/v1/strategies/\(try StrategyCommand.parseType(self.type).rawValue)")
            if !self.options.json { print("deleted the \(self.type) strategy") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List strategies.")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let data = try await self.options.client().send(.GET, "/v1/strategies")
            if self.options.json { return try self.options.printJSON(data) }
            var table = Table("type", "state", "content", "targets", "started", "finished")
            for strategy in try apiDecoder.decode([Strategy].self, from: data) {
                table.add(strategy.type.rawValue, strategy.state.rawValue, strategy.content.summary, strategy.targets, iso(strategy.startedAt), iso(strategy.finishedAt))
            }
            print(table.render())
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a strategy: state, % done, steps per state and the steps table.",
            discussion: "With --watch: redraw until the strategy ends (plain lines when stdout is not a terminal); exit non-zero unless it completed."
        )
        @Argument var type: String
        @Flag(help: "Follow the strategy until it ends.") var watch = false
        @Option(help: "Seconds between refreshes with --watch.") var interval: Double = 1
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let path = "/v1/strategies/\(try StrategyCommand.parseType(self.type).rawValue)"
            let client = try self.options.client()
            guard self.watch else {
                let data = try await client.send(.GET, path)
                if self.options.json { return try self.options.printJSON(data) }
                return print(StrategyCommand.render(try apiDecoder.decode(StrategyView.self, from: data)))
            }
            var screen = WatchScreen(terminal: isatty(STDOUT_FILENO) == 1 && !self.options.json)
            while true {
                let view = try apiDecoder.decode(StrategyView.self, from: try await client.send(.GET, path))
                screen.show(view)
                if view.strategy.state.isFinished {
                    if view.strategy.state != .complete { throw ExitCode(1) }
                    return
                }
                try await Task.sleep(for: .seconds(self.interval))
            }
        }
    }

    static func post(_ type: String, _ action: String, _ options: ClientOptions) async throws {
        let data = try await options.client().send(.POST, "/v1/strategies/\(try self.parseType(type).rawValue)/\(action)")
        if options.json { return try options.printJSON(data) }
        print(self.render(try apiDecoder.decode(StrategyView.self, from: data)))
    }

    static func summary(_ view: StrategyView) -> String {
        let strategy = view.strategy
        let counts = StepState.allCases.compactMap { state in view.counts[state.rawValue].map { "\(state.rawValue) \($0)" } }.joined(separator: ", ")
        return "\(strategy.type.rawValue) strategy \(strategy.state.rawValue), \(view.percentDone)% done: \(counts)"
            + (strategy.detail.isEmpty ? "" : " — \(strategy.detail)")
    }

    static func render(_ view: StrategyView) -> String {
        let strategy = view.strategy
        var lines = [
            self.summary(view),
            "content: \(strategy.content.summary); targets: \(strategy.targets); started \(iso(strategy.startedAt)), finished \(iso(strategy.finishedAt))",
            "",
        ]
        var table = Table("subcloud", "group", "state", "started", "finished", "detail")
        for step in view.steps {
            table.add(step.subcloud, step.group, step.state.rawValue, iso(step.startedAt), iso(step.finishedAt), step.detail)
        }
        lines.append(table.render())
        return lines.joined(separator: "\n")
    }
}

/// What `strategy show --watch` prints: on a terminal the whole view redrawn in place
/// under a progress bar; otherwise one plain line whenever the summary changes.
struct WatchScreen {
    let terminal: Bool
    private var last = ""
    private var drawnLines = 0

    init(terminal: Bool) { self.terminal = terminal }

    mutating func show(_ view: StrategyView) {
        guard self.terminal else {
            let line = StrategyCommand.summary(view)
            if line != self.last { print(line) }
            self.last = line
            fflush(nil)
            return
        }
        let width = 40
        let filled = view.percentDone * width / 100
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] \(view.percentDone)%"
        let text = bar + "\n" + StrategyCommand.render(view)
        // Up to where the last drawing started, then clear to the end of the screen.
        if self.drawnLines > 0 { print("\u{1B}[\(self.drawnLines)F\u{1B}[J", terminator: "") }
        print(text)
        self.drawnLines = text.split(separator: "\n", omittingEmptySubsequences: false).count
        fflush(nil)
    }
}
