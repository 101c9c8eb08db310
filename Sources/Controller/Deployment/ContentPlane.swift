import Foundation
import Logging
import Platform
import Wire

/// Desired content per subcloud — config generations and deployments of OSTree
/// commits, images and firmware — and the traffic that brings sites to it: offers
/// and DEPLOY messages out, CONFIG_RESULT and DEPLOY_STATUS in, sync status kept.
/// Everything is re-sent on each connection until the site says it is done.
public actor ContentPlane {
    let store: any ContentStore & SubcloudStore & AlarmStore & LeaseStore
    let live: LiveFleet
    let objects: ObjectStore
    public let ostree: OSTreeRepository
    public let images: ImageLibrary
    let logger: Logger
    /// Where work that must not hold up a connection's reader or a request runs.
    public let work: BackgroundWork
    /// Rung after every report from a site, so that orchestration reacts at once.
    let reports = Wakeup()
    /// Told when a restore (a deployment of kind `backup`) ends: activated (true) or failed.
    private var restored: (@Sendable (Deployment, Bool) async -> Void)?

    public func onRestore(_ hook: @escaping @Sendable (Deployment, Bool) async -> Void) {
        self.restored = hook
    }

    /// Restores running at once, fleet-wide; the ids of those sent and not yet finished.
    var restoreLimit = 100
    private var restoresRunning: Set<Int64> = []

    public func setRestoreLimit(_ limit: Int) { self.restoreLimit = max(1, limit) }

    /// Sends waiting restores (oldest first) while slots are free.
    func sendWaitingRestores() async {
        guard let waiting = try? await self.store.deployments(subcloud: nil).filter({ $0.kind == .backup && $0.state == .pending && !self.restoresRunning.contains($0.id) }) else { return }
        for deployment in waiting.sorted(by: { $0.id < $1.id }) where self.restoresRunning.count < self.restoreLimit {
            await self.send(deployment)
        }
    }

    /// After a restore: the target gets `source`'s latest config files again (its own, re-offered,
    /// when it is the same site). Returns whether there was any config to give.
    public func reapplyConfig(from source: String, to target: String, at now: Date) async throws -> Bool {
        guard let latest = try await self.store.latestConfig(for: source) else { return false }
        if source == target {
            try await self.sendConfig(latest)
        } else {
            _ = try await self.setConfig(on: [target], files: latest.files, reload: latest.reload, at: now)
        }
        return true
    }

    /// Restores a backup (its manifest object, hex digest) onto `subcloud`: a deployment of kind `backup`.
    public func restore(manifest: String, backupID: Int64, on subcloud: String, at now: Date) async throws -> Deployment {
        let deployment = try await self.store.createDeployment(subcloud: subcloud, kind: .backup, name: "backup/\(backupID)", version: manifest, activate: true, at: now)
        await self.send(deployment)
        try? await self.store.nudge([subcloud])
        return deployment
    }

    public init(store: any ContentStore & SubcloudStore & AlarmStore & LeaseStore, live: LiveFleet, objects: ObjectStore, dataDirectory: String, work: BackgroundWork, logger: Logger) {
        self.store = store
        self.work = work
        self.live = live
        self.objects = objects
        self.ostree = OSTreeRepository(dataDirectory: dataDirectory, objects: objects)
        self.images = ImageLibrary(dataDirectory: dataDirectory, objects: objects)
        self.logger = logger
    }

    // MARK: Config

    /// A new generation for each subcloud: its current files with these added or replaced.
    public func setConfig(on subclouds: [String], files: [ConfigFileSpec], reload: String?, at now: Date) async throws -> [ConfigGeneration] {
        for file in files {
            if let problem = ConfigBundle.problem(with: file.path) { throw FleetStoreError.refused(problem) }
        }
        var made: [ConfigGeneration] = []
        for name in subclouds {
            let latest = try await self.store.latestConfig(for: name)
            var merged = latest?.files ?? []
            for file in files {
                merged.removeAll { $0.path == file.path }
                merged.append(file)
            }
            merged.sort { $0.path < $1.path }
            let number = (latest?.generation ?? 0) + 1
            let reloadAction = reload ?? latest?.reload
            let bundle = ConfigBundle(generation: UInt64(number), files: merged.map { .init(path: $0.path, mode: $0.mode, content: $0.content) }, reload: reloadAction)
            let (digest, size) = try self.objects.importBytes(try bundle.encoded())
            let generation = ConfigGeneration(subcloud: name, generation: number, bundle: digest.hex, size: size, files: merged, reload: reloadAction, createdAt: now)
            try await self.store.addConfig(generation)
            made.append(generation)
            try await self.sendConfig(generation)
        }
        // With replicas, the one holding a site's connection sends it.
        try? await self.store.nudge(subclouds)
        return made
    }

    public func configView(for name: String) async throws -> ConfigView {
        let subcloud = try await self.store.subcloud(named: name)
        return ConfigView(
            subcloud: name, desired: try await self.store.latestConfig(for: name), state: try await self.store.configState(for: name),
            sync: subcloud?.sync.config ?? .unknown
        )
    }

    /// Offers the subcloud's latest config generation again (a config strategy's step).
    public func offerLatestConfig(to subcloud: String) async throws {
        guard let latest = try await self.store.latestConfig(for: subcloud) else {
            throw FleetStoreError.notFound("no config generation was set for \(subcloud)")
        }
        try await self.sendConfig(latest)
    }

    private func sendConfig(_ generation: ConfigGeneration) async throws {
        guard let digest = ContentDigest(hex: generation.bundle), let offer = self.objects.offer(digest, kind: "config", name: "config generation \(generation.generation)") else { return }
        guard try await self.live.send(.message(.transferOffer(offer)), to: generation.subcloud) else { return }
        _ = try await self.live.send(.message(.configOffer(ConfigOffer(generation: UInt64(generation.generation), bundle: digest, size: generation.size))), to: generation.subcloud)
    }

    /// CONFIG_RESULT from a site.
    public func received(_ result: ConfigResult, from name: String, at now: Date) async throws {
        defer { self.reports.notify() }
        let status = ConfigStatus(result.status)
        var state = try await self.store.configState(for: name) ?? ConfigState(subcloud: name, appliedGeneration: nil, status: status, detail: "", reportedAt: now)
        if result.status == .applied || result.status == .drifted { state.appliedGeneration = Int(result.generation) }
        state.status = status
        state.detail = result.detail
        state.reportedAt = now
        try await self.store.recordConfigResult(state)
        if result.status != .applied {
            try await self.store.recordEvent(subcloud: name, kind: "config", detail: "config generation \(result.generation) \(status): \(result.detail)", at: now)
        }
        try await self.updateSync(name)
    }

    // MARK: Deployments

    /// Deploys (or with `activate` false, prestages) a release to each subcloud.
    public func deploy(kind: ContentKind, name: String, version: String?, on subclouds: [String], activate: Bool, at now: Date) async throws -> [Deployment] {
        guard let release = try await self.store.release(kind: kind, name: name, version: version) else {
            throw FleetStoreError.notFound("no \(kind.rawValue) release \(name)\(version.map { " " + $0 } ?? "") was imported")
        }
        var made: [Deployment] = []
        for subcloud in subclouds {
            let deployment = try await self.store.createDeployment(subcloud: subcloud, kind: kind, name: release.name, version: release.version, activate: activate, at: now)
            made.append(deployment)
            try await self.updateSync(subcloud)
            await self.send(deployment)
        }
        try? await self.store.nudge(subclouds)
        return made
    }

    /// Generates, in the background, the deltas to `commit` from every commit of `ref`
    /// the fleet runs (and from scratch for sites with none), so that a deploy does not
    /// wait for bsdiff. Deltas are cached per pair; this only warms the cache.
    public func prepareDeltas(ref: String, to commit: String) async {
        do {
            var bases: Set<String?> = []
            for subcloud in try await self.store.subclouds() {
                let running = try await self.store.installed(subcloud: subcloud.name).first { $0.kind == .ostree && $0.name == ref }?.version
                if running != commit { bases.insert(running) }
            }
            for base in bases {
                let started = ContinuousClock.now
                let delta = try await self.ostree.delta(from: base, to: commit)
                self.logger.info("delta ready", metadata: [
                    "ref": "\(ref)", "from": "\(delta.from ?? "scratch")", "to": "\(commit)",
                    "parts": "\(delta.objects.count - 1)", "seconds": "\(ContinuousClock.now - started)",
                ])
            }
        } catch {
            self.logger.warning("could not prepare deltas", metadata: ["ref": "\(ref)", "error": "\(error)"])
        }
    }

    /// A site connected: send what it lacks.
    public func connected(_ name: String) async {
        do {
            if let latest = try await self.store.latestConfig(for: name) {
                let state = try await self.store.configState(for: name)
                if state?.appliedGeneration != latest.generation || state?.status == .failed { try await self.sendConfig(latest) }
            }
            for deployment in try await self.store.deployments(subcloud: name) where deployment.isOpen {
                await self.send(deployment)
            }
        } catch {
            self.logger.error("could not send desired content", metadata: ["subcloud": "\(name)", "error": "\(error)"])
        }
    }

    /// Sends one DEPLOY; an OSTree deployment gets a delta from the site's current commit.
    private func send(_ deployment: Deployment) async {
        do {
            var from = ""
            var objects: [ObjectRef]
            switch deployment.kind {
            case .ostree:
                let installed = try await self.store.installed(subcloud: deployment.subcloud)
                    .first { $0.kind == .ostree && $0.name == deployment.name }?.version
                if installed == deployment.version, deployment.activate {
                    try await self.store.updateDeployment(id: deployment.id, state: .activated, detail: "already running \(deployment.version)", at: Date())
                    try await self.updateSync(deployment.subcloud)
                    return
                }
                let delta = try await self.ostree.delta(from: installed, to: deployment.version)
                from = delta.from ?? ""
                objects = delta.objects
            case .backup:
                // A restore: the version is the backup's manifest object; the agent fetches the chunks it names.
                // At most `restoreLimit` run at once; the others wait as pending and go as slots free.
                if !self.restoresRunning.contains(deployment.id) {
                    guard self.restoresRunning.count < self.restoreLimit else {
                        if deployment.detail.isEmpty {
                            try await self.store.updateDeployment(id: deployment.id, state: .pending, detail: "waiting for a restore slot (\(self.restoreLimit) at once)", at: Date())
                        }
                        return
                    }
                    self.restoresRunning.insert(deployment.id)
                }
                guard let digest = ContentDigest(hex: deployment.version), let offer = self.objects.offer(digest, kind: "backup", name: deployment.name) else {
                    self.restoresRunning.remove(deployment.id)
                    try await self.store.updateDeployment(id: deployment.id, state: .failed, detail: "the backup's manifest is no longer held by the controller", at: Date())
                    return
                }
                objects = [ObjectRef(digest: digest, size: offer.size, blockSize: offer.blockSize, role: "manifest")]
            case .image, .firmware:
                guard let release = try await self.store.release(kind: deployment.kind, name: deployment.name, version: deployment.version) else {
                    try await self.store.updateDeployment(id: deployment.id, state: .failed, detail: "release no longer held by the controller", at: Date())
                    return
                }
                objects = release.objects
            }
            let message = Deploy(
                deploymentID: UInt64(deployment.id), kind: deployment.kind.rawValue, name: deployment.name, version: deployment.version,
                // Cut as this store cuts them now (catalogue entries made before may not say).
                objects: objects.map { ObjectRef(digest: $0.digest, size: $0.size, blockSize: UInt32(self.objects.blockSize), role: $0.role) },
                activate: deployment.activate, from: from
            )
            let sent = try await self.live.send(.message(.deploy(message)), to: deployment.subcloud)
            // A restore to a site that is not connected holds no slot; it goes when the site connects.
            if !sent, deployment.kind == .backup { self.restoresRunning.remove(deployment.id) }
            if sent {
                self.logger.info("deployment sent", metadata: [
                    "subcloud": "\(deployment.subcloud)", "deployment": "\(deployment.id)", "kind": "\(deployment.kind.rawValue)",
                    "name": "\(deployment.name)", "objects": "\(objects.count)", "from": "\(from.isEmpty ? "scratch" : from)",
                ])
            }
        } catch {
            self.logger.error("could not prepare deployment", metadata: ["deployment": "\(deployment.id)", "error": "\(error)"])
            self.restoresRunning.remove(deployment.id)
            try? await self.store.updateDeployment(id: deployment.id, state: .failed, detail: "controller: \(error)", at: Date())
        }
    }

    /// DEPLOY_STATUS from a site: an inventory entry (id 0) or a deployment's progress.
    public func received(_ status: DeployStatus, from name: String, at now: Date) async throws {
        defer { self.reports.notify() }
        guard let kind = ContentKind(rawValue: status.kind) else { return }
        if status.deploymentID == 0 {
            let changed = try await self.store.recordInstalled(InstalledContent(subcloud: name, kind: kind, name: status.name, version: status.version, reportedAt: now))
            if changed {
                try await self.updateSync(name)
                // A pending OSTree deployment's delta depends on what the site runs; making
                // one may take a while, so the connection's reader does not wait for it.
                for deployment in try await self.store.deployments(subcloud: name) where deployment.isOpen && deployment.kind == kind && deployment.name == status.name {
                    self.work.submit("send deployment \(deployment.id) to \(name)") { await self.send(deployment) }
                }
            }
            return
        }
        guard let deployment = try await self.store.deployment(id: Int64(status.deploymentID)), deployment.subcloud == name else { return }
        let state: DeploymentState
        switch status.status {
        case .current, .fetching: state = .fetching
        case .prestaged: state = .prestaged
        case .activated: state = .activated
        case .failed: state = .failed
        }
        try await self.store.updateDeployment(id: deployment.id, state: state, detail: status.detail, at: now)
        if kind == .backup {
            if state == .activated || state == .failed {
                self.restoresRunning.remove(deployment.id)
                var ended = deployment
                ended.state = state
                ended.detail = status.detail
                await self.restored?(ended, state == .activated)
                await self.sendWaitingRestores()
            }
            return
        }
        if state == .activated {
            _ = try await self.store.recordInstalled(InstalledContent(subcloud: name, kind: kind, name: status.name, version: status.version, reportedAt: now))
        }
        try await self.updateSync(name)
    }

    /// Recomputes a subcloud's sync status from desired and reported state.
    func updateSync(_ name: String) async throws {
        var config: SyncStatus = .unknown
        if let latest = try await self.store.latestConfig(for: name) {
            let state = try await self.store.configState(for: name)
            config = state?.appliedGeneration == latest.generation && state?.status == .applied ? .inSync : .outOfSync
        }
        let installed = try await self.store.installed(subcloud: name)
        let deployments = try await self.store.deployments(subcloud: name).filter { $0.activate && $0.state != .superseded }
        func sync(_ kind: ContentKind) -> SyncStatus {
            // The newest deployment of each name is what is wanted.
            var wanted: [String: Deployment] = [:]
            for deployment in deployments where deployment.kind == kind { wanted[deployment.name] = deployment }
            guard !wanted.isEmpty else { return .unknown }
            let inSync = wanted.values.allSatisfy { deployment in
                installed.contains { $0.kind == kind && $0.name == deployment.name && $0.version == deployment.version }
            }
            return inSync ? .inSync : .outOfSync
        }
        try await self.store.setSync(name, config: config, software: sync(.ostree), images: sync(.image), firmware: sync(.firmware))
    }
}
