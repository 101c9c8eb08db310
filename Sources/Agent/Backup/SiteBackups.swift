import Foundation
import Logging
import NIOPosix
import Platform
import Wire

/// The agent's side of backups (PROTOCOL.md §7.6): makes the archive the controller
/// asks for (GNU tar of `--backup-path`s, cut into content-defined chunks), offers
/// its manifest, serves the manifest and chunks the controller asks for, and lets
/// go of them once the controller says it holds them. Everything lives under
/// `STATE/backups/<id>/`; `manifest.json` is written last, so a backup is ready
/// exactly when its manifest is there, across restarts and reconnects.
actor SiteBackups {
    let configuration: AgentConfiguration
    let site: String
    let outbox: Outbox
    let work: BackgroundWork
    let inventory: @Sendable () async -> Deployer.Inventory
    let logger: Logger
    private let root: String
    /// Encoded blocks of what is being served (a resumed block is re-encoded the same anyway).
    private let cache = BlockCache(budget: 8 << 20)
    private var making: Set<UInt64> = []
    /// What each ready backup offers, and the files of the objects it serves.
    private var ready: [UInt64: ObjectRef] = [:]
    private var files: [ContentDigest: String] = [:]

    init(configuration: AgentConfiguration, site: String, outbox: Outbox, work: BackgroundWork,
         inventory: @escaping @Sendable () async -> Deployer.Inventory, logger: Logger) throws {
        self.configuration = configuration
        self.site = site
        self.outbox = outbox
        self.work = work
        self.inventory = inventory
        self.logger = logger
        self.root = configuration.stateDirectory + "/backups"
        try AtomicFile.makeDirectory(self.root, mode: 0o700)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: self.root)) ?? [] {
            guard let id = UInt64(entry) else { continue }
            guard let made = try? Self.read(id, in: self.root + "/\(id)") else {
                // Never finished (the agent stopped while making it): made again if still wanted.
                try? FileManager.default.removeItem(atPath: self.root + "/\(id)")
                continue
            }
            self.ready[id] = made.reference
            self.files.merge(made.files) { $1 }
        }
    }

    private nonisolated func directory(_ id: UInt64) -> String { self.root + "/\(id)" }

    /// Where a local-only backup's archive stays.
    static func archivePath(stateDirectory: String, id: UInt64) -> String { stateDirectory + "/backups/\(id)/archive.tar" }

    /// A made backup: its manifest's reference and the files of the objects it serves; nil without a manifest.
    private static func read(_ id: UInt64, in directory: String) throws -> (reference: ObjectRef, files: [ContentDigest: String])? {
        let path = directory + "/manifest.json"
        guard let bytes = try AtomicFile.read(path) else { return nil }
        let manifest = try BackupManifest.decode(bytes)
        let digest = ContentDigest(of: bytes)
        var files = [digest: path]
        for chunk in manifest.chunks where !manifest.localOnly {
            if let digest = ContentDigest(hex: chunk.sha256) { files[digest] = directory + "/chunks/" + chunk.sha256 }
        }
        return (ObjectRef(digest: digest, size: UInt64(bytes.count), blockSize: UInt32(WireLimits.maxBlockSize), role: "manifest"), files)
    }

    /// BACKUP_REQUEST: a new backup, or a question about one already asked for.
    func requested(_ request: BackupRequest) async {
        let id = request.backupID
        if let manifest = self.ready[id] {
            return await self.outbox.send(.backupStatus(BackupStatus(backupID: id, state: .ready, manifest: manifest)))
        }
        guard !self.making.contains(id) else {
            return await self.outbox.send(.backupStatus(BackupStatus(backupID: id, state: .archiving, detail: "archive in progress")))
        }
        guard !self.configuration.backupPaths.isEmpty else {
            return await self.outbox.send(.backupStatus(BackupStatus(backupID: id, state: .failed, detail: "no --backup-path is configured on this site")))
        }
        self.making.insert(id)
        await self.outbox.send(.backupStatus(BackupStatus(backupID: id, state: .archiving)))
        self.work.submit("backup \(id)") {
            let status: BackupStatus
            do {
                status = BackupStatus(backupID: id, state: .ready, manifest: try await self.make(request))
            } catch {
                self.logger.error("backup failed", metadata: ["backup": "\(id)", "error": "\(error)"])
                try? FileManager.default.removeItem(atPath: self.directory(id))
                status = BackupStatus(backupID: id, state: .failed, detail: "\(error)")
            }
            await self.made(id, status)
        }
    }

    private func made(_ id: UInt64, _ status: BackupStatus) async {
        self.making.remove(id)
        await self.outbox.send(.backupStatus(status))
    }

    /// tar, chunks, manifest (last); returns the manifest's reference.
    private func make(_ request: BackupRequest) async throws -> ObjectRef {
        let id = request.backupID
        let directory = self.directory(id)
        try? FileManager.default.removeItem(atPath: directory)
        try AtomicFile.makeDirectory(directory, mode: 0o700)
        let started = ContinuousClock.now
        let archive = directory + "/archive.tar"
        try await TarArchive.create(archive, paths: self.configuration.backupPaths, excludes: self.configuration.backupExcludes)
        // A local-only backup keeps the archive and only lists its chunks; otherwise the chunks are the archive.
        let chunkDirectory = request.localOnly ? nil : directory + "/chunks"
        let (summary, chunks) = try await NIOThreadPool.singleton.runIfActive {
            try ArchiveChunks.split(archive, into: chunkDirectory)
        }
        if !request.localOnly { unlink(archive) }
        let site = await self.inventory()
        let manifest = BackupManifest(
            backupID: id, site: self.site, createdAt: Date(), agentVersion: AgentVersion.current,
            paths: self.configuration.backupPaths, excludes: self.configuration.backupExcludes, localOnly: request.localOnly,
            ostree: site.ostree, images: site.images, configGeneration: site.configGeneration, firmware: site.firmware,
            archive: summary, chunks: chunks
        )
        try AtomicFile.write(try manifest.encoded(), to: directory + "/manifest.json", mode: 0o600)
        guard let made = try Self.read(id, in: directory) else { throw BackupManifest.Invalid("backup \(id)'s manifest did not read back") }
        self.ready[id] = made.reference
        self.files.merge(made.files) { $1 }
        self.logger.info("backup made", metadata: [
            "backup": "\(id)", "bytes": "\(summary.size)", "chunks": "\(chunks.count)", "local_only": "\(request.localOnly)",
            "seconds": "\((ContinuousClock.now - started).components.seconds)",
        ])
        return made.reference
    }

    /// BACKUP_STORED: the controller holds it; keep only a local-only backup's archive and manifest.
    func stored(_ stored: BackupStored) {
        let id = stored.backupID
        guard let reference = self.ready[id], let digest = reference.digest else { return }
        let manifest = (try? AtomicFile.read(self.directory(id) + "/manifest.json")).flatMap { $0.flatMap { try? BackupManifest.decode($0) } }
        if manifest?.localOnly == true { return }
        self.ready[id] = nil
        self.files[digest] = nil
        for chunk in manifest?.chunks ?? [] { if let digest = ContentDigest(hex: chunk.sha256) { self.files[digest] = nil } }
        try? FileManager.default.removeItem(atPath: self.directory(id))
        self.logger.info("backup handed over; local copy removed", metadata: ["backup": "\(id)"])
    }

    /// A source for an object of a backup held here, or nil.
    func source(for digest: ContentDigest, compress: Bool) -> ObjectSource? {
        guard let path = self.files[digest],
              let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? UInt64 else { return nil }
        return ObjectSource(path: path, digest: digest, size: size, blockSize: WireLimits.maxBlockSize, compress: compress, cache: self.cache)
    }

}
