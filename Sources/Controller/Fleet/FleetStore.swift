import Foundation
import Wire

/// The fleet registry, one protocol per aggregate so that each part of the controller
/// depends on the records it uses and a PostgreSQL store can follow the same split.
/// SQLite (GRDB) by default: `SQLFleetStore`, one file per aggregate.
public protocol FleetStore: SubcloudStore, PKIStore, AlarmStore, ContentStore, StrategyStore, InstallStore, BackupStore, BackupScheduleStore, DashboardStore,
    ViewerTokenStore, LeaseStore {}

/// Subclouds and their groups, and what their agents last reported.
public protocol SubcloudStore: Sendable {
    func createSubcloud(name: String, group: String, description: String, token: BootstrapToken.Record, at: Date) async throws -> Subcloud
    func subcloud(named name: String) async throws -> Subcloud?
    func subclouds() async throws -> [Subcloud]
    func setManagement(_ name: String, to state: ManagementState, at: Date) async throws -> Subcloud
    /// Deletes the subcloud and revokes its certificate. Refused while managed.
    func deleteSubcloud(_ name: String, at: Date) async throws
    /// Replaces the subcloud's bootstrap token (a lost or expired one).
    func replaceToken(for name: String, with token: BootstrapToken.Record, at: Date) async throws

    // Liveness and reports
    func markOnline(_ name: String, software: String, at: Date) async throws
    func markOffline(_ name: String, at: Date) async throws
    func recordHealth(_ name: String, _ health: Subcloud.Health) async throws
    /// Many subclouds' health in one transaction.
    func recordHealth(_ batch: [String: Subcloud.Health]) async throws
    func recordFirmware(_ name: String, _ firmware: [Subcloud.Firmware]) async throws

    // Groups
    func createGroup(_ group: SubcloudGroup) async throws -> SubcloudGroup
    func groups() async throws -> [SubcloudGroup]
    func group(named name: String) async throws -> SubcloudGroup?
    func deleteGroup(_ name: String) async throws
}

/// Bootstrap tokens and the certificates the CA issued (PROTOCOL.md §5.4).
public protocol PKIStore: Sendable {
    // Enrolment: a token is consumed only by an enrolment that succeeds.
    /// The subcloud a token may enrol now; throws `EnrolmentRefusal` when unknown, used, expired or locked.
    func enrolmentToken(hash: String, at: Date) async throws -> Subcloud
    /// Counts a refused attempt with a valid token (a bad CSR); the fifth locks the token.
    func tokenAttemptFailed(hash: String, reason: String, at: Date) async throws
    /// Consumes the token and records the certificate, in one transaction; throws
    /// `EnrolmentRefusal` when the token was used (or locked) meanwhile.
    func enrol(tokenHash: String, certificate: IssuedCertificate, at: Date) async throws -> Subcloud
    /// Marks the token used and returns its subcloud, without a certificate (tests and benchmarks provision their own).
    func consumeToken(hash: String, at: Date) async throws -> Subcloud

    // Certificates, tracked by subcloud
    /// Records a certificate issued to a subcloud, which becomes its current one.
    func recordCertificate(_ certificate: IssuedCertificate, enrolment: Bool, at: Date) async throws
    func issuedCertificate(serial: String) async throws -> IssuedCertificate?
    func isRevoked(serial: String) async throws -> Bool
    /// Decides whether a connection presenting `serial` for `name` is let in (nil) or why
    /// not. Admitting the current certificate revokes every earlier one.
    func admit(serial: String, name: String, at: Date) async throws -> String?
}

/// Orchestration strategies and their steps; every step transition is also an event.
public protocol StrategyStore: Sendable {
    /// Refused when a strategy of the type exists, or when a running strategy of
    /// another type targets one of the same subclouds.
    func createStrategy(_ strategy: Strategy, steps: [StrategyStep]) async throws
    func strategy(_ type: StrategyType) async throws -> Strategy?
    func strategies() async throws -> [Strategy]
    func steps(of type: StrategyType) async throws -> [StrategyStep]
    func saveStrategy(_ strategy: Strategy, event: String?, at: Date) async throws
    /// With `transitions`, each step's new state also goes in the event log; without,
    /// only what is recorded about it changes (the deployment made for it).
    func saveSteps(_ steps: [StrategyStep], of type: StrategyType, at: Date, transitions: Bool) async throws
    /// Refused while the strategy runs.
    func deleteStrategy(_ type: StrategyType) async throws

    // What one round of orchestration reads about the whole fleet, in a query each.
    func presence() async throws -> [String: SubcloudPresence]
    func deployments(ids: [Int64]) async throws -> [Int64: Deployment]
    /// The version each subcloud runs of one piece of content.
    func installedVersions(kind: ContentKind, name: String) async throws -> [String: String]

    // What the availability sweep of a replica without the lease reads.
    /// The presence of the named subclouds only (unknown names are left out).
    func presence(of names: [String]) async throws -> [String: SubcloudPresence]
    /// How many subclouds the store holds online and offline, counted in the database.
    func availabilityCounts() async throws -> (online: Int, offline: Int)
}

/// Whether the operator lets Tern act on a subcloud, and whether it is reachable.
public struct SubcloudPresence: Sendable, Equatable {
    public var managed: Bool
    public var online: Bool
    /// When some controller replica last recorded hearing from it.
    public var lastSeenAt: Date? = nil
}

/// Active alarms and the fleet's event log.
public protocol AlarmStore: Sendable {
    func raise(_ alarm: Alarm) async throws
    func clear(subcloud: String, alarmID: String, entity: String, at: Date) async throws
    func alarms(subcloud: String?) async throws -> [Alarm]
    /// How many alarms are active, the controller's own included (a count, not the rows).
    func activeAlarmCount() async throws -> Int
    func events(since: Date?, limit: Int) async throws -> [FleetEvent]
    func recordEvent(subcloud: String?, kind: String, detail: String, at: Date) async throws
    /// Alarms of the controller itself; listed with every subcloud's, as subcloud `controller`.
    func raiseControllerAlarm(_ alarm: Alarm) async throws
    func clearControllerAlarm(alarmID: String, entity: String, at: Date) async throws
}

/// A store request that cannot be carried out as asked; the message is for the operator.
public struct FleetStoreError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case notFound
        case conflict
        case refused
        /// The request itself is malformed (HTTP 400).
        case invalid
    }

    public var kind: Kind
    public var message: String
    public var description: String { self.message }

    public static func notFound(_ message: String) -> FleetStoreError { .init(kind: .notFound, message: message) }
    public static func conflict(_ message: String) -> FleetStoreError { .init(kind: .conflict, message: message) }
    public static func refused(_ message: String) -> FleetStoreError { .init(kind: .refused, message: message) }
    public static func invalid(_ message: String) -> FleetStoreError { .init(kind: .invalid, message: message) }
}

/// Why an enrolment token was refused.
public enum EnrolmentRefusal: Error, Equatable, CustomStringConvertible {
    case unknown
    case used
    case expired
    case locked

    public var description: String {
        switch self {
        case .unknown: return "the bootstrap token is not known"
        case .used: return "the bootstrap token was already used"
        case .expired: return "the bootstrap token has expired"
        case .locked: return "the bootstrap token is locked after too many failed attempts; issue a new one with `subcloud token`"
        }
    }
}

/// A certificate the controller's CA issued to a subcloud.
public struct IssuedCertificate: Sendable, Equatable {
    public var serial: String
    public var subcloud: String
    public var notBefore: Date
    public var notAfter: Date
    /// When a connection first presented it; nil while unused.
    public var firstUsedAt: Date?

    public init(serial: String, subcloud: String, notBefore: Date, notAfter: Date, firstUsedAt: Date? = nil) {
        self.serial = serial
        self.subcloud = subcloud
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.firstUsedAt = firstUsedAt
    }

    /// PROTOCOL.md §5.4: renewal is honoured only in the last third of the validity, from here.
    public var renewableFrom: Date {
        self.notBefore.addingTimeInterval(self.notAfter.timeIntervalSince(self.notBefore) * 2 / 3)
    }

    public func renewable(at now: Date) -> Bool { now >= self.renewableFrom }
}

extension PKIStore {
    /// Records a certificate by its serial and validity end (tests and benchmarks).
    public func recordCertificate(for name: String, serial: String, notAfter: Date, enrolment: Bool, at: Date) async throws {
        try await self.recordCertificate(
            IssuedCertificate(serial: serial, subcloud: name, notBefore: at.addingTimeInterval(-300), notAfter: notAfter), enrolment: enrolment, at: at
        )
    }
}
