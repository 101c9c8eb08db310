import Foundation
import GRDB

/// Read-only viewer tokens (`ViewerTokenStore`): only their SHA-256 is kept.
extension SQLiteFleetStore {
    static func registerViewerTokenMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v8: viewer tokens") { db in
            try db.execute(sql: """
                CREATE TABLE viewerToken (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    hash TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    createdAt DOUBLE NOT NULL
                );
                """)
        }
    }

    public func addViewerToken(hash: String, name: String, at now: Date) async throws -> ViewerToken {
        try await self.database.write { db in
            try db.execute(sql: "INSERT INTO viewerToken (hash, name, createdAt) VALUES (?, ?, ?)", arguments: [hash, name, now.timeIntervalSince1970])
            try Self.event(db, subcloud: nil, kind: "token", detail: "viewer token \(db.lastInsertedRowID) created (\(name))", at: now)
            return ViewerToken(id: db.lastInsertedRowID, name: name, createdAt: now)
        }
    }

    public func viewerTokens() async throws -> [ViewerToken] {
        try await self.database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, createdAt FROM viewerToken ORDER BY id").map {
                ViewerToken(id: $0["id"], name: $0["name"], createdAt: Date(timeIntervalSince1970: $0["createdAt"]))
            }
        }
    }

    public func viewerTokenHashes() async throws -> [String: Int64] {
        try await self.database.read { db in
            var hashes: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, hash FROM viewerToken") { hashes[row["hash"]] = row["id"] }
            return hashes
        }
    }

    public func revokeViewerToken(id: Int64, at now: Date) async throws {
        try await self.database.write { db in
            try db.execute(sql: "DELETE FROM viewerToken WHERE id = ?", arguments: [id])
            guard db.changesCount == 1 else { throw FleetStoreError.notFound("no viewer token \(id)") }
            try Self.event(db, subcloud: nil, kind: "token", detail: "viewer token \(id) revoked", at: now)
        }
    }
}
