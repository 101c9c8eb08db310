import Foundation

/// Leases: which controller replica runs the work that must run once (availability
/// sweeps of sites no replica holds, strategies, backup schedules).
public protocol LeaseStore: Sendable {
    /// Takes `name` for `holder` until `now + duration` when it is free, expired or
    /// already `holder`'s; returns the holder afterwards.
    func acquireLease(_ name: String, holder: String, for duration: TimeInterval, at now: Date) async throws -> String
    /// Gives `name` up if `holder` has it (a replica stopping).
    func releaseLease(_ name: String, holder: String) async throws
    /// Marks these subclouds seen now (replicas: what each holds, for the lease holder's sweep).
    func markSeen(_ names: [String], at now: Date) async throws
    /// Records that replica `id` is up and serves the protocol at `address`; returns the
    /// addresses of every replica heard from since `since`, this one's included.
    func announceReplica(_ id: String, address: String?, at now: Date, since: Date) async throws -> [String]
    /// Tells the other replicas that these subclouds' desired state changed (nothing alone).
    func nudge(_ names: [String]) async throws
}

extension SQLFleetStore {
    static func registerLeaseMigration(_ migrator: inout [SQLMigration]) {
        migrator.registerMigration("v9: leases") { db in
            try db.execute(sql: """
                CREATE TABLE lease (name TEXT PRIMARY KEY NOT NULL, holder TEXT NOT NULL, expiresAt DOUBLE NOT NULL);
                CREATE TABLE replica (id TEXT PRIMARY KEY NOT NULL, wireAddress TEXT, seenAt DOUBLE NOT NULL)
                """)
        }
        // Found with six replicas enrolling 100,000 agents: a statement without an index
        // scans the table, and under SERIALIZABLE a scan conflicts with every concurrent
        // write to that table (replacing a site's token, a dashboard read by rowid).
        migrator.registerMigration("v10: indexes for large fleets") { db in
            try db.execute(sql: """
                CREATE INDEX bootstrapTokenSubcloud ON bootstrapToken(subcloud);
                CREATE INDEX eventSubcloud ON event(subcloud, id)
                """)
            if db.dialect == .postgres { try db.execute(sql: "CREATE UNIQUE INDEX subcloudRowid ON subcloud(rowid)") }
        }
    }

    public func acquireLease(_ name: String, holder: String, for duration: TimeInterval, at now: Date) async throws -> String {
        try await self.database.write { db in
            try db.execute(sql: """
                INSERT INTO lease (name, holder, expiresAt) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expiresAt = excluded.expiresAt
                WHERE lease.holder = excluded.holder OR lease.expiresAt < ?
                """, arguments: [name, holder, now.addingTimeInterval(duration).timeIntervalSince1970, now.timeIntervalSince1970])
            return try String.fetchOne(db, sql: "SELECT holder FROM lease WHERE name = ?", arguments: [name]) ?? holder
        }
    }

    public func releaseLease(_ name: String, holder: String) async throws {
        try await self.database.write { db in
            try db.execute(sql: "DELETE FROM lease WHERE name = ? AND holder = ?", arguments: [name, holder])
        }
    }

    public func announceReplica(_ id: String, address: String?, at now: Date, since: Date) async throws -> [String] {
        try await self.database.write { db in
            try db.execute(sql: """
                INSERT INTO replica (id, wireAddress, seenAt) VALUES (?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET wireAddress = excluded.wireAddress, seenAt = excluded.seenAt
                """, arguments: [id, address, now.timeIntervalSince1970])
            // Replicas gone for a day are forgotten.
            try db.execute(sql: "DELETE FROM replica WHERE seenAt < ?", arguments: [now.timeIntervalSince1970 - 86_400])
            return try String.fetchAll(db, sql: "SELECT wireAddress FROM replica WHERE seenAt >= ? AND wireAddress IS NOT NULL ORDER BY id", arguments: [since.timeIntervalSince1970])
        }
    }

    public func nudge(_ names: [String]) async throws {
        guard let backend = self.database as? PostgresBackend, !names.isEmpty else { return }
        try await self.database.write { db in
            // A notification carries under 8,000 bytes.
            var batch: [String] = []
            var size = 0
            for name in names {
                if size + name.utf8.count + 1 > 7_000 {
                    try db.execute(sql: "SELECT pg_notify(?, ?)", arguments: [PostgresBackend.nudgeChannel, backend.replica + " " + batch.joined(separator: ",")])
                    batch = []
                    size = 0
                }
                batch.append(name)
                size += name.utf8.count + 1
            }
            try db.execute(sql: "SELECT pg_notify(?, ?)", arguments: [PostgresBackend.nudgeChannel, backend.replica + " " + batch.joined(separator: ",")])
        }
    }

    /// Calls `body` with the subclouds other replicas nudged (PostgreSQL only).
    public func onNudge(_ body: @escaping @Sendable ([String]) -> Void) {
        (self.database as? PostgresBackend)?.onNudge(body)
    }

    public func markSeen(_ names: [String], at now: Date) async throws {
        guard !names.isEmpty else { return }
        try await self.database.batchWrite { db in
            try Self.inSlices(names) { slice, marks in
                try db.execute(sql: "UPDATE subcloud SET lastSeenAt = ? WHERE name IN (\(marks)) AND (lastSeenAt IS NULL OR lastSeenAt < ?)",
                               arguments: [now.timeIntervalSince1970] + slice + [now.timeIntervalSince1970])
            }
        }
    }
}
