import Foundation

/// Installs (`InstallStore`): the value as JSON, the boot image's URL token beside
/// it (never in the JSON the API shows); every move in the event log.
extension SQLFleetStore {
    static func registerInstallMigration(_ migrator: inout [SQLMigration]) {
        migrator.registerMigration("v5: zero-touch install") { db in
            try db.execute(sql: """
                CREATE TABLE install (
                    subcloud TEXT PRIMARY KEY NOT NULL REFERENCES subcloud(name) ON DELETE CASCADE,
                    body TEXT NOT NULL,
                    imageToken TEXT UNIQUE
                );
                """)
        }
    }

    public func saveInstall(_ install: Install, event: String?, at: Date) async throws {
        try await self.database.write { db in
            guard try Self.fetchSubcloud(db, install.subcloud) != nil else { throw FleetStoreError.notFound("no subcloud named \"\(install.subcloud)\"") }
            try db.execute(sql: """
                INSERT INTO install (subcloud, body) VALUES (?, ?)
                ON CONFLICT(subcloud) DO UPDATE SET body = excluded.body
                """, arguments: [install.subcloud, try Self.encodeJSON(install)])
            try db.execute(sql: "UPDATE subcloud SET deployStatus = ? WHERE name = ?", arguments: [install.status.rawValue, install.subcloud])
            if let event { try Self.event(db, subcloud: install.subcloud, kind: "install", detail: event, at: at) }
        }
    }

    public func setImageToken(_ token: String?, for subcloud: String) async throws {
        try await self.database.write { db in
            try db.execute(sql: "UPDATE install SET imageToken = ? WHERE subcloud = ?", arguments: [token, subcloud])
        }
    }

    public func install(of subcloud: String) async throws -> Install? {
        try await self.database.read { db in
            try String.fetchOne(db, sql: "SELECT body FROM install WHERE subcloud = ?", arguments: [subcloud]).map { try Self.decodeJSON(Install.self, $0) }
        }
    }

    public func installs() async throws -> [Install] {
        try await self.database.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM install ORDER BY subcloud").map { try Self.decodeJSON(Install.self, $0) }
        }
    }

    public func takeImageToken(_ token: String, at: Date) async throws -> Install? {
        try await self.database.write { db in
            guard let body = try String.fetchOne(db, sql: "SELECT body FROM install WHERE imageToken = ?", arguments: [token]) else { return nil }
            var install = try Self.decodeJSON(Install.self, body)
            install.imageServedAt = at
            try db.execute(sql: "UPDATE install SET imageToken = NULL, body = ? WHERE subcloud = ?", arguments: [try Self.encodeJSON(install), install.subcloud])
            try Self.event(db, subcloud: install.subcloud, kind: "install", detail: "boot image fetched by the BMC (its URL now refused)", at: at)
            return install
        }
    }
}
