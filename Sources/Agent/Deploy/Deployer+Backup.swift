import Foundation
import NIOPosix
import Platform
import Wire

extension Deployer {
    /// What a backup's manifest records about the site besides its files.
    struct Inventory: Sendable {
        var ostree: BackupManifest.OSTree?
        var images: [BackupManifest.Image]
        var configGeneration: UInt64?
        var firmware: [BackupManifest.Firmware]
    }

    func inventory() async -> Inventory {
        let ostree = await self.ostree.refs().first.map { BackupManifest.OSTree(ref: $0.ref, commit: $0.commit) }
        let firmware = await self.firmwareInventory()?.components.map { BackupManifest.Firmware(kind: $0.kind, name: $0.name, version: $0.version) } ?? []
        return Inventory(
            ostree: ostree, images: self.images.tags().map { BackupManifest.Image(name: $0.tag, digest: $0.digest) },
            configGeneration: self.config.applied()?.generation, firmware: firmware
        )
    }

    var restorer: Restorer {
        Restorer(stateDirectory: self.configuration.stateDirectory, allowDevices: self.configuration.restoreDevices, logger: self.logger)
    }

    /// A restore (DEPLOY of kind `backup`): read the manifest, fetch the chunks this
    /// site lacks (or take a local-only backup's archive from here), join and check
    /// the archive, and put its paths back. Returns the version to report.
    func restore(manifest path: String, deploy: Deploy) async throws -> String {
        guard let bytes = try AtomicFile.read(path) else { throw DeployFailure("the manifest \(path) is gone") }
        let manifest = try BackupManifest.decode(bytes)
        let archive = self.configuration.stateDirectory + "/restore-\(deploy.deploymentID).tar"
        defer { unlink(archive) }
        if manifest.localOnly {
            let local = SiteBackups.archivePath(stateDirectory: self.configuration.stateDirectory, id: manifest.backupID)
            guard FileManager.default.fileExists(atPath: local) else {
                throw DeployFailure("backup \(manifest.backupID) was local-only and its archive is not on this site")
            }
            try await NIOThreadPool.singleton.runIfActive {
                let digest = try ArchiveChunks.digest(of: local)
                guard digest == manifest.archive.sha256 else { throw BackupManifest.Invalid("the local archive's SHA-256 is \(digest), the manifest says \(manifest.archive.sha256)") }
            }
            try await self.restorer.restore(manifest, archive: local)
            return deploy.version
        }
        var seen = Set<ContentDigest>()
        var chunkPaths: [String: String] = [:]
        for chunk in manifest.chunks {
            guard let reference = chunk.reference, let digest = reference.digest, seen.insert(digest).inserted else { continue }
            if let request = try await self.transfers.fetch(reference, kind: "backup", name: "backup \(manifest.backupID) chunk") {
                await self.outbox.request(request)
            }
            chunkPaths[chunk.sha256] = try await self.transfers.arrival(of: digest)
        }
        let held = chunkPaths
        try await NIOThreadPool.singleton.runIfActive {
            try ArchiveChunks.join(manifest, chunkPath: { held[$0] ?? "" }, into: archive)
        }
        for digest in seen { await self.transfers.discard(digest) }
        try await self.restorer.restore(manifest, archive: archive)
        self.logger.info("backup restored", metadata: ["backup": "\(manifest.backupID)", "from": "\(manifest.site)", "paths": "\(manifest.paths)"])
        return deploy.version
    }
}
