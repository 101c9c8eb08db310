import Foundation
import Wire

#if canImport(Glibc)
import Glibc
import Platform
#endif

/// Applies config generations to the site: every file of a generation lands, or none.
///
/// Each file is written beside its target under a temporary name and fsynced; then a
/// journal naming all of them is written (the commit point), the files are renamed
/// into place, and the record of what was applied replaces the journal. A process
/// killed before the journal leaves the old files; after it, the next start finishes
/// the renames. Files are addressed under `root` (`/` on a real site).
struct ConfigSite: Sendable {
    let root: String
    let directory: String
    /// Allow-listed reload actions: name → program and arguments (no shell).
    let actions: [String: [String]]

    init(configuration: AgentConfiguration) {
        self.root = configuration.configRoot
        self.directory = configuration.stateDirectory + "/config"
        self.actions = configuration.reloadActions
    }

    /// What was applied last, with each file's digest (for drift checks).
    struct Applied: Codable, Equatable {
        var generation: UInt64
        var bundle: String
        var files: [File]

        struct File: Codable, Equatable {
            var path: String
            var sha256: String
        }
    }

    /// The commit point: temporary names to rename into place.
    private struct Journal: Codable {
        var applied: Applied
        var renames: [Rename]

        struct Rename: Codable {
            var from: String
            var to: String
        }
    }

    /// The staged files of a generation being written, recorded before the first of
    /// them is made: a process killed while staging leaves no `.tern-N-*` file behind
    /// once the next start has read this.
    private struct Staging: Codable {
        var paths: [String]
    }

    private var appliedPath: String { self.directory + "/applied.json" }
    private var journalPath: String { self.directory + "/journal.json" }
    private var stagingPath: String { self.directory + "/staging.json" }

    func applied() -> Applied? {
        FileManager.default.contents(atPath: self.appliedPath).flatMap { try? JSONDecoder().decode(Applied.self, from: $0) }
    }

    /// Finishes a generation a killed process had committed to, and removes the staged
    /// files of one it had not. Call at start.
    func recover() throws {
        if let data = FileManager.default.contents(atPath: self.journalPath) {
            let journal = try JSONDecoder().decode(Journal.self, from: data)
            for rename in journal.renames where FileManager.default.fileExists(atPath: rename.from) {
                guard Glibc.rename(rename.from, rename.to) == 0 else { throw AtomicFile.Failure(path: rename.to, operation: "rename", errno: errno) }
            }
            try self.finish(journal.applied)
        }
        // Whatever staging.json still lists was never committed (or was renamed already).
        if let data = FileManager.default.contents(atPath: self.stagingPath) {
            for path in (try? JSONDecoder().decode(Staging.self, from: data))?.paths ?? [] { unlink(path) }
            unlink(self.stagingPath)
        }
    }

    /// Writes every file of `bundle` beside its target under its staged name; returns
    /// the renames that would put them in place. Nothing is in place yet.
    func stage(_ bundle: ConfigBundle) throws -> [(from: String, to: String)] {
        let renames = bundle.files.map { file -> (from: String, to: String) in
            let target = self.root == "/" ? file.path : self.root + file.path
            let parent = (target as NSString).deletingLastPathComponent
            return (parent + "/.tern-\(bundle.generation)-" + (target as NSString).lastPathComponent, target)
        }
        try AtomicFile.write(Array(try JSONEncoder().encode(Staging(paths: renames.map(\.from)))), to: self.stagingPath, mode: 0o600)
        do {
            for (file, rename) in zip(bundle.files, renames) {
                try FileManager.default.createDirectory(atPath: (rename.to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Self.writeSynced(Array(file.content), to: rename.from, mode: mode_t(file.mode))
            }
        } catch {
            for rename in renames { unlink(rename.from) }
            unlink(self.stagingPath)
            throw error
        }
        return renames
    }

    /// Applies a bundle. Throws before anything changed when a path or the reload action is refused.
    func apply(_ bundle: ConfigBundle, digest: ContentDigest) throws {
        for file in bundle.files {
            if let problem = ConfigBundle.problem(with: file.path) { throw DeployFailure(problem) }
        }
        if let reload = bundle.reload, self.actions[reload] == nil {
            throw DeployFailure("reload action \"\(reload)\" is not on this agent's allow-list (--reload-action)")
        }
        try AtomicFile.makeDirectory(self.directory, mode: 0o700)
        // Leftovers of an attempt killed while staging go first.
        try self.recover()
        let renames = try self.stage(bundle).map { Journal.Rename(from: $0.from, to: $0.to) }
        let applied = Applied(
            generation: bundle.generation, bundle: digest.hex,
            files: bundle.files.map { .init(path: $0.path, sha256: ContentDigest(of: Array($0.content)).hex) }
        )
        try AtomicFile.write(Array(try JSONEncoder().encode(Journal(applied: applied, renames: renames))), to: self.journalPath, mode: 0o600)
        try self.recover()
    }

    /// Runs the bundle's reload action; returns its failure, if any.
    func reload(_ bundle: ConfigBundle) async -> String? {
        guard let name = bundle.reload, let command = self.actions[name], let program = command.first else { return nil }
        do {
            let outcome = try await HostCommand(program, Array(command.dropFirst())).run()
            return outcome.succeeded ? nil : "reload action \(name) exited with status \(outcome.status): \(outcome.errors.suffix(512))"
        } catch {
            return "reload action \(name) could not run: \(error)"
        }
    }

    /// Paths whose content no longer matches what was applied.
    func drift() -> [String] {
        guard let applied = self.applied() else { return [] }
        return applied.files.compactMap { file in
            let target = self.root == "/" ? file.path : self.root + file.path
            guard let data = FileManager.default.contents(atPath: target) else { return file.path }
            return ContentDigest(of: Array(data)).hex == file.sha256 ? nil : file.path
        }
    }

    private func finish(_ applied: Applied) throws {
        try AtomicFile.write(Array(try JSONEncoder().encode(applied)), to: self.appliedPath, mode: 0o600)
        unlink(self.journalPath)
    }

    private static func writeSynced(_ bytes: [UInt8], to path: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw AtomicFile.Failure(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            guard n > 0 else { throw AtomicFile.Failure(path: path, operation: "write", errno: errno) }
            written += n
        }
        fchmod(fd, mode)
        guard fsync(fd) == 0 else { throw AtomicFile.Failure(path: path, operation: "fsync", errno: errno) }
    }
}
