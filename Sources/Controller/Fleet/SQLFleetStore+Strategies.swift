import Foundation
import Wire

/// Strategies and their steps (`StrategyStore`): one row each, the value as JSON,
/// every step transition also in the event log.
extension SQLFleetStore {
    static func registerStrategyMigration(_ migrator: inout [SQLMigration]) {
        migrator.registerMigration("v4: orchestration") { db in
            try db.execute(sql: """
                ALTER TABLE subcloudGroup ADD COLUMN priority INTEGER NOT NULL DEFAULT 10;
                CREATE TABLE strategy (
                    type TEXT PRIMARY KEY NOT NULL,
                    body TEXT NOT NULL
                );
                CREATE TABLE strategyStep (
                    type TEXT NOT NULL REFERENCES strategy(type) ON DELETE CASCADE,
                    subcloud TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    body TEXT NOT NULL,
                    PRIMARY KEY (type, subcloud)
                );
                CREATE TABLE controllerAlarm (
                    alarmID TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    body TEXT NOT NULL,
                    PRIMARY KEY (alarmID, entity)
                );
                """)
        }
    }

    public func createStrategy(_ strategy: Strategy, steps: [StrategyStep]) async throws {
        try await self.database.write { db in
            if let existing = try String.fetchOne(db, sql: "SELECT body FROM strategy WHERE type = ?", arguments: [strategy.type.rawValue]) {
                let state = try Self.decodeJSON(Strategy.self, existing).state
                throw FleetStoreError.conflict("a \(strategy.type.rawValue) strategy exists (\(state.rawValue)); delete it first")
            }
            // Strategies of other types may run beside this one only on other subclouds.
            let names = Set(steps.map(\.subcloud))
            for body in try String.fetchAll(db, sql: "SELECT body FROM strategy") {
                let other = try Self.decodeJSON(Strategy.self, body)
                guard !other.state.isFinished else { continue }
                let overlap = try String.fetchAll(db, sql: "SELECT subcloud FROM strategyStep WHERE type = ?", arguments: [other.type.rawValue])
                    .filter(names.contains)
                if let first = overlap.first {
                    throw FleetStoreError.conflict("the \(other.type.rawValue) strategy (\(other.state.rawValue)) also targets \(first)\(overlap.count > 1 ? " and \(overlap.count - 1) more" : "")")
                }
            }
            try db.execute(sql: "INSERT INTO strategy VALUES (?, ?)", arguments: [strategy.type.rawValue, try Self.encodeJSON(strategy)])
            for (position, step) in steps.enumerated() {
                try db.execute(sql: "INSERT INTO strategyStep VALUES (?, ?, ?, ?)",
                               arguments: [strategy.type.rawValue, step.subcloud, position, try Self.encodeJSON(step)])
            }
            try Self.event(db, subcloud: nil, kind: "strategy", detail: "\(strategy.type.rawValue) strategy created: \(strategy.content.summary), \(steps.count) steps", at: strategy.createdAt)
        }
    }

    public func strategy(_ type: StrategyType) async throws -> Strategy? {
        try await self.database.read { db in
            try String.fetchOne(db, sql: "SELECT body FROM strategy WHERE type = ?", arguments: [type.rawValue]).map { try Self.decodeJSON(Strategy.self, $0) }
        }
    }

    public func strategies() async throws -> [Strategy] {
        try await self.database.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM strategy ORDER BY type").map { try Self.decodeJSON(Strategy.self, $0) }
        }
    }

    public func steps(of type: StrategyType) async throws -> [StrategyStep] {
        try await self.database.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM strategyStep WHERE type = ? ORDER BY position", arguments: [type.rawValue])
                .map { try Self.decodeJSON(StrategyStep.self, $0) }
        }
    }

    public func saveStrategy(_ strategy: Strategy, event: String?, at now: Date) async throws {
        try await self.database.write { db in
            try db.execute(sql: "UPDATE strategy SET body = ? WHERE type = ?", arguments: [try Self.encodeJSON(strategy), strategy.type.rawValue])
            guard db.changesCount == 1 else { throw FleetStoreError.notFound("no \(strategy.type.rawValue) strategy") }
            if let event { try Self.event(db, subcloud: nil, kind: "strategy", detail: event, at: now) }
        }
    }

    public func saveSteps(_ steps: [StrategyStep], of type: StrategyType, at now: Date, transitions: Bool) async throws {
        guard !steps.isEmpty else { return }
        try await self.database.write { db in
            for step in steps {
                try db.execute(sql: "UPDATE strategyStep SET body = ? WHERE type = ? AND subcloud = ?",
                               arguments: [try Self.encodeJSON(step), type.rawValue, step.subcloud])
                guard transitions else { continue }
                let detail = step.detail.isEmpty ? "" : ": \(step.detail)"
                try Self.event(db, subcloud: step.subcloud, kind: "strategy-step", detail: "\(type.rawValue) step \(step.state.rawValue)\(detail)", at: now)
            }
        }
    }

    public func deleteStrategy(_ type: StrategyType) async throws {
        try await self.database.write { db in
            guard let body = try String.fetchOne(db, sql: "SELECT body FROM strategy WHERE type = ?", arguments: [type.rawValue]) else {
                throw FleetStoreError.notFound("no \(type.rawValue) strategy")
            }
            let state = try Self.decodeJSON(Strategy.self, body).state
            guard !state.isRunning else { throw FleetStoreError.refused("the \(type.rawValue) strategy is \(state.rawValue); abort it and wait for it to end first") }
            try db.execute(sql: "DELETE FROM strategy WHERE type = ?", arguments: [type.rawValue])
        }
    }

    // MARK: What a round of orchestration reads, in three queries

    public func presence() async throws -> [String: SubcloudPresence] {
        try await self.database.read { db in
            var presence: [String: SubcloudPresence] = [:]
            for row in try SQLRow.fetchAll(db, sql: "SELECT name, management, availability, lastSeenAt FROM subcloud") {
                presence[row["name"]] = Self.presenceRow(row)
            }
            return presence
        }
    }

    public func presence(of names: [String]) async throws -> [String: SubcloudPresence] {
        guard !names.isEmpty else { return [:] }
        return try await self.database.read { db in
            var presence: [String: SubcloudPresence] = [:]
            try Self.inSlices(names) { slice, marks in
                let sql = "SELECT name, management, availability, lastSeenAt FROM subcloud WHERE name IN (\(marks))"
                for row in try SQLRow.fetchAll(db, sql: sql, arguments: SQLArguments(slice)) {
                    presence[row["name"]] = Self.presenceRow(row)
                }
            }
            return presence
        }
    }

    public func availabilityCounts() async throws -> (online: Int, offline: Int) {
        try await self.database.read { db in
            let online = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subcloud WHERE availability = ?", arguments: [Availability.online.rawValue]) ?? 0
            let all = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subcloud") ?? 0
            return (online, all - online)
        }
    }

    static func presenceRow(_ row: SQLRow) -> SubcloudPresence {
        SubcloudPresence(
            managed: (row["management"] as String) == ManagementState.managed.rawValue,
            online: (row["availability"] as String) == Availability.online.rawValue,
            lastSeenAt: (row["lastSeenAt"] as Double?).map(Date.init(timeIntervalSince1970:))
        )
    }

    public func deployments(ids: [Int64]) async throws -> [Int64: Deployment] {
        guard !ids.isEmpty else { return [:] }
        return try await self.database.read { db in
            var found: [Int64: Deployment] = [:]
            try Self.inSlices(ids) { slice, marks in
                for row in try SQLRow.fetchAll(db, sql: "SELECT * FROM deployment WHERE id IN (\(marks))", arguments: SQLArguments(slice)) {
                    let deployment = Self.deploymentRow(row)
                    found[deployment.id] = deployment
                }
            }
            return found
        }
    }

    public func installedVersions(kind: ContentKind, name: String) async throws -> [String: String] {
        try await self.database.read { db in
            var versions: [String: String] = [:]
            for row in try SQLRow.fetchAll(db, sql: "SELECT subcloud, version FROM installed WHERE kind = ? AND name = ?", arguments: [kind.rawValue, name]) {
                versions[row["subcloud"]] = row["version"]
            }
            return versions
        }
    }

    static func encodeJSON<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
