import Foundation
import Wire

/// An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/<hex>`),
/// as both the controller and the agent keep one. Only what Tern needs: find a
/// tagged manifest, list its blobs, add blobs, tag a manifest atomically.
public struct OCILayout: Sendable {
    public let root: String

    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
    public static let manifestMediaType = "application/vnd.oci.image.manifest.v1+json"

    public init(root: String) {
        self.root = root
    }

    public struct Descriptor: Codable, Sendable, Equatable {
        public var mediaType: String
        public var digest: String
        public var size: UInt64
        public var annotations: [String: String]?

        public init(mediaType: String, digest: String, size: UInt64, annotations: [String: String]? = nil) {
            self.mediaType = mediaType
            self.digest = digest
            self.size = size
            self.annotations = annotations
        }
    }

    public struct Index: Codable, Sendable {
        public var schemaVersion: Int = 2
        public var mediaType: String?
        public var manifests: [Descriptor] = []
    }

    public struct Manifest: Codable, Sendable {
        public var schemaVersion: Int
        public var mediaType: String?
        public var config: Descriptor
        public var layers: [Descriptor]
    }

    /// A layout problem, for the operator.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    public func blobPath(_ digest: String) -> String {
        self.root + "/blobs/sha256/" + digest.replacingOccurrences(of: "sha256:", with: "")
    }

    public func hasBlob(_ digest: String) -> Bool {
        FileManager.default.fileExists(atPath: self.blobPath(digest))
    }

    /// Creates `oci-layout`, an empty index and the blob directory if missing.
    public func create() throws {
        try AtomicFile.makeDirectory(self.root + "/blobs/sha256", mode: 0o755)
        if !FileManager.default.fileExists(atPath: self.root + "/oci-layout") {
            try AtomicFile.write(#"{"imageLayoutVersion":"1.0.0"}"#, to: self.root + "/oci-layout")
        }
        if !FileManager.default.fileExists(atPath: self.root + "/index.json") {
            try self.write(Index())
        }
    }

    public func index() throws -> Index {
        guard let data = FileManager.default.contents(atPath: self.root + "/index.json") else {
            throw Failure("\(self.root) is not an OCI image layout (no index.json)")
        }
        do { return try JSONDecoder().decode(Index.self, from: data) } catch {
            throw Failure("\(self.root)/index.json is not a valid OCI index: \(error)")
        }
    }

    /// The manifest descriptor tagged `tag`.
    public func manifestDescriptor(tag: String) throws -> Descriptor {
        guard let descriptor = try self.index().manifests.first(where: { $0.annotations?[Self.refNameAnnotation] == tag }) else {
            let tags = (try? self.index().manifests.compactMap { $0.annotations?[Self.refNameAnnotation] }) ?? []
            throw Failure("no image tagged \"\(tag)\" in \(self.root) (tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", ")))")
        }
        return descriptor
    }

    /// Reads and checks a manifest blob.
    public func manifest(_ digest: String) throws -> Manifest {
        guard let data = FileManager.default.contents(atPath: self.blobPath(digest)) else { throw Failure("manifest \(digest) is missing from \(self.root)") }
        guard "sha256:" + ContentDigest(of: Array(data)).hex == digest else { throw Failure("manifest \(digest) does not match its digest") }
        do { return try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw Failure("blob \(digest) is not an OCI image manifest: \(error)")
        }
    }

    /// Points `tag` at a manifest (replacing an older one of that tag), in one rename.
    public func tag(_ tag: String, manifest: Descriptor) throws {
        var index = try self.index()
        var descriptor = manifest
        descriptor.annotations = [Self.refNameAnnotation: tag]
        index.manifests.removeAll { $0.annotations?[Self.refNameAnnotation] == tag }
        index.manifests.append(descriptor)
        try self.write(index)
    }

    /// Every tag with its manifest digest.
    public func tags() throws -> [(tag: String, digest: String)] {
        try self.index().manifests.compactMap { descriptor in
            descriptor.annotations?[Self.refNameAnnotation].map { ($0, descriptor.digest) }
        }
    }

    private func write(_ index: Index) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(index)), to: self.root + "/index.json")
    }
}
