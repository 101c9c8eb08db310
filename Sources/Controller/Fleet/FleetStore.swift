import Foundation

/// The fleet registry. SQLite (GRDB) by default; the protocol lets a PostgreSQL
/// store back several controller replicas later.
public protocol FleetStore: ContentStore {
    // Subclouds
    func createSubcloud(name: String, group: String, description: String, token: BootstrapToken.Record, at: Date) async throws -> Subcloud
    func subcloud(named name: String) async throws -> Subcloud?
    func subclouds() async throws -> [Subcloud]
    func setManagement(_ name: String, to state: ManagementState, at: Date) async throws -> Subcloud
    /// Deletes the subcloud and revokes its certificate. Refused while managed.
    func deleteSubcloud(_ name: String, at: Date) async throws
    /// Replaces the subcloud's bootstrap token (a lost or expired one).
    func replaceToken(for name: String, with token: BootstrapToken.Record, at: Date) async throws

    // Enrolment
    /// Marks the token used and returns its subcloud; throws `EnrolmentRefusal` when unknown, used or expired.
    func consumeToken(hash: String, at: Date) async throws -> Subcloud
    func recordCertificate(for name: String, serial: String, notAfter: Date, enrolment: Bool, at: Date) async throws
    func isRevoked(serial: String) async throws -> Bool

    // Liveness and reports
    func markOnline(_ name: String, software: String, at: Date) async throws
    func markOffline(_ name: String, at: Date) async throws
    func recordHealth(_ name: String, _ health: Subcloud.Health) async throws
    func recordFirmware(_ name: String, _ firmware: [Subcloud.Firmware]) async throws

    // Alarms and events
    func raise(_ alarm: Alarm) async throws
    func clear(subcloud: String, alarmID: String, entity: String, at: Date) async throws
    func alarms(subcloud: String?) async throws -> [Alarm]
    func events(since: Date?, limit: Int) async throws -> [FleetEvent]
    func recordEvent(subcloud: String?, kind: String, detail: String, at: Date) async throws

    // Groups
    func createGroup(_ group: SubcloudGroup) async throws -> SubcloudGroup
    func groups() async throws -> [SubcloudGroup]
    func group(named name: String) async throws -> SubcloudGroup?
    func deleteGroup(_ name: String) async throws
}

/// A store request that cannot be carried out as asked; the message is for the operator.
public struct FleetStoreError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case notFound
        case conflict
        case refused
    }

    public var kind: Kind
    public var message: String
    public var description: String { self.message }

    public static func notFound(_ message: String) -> FleetStoreError { .init(kind: .notFound, message: message) }
    public static func conflict(_ message: String) -> FleetStoreError { .init(kind: .conflict, message: message) }
    public static func refused(_ message: String) -> FleetStoreError { .init(kind: .refused, message: message) }
}

/// Why an enrolment token was refused.
public enum EnrolmentRefusal: Error, Equatable, CustomStringConvertible {
    case unknown
    case used
    case expired

    public var description: String {
        switch self {
        case .unknown: return "the bootstrap token is not known"
        case .used: return "the bootstrap token was already used"
        case .expired: return "the bootstrap token has expired"
        }
    }
}
