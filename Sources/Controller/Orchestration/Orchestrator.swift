import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import Wire

/// Runs strategies: every tick it gathers what is known of the sites near their
/// turn, lets `StrategyMachine` decide, and carries the decisions out — persisting
/// each step's move before acting on it, so that after a crash (even `kill -9`) a
/// restart continues where it was and no site is sent its content twice.
public final class Orchestrator: Service, Sendable {
    let store: any StrategyStore & SubcloudStore & ContentStore & AlarmStore & BackupStore
    let content: ContentPlane
    /// Backup and restore strategies go through it (nil: such strategies fail to start).
    let backups: Backups?
    let metrics: ControllerMetrics
    let logger: Logger
    let period: Duration
    /// With replicas, strategies run on the lease holder only.
    let leadership: Leadership

    /// `period`: the longest between two rounds (timeouts, sites going offline); a
    /// report from a site starts a round at once, at most one per `settle`.
    init(
        store: any StrategyStore & SubcloudStore & ContentStore & AlarmStore & BackupStore, content: ContentPlane, backups: Backups?,
        metrics: ControllerMetrics, logger: Logger, period: Duration = .seconds(1), settle: Duration = .milliseconds(50), leadership: Leadership = .alone()
    ) {
        self.leadership = leadership
        self.store = store
        self.content = content
        self.backups = backups
        self.metrics = metrics
        self.logger = logger
        self.period = period
        self.settle = settle
    }

    let settle: Duration
    /// The steps as the last round left them, by type, with the strategy's creation
    /// time: this service is their only writer while a strategy runs, so a round
    /// reads them from the store only for a strategy it has not seen (or after an error).
    private let known = NIOLockedValueBox<[StrategyType: (createdAt: Date, steps: [StrategyStep])]>([:])

    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                // With replicas, only the lease holder runs strategies.
                for strategy in try await self.store.strategies() where strategy.state.isRunning && self.leadership.isLeader {
                    try await self.tick(strategy, now: Date())
                }
            } catch {
                self.logger.error("orchestration tick failed", metadata: ["error": "\(error)"])
            }
            do {
                try await cancelWhenGracefulShutdown {
                    await self.content.reports.wait(upTo: self.period)
                    // Reports come in bursts: take them in one round.
                    try await Task.sleep(for: self.settle)
                }
            } catch {
                return
            }
        }
    }

    /// One round for one strategy.
    func tick(_ strategy: Strategy, now: Date) async throws {
        let cached = self.known.withLockedValue { $0.removeValue(forKey: strategy.type) }
        var steps: [StrategyStep]
        if let cached, cached.createdAt == strategy.createdAt {
            steps = cached.steps
        } else {
            steps = try await self.store.steps(of: strategy.type)
        }
        let ended = try await self.round(strategy, &steps, now: now)
        if !ended {
            self.known.withLockedValue { [steps] in $0[strategy.type] = (strategy.createdAt, steps) }
        }
    }

    /// One round; returns whether the strategy ended.
    private func round(_ strategy: Strategy, _ steps: inout [StrategyStep], now: Date) async throws -> Bool {
        var strategy = strategy
        try await self.adoptOrphans(strategy, &steps, now: now)
        let facts = try await self.facts(for: strategy, steps)
        let decisions = StrategyMachine.decide(strategy, steps, facts: facts, now: now)
        var changed: [Int] = []
        var starts: [Int] = []
        for decision in decisions {
            switch decision {
            case .step(let name, let state, let detail):
                guard let index = steps.firstIndex(where: { $0.subcloud == name }) else { continue }
                steps[index].state = state
                steps[index].detail = detail
                if state.isFinished { steps[index].finishedAt = now }
                changed.append(index)
            case .start(let name):
                guard let index = steps.firstIndex(where: { $0.subcloud == name }) else { continue }
                steps[index].state = strategy.type == .prestage ? .prestaging : .applying
                steps[index].detail = ""
                steps[index].startedAt = now
                changed.append(index)
                starts.append(index)
            case .finish(let state, let detail):
                strategy.state = state
                strategy.finishedAt = now
                strategy.detail = detail
            }
        }
        // The move first, then the action: a crash in between leaves a step marked
        // started, which `adoptOrphans` matches with what was (or was not) sent.
        try await self.store.saveSteps(changed.map { steps[$0] }, of: strategy.type, at: now, transitions: true)
        var sent: [Int] = []
        var refused: [Int] = []
        for index in starts {
            do {
                try await self.send(strategy, &steps[index], now: now)
                sent.append(index)
            } catch {
                steps[index].state = .failed
                steps[index].detail = "could not start: \(error)"
                steps[index].finishedAt = now
                refused.append(index)
            }
        }
        try await self.store.saveSteps(sent.map { steps[$0] }, of: strategy.type, at: now, transitions: false)
        try await self.store.saveSteps(refused.map { steps[$0] }, of: strategy.type, at: now, transitions: true)
        self.metrics.recordSteps(strategy.type, steps)
        if strategy.state.isFinished {
            try await self.finished(strategy, now: now)
        }
        return strategy.state.isFinished
    }

    /// Sends the strategy's content to one site (or asks it for a backup, or restores
    /// one), recording on the step the deployment or backup made.
    private func send(_ strategy: Strategy, _ step: inout StrategyStep, now: Date) async throws {
        switch strategy.type {
        case .config:
            try await self.content.offerLatestConfig(to: step.subcloud)
        case .backup:
            guard let backups = self.backups else { throw FleetStoreError.refused("backups are not available on this controller") }
            let made = try await backups.create(
                subclouds: [step.subcloud], localOnly: strategy.content.localOnly ?? false, maxParallel: nil, keep: strategy.content.keep, at: now
            )
            step.backupID = made.first?.id
        case .restore:
            guard let backups = self.backups else { throw FleetStoreError.refused("backups are not available on this controller") }
            guard let backup = try await self.newestBackup(of: step.subcloud, before: strategy.createdAt) else {
                throw FleetStoreError.refused("\(step.subcloud) has no complete backup made before the strategy")
            }
            step.backupID = backup.id
            step.deploymentID = try await backups.restore(backup.id, to: nil, at: now).id
        case .software, .firmware, .images, .prestage:
            guard let kind = strategy.content.kind else { throw FleetStoreError.invalid("the \(strategy.type.rawValue) strategy names no content") }
            let made = try await self.content.deploy(
                kind: kind, name: strategy.content.name, version: strategy.content.version, on: [step.subcloud],
                activate: strategy.type != .prestage, at: now
            )
            step.deploymentID = made.first?.id
        }
    }

    /// The backup a restore strategy puts back on a site.
    func newestBackup(of subcloud: String, before cutoff: Date) async throws -> Backup? {
        try await self.store.backups(subcloud: subcloud).first { $0.state == .complete && $0.createdAt <= cutoff }
    }

    /// Steps marked started whose deployment (or backup) was not recorded (the controller
    /// died between the two): take the one made for them if there is one, else send.
    private func adoptOrphans(_ strategy: Strategy, _ steps: inout [StrategyStep], now: Date) async throws {
        guard strategy.type != .config else { return }
        var adopted: [Int] = []
        for index in steps.indices where steps[index].state.isActive && steps[index].deploymentID == nil && steps[index].backupID == nil {
            let started = (steps[index].startedAt ?? now).addingTimeInterval(-1)
            let subcloud = steps[index].subcloud
            if strategy.type == .backup {
                steps[index].backupID = try await self.store.backups(subcloud: subcloud).first { $0.createdAt >= started }?.id
            } else {
                let kind = strategy.content.kind
                let existing = try await self.store.deployments(subcloud: subcloud).last {
                    $0.kind == kind && $0.createdAt >= started
                        && (strategy.type == .restore || ($0.name == strategy.content.name && $0.version == strategy.content.version
                            && $0.activate == (strategy.type != .prestage)))
                }
                steps[index].deploymentID = existing?.id
            }
            if steps[index].deploymentID == nil && steps[index].backupID == nil {
                self.logger.notice("step was marked started but nothing was sent; sending now", metadata: ["subcloud": "\(subcloud)"])
                try await self.send(strategy, &steps[index], now: now)
            }
            adopted.append(index)
        }
        try await self.store.saveSteps(adopted.map { steps[$0] }, of: strategy.type, at: now, transitions: false)
    }

    /// Facts for the steps in flight and for those whose turn is near, in a few
    /// queries for the whole fleet rather than a few per site.
    private func facts(for strategy: Strategy, _ steps: [StrategyStep]) async throws -> [String: SiteFacts] {
        var wanted = steps.filter(\.state.isActive)
        if let stage = steps.filter({ !$0.state.isFinished }).map(\.stage).min() {
            let pending = steps.filter { $0.stage == stage && ($0.state == .initial || $0.state == .waiting) }
            let room = max(0, (pending.first?.window ?? 1) - wanted.filter { $0.stage == stage }.count)
            // Skipped sites do not take a place in the window: look a little further.
            wanted += pending.prefix(room * 2 + 8)
        }
        guard !wanted.isEmpty else { return [:] }
        let presence = try await self.store.presence()
        let deployments = try await self.store.deployments(ids: wanted.compactMap(\.deploymentID))
        var installed: [String: String] = [:]
        if let kind = strategy.content.kind, strategy.type != .restore {
            installed = try await self.store.installedVersions(kind: kind, name: strategy.content.name)
        }
        var facts: [String: SiteFacts] = [:]
        for step in wanted {
            var site = SiteFacts()
            guard let state = presence[step.subcloud] else {
                site.exists = false
                facts[step.subcloud] = site
                continue
            }
            site.managed = state.managed
            site.online = state.online
            site.deployment = step.deploymentID.flatMap { deployments[$0] }
            site.installedVersion = installed[step.subcloud]
            if strategy.type == .backup, let id = step.backupID { site.backup = try await self.store.backup(id: id) }
            if let generation = strategy.content.generation {
                let config = try await self.store.configState(for: step.subcloud)
                site.configApplied = config?.appliedGeneration
                if let config, config.status == .failed, (config.appliedGeneration ?? -1) < generation { site.configFailure = config.detail }
            }
            facts[step.subcloud] = site
        }
        return facts
    }

    private func finished(_ strategy: Strategy, now: Date) async throws {
        let elapsed = strategy.startedAt.map { now.timeIntervalSince($0) } ?? 0
        self.metrics.strategyFinished(strategy.type, seconds: elapsed)
        try await self.store.saveStrategy(strategy, event: "\(strategy.type.rawValue) strategy \(strategy.state.rawValue): \(strategy.detail)", at: now)
        self.logger.notice("strategy \(strategy.state.rawValue)", metadata: ["type": "\(strategy.type.rawValue)", "detail": "\(strategy.detail)"])
        let alarm = StrategyAlarm(type: strategy.type)
        if strategy.state == .failed {
            try await self.store.raiseControllerAlarm(alarm.raise(strategy.detail, at: now))
        } else if strategy.state == .complete {
            try await self.store.clearControllerAlarm(alarmID: alarm.id, entity: alarm.entity, at: now)
        }
    }
}
