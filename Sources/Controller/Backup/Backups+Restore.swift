import Foundation
import Platform
import Wire

/// Restores: a deployment of kind `backup` (its version is the manifest object) to
/// the backup's own site or, with `--to`, to the machine that replaced it. Once the
/// site has put the files back, the content the manifest names is deployed again.
extension Backups {
    public func restore(_ id: Int64, to target: String?, at now: Date = Date()) async throws -> Deployment {
        guard let backup = try await self.store.backup(id: id) else { throw FleetStoreError.notFound("no backup \(id)") }
        guard backup.state == .complete, let manifest = backup.manifest else {
            throw FleetStoreError.refused("backup \(id) is \(backup.state.rawValue); only a complete backup can be restored")
        }
        let site = target ?? backup.subcloud
        guard let subcloud = try await self.store.subcloud(named: site) else { throw FleetStoreError.notFound("no subcloud named \"\(site)\"") }
        guard subcloud.enrolledAt != nil else { throw FleetStoreError.refused("\(site) has not enrolled yet; restore once its agent is connected") }
        if backup.localOnly && site != backup.subcloud {
            throw FleetStoreError.refused("backup \(id) is local-only: its archive is on \(backup.subcloud), so it can only be restored there")
        }
        let deployment = try await self.content.restore(manifest: manifest, backupID: id, on: site, at: now)
        try await self.store.recordEvent(subcloud: site, kind: "restore", detail: "restore of backup \(id) (\(backup.subcloud)) started as deployment \(deployment.id)", at: now)
        return deployment
    }

    /// The content plane says a restore ended.
    func restoreEnded(_ deployment: Deployment, activated: Bool) async {
        let now = Date()
        guard let id = Int64(deployment.name.dropFirst("backup/".count)) else { return }
        do {
            guard activated else {
                try await self.store.recordEvent(subcloud: deployment.subcloud, kind: "restore", detail: "restore of backup \(id) failed: \(deployment.detail)", at: now)
                try await self.store.raise(BackupAlarms.restoreFailed(subcloud: deployment.subcloud, backup: id, reason: deployment.detail, at: now))
                return
            }
            try await self.store.clear(subcloud: deployment.subcloud, alarmID: BackupAlarms.restoreFailedID, entity: BackupAlarms.entity(deployment.subcloud), at: now)
            guard let bytes = try AtomicFile.read(self.objects.root + "/" + deployment.version) else { return }
            let manifest = try BackupManifest.decode(bytes)
            var again: [String] = []
            if let ostree = manifest.ostree, (try? await self.content.deploy(kind: .ostree, name: ostree.ref, version: ostree.commit, on: [deployment.subcloud], activate: true, at: now)) != nil {
                again.append("\(ostree.ref) \(ostree.commit.prefix(12))")
            }
            for image in manifest.images {
                if (try? await self.content.deploy(kind: .image, name: image.name, version: image.digest, on: [deployment.subcloud], activate: true, at: now)) != nil {
                    again.append(image.name)
                }
            }
            if try await self.content.reapplyConfig(from: manifest.site, to: deployment.subcloud, at: now) { again.append("config") }
            try await self.store.recordEvent(
                subcloud: deployment.subcloud, kind: "restore",
                detail: "restore of backup \(id) complete: \(manifest.paths.joined(separator: ", ")) put back\(again.isEmpty ? "" : "; deployed again: " + again.joined(separator: ", "))", at: now
            )
        } catch {
            self.logger.error("could not finish a restore", metadata: ["deployment": "\(deployment.id)", "error": "\(error)"])
        }
    }
}
