import Foundation

/// One backup of one site, as the controller records it.
public struct Backup: Codable, Sendable, Equatable {
    public var id: Int64
    public var subcloud: String
    public var state: State
    /// What it waits for, or why it failed.
    public var detail: String
    /// The archive stays on the site; only the manifest is held here.
    public var localOnly: Bool
    public var createdAt: Date
    public var updatedAt: Date
    public var completedAt: Date?
    /// The manifest object (hex SHA-256) once the site offered it.
    public var manifest: String?
    /// From the manifest: the archive and its chunks.
    public var archiveBytes: UInt64?
    public var chunks: Int?
    /// Chunks and bytes this backup had to upload (the rest the controller held already).
    public var chunksUploaded: Int
    public var bytesUploaded: UInt64

    public enum State: String, Codable, Sendable, CaseIterable {
        /// Waiting for a slot (`--max-parallel`) or for the site to connect.
        case queued
        /// Asked of the site; the archive is being made.
        case archiving
        /// The manifest is offered; chunks the controller lacks are coming.
        case uploading
        case complete
        case failed

        public var isOpen: Bool { self == .queued || self == .archiving || self == .uploading }
    }

    public init(id: Int64, subcloud: String, localOnly: Bool, at now: Date) {
        self.id = id
        self.subcloud = subcloud
        self.state = .queued
        self.detail = "waiting for a slot"
        self.localOnly = localOnly
        self.createdAt = now
        self.updatedAt = now
        self.chunksUploaded = 0
        self.bytesUploaded = 0
    }
}

/// What `BackupStore.updateBackup` does with a changed backup.
public enum BackupChange: Sendable {
    /// Leave it as it was (it moved on meanwhile).
    case skip
    /// Save it; with an event for the log.
    case save(event: String?)
}

/// Backups (`BackupStore`): one row per backup and one per chunk it names, so a
/// chunk object is deleted only when no backup names it any more.
public protocol BackupStore: Sendable {
    /// New queued backups, one per subcloud, in one transaction.
    func createBackups(subclouds: [String], localOnly: Bool, at now: Date) async throws -> [Backup]
    /// Changes a backup in one transaction (read, `change`, write), so that two changes
    /// made concurrently never undo each other; returns it as saved, or nil when there is
    /// no such backup or `change` said `.skip`.
    func updateBackup(id: Int64, at now: Date, _ change: @escaping @Sendable (inout Backup) -> BackupChange) async throws -> Backup?
    /// Records the chunks (hex digests, in order) a backup's manifest names.
    func setBackupChunks(_ id: Int64, _ chunks: [String]) async throws
    func backup(id: Int64) async throws -> Backup?
    /// Newest first.
    func backups(subcloud: String?) async throws -> [Backup]
    /// Queued, archiving and uploading backups, oldest first.
    func openBackups() async throws -> [Backup]
    /// Deletes the record; returns the objects (hex digests: its manifest and chunks) no other backup names.
    func deleteBackup(id: Int64) async throws -> [String]
}
