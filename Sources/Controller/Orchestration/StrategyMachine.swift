import Foundation

/// What the orchestrator knows of one subcloud when it decides.
public struct SiteFacts: Sendable, Equatable {
    public var exists = true
    public var managed = true
    public var online = true
    /// The step's deployment as the store has it.
    public var deployment: Deployment?
    /// What the site last reported running of the strategy's content name.
    public var installedVersion: String?
    /// Config: the generation the site has applied, and the detail of its last failure.
    public var configApplied: Int?
    public var configFailure: String?
    /// Backup strategies: the step's backup as the store has it.
    public var backup: Backup?

    public init() {}
}

/// One thing the orchestrator must do, decided by `StrategyMachine`.
public enum StrategyDecision: Sendable, Equatable {
    /// Send the content to the subcloud and mark its step active.
    case start(String)
    /// Move a step to a state, saying why.
    case step(String, StepState, detail: String)
    /// End the strategy.
    case finish(StrategyState, detail: String)
}

/// The strategy rules as a pure function: the strategy, its steps and what is known of
/// each site in, the decisions out. No clock, no store, no network: the orchestrator
/// gathers the facts, applies the decisions and persists them.
public enum StrategyMachine {
    public static func decide(_ strategy: Strategy, _ steps: [StrategyStep], facts: [String: SiteFacts], now: Date) -> [StrategyDecision] {
        guard strategy.state.isRunning else { return [] }
        var round = Round(steps: steps)

        // Steps in flight: done, failed, or still going.
        for index in round.steps.indices where round.steps[index].state.isActive {
            let step = round.steps[index]
            let site = facts[step.subcloud] ?? SiteFacts()
            if let (state, detail) = self.outcome(of: step, strategy: strategy, site: site, now: now) {
                round.move(index, state, detail)
            }
        }
        let steps = round.steps

        let failed = steps.filter { $0.state == .failed }
        let finished = steps.filter(\.state.isFinished).count
        let thresholdReached = strategy.settings.failureThreshold.map { threshold in
            finished > 0 && failed.count * 100 >= threshold * finished
        } ?? false
        let stopping = strategy.state == .aborting || (!failed.isEmpty && (strategy.settings.stopOnFailure || thresholdReached))

        if stopping {
            let why = strategy.state == .aborting ? "not started: the strategy was aborted" : "not started: the strategy stopped after a failure"
            for index in steps.indices where steps[index].state == .initial || steps[index].state == .waiting {
                round.move(index, .aborted, why)
            }
        } else {
            self.startNext(&round, strategy: strategy, facts: facts)
        }
        var decisions = round.decisions

        guard !round.steps.contains(where: { !$0.state.isFinished }) else { return decisions }
        if strategy.state == .aborting {
            decisions.append(.finish(.aborted, detail: "aborted; \(self.tally(round.steps))"))
        } else if failed.isEmpty {
            decisions.append(.finish(.complete, detail: self.tally(round.steps)))
        } else {
            let names = failed.prefix(5).map(\.subcloud).joined(separator: ", ") + (failed.count > 5 ? ", …" : "")
            decisions.append(.finish(.failed, detail: "\(failed.count) failed (\(names)); \(self.tally(round.steps))"))
        }
        return decisions
    }

    /// Starts the steps whose turn has come: the lowest stage with unfinished steps,
    /// up to its window; sites that cannot or need not be updated are skipped.
    private static func startNext(_ round: inout Round, strategy: Strategy, facts: [String: SiteFacts]) {
        guard let stage = round.steps.filter({ !$0.state.isFinished }).map(\.stage).min() else { return }
        var active = round.steps.filter { $0.stage == stage && $0.state.isActive }.count
        for index in round.steps.indices where round.steps[index].stage == stage && (round.steps[index].state == .initial || round.steps[index].state == .waiting) {
            // Facts are gathered for the steps near their turn only: the rest wait.
            guard let site = facts[round.steps[index].subcloud] else { break }
            if let reason = self.skipReason(strategy: strategy, site: site) {
                round.move(index, .skipped, reason)
                continue
            }
            guard active < round.steps[index].window else {
                round.move(index, .waiting, "")
                continue
            }
            active += 1
            round.steps[index].state = strategy.type == .prestage ? .prestaging : .applying
            round.decisions.append(.start(round.steps[index].subcloud))
        }
    }

    /// The steps as this round has moved them, and the decisions so far.
    private struct Round {
        var steps: [StrategyStep]
        var decisions: [StrategyDecision] = []

        mutating func move(_ index: Int, _ state: StepState, _ detail: String) {
            guard self.steps[index].state != state || self.steps[index].detail != detail else { return }
            self.steps[index].state = state
            self.steps[index].detail = detail
            self.decisions.append(.step(self.steps[index].subcloud, state, detail: detail))
        }
    }

    private static func skipReason(strategy: Strategy, site: SiteFacts) -> String? {
        if !site.exists { return "subcloud deleted" }
        if !site.managed { return "unmanaged" }
        if !site.online && !strategy.settings.includeOffline { return "offline" }
        if self.inTargetState(strategy, site) { return "already in sync" }
        return nil
    }

    private static func inTargetState(_ strategy: Strategy, _ site: SiteFacts) -> Bool {
        // Every backup and every restore is new work: a site is never already there.
        if strategy.type == .backup || strategy.type == .restore { return false }
        if let generation = strategy.content.generation { return (site.configApplied ?? -1) >= generation && site.configFailure == nil }
        return site.installedVersion == strategy.content.version
    }

    /// Where a step in flight stands now; nil when nothing changed.
    private static func outcome(of step: StrategyStep, strategy: Strategy, site: SiteFacts, now: Date) -> (StepState, String)? {
        if !site.exists { return (.failed, "subcloud was deleted") }
        if !site.online && !strategy.settings.includeOffline { return (.failed, "subcloud went offline") }
        if strategy.type == .backup {
            switch site.backup?.state {
            case .complete?:
                let backup = site.backup!
                return (.complete, "backup \(backup.id) complete: \(backup.chunksUploaded) of \(backup.chunks ?? 0) chunks uploaded")
            case .failed?: return (.failed, "backup \(site.backup!.id) failed: \(site.backup!.detail)")
            default: break
            }
        } else if strategy.type == .restore {
            switch site.deployment?.state {
            case .activated?: return (.complete, "backup \(step.backupID.map(String.init) ?? "?") restored")
            case .failed?, .superseded?: return (.failed, site.deployment?.detail.isEmpty == false ? site.deployment!.detail : "the restore failed on the site")
            default: break
            }
        } else if strategy.type == .config {
            if self.inTargetState(strategy, site) { return (.complete, "generation \(site.configApplied ?? 0) applied") }
            if let failure = site.configFailure { return (.failed, failure) }
        } else if strategy.type == .prestage {
            if site.installedVersion == strategy.content.version { return (.complete, "already running \(strategy.content.version)") }
            switch site.deployment?.state {
            case .prestaged?: return (.complete, "prestaged")
            case .failed?, .superseded?: return (.failed, site.deployment?.detail ?? "failed")
            default: break
            }
        } else {
            if site.installedVersion == strategy.content.version, site.deployment?.state != .failed {
                return (.complete, "running \(strategy.content.version)")
            }
            switch site.deployment?.state {
            case .activated?:
                if step.state != .verifying { return (.verifying, "applied; waiting for the site to report \(strategy.content.version)") }
            case .failed?, .superseded?:
                return (.failed, site.deployment?.detail.isEmpty == false ? site.deployment!.detail : "failed on the site")
            default:
                break
            }
        }
        if let started = step.startedAt, now.timeIntervalSince(started) >= strategy.settings.stepTimeout {
            let last = site.deployment.map { " (deployment \($0.state.rawValue)\($0.detail.isEmpty ? "" : ": " + $0.detail))" }
                ?? site.backup.map { " (backup \($0.id) \($0.state.rawValue): \($0.detail))" } ?? ""
            return (.failed, "no result within \(Int(strategy.settings.stepTimeout)) s\(last)")
        }
        return nil
    }

    private static func tally(_ steps: [StrategyStep]) -> String {
        let counts = Dictionary(grouping: steps, by: \.state).mapValues(\.count)
        return StepState.allCases.compactMap { state in counts[state].map { "\($0) \(state.rawValue)" } }.joined(separator: ", ")
    }
}
