import Foundation

/// Backups (`BackupStore`). The subcloud is a name, not a foreign key: a site's
/// backups outlive it, to restore onto the machine that replaces it.
extension SQLFleetStore {
    static func registerBackupMigration(_ migrator: inout [SQLMigration]) {
        migrator.registerMigration("v6: backups") { db in
            try db.execute(sql: """
                CREATE TABLE backup (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    subcloud TEXT NOT NULL,
                    state TEXT NOT NULL,
                    body TEXT NOT NULL
                );
                CREATE INDEX backupSubcloud ON backup(subcloud, id);
                CREATE INDEX backupState ON backup(state);
                CREATE TABLE backupObject (
                    backup INTEGER NOT NULL REFERENCES backup(id) ON DELETE CASCADE,
                    digest TEXT NOT NULL,
                    PRIMARY KEY (backup, digest)
                );
                CREATE INDEX backupObjectDigest ON backupObject(digest);
                """)
        }
    }

    public func createBackups(subclouds: [String], localOnly: Bool, at now: Date) async throws -> [Backup] {
        try await self.database.write { db in
            var made: [Backup] = []
            for subcloud in subclouds {
                guard try Self.fetchSubcloud(db, subcloud) != nil else { throw FleetStoreError.notFound("no subcloud named \"\(subcloud)\"") }
                let id = try Int64.fetchOne(db, sql: "INSERT INTO backup (subcloud, state, body) VALUES (?, 'queued', '{}') RETURNING id", arguments: [subcloud])!
                let backup = Backup(id: id, subcloud: subcloud, localOnly: localOnly, at: now)
                try db.execute(sql: "UPDATE backup SET body = ? WHERE id = ?", arguments: [try Self.encodeJSON(backup), backup.id])
                try Self.event(db, subcloud: subcloud, kind: "backup", detail: "backup \(backup.id) requested\(localOnly ? " (local only)" : "")", at: now)
                made.append(backup)
            }
            return made
        }
    }

    public func updateBackup(id: Int64, at now: Date, _ change: @escaping @Sendable (inout Backup) -> BackupChange) async throws -> Backup? {
        try await self.database.write { db in
            guard let body = try String.fetchOne(db, sql: "SELECT body FROM backup WHERE id = ?", arguments: [id]) else { return nil }
            var backup = try Self.decodeJSON(Backup.self, body)
            guard case .save(let event) = change(&backup) else { return nil }
            backup.updatedAt = now
            try db.execute(sql: "UPDATE backup SET state = ?, body = ? WHERE id = ?", arguments: [backup.state.rawValue, try Self.encodeJSON(backup), backup.id])
            if let event { try Self.event(db, subcloud: backup.subcloud, kind: "backup", detail: event, at: now) }
            return backup
        }
    }

    public func setBackupChunks(_ id: Int64, _ chunks: [String]) async throws {
        try await self.database.write { db in
            for digest in Set(chunks) {
                try db.execute(sql: "INSERT INTO backupObject (backup, digest) VALUES (?, ?) ON CONFLICT DO NOTHING", arguments: [id, digest])
            }
        }
    }

    public func backup(id: Int64) async throws -> Backup? {
        try await self.database.read { db in
            try String.fetchOne(db, sql: "SELECT body FROM backup WHERE id = ?", arguments: [id]).map { try Self.decodeJSON(Backup.self, $0) }
        }
    }

    public func backups(subcloud: String?) async throws -> [Backup] {
        try await self.database.read { db in
            let bodies = if let subcloud {
                try String.fetchAll(db, sql: "SELECT body FROM backup WHERE subcloud = ? ORDER BY id DESC", arguments: [subcloud])
            } else {
                try String.fetchAll(db, sql: "SELECT body FROM backup ORDER BY id DESC")
            }
            return try bodies.map { try Self.decodeJSON(Backup.self, $0) }
        }
    }

    public func openBackups() async throws -> [Backup] {
        try await self.database.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM backup WHERE state IN ('queued', 'archiving', 'uploading') ORDER BY id")
                .map { try Self.decodeJSON(Backup.self, $0) }
        }
    }

    public func deleteBackup(id: Int64) async throws -> [String] {
        try await self.database.write { db in
            let digests = try String.fetchAll(db, sql: "SELECT digest FROM backupObject WHERE backup = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM backup WHERE id = ?", arguments: [id])
            return try digests.filter { try Int.fetchOne(db, sql: "SELECT 1 FROM backupObject WHERE digest = ? LIMIT 1", arguments: [$0]) == nil }
        }
    }
}

extension SQLFleetStore {
    static func registerBackupScheduleMigration(_ migrator: inout [SQLMigration]) {
        migrator.registerMigration("v7: backup schedules") { db in
            try db.execute(sql: "CREATE TABLE backupSchedule (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)")
        }
    }

    public func addBackupSchedule(_ schedule: BackupSchedule) async throws -> BackupSchedule {
        try await self.database.write { db in
            let id = try Int64.fetchOne(db, sql: "INSERT INTO backupSchedule (body) VALUES ('{}') RETURNING id")!
            var made = schedule
            made.id = id
            try db.execute(sql: "UPDATE backupSchedule SET body = ? WHERE id = ?", arguments: [try Self.encodeJSON(made), made.id])
            try Self.event(db, subcloud: nil, kind: "backup", detail: "backup schedule \(made.id) added: \(made.targets.summary) every \(Int(made.every)) s", at: made.createdAt)
            return made
        }
    }

    public func saveBackupSchedule(_ schedule: BackupSchedule) async throws {
        try await self.database.write { db in
            try db.execute(sql: "UPDATE backupSchedule SET body = ? WHERE id = ?", arguments: [try Self.encodeJSON(schedule), schedule.id])
        }
    }

    public func backupSchedules() async throws -> [BackupSchedule] {
        try await self.database.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM backupSchedule ORDER BY id").map { try Self.decodeJSON(BackupSchedule.self, $0) }
        }
    }

    public func deleteBackupSchedule(id: Int64) async throws -> Bool {
        try await self.database.write { db in
            try db.execute(sql: "DELETE FROM backupSchedule WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }
}
