import Foundation

/// Whether the operator lets Tern act on a subcloud (dcmanager's management state).
public enum ManagementState: String, Codable, Sendable, CaseIterable {
    case managed
    case unmanaged
}

/// Whether the subcloud's agent is heard from.
public enum Availability: String, Codable, Sendable {
    case online
    case offline
}

/// How far the site has come from `subcloud add` to a running agent.
public enum SubcloudDeployStatus: String, Codable, Sendable {
    /// Created; the bootstrap token has not been used yet.
    case awaitingEnrolment = "awaiting-enrolment"
    /// The agent enrolled and holds a certificate.
    case enrolled
    // Zero-touch install, as dcmanager names the steps (`subcloud install`):
    /// The controller is building the site's boot image.
    case installPreparing = "install-preparing"
    /// The BMC is being told to boot the image (virtual media, boot override, power).
    case installing
    /// The node boots and enrols from the image's seed.
    case bootstrapping
    /// The node is connected; the controller pushes what the install values name.
    case deploying
    /// Every area the install values name is in sync.
    case complete
    /// The boot image or the BMC failed; `subcloud install` again retries.
    case installFailed = "install-failed"
    /// The node came up but a content step failed.
    case deployFailed = "deploy-failed"

    /// A step of an install that is still moving on by itself.
    public var isInstalling: Bool {
        [.installPreparing, .installing, .bootstrapping, .deploying].contains(self)
    }
}

/// Per-area sync status, as dcmanager reports it.
public enum SyncStatus: String, Codable, Sendable {
    case unknown
    case inSync = "in-sync"
    case outOfSync = "out-of-sync"
}

/// One edge site, as the registry keeps it.
public struct Subcloud: Codable, Sendable, Equatable {
    public var name: String
    public var group: String
    public var description: String
    public var management: ManagementState
    public var availability: Availability
    public var deployStatus: SubcloudDeployStatus
    public var sync: Sync
    public var createdAt: Date
    public var enrolledAt: Date?
    public var lastSeenAt: Date?
    /// Hex serial of the agent's current certificate, and its expiry.
    public var certificateSerial: String?
    public var certificateNotAfter: Date?
    /// What the agent said it runs, from HELLO.
    public var software: String?
    public var health: Health?
    public var firmware: [Firmware]
    /// Active alarms by severity; filled in when read.
    public var alarmCounts: AlarmCounts

    /// Sync status of each area; later work fills them in.
    public struct Sync: Codable, Sendable, Equatable {
        public var config: SyncStatus = .unknown
        public var software: SyncStatus = .unknown
        public var images: SyncStatus = .unknown
        public var firmware: SyncStatus = .unknown
        public init() {}
    }

    /// The last health the agent reported.
    public struct Health: Codable, Sendable, Equatable {
        public var cpuPercent: Double?
        public var memoryTotalBytes: UInt64?
        public var memoryAvailableBytes: UInt64?
        public var load1: Double?
        public var uptimeSeconds: UInt64?
        public var disks: [Disk]
        public var reportedAt: Date

        public struct Disk: Codable, Sendable, Equatable {
            public var mount: String
            public var totalBytes: UInt64
            public var usedBytes: UInt64
        }
    }

    /// One firmware-bearing component.
    public struct Firmware: Codable, Sendable, Equatable {
        public var kind: String
        public var name: String
        public var vendor: String
        public var version: String
        public var releaseDate: String
    }
}

/// Counts of active alarms by severity.
public struct AlarmCounts: Codable, Sendable, Equatable {
    public var critical = 0
    public var major = 0
    public var minor = 0
    public var warning = 0
    public init() {}
    public var total: Int { self.critical + self.major + self.minor + self.warning }
}

/// A set of subclouds that orchestration treats together (dcmanager's subcloud group).
public struct SubcloudGroup: Codable, Sendable, Equatable {
    /// How an update strategy walks the group's subclouds.
    public enum ApplyType: String, Codable, Sendable, CaseIterable {
        case serial
        case parallel
    }

    public static let defaultName = "Default"

    public var name: String
    public var description: String
    public var updateApplyType: ApplyType
    public var maxParallel: Int
    /// Strategies take groups in this order, lowest first (ties by name).
    public var priority: Int
    /// Filled in when read.
    public var subclouds: Int

    public static let defaultPriority = 10

    public init(name: String, description: String, updateApplyType: ApplyType, maxParallel: Int, priority: Int = SubcloudGroup.defaultPriority, subclouds: Int = 0) {
        self.name = name
        self.description = description
        self.updateApplyType = updateApplyType
        self.maxParallel = maxParallel
        self.priority = priority
        self.subclouds = subclouds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.name = try container.decode(String.self, forKey: .name)
        self.description = try container.decode(String.self, forKey: .description)
        self.updateApplyType = try container.decode(ApplyType.self, forKey: .updateApplyType)
        self.maxParallel = try container.decode(Int.self, forKey: .maxParallel)
        self.priority = try container.decodeIfPresent(Int.self, forKey: .priority) ?? SubcloudGroup.defaultPriority
        self.subclouds = try container.decodeIfPresent(Int.self, forKey: .subclouds) ?? 0
    }
}

/// An active alarm, raised by an agent or by the controller itself.
public struct Alarm: Codable, Sendable, Equatable {
    /// What `subcloud` says for an alarm of the controller itself.
    public static let controller = "controller"

    public var subcloud: String
    public var alarmID: String
    public var entity: String
    public var severity: String
    public var reason: String
    public var probableCause: String
    public var repairAction: String
    public var serviceAffecting: Bool
    public var raisedAt: Date
}

/// Something that happened, for the event log.
public struct FleetEvent: Codable, Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var subcloud: String?
    public var kind: String
    public var detail: String
}

/// What `subcloud add` (and `subcloud token`) answer: the bootstrap token is shown
/// once here and stored only as a hash.
public struct SubcloudAdded: Codable, Sendable {
    public var subcloud: Subcloud
    public var bootstrapToken: String
    public var tokenExpiresAt: Date
    /// Hex SHA-256 of the CA certificate's DER.
    public var caFingerprint: String
    /// Where the agent enrols, HOST:PORT.
    public var enrolAddress: String
    /// With a BMC: the install record (`--install` starts it at once).
    public var install: Install?
}
