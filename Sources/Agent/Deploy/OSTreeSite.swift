import Foundation
import Wire

#if canImport(Glibc)
import Glibc
import Platform
#endif

/// The site's OSTree repository: applies static deltas offline, moves refs, and
/// deploys into a sysroot where one is configured. Applying writes objects only;
/// the ref moves after the delta applied cleanly, so a failure leaves the site as it was.
struct OSTreeSite: Sendable {
    let repository: String
    /// With a sysroot, the repository is `<sysroot>/ostree/repo` and each commit is deployed.
    let sysroot: String?
    let osName: String
    let staging: String

    init(configuration: AgentConfiguration) {
        self.sysroot = configuration.ostreeSysroot
        self.repository = configuration.ostreeSysroot.map { $0 + "/ostree/repo" } ?? configuration.ostreeRepository ?? configuration.stateDirectory + "/ostree-repo"
        self.osName = configuration.ostreeOS
        self.staging = configuration.stateDirectory + "/deltas"
    }

    var available: Bool { HostCommand.exists("ostree") }

    /// Creates a bare-user repository when there is none (a sysroot brings its own).
    func prepare() async throws {
        guard !FileManager.default.fileExists(atPath: self.repository + "/config") else { return }
        guard self.sysroot == nil else { throw DeployFailure("\(self.repository) is not an OSTree repository: initialise the sysroot first") }
        try AtomicFile.makeDirectory(self.repository, mode: 0o755)
        try await HostCommand("ostree", ["init", "--repo=\(self.repository)", "--mode=bare-user"]).check()
    }

    /// Every ref and its commit.
    func refs() async -> [(ref: String, commit: String)] {
        guard self.available, FileManager.default.fileExists(atPath: self.repository + "/config"),
              let listing = try? await HostCommand("ostree", ["refs", "--repo=\(self.repository)"]).check() else { return [] }
        var result: [(String, String)] = []
        for ref in listing.split(separator: "\n").map(String.init) where !ref.isEmpty && !ref.hasPrefix("ostree/") {
            if let commit = await self.commit(of: ref) { result.append((ref, commit)) }
        }
        return result
    }

    func commit(of ref: String) async -> String? {
        guard FileManager.default.fileExists(atPath: self.repository + "/config") else { return nil }
        return (try? await HostCommand("ostree", ["rev-parse", "--repo=\(self.repository)", ref]).check())?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether the repository holds `commit` whole (a prestaged site), so no delta is needed.
    func has(commit: String) async -> Bool {
        guard self.available, FileManager.default.fileExists(atPath: self.repository + "/config"),
              commit.count == 64, commit.allSatisfy(\.isHexDigit) else { return false }
        // A pull that was cut leaves the commit object behind with a partial marker.
        if FileManager.default.fileExists(atPath: "\(self.repository)/state/\(commit).commitpartial") { return false }
        return (try? await HostCommand("ostree", ["show", "--repo=\(self.repository)", commit]).check()) != nil
    }

    /// Moves `ref` to a commit the repository already holds; deploys it when a sysroot is configured.
    func point(ref: String, at commit: String) async throws {
        try await HostCommand("ostree", ["refs", "--repo=\(self.repository)", "--create=\(ref)", commit, "--force"]).check()
        if let sysroot = self.sysroot {
            try await HostCommand("ostree", ["admin", "--sysroot=\(sysroot)", "deploy", "--os=\(self.osName)", ref]).check()
        }
    }

    /// Applies the delta (superblock and parts, already verified by digest) and moves
    /// `ref` to `commit`; deploys it when a sysroot is configured.
    func apply(ref: String, commit: String, superblock: String, parts: [String], id: UInt64) async throws {
        try await self.prepare()
        let directory = "\(self.staging)/\(id)"
        try? FileManager.default.removeItem(atPath: directory)
        try AtomicFile.makeDirectory(directory, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // ostree expects the parts beside the superblock, named 0, 1, ...
        try Self.place(superblock, at: directory + "/superblock")
        for (index, part) in parts.enumerated() { try Self.place(part, at: "\(directory)/\(index)") }
        try await HostCommand("ostree", ["static-delta", "apply-offline", "--repo=\(self.repository)", directory + "/superblock"]).check()
        // The commit must now be whole before any ref points at it.
        try await HostCommand("ostree", ["show", "--repo=\(self.repository)", commit]).check()
        try await self.point(ref: ref, at: commit)
    }

    /// A hard link where possible (same filesystem), else a copy.
    static func place(_ source: String, at target: String) throws {
        if link(source, target) != 0 { try FileManager.default.copyItem(atPath: source, toPath: target) }
    }
}

/// Why a deployment did not apply; the site is unchanged.
struct DeployFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
