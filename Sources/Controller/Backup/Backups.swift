import Foundation
import Logging
import Platform
import ServiceLifecycle
import Wire

/// Backups of sites (PROTOCOL.md §7.6): asks sites for them at most `limit` at a
/// time (and at most each request's `--max-parallel`), receives their manifests and
/// the chunks it does not hold yet, keeps the records and their retention, and
/// restores them through the content plane.
///
/// Uploads use the same receiving side as the agent's downloads (`Transfers`, one
/// per site, partial files under `DATA/uploads/SITE`): resumable inside a block
/// after a cut or a restart of either side, and nothing is published into the
/// object store until its digest checked out. One site uploads a given object at a
/// time, so a chunk that 1,000 sites share travels once and is stored once.
public actor Backups: Service {
    let store: any BackupStore & BackupScheduleStore & SubcloudStore & AlarmStore
    let live: LiveFleet
    let objects: ObjectStore
    let content: ContentPlane
    let uploads: String
    let logger: Logger
    /// Backups running at once, fleet-wide (StarlingX: 250), and restores (100).
    public let backupLimit: Int
    public let restoreLimit: Int
    /// Uploads (objects) received at once, fleet-wide.
    public let uploadLimit: Int
    /// Shared with every connection's `TransferSink`: the writers of uploads in flight.
    public nonisolated let writers = ObjectWriters()
    public nonisolated let counters = TransferCounters()

    /// Per site, its receiving side.
    var receivers: [String: Transfers] = [:]
    /// Which site uploads each object now.
    var inFlight: [ContentDigest: String] = [:]
    /// What each uploading backup still lacks: the manifest first, then its chunks.
    var missing: [Int64: [ContentDigest: ObjectRef]] = [:]
    /// The site of each uploading backup.
    /// With replicas, schedules fire on the lease holder only.
    let leadership: Leadership
    var sites: [Int64: String] = [:]
    /// Chunks and bytes each uploading backup has received so far (the record's counts, kept here).
    var uploaded: [Int64: (chunks: Int, bytes: UInt64)] = [:]

    /// Per open backup, its request's own limit and batch (in memory: after a restart the fleet limit holds).
    var batches: [Int64: (batch: Int64, maxParallel: Int, keep: Int?)] = [:]
    /// Rung when something may let a queued backup start or an upload go on.
    let wakeup = Wakeup()
    /// What to write to which site's connection, written by `run()`: a session that
    /// calls in here never waits on a write to its own (or another) connection, which
    /// could deadlock two peers that each stopped reading while they wait to write.
    private let outgoing: AsyncStream<(WireCommand, String)>
    private let outgoingContinuation: AsyncStream<(WireCommand, String)>.Continuation

    public init(
        store: any BackupStore & BackupScheduleStore & SubcloudStore & AlarmStore, live: LiveFleet, objects: ObjectStore, content: ContentPlane,
        dataDirectory: String, backupLimit: Int = 250, restoreLimit: Int = 100, uploadLimit: Int = 64, leadership: Leadership = .alone(), logger: Logger
    ) {
        self.leadership = leadership
        self.store = store
        self.live = live
        self.objects = objects
        self.content = content
        self.uploads = dataDirectory + "/uploads"
        self.backupLimit = backupLimit
        self.restoreLimit = restoreLimit
        self.uploadLimit = uploadLimit
        self.logger = logger
        (self.outgoing, self.outgoingContinuation) = AsyncStream.makeStream()
    }

    /// Queues `command` for `site`'s connection (dropped if it is not connected: the
    /// next connection asks again about every open backup).
    nonisolated func send(_ command: WireCommand, to site: String) {
        self.outgoingContinuation.yield((command, site))
    }

    public func run() async throws {
        await self.content.onRestore { [weak self] deployment, activated in await self?.restoreEnded(deployment, activated: activated) }
        await self.content.setRestoreLimit(self.restoreLimit)
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await (command, site) in self.outgoing { _ = try? await self.live.send(command, to: site) }
            }
            // Backups that were uploading when the controller stopped go on when their sites reconnect.
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                await self.tick()
                await self.wakeup.wait(upTo: .seconds(2))
            }
            self.outgoingContinuation.finish()
        }
    }

    // MARK: Requests

    /// Queues one backup per subcloud; they start as slots and connections allow.
    public func create(subclouds: [String], localOnly: Bool, maxParallel: Int?, keep: Int?, at now: Date = Date()) async throws -> [Backup] {
        guard !subclouds.isEmpty else { throw FleetStoreError.refused("no subclouds selected") }
        if let maxParallel, maxParallel < 1 { throw FleetStoreError.refused("--max-parallel must be at least 1") }
        if let keep, keep < 1 { throw FleetStoreError.refused("--keep must be at least 1") }
        let made = try await self.store.createBackups(subclouds: subclouds, localOnly: localOnly, at: now)
        for backup in made { self.batches[backup.id] = (made[0].id, maxParallel ?? self.backupLimit, keep) }
        await self.pump()
        return made
    }

    /// Starts queued backups while slots are free and their sites are connected.
    func pump() async {
        do {
            let open = try await self.store.openBackups()
            guard open.contains(where: { $0.state == .queued }) else { return }
            var running = open.filter { $0.state != .queued }
            for backup in open where backup.state == .queued && running.count < self.backupLimit {
                let batch = self.batches[backup.id]
                if let batch, running.filter({ self.batches[$0.id]?.batch == batch.batch }).count >= batch.maxParallel { continue }
                guard let connection = await self.live.connection(backup.subcloud) else {
                    let waiting = "waiting for \(backup.subcloud) to connect"
                    if backup.detail != waiting {
                        _ = try await self.store.updateBackup(id: backup.id, at: Date()) { backup in
                            guard backup.state == .queued else { return .skip }
                            backup.detail = waiting
                            return .save(event: nil)
                        }
                    }
                    continue
                }
                guard connection.features.contains(WireFeature.backup) else {
                    try await self.fail(backup.id, "backup unsupported by \(backup.subcloud)'s agent (\(connection.software))")
                    continue
                }
                let started = try await self.store.updateBackup(id: backup.id, at: Date()) { backup in
                    guard backup.state == .queued else { return .skip }
                    backup.state = .archiving
                    backup.detail = "the site is making the archive"
                    return .save(event: "backup \(backup.id) started")
                }
                guard let started else { continue }
                running.append(started)
                self.send(.message(.backupRequest(BackupRequest(backupID: UInt64(backup.id), localOnly: backup.localOnly))), to: backup.subcloud)
            }
        } catch {
            self.logger.error("could not start queued backups", metadata: ["error": "\(error)"])
        }
    }

    /// A site connected: ask again about its backups in progress (it answers with their state), start queued ones.
    public func connected(_ name: String) async {
        do {
            for backup in try await self.store.backups(subcloud: name) where backup.state == .archiving || backup.state == .uploading {
                guard let connection = await self.live.connection(name), connection.features.contains(WireFeature.backup) else {
                    try await self.fail(backup.id, "backup unsupported by \(name)'s agent")
                    continue
                }
                self.send(.message(.backupRequest(BackupRequest(backupID: UInt64(backup.id), localOnly: backup.localOnly))), to: name)
            }
        } catch {
            self.logger.error("could not resume backups", metadata: ["subcloud": "\(name)", "error": "\(error)"])
        }
        self.wakeup.notify()
    }

    /// BACKUP_STATUS from a site.
    public func received(_ status: BackupStatus, from name: String) async throws {
        guard let id = Int64(exactly: status.backupID) else { return }  // not one of ours
        guard let backup = try await self.store.backup(id: id), backup.subcloud == name, backup.state.isOpen else { return }
        switch status.state {
        case .archiving:
            return
        case .failed:
            return try await self.fail(id, "the site could not make it: \(status.detail)")
        case .ready:
            guard let manifest = status.manifest, let digest = manifest.digest else { return try await self.fail(id, "the site offered no manifest") }
            let updated = try await self.store.updateBackup(id: id, at: Date()) { backup in
                guard backup.state.isOpen else { return .skip }
                let first = backup.state != .uploading
                backup.state = .uploading
                backup.manifest = digest.hex
                if first { backup.detail = "receiving the manifest" }
                return .save(event: first ? "backup \(backup.id): archive made, upload starting" : nil)
            }
            guard let updated else { return }
            if self.missing[id] == nil { self.missing[id] = [digest: manifest] }
            if self.uploaded[id] == nil { self.uploaded[id] = (updated.chunksUploaded, updated.bytesUploaded) }
            self.sites[id] = name
            if self.objects.offer(digest, kind: "", name: "") != nil {
                return await self.arrived(digest)
            }
            await self.requestMissing(of: id)
        }
    }

    /// Ends a backup as failed (if it is still open), with an alarm on its subcloud.
    func fail(_ id: Int64, _ reason: String) async throws {
        let counts = self.uploaded.removeValue(forKey: id)
        self.missing[id] = nil
        self.sites[id] = nil
        self.batches[id] = nil
        let failed = try await self.store.updateBackup(id: id, at: Date()) { backup in
            guard backup.state.isOpen else { return .skip }
            if let counts { (backup.chunksUploaded, backup.bytesUploaded) = counts }
            backup.state = .failed
            backup.detail = reason
            return .save(event: "backup \(backup.id) failed: \(reason)")
        }
        guard let failed else { return }
        try await self.store.raise(BackupAlarms.failed(failed, at: failed.updatedAt))
        self.logger.warning("backup failed", metadata: ["subcloud": "\(failed.subcloud)", "backup": "\(id)", "reason": "\(reason)"])
        self.wakeup.notify()
    }

    /// Every object of the backup is held: complete it, tell the site, apply retention.
    func complete(_ id: Int64) async throws {
        let counts = self.uploaded.removeValue(forKey: id)
        self.missing[id] = nil
        self.sites[id] = nil
        let keep = self.batches.removeValue(forKey: id)?.keep
        let completed = try await self.store.updateBackup(id: id, at: Date()) { backup in
            guard backup.state.isOpen else { return .skip }
            if let counts { (backup.chunksUploaded, backup.bytesUploaded) = counts }
            backup.state = .complete
            backup.completedAt = Date()
            backup.detail = backup.localOnly ? "manifest held here; the archive stays on the site"
                : "\(backup.chunks ?? 0) chunks, \(backup.chunksUploaded) uploaded (\(backup.bytesUploaded) bytes), the rest held already"
            return .save(event: "backup \(backup.id) complete: \(backup.detail)")
        }
        guard let backup = completed else { return }
        try await self.store.clear(subcloud: backup.subcloud, alarmID: BackupAlarms.failedID, entity: BackupAlarms.entity(backup.subcloud), at: backup.updatedAt)
        self.send(.message(.backupStored(BackupStored(backupID: UInt64(backup.id)))), to: backup.subcloud)
        self.logger.info("backup complete", metadata: ["subcloud": "\(backup.subcloud)", "backup": "\(backup.id)", "detail": "\(backup.detail)"])
        if let keep {
            let older = try await self.store.backups(subcloud: backup.subcloud).filter { $0.state == .complete }.dropFirst(keep)
            for old in older { try await self.delete(old.id, reason: "retention (--keep \(keep))") }
        }
        self.wakeup.notify()
    }

    /// Deletes a backup that is not running; its objects go once no other backup names them.
    public func delete(_ id: Int64, reason: String = "deleted by the operator") async throws {
        guard let backup = try await self.store.backup(id: id) else { throw FleetStoreError.notFound("no backup \(id)") }
        guard !backup.state.isOpen else { throw FleetStoreError.refused("backup \(id) is \(backup.state.rawValue); wait for it to end") }
        for digest in try await self.store.deleteBackup(id: id) {
            unlink(self.objects.root + "/" + digest)
        }
        try await self.store.recordEvent(subcloud: backup.subcloud, kind: "backup", detail: "backup \(id) deleted: \(reason)", at: Date())
    }

    /// Housekeeping: stalled uploads asked again, missing objects asked for, queued backups started.
    func tick() async {
        for (site, receiver) in self.receivers {
            do {
                let (stalled, retry) = try await receiver.housekeeping()
                for stream in stalled { self.send(.reset(stream, .cancel), to: site) }
                for request in retry { self.send(.openStream(.transferRequest(request)), to: site) }
            } catch {
                self.logger.warning("upload housekeeping failed", metadata: ["subcloud": "\(site)", "error": "\(error)"])
            }
        }
        if self.leadership.isLeader { await self.runSchedules() }
        await self.requestWaiting()
        await self.pump()
    }
}
