import Foundation

/// Read-only viewer tokens (`ViewerTokenStore`): only their SHA-256 is kept.
extension SQLFleetStore {
    static func registerViewerTokenMigration(_ migrator: inout [SQLMigration]) {
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
            let id = try Int64.fetchOne(db, sql: "INSERT INTO viewerToken (hash, name, createdAt) VALUES (?, ?, ?) RETURNING id", arguments: [hash, name, now.timeIntervalSince1970])!
            try Self.event(db, subcloud: nil, kind: "token", detail: "viewer token \(id) created (\(name))", at: now)
            return ViewerToken(id: id, name: name, createdAt: now)
        }
    }

    public func viewerTokens() async throws -> [ViewerToken] {
        try await self.database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT id, name, createdAt FROM viewerToken ORDER BY id").map {
                ViewerToken(id: $0["id"], name: $0["name"], createdAt: Date(timeIntervalSince1970: $0["createdAt"]))
            }
        }
    }

    public func viewerTokenHashes() async throws -> [String: Int64] {
        try await self.database.read { db in
            var hashes: [String: Int64] = [:]
            for row in try SQLRow.fetchAll(db, sql: "SELECT id, hash FROM viewerToken") { hashes[row["hash"]] = row["id"] }
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
