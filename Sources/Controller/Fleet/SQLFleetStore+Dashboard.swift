import Foundation

/// What the live dashboard reads (`DashboardStore`): fleet rows by rowid, strategy
/// progress counted in SQL, the subclouds behind each newest release, events after
/// an id. Each is one or two queries, however large the fleet.
public protocol DashboardStore: Sendable {
    /// What each commit changed.
    var changes: StoreChanges { get }
    /// Rows for these subcloud rowids (all when nil), with their rowids.
    func fleetRows(rowIDs: Set<Int64>?) async throws -> [(rowID: Int64, row: FleetRow)]
    /// Active alarm counts by subcloud: critical, major, minor, warning.
    func alarmCountsBySubcloud() async throws -> [String: [Int]]
    /// The running OSTree commit by subcloud.
    func runningCommits() async throws -> [String: String]
    func strategySummaries() async throws -> [StrategySummary]
    func requiredUpdates() async throws -> [RequiredUpdate]
    /// Events with an id above `id`, oldest first, at most `limit` (the newest of them).
    func events(after id: Int64, limit: Int) async throws -> [FleetEvent]
    /// One subcloud's newest events, newest first.
    func events(subcloud: String, limit: Int) async throws -> [FleetEvent]
}

extension SQLFleetStore {
    public func fleetRows(rowIDs: Set<Int64>?) async throws -> [(rowID: Int64, row: FleetRow)] {
        try await self.database.read { db in
            guard let rowIDs else {
                return try Self.fleetRows(db, where: "1 = 1", arguments: [], counts: try Self.alarmCounts(db), commits: try Self.runningCommits(db))
            }
            // Only the changed rows' alarms and commits: this runs for every delta.
            var rows: [(Int64, FleetRow)] = []
            let ids = Array(rowIDs)
            try Self.inSlices(ids) { slice, marks in
                let names = "subcloud IN (SELECT name FROM subcloud WHERE rowid IN (\(marks)))"
                let arguments: SQLArguments = slice
                rows += try Self.fleetRows(
                    db, where: "rowid IN (\(marks))", arguments: arguments,
                    counts: try Self.alarmCounts(db, where: names, arguments: arguments),
                    commits: try Self.runningCommits(db, where: names, arguments: arguments)
                )
            }
            return rows
        }
    }

    private static func fleetRows(
        _ db: any SQLSession, where condition: String, arguments: SQLArguments, counts: [String: AlarmCounts], commits: [String: String]
    ) throws -> [(rowID: Int64, row: FleetRow)] {
        try SQLRow.fetchAll(db, sql: "SELECT rowid AS tern_rowid, * FROM subcloud WHERE \(condition) ORDER BY name", arguments: arguments).map { row in
            let subcloud = try Self.subcloud(from: row, counts: counts)
            return (row["tern_rowid"], FleetRow(subcloud, commit: commits[subcloud.name]))
        }
    }

    public func alarmCountsBySubcloud() async throws -> [String: [Int]] {
        try await self.database.read { db in
            try Self.alarmCounts(db).mapValues { [$0.critical, $0.major, $0.minor, $0.warning] }
        }
    }

    public func runningCommits() async throws -> [String: String] {
        try await self.database.read { db in try Self.runningCommits(db) }
    }

    static func runningCommits(_ db: any SQLSession, where condition: String = "1 = 1", arguments: SQLArguments = []) throws -> [String: String] {
        var commits: [String: String] = [:]
        for row in try SQLRow.fetchAll(db, sql: "SELECT subcloud, version FROM installed WHERE kind = 'ostree' AND (\(condition)) ORDER BY reportedAt", arguments: arguments) {
            commits[row["subcloud"]] = row["version"]
        }
        return commits
    }

    public func strategySummaries() async throws -> [StrategySummary] {
        try await self.database.read { db in
            var counts: [String: [String: Int]] = [:]
            for row in try SQLRow.fetchAll(db, sql: "SELECT type, \(db.dialect.jsonText("body", "state")) AS state, COUNT(*) AS n FROM strategyStep GROUP BY type, state") {
                counts[row["type"], default: [:]][row["state"]] = row["n"]
            }
            return try String.fetchAll(db, sql: "SELECT body FROM strategy ORDER BY type").map { body in
                let strategy = try Self.decodeJSON(Strategy.self, body)
                let mine = counts[strategy.type.rawValue] ?? [:]
                let total = mine.values.reduce(0, +)
                let finished = mine.filter { StepState(rawValue: $0.key)?.isFinished == true }.values.reduce(0, +)
                return StrategySummary(
                    type: strategy.type.rawValue, state: strategy.state.rawValue, content: strategy.content.summary, targets: strategy.targets,
                    percentDone: total == 0 ? 100 : finished * 100 / total, steps: total, counts: mine
                )
            }
        }
    }

    public func requiredUpdates() async throws -> [RequiredUpdate] {
        try await self.database.read { db in
            var newest: [String: (kind: String, name: String, version: String)] = [:]
            for row in try SQLRow.fetchAll(db, sql: "SELECT kind, name, version FROM release WHERE kind != 'backup' ORDER BY importedAt, rowid") {
                newest["\(row["kind"] as String)\u{0}\(row["name"] as String)"] = (row["kind"], row["name"], row["version"])
            }
            var updates: [String: RequiredUpdate] = [:]
            for (key, release) in newest {
                updates[key] = RequiredUpdate(kind: release.kind, name: release.name, newest: release.version, behind: [], current: 0)
            }
            for row in try SQLRow.fetchAll(db, sql: "SELECT subcloud, kind, name, version FROM installed ORDER BY subcloud") {
                let key = "\(row["kind"] as String)\u{0}\(row["name"] as String)"
                guard let release = newest[key] else { continue }
                if (row["version"] as String) == release.version { updates[key]?.current += 1 } else { updates[key]?.behind.append(row["subcloud"]) }
            }
            return updates.values.sorted { ($0.kind, $0.name) < ($1.kind, $1.name) }
        }
    }

    public func events(after id: Int64, limit: Int) async throws -> [FleetEvent] {
        try await self.database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM (SELECT * FROM event WHERE id > ? ORDER BY id DESC LIMIT ?) AS newest ORDER BY id", arguments: [id, limit])
                .map(Self.eventRow)
        }
    }

    public func events(subcloud: String, limit: Int) async throws -> [FleetEvent] {
        try await self.database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM event WHERE subcloud = ? ORDER BY id DESC LIMIT ?", arguments: [subcloud, limit]).map(Self.eventRow)
        }
    }

    static func eventRow(_ row: SQLRow) -> FleetEvent {
        FleetEvent(id: row["id"], at: Date(timeIntervalSince1970: row["at"]), subcloud: row["subcloud"], kind: row["kind"], detail: row["detail"])
    }
}
