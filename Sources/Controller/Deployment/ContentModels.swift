import Foundation
import Platform
import Wire

/// One file of a config generation: where it goes on the site, with what mode.
public struct ConfigFileSpec: Codable, Sendable, Equatable {
    /// Absolute path on the site.
    public var path: String
    /// Permission bits, e.g. 0o644.
    public var mode: Int
    public var content: Data
    /// SHA-256 of `content`, hex.
    public var sha256: String

    public init(path: String, mode: Int, content: Data) {
        self.path = path
        self.mode = mode
        self.content = content
        self.sha256 = ContentDigest(of: Array(content)).hex
    }
}

/// One desired-state generation of a subcloud's config files. Generations only grow.
public struct ConfigGeneration: Codable, Sendable, Equatable {
    public var subcloud: String
    public var generation: Int
    /// The bundle object (JSON of `ConfigBundle`), hex digest.
    public var bundle: String
    public var size: UInt64
    public var files: [ConfigFileSpec]
    /// An action name on the agent's allow-list, run after the files are in place.
    public var reload: String?
    public var createdAt: Date
}

/// What a subcloud last said about its config.
/// What a site last said of its config (CONFIG_RESULT), as stored and shown.
public enum ConfigStatus: String, Codable, Sendable {
    case applied
    case failed
    case drifted

    init(_ status: ConfigResult.Status) {
        switch status {
        case .applied: self = .applied
        case .failed: self = .failed
        case .drifted: self = .drifted
        }
    }
}

public struct ConfigState: Codable, Sendable, Equatable {
    public var subcloud: String
    /// The generation the agent has applied (nil: none yet).
    public var appliedGeneration: Int?
    public var status: ConfigStatus
    public var detail: String
    public var reportedAt: Date
}

/// What `config show` prints for one subcloud.
public struct ConfigView: Codable, Sendable, Equatable {
    public var subcloud: String
    public var desired: ConfigGeneration?
    public var state: ConfigState?
    public var sync: SyncStatus
}

/// Content the controller holds and can deploy: an OSTree commit, an image, a firmware image.
public struct Release: Codable, Sendable, Equatable {
    public var kind: ContentKind
    /// OSTree ref, image `name:tag`, firmware component.
    public var name: String
    /// Commit checksum, manifest digest `sha256:<hex>`, firmware version.
    public var version: String
    /// The objects it is made of (empty for OSTree: deltas are made per site).
    public var objects: [ObjectRef]
    /// Commit subject, image platform, firmware file name.
    public var detail: String
    public var size: UInt64
    public var importedAt: Date
}

public enum DeploymentState: String, Codable, Sendable {
    /// Waiting to be sent, or sent and not yet answered.
    case pending
    case fetching
    /// Objects held on the site, not applied (the goal of a prestage).
    case prestaged
    case activated
    case failed
    /// A newer deployment of the same content name replaced it.
    case superseded
}

/// One piece of content deployed (or prestaged) to one subcloud.
public struct Deployment: Codable, Sendable, Equatable {
    public var id: Int64
    public var subcloud: String
    public var kind: ContentKind
    public var name: String
    public var version: String
    /// False for a prestage: fetch and keep, do not apply.
    public var activate: Bool
    public var state: DeploymentState
    public var detail: String
    public var createdAt: Date
    public var updatedAt: Date

    /// Whether the controller still has something to send or wait for.
    public var isOpen: Bool {
        switch self.state {
        case .pending, .fetching: return true
        case .prestaged: return self.activate
        case .activated, .failed, .superseded: return false
        }
    }
}

/// What a site reported it runs now (DEPLOY_STATUS with id 0).
public struct InstalledContent: Codable, Sendable, Equatable {
    public var subcloud: String
    public var kind: ContentKind
    public var name: String
    public var version: String
    public var reportedAt: Date
}

/// The content side of the registry.
public protocol ContentStore: Sendable {
    func latestConfig(for subcloud: String) async throws -> ConfigGeneration?
    /// Stores a new generation; refused unless it is the next number.
    func addConfig(_ generation: ConfigGeneration) async throws
    func configState(for subcloud: String) async throws -> ConfigState?
    func recordConfigResult(_ state: ConfigState) async throws

    func addRelease(_ release: Release) async throws
    func releases(kind: ContentKind) async throws -> [Release]
    func release(kind: ContentKind, name: String, version: String?) async throws -> Release?

    /// Creates a deployment and supersedes the open ones of the same subcloud, kind and name.
    func createDeployment(subcloud: String, kind: ContentKind, name: String, version: String, activate: Bool, at: Date) async throws -> Deployment
    func deployments(subcloud: String?) async throws -> [Deployment]
    func deployment(id: Int64) async throws -> Deployment?
    func updateDeployment(id: Int64, state: DeploymentState, detail: String, at: Date) async throws

    /// Records an inventory entry; returns whether it changed.
    func recordInstalled(_ item: InstalledContent) async throws -> Bool
    func installed(subcloud: String) async throws -> [InstalledContent]
    func setSync(_ subcloud: String, config: SyncStatus?, software: SyncStatus?, images: SyncStatus?, firmware: SyncStatus?) async throws
}
