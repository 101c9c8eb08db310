import Foundation
import Logging
import NIOPosix
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// Puts a backup's paths back, with the same rules as config: each path is first
/// extracted whole into a staging directory beside it and checked there (members
/// only under the backup's paths, no `..`, no symlink pointing out of its tree, no
/// device files unless allowed); then a journal is written and each path swapped
/// for its staged copy by rename. A process killed before the journal leaves the
/// old paths (the staging goes at the next start); one killed after it is finished
/// at the next start. Old files or new ones, never a mix.
struct Restorer {
    let stateDirectory: String
    let allowDevices: Bool
    let logger: Logger

    private var directory: String { self.stateDirectory + "/restore" }
    private var journalPath: String { self.directory + "/journal.json" }
    private var stagingPath: String { self.directory + "/staging.json" }

    struct Step: Codable {
        /// The path restored, its staged copy, and where the old one is moved aside.
        var target: String
        var new: String
        var old: String
        /// The staging directory beside the target.
        var staging: String
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    /// Finishes a restore a killed process had committed to; removes the staging of one it had not. Call at start.
    func recover() throws {
        if let data = FileManager.default.contents(atPath: self.journalPath) {
            try self.swap(try JSONDecoder().decode([Step].self, from: data))
        }
        self.dropStaging()
    }

    /// Restores every path of `manifest` from `archive` (already checked against the manifest's digest).
    func restore(_ manifest: BackupManifest, archive: String) async throws {
        try AtomicFile.makeDirectory(self.directory, mode: 0o700)
        let roots = manifest.paths.map { String($0.drop { $0 == "/" }) }
        for name in try await TarArchive.names(archive) {
            let trimmed = name.hasSuffix("/") ? String(name.dropLast()) : name
            if trimmed.hasPrefix("/") || trimmed.split(separator: "/").contains("..") {
                throw Refused(description: "the archive's member \(name) climbs out of its root; nothing restored")
            }
            guard roots.contains(where: { trimmed == $0 || trimmed.hasPrefix($0 + "/") }) else {
                throw Refused(description: "the archive's member \(name) is outside the backup's paths \(manifest.paths); nothing restored")
            }
        }
        let steps = manifest.paths.map { target -> Step in
            let parent = (target as NSString).deletingLastPathComponent
            let base = (target as NSString).lastPathComponent
            let staging = parent + "/.tern-restore-\(manifest.backupID)-" + base
            return Step(target: target, new: staging + target, old: parent + "/.tern-old-\(manifest.backupID)-" + base, staging: staging)
        }
        try AtomicFile.write(Array(try JSONEncoder().encode(steps.map(\.staging))), to: self.stagingPath, mode: 0o600)
        do {
            for (step, root) in zip(steps, roots) {
                try? FileManager.default.removeItem(atPath: step.staging)
                try FileManager.default.createDirectory(atPath: step.staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                try await TarArchive.extract(archive, member: root, into: step.staging)
                // A walk of what may be a large tree: on the thread pool, not a cooperative thread.
                let restorer = self
                try await NIOThreadPool.singleton.runIfActive { try restorer.check(step.new, within: step.target, staged: step.staging) }
            }
        } catch {
            self.dropStaging()
            throw error
        }
        // Committed: from here a restart finishes the swap.
        try AtomicFile.write(Array(try JSONEncoder().encode(steps)), to: self.journalPath, mode: 0o600)
        try self.swap(steps)
        self.dropStaging()
    }

    /// Walks a staged tree: every symlink must resolve inside `target` (where the tree
    /// will live), and device files are refused unless allowed.
    private func check(_ tree: String, within target: String, staged: String) throws {
        guard let walker = FileManager.default.enumerator(atPath: tree) else { return }
        var entries = [""]
        while let relative = walker.nextObject() as? String { entries.append(relative) }
        for relative in entries {
            let path = relative.isEmpty ? tree : tree + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let kind = info.st_mode & S_IFMT
            let final = relative.isEmpty ? target : target + "/" + relative
            if kind == S_IFLNK {
                let destination = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? ""
                let resolved = Self.normalize(destination.hasPrefix("/") ? destination : (final as NSString).deletingLastPathComponent + "/" + destination)
                guard resolved == target || resolved.hasPrefix(target + "/") else {
                    throw Refused(description: "\(final) would be a symlink to \(destination), outside \(target); nothing restored")
                }
            } else if (kind == S_IFCHR || kind == S_IFBLK) && !self.allowDevices {
                throw Refused(description: "\(final) would be a device file (restores refuse them unless the agent runs with --restore-devices); nothing restored")
            }
        }
    }

    /// `path` with `.` and `..` taken out lexically (`..` above `/` stays at `/`).
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Each target out of the way, its staged copy in: idempotent, so a restart can run it again.
    private func swap(_ steps: [Step]) throws {
        for step in steps where FileManager.default.fileExists(atPath: step.new) || Self.isLink(step.new) {
            if FileManager.default.fileExists(atPath: step.target) || Self.isLink(step.target) {
                try? FileManager.default.removeItem(atPath: step.old)
                guard rename(step.target, step.old) == 0 else { throw AtomicFile.Failure(path: step.target, operation: "rename", errno: errno) }
            }
            guard rename(step.new, step.target) == 0 else { throw AtomicFile.Failure(path: step.target, operation: "rename", errno: errno) }
        }
        for step in steps {
            try? FileManager.default.removeItem(atPath: step.old)
            try? FileManager.default.removeItem(atPath: step.staging)
        }
        unlink(self.journalPath)
    }

    private func dropStaging() {
        if let data = FileManager.default.contents(atPath: self.stagingPath), let paths = try? JSONDecoder().decode([String].self, from: data) {
            for path in paths { try? FileManager.default.removeItem(atPath: path) }
        }
        unlink(self.stagingPath)
    }

    private static func isLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK
    }
}
