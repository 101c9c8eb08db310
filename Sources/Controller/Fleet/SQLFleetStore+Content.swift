import Wire
import Foundation

/// Config generations, releases, deployments and site inventory, in the registry's database.
extension SQLFleetStore {
    static func registerContentMigration(_ migrator: inout [SQLMigration]) {
        migrator.registerMigration("v2: content plane") { db in
            try db.execute(sql: """
                CREATE TABLE configGeneration (
                    subcloud TEXT NOT NULL REFERENCES subcloud(name) ON DELETE CASCADE,
                    generation INTEGER NOT NULL,
                    body TEXT NOT NULL,
                    PRIMARY KEY (subcloud, generation)
                );
                CREATE TABLE configState (
                    subcloud TEXT PRIMARY KEY NOT NULL REFERENCES subcloud(name) ON DELETE CASCADE,
                    body TEXT NOT NULL
                );
                CREATE TABLE release (
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    version TEXT NOT NULL,
                    importedAt DOUBLE NOT NULL,
                    body TEXT NOT NULL,
                    PRIMARY KEY (kind, name, version)
                );
                CREATE TABLE deployment (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    subcloud TEXT NOT NULL REFERENCES subcloud(name) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    version TEXT NOT NULL,
                    activate BOOLEAN NOT NULL,
                    state TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    createdAt DOUBLE NOT NULL,
                    updatedAt DOUBLE NOT NULL
                );
                CREATE INDEX deploymentSubcloud ON deployment(subcloud, state);
                CREATE TABLE installed (
                    subcloud TEXT NOT NULL REFERENCES subcloud(name) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    version TEXT NOT NULL,
                    reportedAt DOUBLE NOT NULL,
                    PRIMARY KEY (subcloud, kind, name)
                );
                """)
        }
    }

    // MARK: Config

    public func latestConfig(for subcloud: String) async throws -> ConfigGeneration? {
        try await self.database.read { db in
            try String.fetchOne(db, sql: "SELECT body FROM configGeneration WHERE subcloud = ? ORDER BY generation DESC LIMIT 1", arguments: [subcloud])
                .map { try Self.decode(ConfigGeneration.self, $0) }
        }
    }

    public func addConfig(_ generation: ConfigGeneration) async throws {
        let body = try Self.encode(generation)
        try await self.database.write { db in
            guard try Self.fetchSubcloud(db, generation.subcloud) != nil else {
                throw FleetStoreError.notFound("no subcloud named \"\(generation.subcloud)\"")
            }
            let latest = try Int.fetchOne(db, sql: "SELECT MAX(generation) FROM configGeneration WHERE subcloud = ?", arguments: [generation.subcloud]) ?? 0
            guard generation.generation == latest + 1 else {
                throw FleetStoreError.conflict("config of \(generation.subcloud) is at generation \(latest); \(generation.generation) is not next")
            }
            try db.execute(sql: "INSERT INTO configGeneration VALUES (?, ?, ?)", arguments: [generation.subcloud, generation.generation, body])
            try db.execute(sql: "UPDATE subcloud SET syncConfig = 'out-of-sync' WHERE name = ?", arguments: [generation.subcloud])
            try db.execute(sql: "INSERT INTO event (at, subcloud, kind, detail) VALUES (?, ?, 'config', ?)", arguments: [
                generation.createdAt.timeIntervalSince1970, generation.subcloud,
                "config generation \(generation.generation): \(generation.files.map(\.path).joined(separator: ", "))",
            ])
        }
    }

    public func configState(for subcloud: String) async throws -> ConfigState? {
        try await self.database.read { db in
            try String.fetchOne(db, sql: "SELECT body FROM configState WHERE subcloud = ?", arguments: [subcloud]).map { try Self.decode(ConfigState.self, $0) }
        }
    }

    public func recordConfigResult(_ state: ConfigState) async throws {
        let body = try Self.encode(state)
        try await self.database.write { db in
            try db.execute(sql: "INSERT INTO configState VALUES (?, ?) ON CONFLICT (subcloud) DO UPDATE SET body = excluded.body", arguments: [state.subcloud, body])
        }
    }

    // MARK: Releases

    public func addRelease(_ release: Release) async throws {
        let body = try Self.encode(release)
        try await self.database.write { db in
            try db.execute(sql: "INSERT INTO release VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, name, version) DO UPDATE SET importedAt = excluded.importedAt, body = excluded.body", arguments: [
                release.kind.rawValue, release.name, release.version, release.importedAt.timeIntervalSince1970, body,
            ])
        }
    }

    public func releases(kind: ContentKind) async throws -> [Release] {
        try await self.database.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM release WHERE kind = ? ORDER BY name, importedAt", arguments: [kind.rawValue])
                .map { try Self.decode(Release.self, $0) }
        }
    }

    public func release(kind: ContentKind, name: String, version: String?) async throws -> Release? {
        try await self.database.read { db in
            let body: String?
            if let version {
                body = try String.fetchOne(db, sql: "SELECT body FROM release WHERE kind = ? AND name = ? AND version = ?", arguments: [kind.rawValue, name, version])
            } else {
                body = try String.fetchOne(db, sql: "SELECT body FROM release WHERE kind = ? AND name = ? ORDER BY importedAt DESC LIMIT 1", arguments: [kind.rawValue, name])
            }
            return try body.map { try Self.decode(Release.self, $0) }
        }
    }

    // MARK: Deployments

    public func createDeployment(subcloud: String, kind: ContentKind, name: String, version: String, activate: Bool, at now: Date) async throws -> Deployment {
        try await self.database.write { db in
            guard try Self.fetchSubcloud(db, subcloud) != nil else { throw FleetStoreError.notFound("no subcloud named \"\(subcloud)\"") }
            try db.execute(sql: """
                UPDATE deployment SET state = 'superseded', updatedAt = ?
                WHERE subcloud = ? AND kind = ? AND name = ? AND state IN ('pending', 'fetching', 'prestaged')
                """, arguments: [now.timeIntervalSince1970, subcloud, kind.rawValue, name])
            let id = try Int64.fetchOne(db, sql: "INSERT INTO deployment (subcloud, kind, name, version, activate, state, detail, createdAt, updatedAt) VALUES (?, ?, ?, ?, ?, 'pending', '', ?, ?) RETURNING id", arguments: [
                subcloud, kind.rawValue, name, version, activate, now.timeIntervalSince1970, now.timeIntervalSince1970,
            ])!
            try db.execute(sql: "INSERT INTO event (at, subcloud, kind, detail) VALUES (?, ?, 'deployment', ?)", arguments: [
                now.timeIntervalSince1970, subcloud, "\(activate ? "deploy" : "prestage") \(kind.rawValue) \(name) \(version) (deployment \(id))",
            ])
            return Deployment(id: id, subcloud: subcloud, kind: kind, name: name, version: version, activate: activate, state: .pending, detail: "", createdAt: now, updatedAt: now)
        }
    }

    public func deployments(subcloud: String?) async throws -> [Deployment] {
        try await self.database.read { db in
            let rows: [SQLRow]
            if let subcloud {
                rows = try SQLRow.fetchAll(db, sql: "SELECT * FROM deployment WHERE subcloud = ? ORDER BY id", arguments: [subcloud])
            } else {
                rows = try SQLRow.fetchAll(db, sql: "SELECT * FROM deployment ORDER BY id")
            }
            return rows.map(Self.deployment(from:))
        }
    }

    public func deployment(id: Int64) async throws -> Deployment? {
        try await self.database.read { db in
            try SQLRow.fetchOne(db, sql: "SELECT * FROM deployment WHERE id = ?", arguments: [id]).map(Self.deployment(from:))
        }
    }

    public func updateDeployment(id: Int64, state: DeploymentState, detail: String, at now: Date) async throws {
        try await self.database.write { db in
            guard let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM deployment WHERE id = ?", arguments: [id]) else { return }
            let before = Self.deployment(from: row)
            guard before.state != .superseded, before.state != state || before.detail != detail else { return }
            try db.execute(sql: "UPDATE deployment SET state = ?, detail = ?, updatedAt = ? WHERE id = ?", arguments: [state.rawValue, detail, now.timeIntervalSince1970, id])
            if before.state != state {
                try db.execute(sql: "INSERT INTO event (at, subcloud, kind, detail) VALUES (?, ?, 'deployment', ?)", arguments: [
                    now.timeIntervalSince1970, before.subcloud,
                    "deployment \(id) (\(before.kind.rawValue) \(before.name)) \(state.rawValue)\(detail.isEmpty ? "" : ": \(detail)")",
                ])
            }
        }
    }

    // MARK: Inventory and sync

    public func recordInstalled(_ item: InstalledContent) async throws -> Bool {
        try await self.database.write { db in
            let before = try String.fetchOne(db, sql: "SELECT version FROM installed WHERE subcloud = ? AND kind = ? AND name = ?", arguments: [item.subcloud, item.kind.rawValue, item.name])
            try db.execute(sql: "INSERT INTO installed VALUES (?, ?, ?, ?, ?) ON CONFLICT (subcloud, kind, name) DO UPDATE SET version = excluded.version, reportedAt = excluded.reportedAt", arguments: [
                item.subcloud, item.kind.rawValue, item.name, item.version, item.reportedAt.timeIntervalSince1970,
            ])
            return before != item.version
        }
    }

    public func installed(subcloud: String) async throws -> [InstalledContent] {
        try await self.database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM installed WHERE subcloud = ? ORDER BY kind, name", arguments: [subcloud]).compactMap { row in
                guard let kind = ContentKind(rawValue: row["kind"]) else { return nil }
                return InstalledContent(subcloud: row["subcloud"], kind: kind, name: row["name"], version: row["version"], reportedAt: Date(timeIntervalSince1970: row["reportedAt"]))
            }
        }
    }

    public func setSync(_ subcloud: String, config: SyncStatus?, software: SyncStatus?, images: SyncStatus?, firmware: SyncStatus?) async throws {
        try await self.database.write { db in
            for (column, value) in [("syncConfig", config), ("syncSoftware", software), ("syncImages", images), ("syncFirmware", firmware)] {
                guard let value else { continue }
                try db.execute(sql: "UPDATE subcloud SET \(column) = ? WHERE name = ?", arguments: [value.rawValue, subcloud])
            }
        }
    }

    static func deploymentRow(_ row: SQLRow) -> Deployment { self.deployment(from: row) }

    private static func deployment(from row: SQLRow) -> Deployment {
        Deployment(
            id: row["id"], subcloud: row["subcloud"], kind: ContentKind(rawValue: row["kind"]) ?? .ostree, name: row["name"], version: row["version"],
            activate: row["activate"], state: DeploymentState(rawValue: row["state"]) ?? .failed, detail: row["detail"],
            createdAt: Date(timeIntervalSince1970: row["createdAt"]), updatedAt: Date(timeIntervalSince1970: row["updatedAt"])
        )
    }

    private static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
