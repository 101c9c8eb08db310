import Foundation
import Platform
import Wire

/// The controller's OSTree repository (`ostree/` in the data directory, archive mode)
/// and its static deltas. A delta is generated once per (from, to) pair with
/// `--min-fallback-size=0` (so it applies offline), its superblock and parts are put
/// in the object store, and the result is kept under `deltas/<from>-<to>/`.
public actor OSTreeRepository {
    public let path: String
    public let deltasPath: String
    let objects: ObjectStore
    /// Deltas being generated, with whoever else waits for each: many sites asking
    /// for one pair wait for the one run their first asker does.
    private var generating: [String: [CheckedContinuation<[ObjectRef], any Error>]] = [:]

    public init(dataDirectory: String, objects: ObjectStore) {
        self.path = dataDirectory + "/ostree"
        self.deltasPath = dataDirectory + "/deltas"
        self.objects = objects
    }

    /// Creates the repository on first use.
    func prepare() async throws {
        guard !FileManager.default.fileExists(atPath: self.path + "/config") else { return }
        try AtomicFile.makeDirectory(self.path, mode: 0o755)
        try await HostCommand("ostree", ["init", "--repo=\(self.path)", "--mode=archive"]).check()
    }

    /// Imports `ref` from another repository on this host (`ostree pull-local`) and
    /// returns its commit checksum and subject.
    public func importCommit(from repository: String, ref: String) async throws -> (commit: String, subject: String) {
        try await self.prepare()
        try await HostCommand("ostree", ["pull-local", "--repo=\(self.path)", repository, ref]).check()
        let commit = try await HostCommand("ostree", ["rev-parse", "--repo=\(self.path)", ref]).check().trimmingCharacters(in: .whitespacesAndNewlines)
        // `ostree show` prints headers, a blank line, then the subject indented by four spaces.
        let subject = try await HostCommand("ostree", ["show", "--repo=\(self.path)", commit]).check()
            .split(separator: "\n").first { $0.hasPrefix("    ") }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return (commit, subject)
    }

    /// Whether the repository holds `commit` (a site may run a commit we never had).
    func has(_ commit: String) async -> Bool {
        guard Self.isChecksum(commit) else { return false }
        return (try? await HostCommand("ostree", ["show", "--repo=\(self.path)", commit]).run())?.succeeded ?? false
    }

    /// The delta's objects (superblock, then parts in order), generating it on first use.
    /// `from` nil or unknown here: a delta from scratch.
    public func delta(from: String?, to: String) async throws -> (from: String?, objects: [ObjectRef]) {
        var base = from
        if let commit = from, await !self.has(commit) { base = nil }
        let key = "\(base ?? "empty")-\(to)"
        if self.generating[key] != nil {
            return (base, try await withCheckedThrowingContinuation { self.generating[key, default: []].append($0) })
        }
        self.generating[key] = []
        let result: Result<[ObjectRef], any Error>
        do { result = .success(try await self.generate(from: base, to: to, key: key)) } catch { result = .failure(error) }
        for waiter in self.generating.removeValue(forKey: key) ?? [] { waiter.resume(with: result) }
        return (base, try result.get())
    }

    private func generate(from: String?, to: String, key: String) async throws -> [ObjectRef] {
        let directory = self.deltasPath + "/" + key
        let manifest = directory + "/objects.json"
        if let data = FileManager.default.contents(atPath: manifest), let objects = try? JSONDecoder().decode([ObjectRef].self, from: data),
           objects.allSatisfy({ $0.digest.map { self.objects.offer($0, kind: "", name: "") != nil } ?? false }) {
            return objects
        }
        try AtomicFile.makeDirectory(self.deltasPath, mode: 0o700)
        let staging = self.deltasPath + "/.generating-\(key)-\(UUID().uuidString)"
        try AtomicFile.makeDirectory(staging, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        var arguments = ["static-delta", "generate", "--repo=\(self.path)", "--min-fallback-size=0", "--to=\(to)", "--filename=\(staging)/superblock"]
        arguments.append(from.map { "--from=\($0)" } ?? "--empty")
        try await HostCommand("ostree", arguments).check()
        var objects: [ObjectRef] = []
        let superblock = try await self.objects.importFile(staging + "/superblock")
        objects.append(ObjectRef(digest: superblock.digest, size: superblock.size, blockSize: UInt32(self.objects.blockSize), role: "superblock"))
        var index = 0
        while FileManager.default.fileExists(atPath: "\(staging)/\(index)") {
            let part = try await self.objects.importFile("\(staging)/\(index)")
            objects.append(ObjectRef(digest: part.digest, size: part.size, blockSize: UInt32(self.objects.blockSize), role: "part/\(index)"))
            index += 1
        }
        try AtomicFile.makeDirectory(directory, mode: 0o700)
        try AtomicFile.write(Array(JSONEncoder().encode(objects)), to: manifest)
        return objects
    }

    static func isChecksum(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
