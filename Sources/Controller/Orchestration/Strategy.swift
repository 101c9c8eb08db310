import Foundation
import Wire

/// What a strategy rolls out (dcmanager's strategy types). One strategy per type at a time.
public enum StrategyType: String, Codable, Sendable, CaseIterable {
    /// An OSTree ref at a commit.
    case software
    /// A firmware component at a version.
    case firmware
    /// A container image `name:tag`.
    case images
    /// A config generation already set.
    case config
    /// Software or an image delivered without activation.
    case prestage
    /// A backup of each site (`Backups`, with the fleet's `max_parallel_backups` as a ceiling).
    case backup
    /// Each site's newest complete backup put back (at most `max_parallel_restores` at once fleet-wide).
    case restore
}

public enum StrategyState: String, Codable, Sendable {
    /// Created, not applied yet.
    case initial
    case applying
    /// Abort asked: no new step starts; steps in flight finish.
    case aborting
    case complete
    case failed
    case aborted

    public var isRunning: Bool { self == .applying || self == .aborting }
    public var isFinished: Bool { self == .complete || self == .failed || self == .aborted }
}

/// The state of one subcloud's step, as operators see it.
public enum StepState: String, Codable, Sendable, CaseIterable {
    case initial
    /// Its turn has not come (window full, or an earlier group still running).
    case waiting
    case prestaging
    case applying
    /// The site has applied; waiting for it to report the target state.
    case verifying
    case complete
    case failed
    case aborted
    case skipped

    /// Counted against max-parallel.
    public var isActive: Bool { self == .prestaging || self == .applying || self == .verifying }
    public var isFinished: Bool { self == .complete || self == .failed || self == .aborted || self == .skipped }
}

/// How a strategy walks its subclouds. Nil apply type and max-parallel: each group's own.
public struct StrategySettings: Codable, Sendable, Equatable {
    public var applyType: SubcloudGroup.ApplyType?
    public var maxParallel: Int?
    /// No new step starts after a failure; steps in flight finish.
    public var stopOnFailure: Bool
    /// With stop-on-failure off: stop once this percentage of finished steps failed.
    public var failureThreshold: Int?
    /// A step with no result for this long fails, saying so.
    public var stepTimeout: Double
    /// Offline subclouds get a step instead of being skipped.
    public var includeOffline: Bool

    public init(
        applyType: SubcloudGroup.ApplyType? = nil, maxParallel: Int? = nil, stopOnFailure: Bool = true, failureThreshold: Int? = nil,
        stepTimeout: Double = 3600, includeOffline: Bool = false
    ) {
        self.applyType = applyType
        self.maxParallel = maxParallel
        self.stopOnFailure = stopOnFailure
        self.failureThreshold = failureThreshold
        self.stepTimeout = stepTimeout
        self.includeOffline = includeOffline
    }

    /// The default when neither the strategy nor the group says: parallel, 20 at once.
    public static let defaultMaxParallel = 20
}

/// The content a strategy brings each site to, resolved when it is created.
public struct StrategyContent: Codable, Sendable, Equatable {
    /// What kind of release (nil for config).
    public var kind: ContentKind?
    /// OSTree ref, firmware component, image `name:tag`; empty for config.
    public var name: String
    /// Commit, firmware version, manifest digest.
    public var version: String
    /// For config: the generation every site must have applied.
    public var generation: Int?
    /// For backup: the archives stay on the sites; how many backups each site keeps.
    public var localOnly: Bool?
    public var keep: Int?

    public init(kind: ContentKind?, name: String, version: String, generation: Int? = nil, localOnly: Bool? = nil, keep: Int? = nil) {
        self.kind = kind
        self.name = name
        self.version = version
        self.generation = generation
        self.localOnly = localOnly
        self.keep = keep
    }

    /// What a backup strategy takes.
    public static func backup(localOnly: Bool, keep: Int?) -> StrategyContent {
        StrategyContent(kind: nil, name: "", version: "", localOnly: localOnly, keep: keep)
    }

    /// What a restore strategy puts back: each site's newest complete backup made
    /// before the strategy was created.
    public static let restore = StrategyContent(kind: .backup, name: "", version: "")

    public var summary: String {
        if let localOnly { return "a \(localOnly ? "local-only " : "")backup of each site\(self.keep.map { ", keeping \($0)" } ?? "")" }
        if self.kind == .backup { return "each site's newest complete backup put back" }
        if let generation { return "config generation \(generation)" }
        return "\(self.kind?.rawValue ?? "") \(self.name) \(self.version)"
    }
}

public struct Strategy: Codable, Sendable, Equatable {
    public var type: StrategyType
    public var state: StrategyState
    public var content: StrategyContent
    public var settings: StrategySettings
    /// How the targets were given (`--group edge`, `--all`, names).
    public var targets: String
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var detail: String

    public init(type: StrategyType, content: StrategyContent, settings: StrategySettings, targets: String, createdAt: Date) {
        self.type = type
        self.state = .initial
        self.content = content
        self.settings = settings
        self.targets = targets
        self.createdAt = createdAt
        self.detail = ""
    }
}

/// One subcloud's part of a strategy.
public struct StrategyStep: Codable, Sendable, Equatable {
    public var subcloud: String
    public var group: String
    /// Groups run one after another in priority order: this step's place in that order.
    public var stage: Int
    /// Steps of the stage at once (1 when serial).
    public var window: Int
    public var state: StepState
    public var startedAt: Date?
    public var finishedAt: Date?
    public var detail: String
    /// The deployment made for this step (content and restore strategies).
    public var deploymentID: Int64?
    /// The backup made for this step (backup strategies), or restored by it (restore strategies).
    public var backupID: Int64?

    public init(subcloud: String, group: String, stage: Int, window: Int) {
        self.subcloud = subcloud
        self.group = group
        self.stage = stage
        self.window = window
        self.state = .initial
        self.detail = ""
    }
}

/// A strategy with its steps, as shown.
public struct StrategyView: Codable, Sendable, Equatable {
    public var strategy: Strategy
    public var steps: [StrategyStep]
    /// Finished steps over all steps, 0–100.
    public var percentDone: Int
    public var counts: [String: Int]

    public init(strategy: Strategy, steps: [StrategyStep]) {
        self.strategy = strategy
        self.steps = steps
        self.percentDone = steps.isEmpty ? 100 : steps.filter(\.state.isFinished).count * 100 / steps.count
        self.counts = Dictionary(grouping: steps, by: \.state.rawValue).mapValues(\.count)
    }
}
