import Foundation
import Wire

/// What operators do with strategies (the REST API and the CLI call these): create
/// one from a content reference, targets and settings; apply, abort, delete, show.
/// Running them is the `Orchestrator`'s.
public struct Strategies: Sendable {
    let store: any StrategyStore & SubcloudStore & ContentStore & AlarmStore & BackupStore

    /// What a create request names.
    public struct Request: Codable, Sendable {
        public var type: StrategyType
        /// REF, COMPONENT or IMAGE:TAG (nil for config).
        public var what: String?
        /// A version (firmware, or a commit / manifest digest to pin).
        public var version: String?
        /// For config: the generation every target must apply.
        public var generation: Int?
        public var targets: TargetSelection
        public var settings: StrategySettings
        /// For backup: keep the archives on the sites; backups each site keeps.
        public var localOnly: Bool?
        public var keep: Int?

        public init(
            type: StrategyType, what: String?, version: String?, generation: Int?, targets: TargetSelection, settings: StrategySettings,
            localOnly: Bool? = nil, keep: Int? = nil
        ) {
            self.type = type
            self.what = what
            self.version = version
            self.generation = generation
            self.targets = targets
            self.settings = settings
            self.localOnly = localOnly
            self.keep = keep
        }
    }

    public func create(_ request: Request, at now: Date) async throws -> StrategyView {
        let settings = request.settings
        if let maxParallel = settings.maxParallel, maxParallel < 1 { throw FleetStoreError.invalid("max-parallel must be at least 1") }
        if let threshold = settings.failureThreshold, !(1...100).contains(threshold) { throw FleetStoreError.invalid("failure-threshold is a percentage, 1 to 100") }
        guard settings.stepTimeout > 0 else { throw FleetStoreError.invalid("step-timeout must be positive") }
        let subclouds = try await request.targets.resolve(in: self.store)
        let content = try await self.content(for: request, subclouds: subclouds)
        let strategy = Strategy(type: request.type, content: content, settings: settings, targets: request.targets.summary, createdAt: now)
        let steps = StrategyPlan.steps(for: subclouds, groups: try await self.store.groups(), settings: settings)
        try await self.store.createStrategy(strategy, steps: steps)
        return StrategyView(strategy: strategy, steps: steps)
    }

    /// Resolves what the strategy brings sites to, refusing what the controller does not hold.
    private func content(for request: Request, subclouds: [Subcloud]) async throws -> StrategyContent {
        switch request.type {
        case .config:
            guard let generation = request.generation, generation >= 1 else { throw FleetStoreError.invalid("a config strategy needs --generation N") }
            for subcloud in subclouds where (try await self.store.latestConfig(for: subcloud.name)?.generation ?? 0) < generation {
                throw FleetStoreError.refused("\(subcloud.name) has no config generation \(generation); set it with `config set` first")
            }
            return StrategyContent(kind: nil, name: "", version: "", generation: generation)
        case .backup:
            if let keep = request.keep, keep < 1 { throw FleetStoreError.invalid("--keep must be at least 1") }
            return .backup(localOnly: request.localOnly ?? false, keep: request.keep)
        case .restore:
            // Each target restores its newest complete backup: refuse up front when one has none.
            var lacking: [String] = []
            for subcloud in subclouds where !(try await self.store.backups(subcloud: subcloud.name).contains { $0.state == .complete }) {
                lacking.append(subcloud.name)
            }
            if let first = lacking.first {
                let more = lacking.count > 1 ? " and \(lacking.count - 1) more" : ""
                throw FleetStoreError.refused("\(first)\(more) \(lacking.count > 1 ? "have" : "has") no complete backup; take one first (`backup create`)")
            }
            return .restore
        case .software, .firmware, .images, .prestage:
            guard let what = request.what, !what.isEmpty else { throw FleetStoreError.invalid("name what the \(request.type.rawValue) strategy rolls out") }
            let kinds: [ContentKind] = switch request.type {
            case .software: [.ostree]
            case .firmware: [.firmware]
            case .images: [.image]
            default: [.ostree, .image]
            }
            if request.type == .firmware, request.version == nil { throw FleetStoreError.invalid("a firmware strategy needs --version") }
            for kind in kinds {
                if let release = try await self.store.release(kind: kind, name: what, version: request.version) {
                    return StrategyContent(kind: kind, name: release.name, version: release.version)
                }
            }
            throw FleetStoreError.notFound("no \(kinds.map(\.rawValue).joined(separator: " or ")) release \(what)\(request.version.map { " " + $0 } ?? "") was imported")
        }
    }

    public func apply(_ type: StrategyType, at now: Date) async throws -> StrategyView {
        var strategy = try await self.existing(type)
        guard strategy.state == .initial else { throw FleetStoreError.refused("the \(type.rawValue) strategy is \(strategy.state.rawValue), not initial") }
        strategy.state = .applying
        strategy.startedAt = now
        try await self.store.saveStrategy(strategy, event: "\(type.rawValue) strategy started: \(strategy.content.summary) on \(strategy.targets)", at: now)
        return try await self.show(type)
    }

    public func abort(_ type: StrategyType, at now: Date) async throws -> StrategyView {
        var strategy = try await self.existing(type)
        switch strategy.state {
        case .applying:
            strategy.state = .aborting
            try await self.store.saveStrategy(strategy, event: "\(type.rawValue) strategy aborting: no new steps start", at: now)
        case .initial:
            strategy.state = .aborted
            strategy.finishedAt = now
            strategy.detail = "aborted before it was applied"
            try await self.store.saveStrategy(strategy, event: "\(type.rawValue) strategy aborted before it was applied", at: now)
        case .aborting, .complete, .failed, .aborted:
            throw FleetStoreError.refused("the \(type.rawValue) strategy is \(strategy.state.rawValue)")
        }
        return try await self.show(type)
    }

    public func delete(_ type: StrategyType) async throws {
        try await self.store.deleteStrategy(type)
    }

    public func show(_ type: StrategyType) async throws -> StrategyView {
        StrategyView(strategy: try await self.existing(type), steps: try await self.store.steps(of: type))
    }

    public func list() async throws -> [Strategy] {
        try await self.store.strategies()
    }

    private func existing(_ type: StrategyType) async throws -> Strategy {
        guard let strategy = try await self.store.strategy(type) else { throw FleetStoreError.notFound("no \(type.rawValue) strategy") }
        return strategy
    }
}
