/// BACKUP_REQUEST: the controller wants a backup of the site (PROTOCOL.md §10.22).
///
/// Sent when the backup is started and again on every connection until the agent
/// has reported it ready and the controller holds it, so an agent MUST treat a
/// repeat as a question about that backup, not a new one.
public struct BackupRequest: Hashable, Sendable, FieldCoded {
    /// Chosen by the controller, echoed in BACKUP_STATUS (field 1).
    public var backupID: UInt64
    /// Keep the archive on the site; only the manifest travels (field 2).
    public var localOnly: Bool

    public init(backupID: UInt64, localOnly: Bool) {
        self.backupID = backupID
        self.localOnly = localOnly
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(backupID: 0, localOnly: false)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.backupID = try field.uint64()
            case 2: self.localOnly = try field.bool()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.backupID)
        fields.bool(2, self.localOnly)
    }
}

/// BACKUP_STATUS: where a backup stands on the site (PROTOCOL.md §10.23). With
/// `ready` it offers the manifest object; the manifest names the archive's chunks,
/// which the controller then asks for (those it lacks) like any offered object.
public struct BackupStatus: Hashable, Sendable, FieldCoded {
    public enum State: UInt32, Sendable {
        /// The archive is being made (field 2 = 0).
        case archiving = 0
        /// Manifest and chunks are held and offered.
        case ready = 1
        case failed = 2
    }

    /// Field 1.
    public var backupID: UInt64
    /// Field 2; unknown values decode as `failed`.
    public var state: State
    /// For the operator (field 3).
    public var detail: String
    /// The manifest object, when ready (field 4).
    public var manifest: ObjectRef?

    public init(backupID: UInt64, state: State, detail: String = "", manifest: ObjectRef? = nil) {
        self.backupID = backupID
        self.state = state
        self.detail = detail
        self.manifest = manifest
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(backupID: 0, state: .archiving)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.backupID = try field.uint64()
            case 2: self.state = State(rawValue: try field.uint32()) ?? .failed
            case 3: self.detail = try field.string()
            case 4: self.manifest = try field.message(ObjectRef.self, depth: depth)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.backupID)
        fields.varint(2, self.state.rawValue)
        fields.string(3, self.detail)
        if let manifest = self.manifest { fields.message(4, manifest) }
    }
}

/// BACKUP_STORED: the controller holds the backup whole (manifest and every chunk,
/// each verified); the agent may let go of its copy (PROTOCOL.md §10.24).
public struct BackupStored: Hashable, Sendable, FieldCoded {
    /// Field 1.
    public var backupID: UInt64

    public init(backupID: UInt64) {
        self.backupID = backupID
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(backupID: 0)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.backupID = try field.uint64()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.backupID)
    }
}
