import Foundation
import Logging
import NIOPosix
import Platform
import Wire

/// The agent's side of desired content: answers DEPLOY and CONFIG_OFFER by fetching
/// the objects it lacks and applying them, reports progress and what the site runs,
/// and watches applied config files for drift. Lives across connections: the
/// controller repeats what is unfinished on every connection, and a repeat of a
/// deployment in progress only asks again for what is still missing.
actor Deployer {
    let configuration: AgentConfiguration
    let transfers: Transfers
    let outbox: Outbox
    let ostree: OSTreeSite
    let images: ImageSite
    let config: ConfigSite
    let firmwareInventory: @Sendable () async -> FirmwareInventory?
    /// Runs what waits for objects (deployments, config generations) beside the link.
    let work: BackgroundWork
    let logger: Logger

    /// Deployments being worked on, and the last word on finished ones (kept on disk:
    /// a repeat after a restart must not flash firmware twice).
    private var running: Set<UInt64> = []
    /// The deployments being worked on, for progress detail.
    private var active: [UInt64: Deploy] = [:]
    private var finished: [UInt64: DeployStatus] = [:]
    private let finishedPath: String
    /// The config generation being applied, if any, and the newest one offered.
    private var applyingGeneration: UInt64?
    private var newestOffered: UInt64 = 0
    /// Paths last reported as drifted (to report changes only).
    private var reportedDrift: [String]?

    init(
        configuration: AgentConfiguration, transfers: Transfers, outbox: Outbox, work: BackgroundWork,
        firmwareInventory: @escaping @Sendable () async -> FirmwareInventory?, logger: Logger
    ) throws {
        self.configuration = configuration
        self.work = work
        self.transfers = transfers
        self.outbox = outbox
        self.ostree = OSTreeSite(configuration: configuration)
        self.images = ImageSite(configuration: configuration)
        self.config = ConfigSite(configuration: configuration)
        self.firmwareInventory = firmwareInventory
        self.logger = logger
        self.finishedPath = configuration.stateDirectory + "/deployments.json"
        try self.config.recover()
        try Restorer(stateDirectory: configuration.stateDirectory, allowDevices: configuration.restoreDevices, logger: logger).recover()
        if let data = FileManager.default.contents(atPath: self.finishedPath),
           let saved = try? JSONDecoder().decode([FinishedRecord].self, from: data) {
            for record in saved {
                self.finished[record.id] = record.report
                if let objects = record.objects { self.prestagedObjects[record.id] = objects }
            }
        }
    }

    /// Objects kept for prestaged deployments, by deployment id (hex digests): let go
    /// once a newer deployment of the same content name arrives without them.
    private var prestagedObjects: [UInt64: [String]] = [:]

    /// A finished deployment as kept on disk.
    private struct FinishedRecord: Codable {
        var id: UInt64
        var kind: String
        var name: String
        var version: String
        var status: UInt32
        var detail: String
        /// For a prestaged deployment: the objects kept for it.
        var objects: [String]?

        var report: DeployStatus {
            DeployStatus(deploymentID: self.id, kind: self.kind, name: self.name, version: self.version, status: DeployStatus.Status(rawValue: self.status) ?? .failed, detail: self.detail)
        }
    }

    // MARK: Reports

    /// At connect: what the site runs, and where its config stands.
    func connected() async {
        for (ref, commit) in await self.ostree.refs() {
            await self.outbox.send(.deployStatus(DeployStatus(deploymentID: 0, kind: "ostree", name: ref, version: commit, status: .current)))
        }
        for (tag, digest) in self.images.tags() {
            await self.outbox.send(.deployStatus(DeployStatus(deploymentID: 0, kind: "image", name: tag, version: digest, status: .current)))
        }
        self.reportedDrift = nil
        await self.checkDrift()
    }

    /// Reports config drift when it appears or goes away. Called every heartbeat.
    func checkDrift() async {
        guard self.applyingGeneration == nil, let applied = self.config.applied() else { return }
        let drifted = self.config.drift()
        guard drifted != self.reportedDrift else { return }
        self.reportedDrift = drifted
        let digest = ContentDigest(hex: applied.bundle)
        if drifted.isEmpty {
            await self.outbox.send(.configResult(ConfigResult(generation: applied.generation, status: .applied, applied: digest, detail: "")))
        } else {
            self.logger.warning("config changed on the site", metadata: ["paths": "\(drifted)"])
            await self.outbox.send(.configResult(ConfigResult(generation: applied.generation, status: .drifted, applied: digest, detail: "changed on the site: " + drifted.joined(separator: ", "))))
        }
    }

    // MARK: Config

    /// A config generation was offered: decided here, in the order offers come;
    /// applied once its bundle has arrived, as background work.
    func offered(_ offer: ConfigOffer) async {
        guard let digest = offer.bundle else { return }
        if let applied = self.config.applied(), applied.generation == offer.generation, applied.bundle == digest.hex {
            self.reportedDrift = nil
            await self.checkDrift()
            return
        }
        guard self.applyingGeneration != offer.generation, offer.generation >= self.newestOffered else { return }
        self.newestOffered = offer.generation
        self.applyingGeneration = offer.generation
        self.work.submit("config generation \(offer.generation)") { await self.apply(offer, bundle: digest) }
    }

    private func apply(_ offer: ConfigOffer, bundle digest: ContentDigest) async {
        // The bundle comes as a transfer the controller offered just before.
        let arrived: Result<String, any Error>
        do {
            arrived = .success(try await self.transfers.arrival(of: digest))
        } catch is CancellationError {
            // Shutdown: the controller offers the generation again at the next connection.
            self.applyingGeneration = nil
            return
        } catch {
            arrived = .failure(error)
        }
        // A newer generation offered while this one was on its way wins.
        guard self.newestOffered == offer.generation else { return }
        defer { self.applyingGeneration = nil }
        let result: ConfigResult
        do {
            let path = try arrived.get()
            guard let data = FileManager.default.contents(atPath: path) else { throw DeployFailure("bundle \(digest) vanished") }
            let bundle = try ConfigBundle.decode(Array(data))
            guard bundle.generation == offer.generation else { throw DeployFailure("bundle is generation \(bundle.generation), offer said \(offer.generation)") }
            let site = self.config
            try await NIOThreadPool.singleton.runIfActive { try site.apply(bundle, digest: digest) }
            self.reportedDrift = []
            if let failure = await self.config.reload(bundle) {
                result = ConfigResult(generation: offer.generation, status: .failed, applied: digest, detail: "files applied; " + failure)
            } else {
                result = ConfigResult(generation: offer.generation, status: .applied, applied: digest, detail: "")
            }
            self.logger.info("config generation applied", metadata: ["generation": "\(offer.generation)", "files": "\(bundle.files.count)"])
        } catch {
            self.logger.error("config generation refused", metadata: ["generation": "\(offer.generation)", "error": "\(error)"])
            result = ConfigResult(generation: offer.generation, status: .failed, applied: self.config.applied().flatMap { ContentDigest(hex: $0.bundle) }, detail: "\(error)")
        }
        await self.outbox.send(.configResult(result))
    }

    // MARK: Deployments

    func received(_ deploy: Deploy) async {
        if let status = self.finished[deploy.deploymentID] {
            return await self.outbox.send(.deployStatus(status))
        }
        // Deployment ids only grow: the highest one seen for a name is what is wanted.
        let key = Self.key(deploy)
        if deploy.activate { self.newest[key] = max(self.newest[key] ?? 0, deploy.deploymentID) }
        await self.releasePrestaged(before: deploy)
        // Ask for what is missing — again, on a repeat after a reconnect. A prestaged
        // site may hold the commit already: then nothing travels.
        let holdsCommit = await self.holdsCommit(deploy)
        for reference in deploy.objects where !holdsCommit && !self.holds(reference, kind: deploy.contentKind) {
            do {
                if let request = try await self.transfers.fetch(reference, kind: deploy.kind, name: "\(deploy.name) \(reference.role)") {
                    await self.outbox.request(request)
                }
            } catch {
                return await self.finish(deploy, .failed, version: "", detail: "cannot fetch \(reference.role): \(error)")
            }
        }
        guard !self.running.contains(deploy.deploymentID) else { return }
        self.running.insert(deploy.deploymentID)
        self.active[deploy.deploymentID] = deploy
        await self.outbox.send(.deployStatus(DeployStatus(deploymentID: deploy.deploymentID, kind: deploy.kind, name: deploy.name, version: "", status: .fetching)))
        self.work.submit("deployment \(deploy.deploymentID)") { await self.complete(deploy) }
    }

    /// An object could not be stored (say, no space left): the deployments waiting for
    /// it stay `fetching` and say why; the transfer is asked for again by itself.
    func storageFailed(_ digest: ContentDigest, detail: String) async {
        for deploy in self.active.values where deploy.objects.contains(where: { $0.digest == digest }) {
            await self.outbox.send(.deployStatus(DeployStatus(
                deploymentID: deploy.deploymentID, kind: deploy.kind, name: deploy.name, version: "", status: .fetching,
                detail: detail + "; retried automatically"
            )))
        }
    }

    private func holds(_ reference: ObjectRef, kind: ContentKind?) -> Bool {
        guard let digest = reference.digest else { return true }
        return kind == .image && self.images.has(digest)
    }

    /// An OSTree deployment whose commit the repository holds whole needs no delta.
    private func holdsCommit(_ deploy: Deploy) async -> Bool {
        deploy.contentKind == .ostree && deploy.activate ? await self.ostree.has(commit: deploy.version) : false
    }

    /// Waits for every object, then applies (or, for a prestage, only keeps them).
    private func complete(_ deploy: Deploy) async {
        var paths: [(ObjectRef, String?)] = []
        let holdsCommit = await self.holdsCommit(deploy)
        for reference in deploy.objects where !holdsCommit {
            guard let digest = reference.digest else { continue }
            if self.holds(reference, kind: deploy.contentKind) { paths.append((reference, nil)); continue }
            do {
                paths.append((reference, try await self.transfers.arrival(of: digest)))
            } catch is CancellationError {
                // Shutdown: nothing is reported; the controller repeats the deployment at the next connection.
                self.running.remove(deploy.deploymentID)
                self.active[deploy.deploymentID] = nil
                return
            } catch {
                return await self.finish(deploy, .failed, version: "", detail: "\(reference.role): \(error); nothing applied")
            }
        }
        guard deploy.activate else {
            return await self.finish(deploy, .prestaged, version: "", detail: "\(deploy.objects.count) objects held")
        }
        // One apply at a time per content name, and only the newest deployment of it:
        // an older one that finished fetching late must not undo a newer one.
        let key = Self.key(deploy)
        await self.acquire(key)
        defer { self.release(key) }
        if let newest = self.newest[key], newest > deploy.deploymentID {
            return await self.finish(deploy, .failed, version: "", detail: "superseded by deployment \(newest); nothing applied")
        }
        do {
            let version = try await self.apply(deploy, paths)
            // Used up: the content now lives in the repository, layout or firmware.
            for (reference, path) in paths where path != nil { if let digest = reference.digest { await self.transfers.discard(digest) } }
            await self.finish(deploy, .activated, version: version, detail: "")
            await self.outbox.send(.deployStatus(DeployStatus(deploymentID: 0, kind: deploy.kind, name: deploy.name, version: version, status: .current)))
        } catch let mismatch as BaseMismatch {
            // The delta was made for another commit: say what runs here; the controller sends a new one.
            self.running.remove(deploy.deploymentID)
            self.logger.warning("delta does not fit this site", metadata: ["deployment": "\(deploy.deploymentID)", "have": "\(mismatch.have ?? "none")", "from": "\(deploy.from)"])
            await self.outbox.send(.deployStatus(DeployStatus(deploymentID: 0, kind: deploy.kind, name: deploy.name, version: mismatch.have ?? "", status: .current)))
        } catch {
            self.logger.error("deployment failed; site unchanged", metadata: ["deployment": "\(deploy.deploymentID)", "error": "\(error)"])
            await self.finish(deploy, .failed, version: "", detail: "\(error)")
        }
    }

    private struct BaseMismatch: Error { var have: String? }

    /// The newest activating deployment seen per content name, and the applies running.
    private var newest: [String: UInt64] = [:]
    private var applying: Set<String> = []
    private var waitingToApply: [String: [CheckedContinuation<Void, Never>]] = [:]

    private static func key(_ deploy: Deploy) -> String { deploy.kind + "|" + deploy.name }

    private func acquire(_ key: String) async {
        while self.applying.contains(key) {
            await withCheckedContinuation { self.waitingToApply[key, default: []].append($0) }
        }
        self.applying.insert(key)
    }

    private func release(_ key: String) {
        self.applying.remove(key)
        for waiter in self.waitingToApply.removeValue(forKey: key) ?? [] { waiter.resume() }
    }

    private func apply(_ deploy: Deploy, _ paths: [(ObjectRef, String?)]) async throws -> String {
        guard let kind = deploy.contentKind else { throw DeployFailure("unknown content kind \"\(deploy.kind)\"") }
        switch kind {
        case .ostree:
            let have = await self.ostree.commit(of: deploy.name)
            if have == deploy.version { return deploy.version }
            if await self.ostree.has(commit: deploy.version) {
                try await self.ostree.point(ref: deploy.name, at: deploy.version)
                return deploy.version
            }
            if !deploy.from.isEmpty, have != deploy.from { throw BaseMismatch(have: have) }
            guard let superblock = paths.first(where: { $0.0.role == "superblock" })?.1 else { throw DeployFailure("the deployment has no superblock") }
            let parts = paths.filter { $0.0.role.hasPrefix("part/") }
                .sorted { Int($0.0.role.dropFirst(5)) ?? 0 < Int($1.0.role.dropFirst(5)) ?? 0 }
                .compactMap(\.1)
            try await self.ostree.apply(ref: deploy.name, commit: deploy.version, superblock: superblock, parts: parts, id: deploy.deploymentID)
            return deploy.version
        case .image:
            let images = self.images
            try await NIOThreadPool.singleton.runIfActive { try images.apply(name: deploy.name, manifestDigest: deploy.version, objects: paths) }
            return deploy.version
        case .backup:
            guard let manifest = paths.first(where: { $0.0.role == "manifest" })?.1 else { throw DeployFailure("the restore names no manifest") }
            return try await self.restore(manifest: manifest, deploy: deploy)
        case .firmware:
            guard let command = self.configuration.firmwareCommand else {
                throw DeployFailure("no firmware update command is configured on this agent (--firmware-command)")
            }
            if let inventory = await self.firmwareInventory(),
               inventory.components.contains(where: { $0.kind == deploy.name && $0.version == deploy.version }) {
                return deploy.version  // already installed: never flash twice
            }
            guard let image = paths.first?.1 else { throw DeployFailure("the deployment has no firmware image") }
            let outcome = try await HostCommand(command, [deploy.name, deploy.version, image]).run()
            guard outcome.succeeded else {
                throw DeployFailure("\(command) exited with status \(outcome.status): \((outcome.errors.isEmpty ? outcome.output : outcome.errors).suffix(1024))")
            }
            if let inventory = await self.firmwareInventory() { await self.outbox.send(.firmwareInventory(inventory)) }
            return deploy.version
        }
    }

    /// Lets go of what older prestaged deployments of the same content name kept and
    /// `deploy` does not use: they were replaced before they were activated.
    private func releasePrestaged(before deploy: Deploy) async {
        let wanted = Set(deploy.objects.compactMap { $0.digest?.hex })
        var released = false
        for (id, objects) in self.prestagedObjects where id < deploy.deploymentID {
            guard let report = self.finished[id], report.kind == deploy.kind, report.name == deploy.name else { continue }
            for hex in objects where !wanted.contains(hex) {
                if let digest = ContentDigest(hex: hex) { await self.transfers.discard(digest) }
            }
            self.prestagedObjects[id] = nil
            released = true
        }
        if released { self.saveFinished() }
    }

    /// Keeps the newest 1,000 finished deployments on disk.
    private func saveFinished() {
        let records = self.finished.values.sorted { $0.deploymentID < $1.deploymentID }.suffix(1_000).map {
            FinishedRecord(
                id: $0.deploymentID, kind: $0.kind, name: $0.name, version: $0.version, status: $0.status.rawValue, detail: $0.detail,
                objects: self.prestagedObjects[$0.deploymentID]
            )
        }
        do {
            try AtomicFile.write(Array(try JSONEncoder().encode(Array(records))), to: self.finishedPath, mode: 0o600)
        } catch {
            self.logger.error("could not record finished deployments", metadata: ["error": "\(error)"])
        }
    }

    private func finish(_ deploy: Deploy, _ status: DeployStatus.Status, version: String, detail: String) async {
        let report = DeployStatus(deploymentID: deploy.deploymentID, kind: deploy.kind, name: deploy.name, version: version, status: status, detail: detail)
        self.running.remove(deploy.deploymentID)
        self.active[deploy.deploymentID] = nil
        self.finished[deploy.deploymentID] = report
        if status == .prestaged { self.prestagedObjects[deploy.deploymentID] = deploy.objects.compactMap { $0.digest?.hex } }
        self.saveFinished()
        self.logger.info("deployment \(status)", metadata: ["deployment": "\(deploy.deploymentID)", "kind": "\(deploy.kind)", "name": "\(deploy.name)"])
        await self.outbox.send(.deployStatus(report))
    }
}
