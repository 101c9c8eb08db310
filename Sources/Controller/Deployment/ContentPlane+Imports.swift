import Foundation
import Wire

/// Bringing content into the controller: each import records a release and an
/// event, and starts what the release needs next (deltas for an OSTree commit).
extension ContentPlane {
    /// Pulls `ref` from an OSTree repository on this host; deltas from what sites
    /// run are prepared in the background.
    public func importSoftware(repo: String, ref: String, at now: Date) async throws -> Release {
        let (commit, subject) = try await self.ostree.importCommit(from: repo, ref: ref)
        let release = Release(kind: .ostree, name: ref, version: commit, objects: [], detail: subject, size: 0, importedAt: now)
        try await self.store.addRelease(release)
        try await self.store.recordEvent(subcloud: nil, kind: "software", detail: "imported \(ref) \(commit)", at: now)
        self.work.submit("deltas to \(ref) \(commit)") { await self.prepareDeltas(ref: ref, to: commit) }
        return release
    }

    /// Imports `oci:DIR:TAG` as `NAME:TAG`, every blob checked against its digest.
    public func importImage(reference: String, name: String?, at now: Date) async throws -> Release {
        let release = try await self.images.importImage(reference: reference, name: name)
        try await self.store.addRelease(release)
        try await self.store.recordEvent(subcloud: nil, kind: "image", detail: "imported \(release.name) \(release.version)", at: now)
        return release
    }

    /// Imports a firmware image file for `component` at `version`.
    public func importFirmware(path: String, component: String, version: String, at now: Date) async throws -> Release {
        let (digest, size) = try await self.objects.importFile(path)
        let release = Release(
            kind: .firmware, name: component, version: version,
            objects: [ObjectRef(digest: digest, size: size, blockSize: UInt32(self.objects.blockSize), role: "image")],
            detail: URL(fileURLWithPath: path).lastPathComponent, size: size, importedAt: now
        )
        try await self.store.addRelease(release)
        try await self.store.recordEvent(subcloud: nil, kind: "firmware", detail: "imported \(component) \(version)", at: now)
        return release
    }

    /// Makes an object from the object store part of a subcloud's desired content and
    /// offers it now if the subcloud is connected (and again on every reconnection).
    /// Returns nil when the object is unknown, else whether the offer went out now.
    public func deliver(_ digest: ContentDigest, kind: String, name: String, to subcloud: String) async throws -> Bool? {
        guard let offer = self.objects.offer(digest, kind: kind, name: name) else { return nil }
        await self.live.want(offer, for: subcloud)
        return try await self.live.send(.message(.transferOffer(offer)), to: subcloud)
    }
}

extension ContentPlane {
    /// Removes deltas and objects nothing needs (see `ObjectCollector`).
    public func collectGarbage(dryRun: Bool, grace: TimeInterval = 3600) async throws -> ObjectCollector.Report {
        var collector = ObjectCollector(store: self.store, live: self.live, objects: self.objects, ostree: self.ostree)
        collector.grace = grace
        return try await collector.collect(dryRun: dryRun)
    }
}
