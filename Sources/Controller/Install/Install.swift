import Foundation

/// One zero-touch install of a subcloud, as the controller records it: the values,
/// the BMC (never its password), where it stands and how long each step took.
public struct Install: Codable, Sendable, Equatable {
    public var subcloud: String
    public var values: InstallValues
    public var bmc: BMC
    /// The same as the subcloud's deploy status while this install is the latest.
    public var status: SubcloudDeployStatus
    /// Why it failed, or what it waits for.
    public var detail: String
    /// 1 for the first `subcloud install`, then one more per retry.
    public var attempt: Int
    public var image: BootImageBuilder.Built?
    /// When the BMC fetched the boot image (it is served once).
    public var imageServedAt: Date?
    public var phases: [Phase]
    /// The content plane's deployments this install made.
    public var deployments: [Int64]
    /// The config generation this install made, if the values name files.
    public var configGeneration: Int?
    public var startedAt: Date
    public var updatedAt: Date

    public struct BMC: Codable, Sendable, Equatable {
        public var address: String
        public var username: String
    }

    /// One deploy status the install passed through, with its times.
    public struct Phase: Codable, Sendable, Equatable {
        public var status: SubcloudDeployStatus
        public var startedAt: Date
        public var endedAt: Date?
        public var seconds: Double? { self.endedAt.map { $0.timeIntervalSince(self.startedAt) } }
    }

    public init(subcloud: String, values: InstallValues, bmc: BMC, attempt: Int, at now: Date) {
        self.subcloud = subcloud
        self.values = values
        self.bmc = bmc
        self.status = .installPreparing
        self.detail = "building the boot image"
        self.attempt = attempt
        self.phases = [Phase(status: .installPreparing, startedAt: now)]
        self.deployments = []
        self.startedAt = now
        self.updatedAt = now
    }

    /// Moves to `status`, closing the current phase (a terminal status is a phase of its own, ended at once).
    public mutating func move(to status: SubcloudDeployStatus, detail: String, at now: Date) {
        if let last = self.phases.indices.last, self.phases[last].endedAt == nil { self.phases[last].endedAt = now }
        self.status = status
        self.detail = detail
        self.updatedAt = now
        self.phases.append(Phase(status: status, startedAt: now, endedAt: status.isInstalling ? nil : now))
    }

    /// When the current phase began.
    public var phaseStartedAt: Date { self.phases.last?.startedAt ?? self.startedAt }
}

/// Installs (`InstallStore`): one row per subcloud, its latest install.
public protocol InstallStore: Sendable {
    /// Saves `install`, sets the subcloud's deploy status to its status and, with
    /// `event`, records it in the event log.
    func saveInstall(_ install: Install, event: String?, at: Date) async throws
    /// The URL token of the boot image being served (nil: none).
    func setImageToken(_ token: String?, for subcloud: String) async throws
    func install(of subcloud: String) async throws -> Install?
    func installs() async throws -> [Install]
    /// The install whose boot image `token` names; the token is spent by this call.
    func takeImageToken(_ token: String, at: Date) async throws -> Install?
}
