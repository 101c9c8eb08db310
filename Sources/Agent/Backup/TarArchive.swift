import Platform

/// GNU tar, run without a shell: the archive format of backups. GNU format (no
/// per-run pax headers, so an unchanged tree archives to the same bytes and its
/// chunks deduplicate), names sorted, numeric owners, sparse files kept sparse;
/// symlinks and hard links are archived as links.
enum TarArchive {
    /// Archives the absolute `paths` (stored relative to `/`) into `archive`.
    static func create(_ archive: String, paths: [String], excludes: [String]) async throws {
        var arguments = ["--create", "--file=\(archive)", "--format=gnu", "--sparse", "--numeric-owner", "--sort=name", "--directory=/"]
        arguments += excludes.map { "--exclude=\($0)" }
        arguments += ["--"] + paths.map { String($0.drop { $0 == "/" }) }
        let outcome = try await HostCommand("tar", arguments, environment: ["LC_ALL": "C"]).run()
        // 1: a file changed while it was read; the archive is whole, the file as tar saw it.
        guard outcome.status == 0 || outcome.status == 1 else {
            throw HostCommand.Failure(command: "tar --create", status: outcome.status, errors: String(outcome.errors.suffix(1024)))
        }
    }

    /// Member names, one per entry, as stored (escapes for unusual bytes: `\n`, `\\`, octal).
    static func names(_ archive: String) async throws -> [String] {
        let listing = try await HostCommand("tar", ["--list", "--file=\(archive)", "--quoting-style=escape"], environment: ["LC_ALL": "C"]).check()
        return listing.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// Extracts the members under `member` (a path relative to `/`) into `directory`,
    /// keeping owners (as root), modes and times.
    static func extract(_ archive: String, member: String, into directory: String) async throws {
        _ = try await HostCommand("tar", [
            "--extract", "--file=\(archive)", "--directory=\(directory)", "--numeric-owner", "--same-permissions",
            "--delay-directory-restore", "--", member,
        ], environment: ["LC_ALL": "C"]).check()
    }
}
