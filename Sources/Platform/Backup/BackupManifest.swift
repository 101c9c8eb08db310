import Foundation
import Wire

/// What one backup of a site is (`manifest.json`, itself a transfer object): where
/// and when it was made, what the site ran, and the archive — a GNU tar stream of
/// the operator's paths — as the ordered content-defined chunks it was cut into.
/// The controller stores it and the chunks; a restore sends them back down.
public struct BackupManifest: Codable, Sendable, Equatable {
    /// The format of this document; a newer agent reads older manifests.
    public var format = 1
    public var backupID: UInt64
    public var site: String
    public var createdAt: Date
    public var agentVersion: String
    /// The absolute paths archived (`--backup-path`), and what was left out.
    public var paths: [String]
    public var excludes: [String]
    /// The archive stays on the site; only this manifest travelled.
    public var localOnly: Bool
    /// The OSTree commit the site runs, if it has one.
    public var ostree: OSTree?
    /// Image tags held on the site.
    public var images: [Image]
    /// The config generation last applied.
    public var configGeneration: UInt64?
    public var firmware: [Firmware]
    public var archive: Archive
    /// The archive is these chunks, in this order.
    public var chunks: [Chunk]

    public struct OSTree: Codable, Sendable, Equatable {
        public var ref: String
        public var commit: String
        public init(ref: String, commit: String) {
            self.ref = ref
            self.commit = commit
        }
    }

    public struct Image: Codable, Sendable, Equatable {
        public var name: String
        public var digest: String
        public init(name: String, digest: String) {
            self.name = name
            self.digest = digest
        }
    }

    public struct Firmware: Codable, Sendable, Equatable {
        public var kind: String
        public var name: String
        public var version: String
        public init(kind: String, name: String, version: String) {
            self.kind = kind
            self.name = name
            self.version = version
        }
    }

    public struct Archive: Codable, Sendable, Equatable {
        /// SHA-256 of the whole tar stream, hex.
        public var sha256: String
        public var size: UInt64
        public init(sha256: String, size: UInt64) {
            self.sha256 = sha256
            self.size = size
        }
    }

    public struct Chunk: Codable, Sendable, Equatable {
        /// SHA-256 of the chunk, hex: its address as a transfer object.
        public var sha256: String
        public var size: UInt64
        public init(sha256: String, size: UInt64) {
            self.sha256 = sha256
            self.size = size
        }

        /// The chunk as a transfer object (cut into 1 MiB blocks).
        public var reference: ObjectRef? {
            ContentDigest(hex: self.sha256).map { ObjectRef(digest: $0, size: self.size, blockSize: UInt32(WireLimits.maxBlockSize), role: "chunk") }
        }
    }

    public init(
        backupID: UInt64, site: String, createdAt: Date, agentVersion: String, paths: [String], excludes: [String], localOnly: Bool,
        ostree: OSTree?, images: [Image], configGeneration: UInt64?, firmware: [Firmware], archive: Archive, chunks: [Chunk]
    ) {
        self.backupID = backupID
        self.site = site
        self.createdAt = createdAt
        self.agentVersion = agentVersion
        self.paths = paths
        self.excludes = excludes
        self.localOnly = localOnly
        self.ostree = ostree
        self.images = images
        self.configGeneration = configGeneration
        self.firmware = firmware
        self.archive = archive
        self.chunks = chunks
    }

    enum CodingKeys: String, CodingKey {
        case format, backupID = "backup_id", site, createdAt = "created_at", agentVersion = "agent_version", paths, excludes
        case localOnly = "local_only", ostree, images, configGeneration = "config_generation", firmware, archive, chunks
    }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Reads a manifest, refusing one that does not describe a sane archive.
    public static func decode(_ bytes: [UInt8]) throws -> BackupManifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let manifest = try decoder.decode(BackupManifest.self, from: Data(bytes))
        guard manifest.format == 1 else { throw Invalid("manifest format \(manifest.format) is newer than this program knows") }
        guard ContentDigest(hex: manifest.archive.sha256) != nil,
              manifest.chunks.allSatisfy({ $0.reference != nil && $0.size > 0 }),
              manifest.localOnly || manifest.chunks.reduce(0, { $0 + $1.size }) == manifest.archive.size
        else { throw Invalid("the manifest's chunks do not add up to its archive") }
        guard manifest.paths.allSatisfy({ $0.hasPrefix("/") && !$0.split(separator: "/").contains("..") }) else {
            throw Invalid("the manifest names a path that is not absolute or climbs with ..")
        }
        return manifest
    }

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }
}
