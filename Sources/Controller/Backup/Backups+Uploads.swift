import Foundation
import Platform
import Wire

#if canImport(Glibc)
import Glibc
#endif

/// The receiving side of uploads: one `Transfers` per site, asked on that site's
/// connection; events come from the connection's `TransferSink` via `AgentSession`.
extension Backups {
    private func receiver(for site: String) throws -> Transfers {
        if let receiver = self.receivers[site] { return receiver }
        let receiver = try Transfers(stateDirectory: self.uploads + "/" + site, writers: self.writers, logger: self.logger)
        self.receivers[site] = receiver
        return receiver
    }

    /// Asks the backup's site for what the backup still lacks and nobody is uploading,
    /// while fewer than `uploadLimit` uploads run fleet-wide (each holds up to a stream
    /// window of data in this process until it is on disk: this bounds the memory).
    func requestMissing(of id: Int64) async {
        guard let site = self.sites[id], let wanted = self.missing[id], await self.live.connection(site) != nil else { return }
        for (digest, reference) in wanted where self.inFlight[digest] == nil {
            guard self.inFlight.count < self.uploadLimit else { return }
            if self.objects.offer(digest, kind: "", name: "") != nil {
                await self.arrived(digest)
                continue
            }
            // Claimed before the first await: a concurrent call must not ask another site for it.
            self.inFlight[digest] = site
            do {
                let receiver = try self.receiver(for: site)
                if let path = await receiver.verifiedPath(digest) {
                    // Verified before a restart, not yet published.
                    try await self.publish(digest, from: path, site: site)
                    continue
                }
                if let request = try await receiver.fetch(reference, kind: "backup", name: "backup \(id) \(reference.role)") {
                    self.send(.openStream(.transferRequest(request)), to: site)
                }
            } catch {
                self.inFlight[digest] = nil
                self.logger.error("cannot ask for a backup object", metadata: ["backup": "\(id)", "object": "\(digest)", "error": "\(error)"])
            }
        }
    }

    /// Our TRANSFER_REQUEST went out on `stream` of `site`'s connection.
    public func opened(_ stream: StreamID, _ request: TransferRequest, site: String) async {
        await self.receivers[site]?.opened(stream, request)
    }

    /// The sink finished a stream of `site`: publish a verified object into the store.
    public func ended(_ stream: StreamID, _ digest: ContentDigest, _ result: Result<String?, any Error>, site: String) async {
        guard let receiver = self.receivers[site] else { return }
        do {
            guard let path = try await receiver.ended(stream, digest, result) else { return }  // blocks missing: asked again
            try await self.publish(digest, from: path, site: site)
        } catch {
            self.inFlight[digest] = nil
            self.logger.warning("upload rejected; asked again", metadata: ["subcloud": "\(site)", "object": "\(digest)", "error": "\(error)"])
        }
    }

    /// Moves a verified upload into the object store (a rename: same file system) and
    /// counts it for the backup of `site` that asked for it.
    private func publish(_ digest: ContentDigest, from path: String, site: String) async throws {
        let target = self.objects.root + "/" + digest.hex
        let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? UInt64 ?? 0
        guard rename(path, target) == 0 else { throw AtomicFile.Failure(path: target, operation: "rename", errno: errno) }
        await self.receivers[site]?.discard(digest)
        self.inFlight[digest] = nil
        if let owner = self.missing.first(where: { $0.value[digest] != nil && self.sites[$0.key] == site })?.key {
            // Counted here, before any await: concurrent publishes of one backup must not lose counts.
            var counts = self.uploaded[owner] ?? (0, 0)
            counts.chunks += self.missing[owner]?[digest]?.role == "chunk" ? 1 : 0
            counts.bytes += size
            self.uploaded[owner] = counts
            let total = counts
            _ = try await self.store.updateBackup(id: owner, at: Date()) { backup in
                guard backup.state.isOpen else { return .skip }
                (backup.chunksUploaded, backup.bytesUploaded) = total
                return .save(event: nil)
            }
        }
        await self.arrived(digest)
        await self.requestWaiting()
    }

    /// Fills free upload slots from the backups waiting for objects, oldest first.
    func requestWaiting() async {
        for id in self.missing.keys.sorted() where self.inFlight.count < self.uploadLimit {
            await self.requestMissing(of: id)
        }
    }

    /// The sink stopped a stream of `site` (the agent broke a rule, or this disk failed).
    public func failed(_ stream: StreamID, _ digest: ContentDigest, _ error: any Error, site: String) async {
        _ = await self.receivers[site]?.failed(stream, digest, error)
        self.inFlight[digest] = nil
        self.logger.warning("upload stream failed; asked again", metadata: ["subcloud": "\(site)", "object": "\(digest)", "error": "\(error)"])
    }

    /// A stream of `site` ended early; NOT_FOUND means the site no longer holds the object.
    public func abandoned(_ stream: StreamID, abort: TransferAbort?, site: String) async {
        await self.receivers[site]?.abandoned(stream)
        guard let abort, let digest = abort.digest else { return }
        if self.inFlight[digest] == site { self.inFlight[digest] = nil }
        guard abort.code == .notFound else { return }
        for (id, wanted) in self.missing where wanted[digest] != nil && self.sites[id] == site {
            try? await self.fail(id, "the site no longer holds object \(digest): \(abort.reason)")
        }
    }

    /// `site`'s connection is gone: its streams with it; what it was uploading can come from elsewhere.
    public func disconnected(_ site: String) async {
        await self.receivers[site]?.abandonAll()
        for (digest, owner) in self.inFlight where owner == site { self.inFlight[digest] = nil }
        self.wakeup.notify()
    }

    /// An object is in the store now: every backup waiting for it moves on.
    func arrived(_ digest: ContentDigest) async {
        for (id, wanted) in self.missing where wanted[digest] != nil {
            let reference = wanted[digest]!
            self.missing[id]?[digest] = nil
            do {
                guard let backup = try await self.store.backup(id: id), backup.state == .uploading else { continue }
                if reference.role == "manifest" {
                    guard let bytes = try AtomicFile.read(self.objects.root + "/" + digest.hex) else { continue }
                    let manifest: BackupManifest
                    do { manifest = try BackupManifest.decode(bytes) } catch {
                        try await self.fail(id, "its manifest is not valid: \(error)")
                        continue
                    }
                    guard manifest.site == backup.subcloud, manifest.backupID == UInt64(id) else {
                        try await self.fail(id, "the manifest is of \(manifest.site)'s backup \(manifest.backupID)")
                        continue
                    }
                    guard manifest.localOnly == backup.localOnly else {
                        try await self.fail(id, "the manifest says local-only \(manifest.localOnly); the backup asked for \(backup.localOnly)")
                        continue
                    }
                    try await self.store.setBackupChunks(id, [digest.hex] + (manifest.localOnly ? [] : manifest.chunks.map(\.sha256)))
                    _ = try await self.store.updateBackup(id: id, at: Date()) { backup in
                        guard backup.state == .uploading else { return .skip }
                        backup.archiveBytes = manifest.archive.size
                        backup.chunks = manifest.chunks.count
                        backup.detail = manifest.localOnly ? "manifest received" : "receiving \(manifest.chunks.count) chunks (those not held already)"
                        return .save(event: nil)
                    }
                    if !manifest.localOnly {
                        for chunk in manifest.chunks {
                            guard let reference = chunk.reference, let chunkDigest = reference.digest,
                                  self.objects.offer(chunkDigest, kind: "", name: "") == nil else { continue }
                            self.missing[id]?[chunkDigest] = reference
                        }
                    }
                }
                if self.missing[id]?.isEmpty ?? true {
                    try await self.complete(id)
                } else {
                    await self.requestMissing(of: id)
                }
            } catch {
                self.logger.error("could not record a backup object", metadata: ["backup": "\(id)", "error": "\(error)"])
            }
        }
    }
}
