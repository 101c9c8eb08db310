import Foundation
import NIOPosix
import Wire

/// Frees the data directory of what nothing needs any more: OSTree deltas to commits
/// that are neither the newest of their ref nor the target of an unfinished
/// deployment, then every object no release, kept delta, latest config generation
/// or pending offer refers to. Objects younger than `grace` are kept, so an import
/// in progress is never collected.
public struct ObjectCollector: Sendable {
    let store: any ContentStore & SubcloudStore & AlarmStore
    let live: LiveFleet
    let objects: ObjectStore
    let ostree: OSTreeRepository
    public var grace: TimeInterval = 3600

    init(store: any ContentStore & SubcloudStore & AlarmStore, live: LiveFleet, objects: ObjectStore, ostree: OSTreeRepository) {
        self.store = store
        self.live = live
        self.objects = objects
        self.ostree = ostree
    }

    public struct Report: Codable, Sendable {
        public var deltasRemoved: [String] = []
        public var objectsRemoved = 0
        public var bytesFreed: UInt64 = 0
        public var objectsKept = 0
        public var dryRun: Bool
    }

    public func collect(dryRun: Bool, now: Date = Date()) async throws -> Report {
        let store = self.store
        var referenced = Set<String>()
        for kind in ContentKind.allCases {
            for release in try await store.releases(kind: kind) { referenced.formUnion(release.objects.compactMap(\.digest?.hex)) }
        }
        // OSTree commits still wanted: the newest of each ref, and unfinished targets.
        var newest: [String: String] = [:]
        for release in try await store.releases(kind: .ostree) { newest[release.name] = release.version }  // sorted by import time
        var wantedCommits = Set(newest.values)
        for subcloud in try await store.subclouds() {
            for deployment in try await store.deployments(subcloud: subcloud.name) where deployment.kind == .ostree && deployment.isOpen {
                wantedCommits.insert(deployment.version)
            }
            if let config = try await store.latestConfig(for: subcloud.name) { referenced.insert(config.bundle) }
        }
        referenced.formUnion(await self.live.allWanted.map(\.hex))
        // The walk, the manifest reads and the unlinks touch every file of the data
        // directory: on the thread pool, not on a cooperative thread.
        let report = try await NIOThreadPool.singleton.runIfActive { [referenced, wantedCommits] in
            try self.sweep(referenced: referenced, wantedCommits: wantedCommits, dryRun: dryRun, now: now)
        }
        if !dryRun, report.objectsRemoved + report.deltasRemoved.count > 0 {
            try await store.recordEvent(subcloud: nil, kind: "gc", detail: "removed \(report.deltasRemoved.count) deltas and \(report.objectsRemoved) objects (\(report.bytesFreed) bytes)", at: now)
        }
        return report
    }

    /// Removes what nothing refers to; blocking file work.
    private func sweep(referenced: Set<String>, wantedCommits: Set<String>, dryRun: Bool, now: Date) throws -> Report {
        var report = Report(dryRun: dryRun)
        var referenced = referenced
        let deltas = self.ostree.deltasPath
        for name in (try? FileManager.default.contentsOfDirectory(atPath: deltas)) ?? [] where !name.hasPrefix(".") {
            let target = String(name.split(separator: "-").last ?? "")
            let manifest = "\(deltas)/\(name)/objects.json"
            if wantedCommits.contains(target) {
                if let data = FileManager.default.contents(atPath: manifest), let objects = try? JSONDecoder().decode([ObjectRef].self, from: data) {
                    referenced.formUnion(objects.compactMap(\.digest?.hex))
                }
                continue
            }
            report.deltasRemoved.append(name)
            if !dryRun { try FileManager.default.removeItem(atPath: "\(deltas)/\(name)") }
        }

        let root = self.objects.root
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where ContentDigest(hex: name) != nil {
            let attributes = try? FileManager.default.attributesOfItem(atPath: root + "/" + name)
            let modified = attributes?[.modificationDate] as? Date ?? now
            if referenced.contains(name) || now.timeIntervalSince(modified) < self.grace {
                report.objectsKept += 1
                continue
            }
            report.objectsRemoved += 1
            report.bytesFreed += attributes?[.size] as? UInt64 ?? 0
            if !dryRun { unlink(root + "/" + name) }
        }
        return report
    }
}
