import Foundation

/// The fleet registry over SQL, with versioned migrations: one SQLite file (WAL) by
/// default, or a PostgreSQL database that controller replicas share. The statements are
/// the same for both; `SQLDialect` spells what differs.
public final class SQLFleetStore: FleetStore {
    let database: any SQLBackend
    /// What each commit changed, for the live dashboard.
    public var changes: StoreChanges { self.database.changes }

    /// Opens (creating and migrating as needed) the SQLite database at `path`.
    public convenience init(path: String) throws {
        let backend = try SQLiteBackend(path: path)
        try backend.migrateNow(Self.migrations)
        self.init(migrated: backend)
    }

    /// Opens the store on `backend`, migrating it as needed.
    public static func open(_ backend: any SQLBackend) async throws -> SQLFleetStore {
        try await backend.migrate(Self.migrations)
        return SQLFleetStore(migrated: backend)
    }

    private init(migrated backend: any SQLBackend) {
        self.database = backend
    }

    static var migrations: [SQLMigration] {
        var migrator: [SQLMigration] = []
        migrator.registerMigration("v1: fleet registry") { db in
            try db.execute(sql: """
                CREATE TABLE subcloudGroup (
                    name TEXT PRIMARY KEY NOT NULL,
                    description TEXT NOT NULL,
                    updateApplyType TEXT NOT NULL,
                    maxParallel INTEGER NOT NULL
                );
                INSERT INTO subcloudGroup VALUES ('Default', 'Subclouds not assigned to another group', 'parallel', 2);
                CREATE TABLE subcloud (
                    name TEXT PRIMARY KEY NOT NULL,
                    groupName TEXT NOT NULL REFERENCES subcloudGroup(name),
                    description TEXT NOT NULL,
                    management TEXT NOT NULL,
                    availability TEXT NOT NULL,
                    deployStatus TEXT NOT NULL,
                    syncConfig TEXT NOT NULL DEFAULT 'unknown',
                    syncSoftware TEXT NOT NULL DEFAULT 'unknown',
                    syncImages TEXT NOT NULL DEFAULT 'unknown',
                    syncFirmware TEXT NOT NULL DEFAULT 'unknown',
                    createdAt DOUBLE NOT NULL,
                    enrolledAt DOUBLE,
                    lastSeenAt DOUBLE,
                    certificateSerial TEXT,
                    certificateNotAfter DOUBLE,
                    software TEXT,
                    health TEXT,
                    firmware TEXT
                );
                CREATE TABLE bootstrapToken (
                    hash TEXT PRIMARY KEY NOT NULL,
                    subcloud TEXT NOT NULL REFERENCES subcloud(name) ON DELETE CASCADE,
                    expiresAt DOUBLE NOT NULL,
                    usedAt DOUBLE
                );
                CREATE TABLE revokedCertificate (
                    serial TEXT PRIMARY KEY NOT NULL,
                    subcloud TEXT NOT NULL,
                    revokedAt DOUBLE NOT NULL
                );
                CREATE TABLE alarm (
                    subcloud TEXT NOT NULL REFERENCES subcloud(name) ON DELETE CASCADE,
                    alarmID TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    probableCause TEXT NOT NULL,
                    repairAction TEXT NOT NULL,
                    serviceAffecting BOOLEAN NOT NULL,
                    raisedAt DOUBLE NOT NULL,
                    PRIMARY KEY (subcloud, alarmID, entity)
                );
                CREATE TABLE event (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at DOUBLE NOT NULL,
                    subcloud TEXT,
                    kind TEXT NOT NULL,
                    detail TEXT NOT NULL
                );
                CREATE INDEX eventAt ON event(at);
                """)
        }
        migrator.registerMigration("v1b: rowids on PostgreSQL") { db in
            // The dashboard reads subcloud rows by rowid and orders releases by it; SQLite has one already.
            guard db.dialect == .postgres else { return }
            try db.execute(sql: "ALTER TABLE subcloud ADD COLUMN rowid BIGSERIAL")
        }
        Self.registerContentMigration(&migrator)
        migrator.registerMigration("v2b: release rowids on PostgreSQL") { db in
            guard db.dialect == .postgres else { return }
            try db.execute(sql: "ALTER TABLE release ADD COLUMN rowid BIGSERIAL")
        }
        Self.registerPKIMigration(&migrator)
        Self.registerStrategyMigration(&migrator)
        Self.registerInstallMigration(&migrator)
        Self.registerBackupMigration(&migrator)
        Self.registerBackupScheduleMigration(&migrator)
        Self.registerViewerTokenMigration(&migrator)
        Self.registerLeaseMigration(&migrator)
        return migrator
    }

    // MARK: Subclouds

    public func createSubcloud(name: String, group: String, description: String, token: BootstrapToken.Record, at: Date) async throws -> Subcloud {
        try await self.database.write { db in
            guard try SQLRow.fetchOne(db, sql: "SELECT 1 FROM subcloudGroup WHERE name = ?", arguments: [group]) != nil else {
                throw FleetStoreError.notFound("no subcloud group named \"\(group)\"")
            }
            guard try SQLRow.fetchOne(db, sql: "SELECT 1 FROM subcloud WHERE name = ?", arguments: [name]) == nil else {
                throw FleetStoreError.conflict("a subcloud named \"\(name)\" already exists")
            }
            try db.execute(sql: """
                INSERT INTO subcloud (name, groupName, description, management, availability, deployStatus, createdAt)
                VALUES (?, ?, ?, 'unmanaged', 'offline', 'awaiting-enrolment', ?)
                """, arguments: [name, group, description, at.timeIntervalSince1970])
            try db.execute(sql: "INSERT INTO bootstrapToken (hash, subcloud, expiresAt) VALUES (?, ?, ?)",
                           arguments: [token.hash, name, token.expiresAt.timeIntervalSince1970])
            try Self.event(db, subcloud: name, kind: "created", detail: "subcloud created in group \(group)", at: at)
            return try Self.fetchSubcloud(db, name)!
        }
    }

    public func subcloud(named name: String) async throws -> Subcloud? {
        try await self.database.read { db in try Self.fetchSubcloud(db, name) }
    }

    public func subclouds() async throws -> [Subcloud] {
        try await self.database.read { db in
            let counts = try Self.alarmCounts(db)
            return try SQLRow.fetchAll(db, sql: "SELECT * FROM subcloud ORDER BY name").map { try Self.subcloud(from: $0, counts: counts) }
        }
    }

    public func setManagement(_ name: String, to state: ManagementState, at: Date) async throws -> Subcloud {
        try await self.database.write { db in
            guard let current = try Self.fetchSubcloud(db, name) else { throw FleetStoreError.notFound("no subcloud named \"\(name)\"") }
            if state == .managed, current.certificateSerial == nil {
                throw FleetStoreError.refused("\(name) cannot be managed before its agent has enrolled")
            }
            if current.management != state {
                try db.execute(sql: "UPDATE subcloud SET management = ? WHERE name = ?", arguments: [state.rawValue, name])
                try Self.event(db, subcloud: name, kind: state.rawValue, detail: "management state set to \(state.rawValue)", at: at)
            }
            return try Self.fetchSubcloud(db, name)!
        }
    }

    public func deleteSubcloud(_ name: String, at: Date) async throws {
        try await self.database.write { db in
            guard let current = try Self.fetchSubcloud(db, name) else { throw FleetStoreError.notFound("no subcloud named \"\(name)\"") }
            guard current.management == .unmanaged else {
                throw FleetStoreError.refused("\(name) is managed: unmanage it before deleting it")
            }
            // Every certificate ever issued to it, not only the current one: a name can be
            // added again later and must not let an old certificate back in.
            let revoked = try Self.revokeCertificates(db, of: name, at: at, except: nil)
            try db.execute(sql: "DELETE FROM subcloud WHERE name = ?", arguments: [name])
            try Self.event(db, subcloud: name, kind: "deleted", detail: "subcloud deleted; \(revoked) certificate(s) revoked", at: at)
        }
    }

    public func replaceToken(for name: String, with token: BootstrapToken.Record, at: Date) async throws {
        try await self.database.write { db in
            guard try Self.fetchSubcloud(db, name) != nil else { throw FleetStoreError.notFound("no subcloud named \"\(name)\"") }
            try db.execute(sql: "DELETE FROM bootstrapToken WHERE subcloud = ?", arguments: [name])
            try db.execute(sql: "INSERT INTO bootstrapToken (hash, subcloud, expiresAt) VALUES (?, ?, ?)",
                           arguments: [token.hash, name, token.expiresAt.timeIntervalSince1970])
            try Self.event(db, subcloud: name, kind: "token-issued", detail: "a new bootstrap token was issued", at: at)
        }
    }

    // MARK: Liveness and reports

    public func markOnline(_ name: String, software: String, at: Date) async throws {
        try await self.database.write { db in
            guard let current = try Self.fetchSubcloud(db, name) else { return }
            try db.execute(sql: "UPDATE subcloud SET availability = 'online', lastSeenAt = ?, software = ? WHERE name = ?",
                           arguments: [at.timeIntervalSince1970, software, name])
            if current.availability != .online {
                try Self.event(db, subcloud: name, kind: "online", detail: "agent connected (\(software))", at: at)
            }
        }
    }

    public func markOffline(_ name: String, at: Date) async throws {
        try await self.database.write { db in
            guard let current = try Self.fetchSubcloud(db, name), current.availability != .offline else { return }
            try db.execute(sql: "UPDATE subcloud SET availability = 'offline' WHERE name = ?", arguments: [name])
            try Self.event(db, subcloud: name, kind: "offline", detail: "no heartbeat since \(current.lastSeenAt.map { ISO8601DateFormatter().string(from: $0) } ?? "never")", at: at)
        }
    }

    public func recordHealth(_ name: String, _ health: Subcloud.Health) async throws {
        try await self.recordHealth([name: health])
    }

    public func recordHealth(_ batch: [String: Subcloud.Health]) async throws {
        guard !batch.isEmpty else { return }
        let encoder = JSONEncoder()
        let rows = try batch.map { name, health in (name, String(decoding: try encoder.encode(health), as: UTF8.self), health.reportedAt.timeIntervalSince1970) }
        // One statement per 300 sites, not one per site: a round trip each on PostgreSQL.
        // VALUES names its columns column1… in both SQL dialects.
        try await self.database.batchWrite { db in
            for start in stride(from: 0, to: rows.count, by: 300) {
                let slice = rows[start..<min(start + 300, rows.count)]
                let values = Array(repeating: "(?, ?, ?)", count: slice.count).joined(separator: ", ")
                try db.execute(sql: """
                    UPDATE subcloud SET health = v.column2, lastSeenAt = v.column3
                    FROM (VALUES \(values)) AS v WHERE subcloud.name = v.column1
                    """, arguments: SQLArguments(slice.flatMap { name, json, seen -> [any SQLValueConvertible] in [name, json, seen] }))
            }
        }
    }

    public func recordFirmware(_ name: String, _ firmware: [Subcloud.Firmware]) async throws {
        let json = String(decoding: try JSONEncoder().encode(firmware), as: UTF8.self)
        try await self.database.write { db in
            try db.execute(sql: "UPDATE subcloud SET firmware = ? WHERE name = ?", arguments: [json, name])
        }
    }

    // MARK: Groups

    public func createGroup(_ group: SubcloudGroup) async throws -> SubcloudGroup {
        try await self.database.write { db in
            guard try SQLRow.fetchOne(db, sql: "SELECT 1 FROM subcloudGroup WHERE name = ?", arguments: [group.name]) == nil else {
                throw FleetStoreError.conflict("a subcloud group named \"\(group.name)\" already exists")
            }
            guard group.maxParallel >= 1 else { throw FleetStoreError.refused("max-parallel must be at least 1") }
            try db.execute(sql: "INSERT INTO subcloudGroup (name, description, updateApplyType, maxParallel, priority) VALUES (?, ?, ?, ?, ?)",
                           arguments: [group.name, group.description, group.updateApplyType.rawValue, group.maxParallel, group.priority])
            return try Self.fetchGroups(db, name: group.name).first!
        }
    }

    public func groups() async throws -> [SubcloudGroup] {
        try await self.database.read { db in try Self.fetchGroups(db, name: nil) }
    }

    public func group(named name: String) async throws -> SubcloudGroup? {
        try await self.database.read { db in try Self.fetchGroups(db, name: name).first }
    }

    public func deleteGroup(_ name: String) async throws {
        try await self.database.write { db in
            guard name != SubcloudGroup.defaultName else { throw FleetStoreError.refused("the Default group cannot be deleted") }
            guard let group = try Self.fetchGroups(db, name: name).first else { throw FleetStoreError.notFound("no subcloud group named \"\(name)\"") }
            guard group.subclouds == 0 else { throw FleetStoreError.refused("group \"\(name)\" still has \(group.subclouds) subclouds") }
            try db.execute(sql: "DELETE FROM subcloudGroup WHERE name = ?", arguments: [name])
        }
    }

    // MARK: Rows

    static func event(_ db: any SQLSession, subcloud: String?, kind: String, detail: String, at: Date) throws {
        try db.execute(sql: "INSERT INTO event (at, subcloud, kind, detail) VALUES (?, ?, ?, ?)",
                       arguments: [at.timeIntervalSince1970, subcloud, kind, detail])
    }

    static func fetchSubcloud(_ db: any SQLSession, _ name: String) throws -> Subcloud? {
        guard let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM subcloud WHERE name = ?", arguments: [name]) else { return nil }
        return try self.subcloud(from: row, counts: try self.alarmCounts(db, subcloud: name))
    }

    /// Runs `body` over `values` in slices of 500, under SQLite's limit on bound
    /// parameters, with each slice's placeholders ("?,?,…") for an `IN (…)` list.
    static func inSlices<Value>(_ values: [Value], _ body: (_ slice: [Value], _ marks: String) throws -> Void) rethrows {
        for start in stride(from: 0, to: values.count, by: 500) {
            let slice = Array(values[start..<min(start + 500, values.count)])
            try body(slice, Array(repeating: "?", count: slice.count).joined(separator: ","))
        }
    }

    static func alarmCounts(_ db: any SQLSession, subcloud: String? = nil) throws -> [String: AlarmCounts] {
        try self.alarmCounts(db, where: "? IS NULL OR subcloud = ?", arguments: [subcloud, subcloud])
    }

    /// Active alarm counts of the subclouds `condition` (SQL over the alarm table) selects.
    static func alarmCounts(_ db: any SQLSession, where condition: String, arguments: SQLArguments) throws -> [String: AlarmCounts] {
        var counts: [String: AlarmCounts] = [:]
        let rows = try SQLRow.fetchAll(db, sql: "SELECT subcloud, severity, COUNT(*) AS n FROM alarm WHERE \(condition) GROUP BY subcloud, severity",
                                    arguments: arguments)
        for row in rows {
            let name: String = row["subcloud"]
            let n: Int = row["n"]
            switch row["severity"] as String {
            case "critical": counts[name, default: AlarmCounts()].critical += n
            case "major": counts[name, default: AlarmCounts()].major += n
            case "minor": counts[name, default: AlarmCounts()].minor += n
            default: counts[name, default: AlarmCounts()].warning += n
            }
        }
        return counts
    }

    static func subcloud(from row: SQLRow, counts: [String: AlarmCounts]) throws -> Subcloud {
        let name: String = row["name"]
        var sync = Subcloud.Sync()
        sync.config = SyncStatus(rawValue: row["syncConfig"]) ?? .unknown
        sync.software = SyncStatus(rawValue: row["syncSoftware"]) ?? .unknown
        sync.images = SyncStatus(rawValue: row["syncImages"]) ?? .unknown
        sync.firmware = SyncStatus(rawValue: row["syncFirmware"]) ?? .unknown
        let decoder = JSONDecoder()
        return Subcloud(
            name: name,
            group: row["groupName"],
            description: row["description"],
            management: ManagementState(rawValue: row["management"]) ?? .unmanaged,
            availability: Availability(rawValue: row["availability"]) ?? .offline,
            deployStatus: SubcloudDeployStatus(rawValue: row["deployStatus"]) ?? .awaitingEnrolment,
            sync: sync,
            createdAt: Date(timeIntervalSince1970: row["createdAt"]),
            enrolledAt: (row["enrolledAt"] as Double?).map(Date.init(timeIntervalSince1970:)),
            lastSeenAt: (row["lastSeenAt"] as Double?).map(Date.init(timeIntervalSince1970:)),
            certificateSerial: row["certificateSerial"],
            certificateNotAfter: (row["certificateNotAfter"] as Double?).map(Date.init(timeIntervalSince1970:)),
            software: row["software"],
            health: try (row["health"] as String?).map { try decoder.decode(Subcloud.Health.self, from: Data($0.utf8)) },
            firmware: try (row["firmware"] as String?).map { try decoder.decode([Subcloud.Firmware].self, from: Data($0.utf8)) } ?? [],
            alarmCounts: counts[name] ?? AlarmCounts()
        )
    }

    private static func fetchGroups(_ db: any SQLSession, name: String?) throws -> [SubcloudGroup] {
        try SQLRow.fetchAll(db, sql: """
            SELECT g.*, (SELECT COUNT(*) FROM subcloud s WHERE s.groupName = g.name) AS members
            FROM subcloudGroup g WHERE ? IS NULL OR g.name = ? ORDER BY g.priority, g.name
            """, arguments: [name, name]).map { row in
            SubcloudGroup(name: row["name"], description: row["description"],
                          updateApplyType: SubcloudGroup.ApplyType(rawValue: row["updateApplyType"]) ?? .parallel,
                          maxParallel: row["maxParallel"], priority: row["priority"], subclouds: row["members"])
        }
    }
}
