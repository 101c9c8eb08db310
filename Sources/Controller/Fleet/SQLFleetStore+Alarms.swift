import Foundation

/// Alarms and events (`AlarmStore`).
extension SQLFleetStore {
    public func raise(_ alarm: Alarm) async throws {
        try await self.database.write { db in
            guard try Self.fetchSubcloud(db, alarm.subcloud) != nil else { return }
            let existing = try SQLRow.fetchOne(db, sql: "SELECT severity FROM alarm WHERE subcloud = ? AND alarmID = ? AND entity = ?",
                                            arguments: [alarm.subcloud, alarm.alarmID, alarm.entity])
            try db.execute(sql: """
                INSERT INTO alarm VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (subcloud, alarmID, entity) DO UPDATE SET severity = excluded.severity, reason = excluded.reason,
                    probableCause = excluded.probableCause, repairAction = excluded.repairAction, serviceAffecting = excluded.serviceAffecting
                """, arguments: [alarm.subcloud, alarm.alarmID, alarm.entity, alarm.severity, alarm.reason, alarm.probableCause,
                                 alarm.repairAction, alarm.serviceAffecting, alarm.raisedAt.timeIntervalSince1970])
            if existing == nil || (existing!["severity"] as String) != alarm.severity {
                try Self.event(db, subcloud: alarm.subcloud, kind: "alarm-raised",
                               detail: "\(alarm.alarmID) \(alarm.severity) \(alarm.entity): \(alarm.reason)", at: alarm.raisedAt)
            }
        }
    }

    public func clear(subcloud: String, alarmID: String, entity: String, at: Date) async throws {
        try await self.database.write { db in
            try db.execute(sql: "DELETE FROM alarm WHERE subcloud = ? AND alarmID = ? AND entity = ?", arguments: [subcloud, alarmID, entity])
            if db.changesCount > 0 {
                try Self.event(db, subcloud: subcloud, kind: "alarm-cleared", detail: "\(alarmID) \(entity)", at: at)
            }
        }
    }

    public func alarms(subcloud: String?) async throws -> [Alarm] {
        try await self.database.read { db in
            let rows: [SQLRow]
            if let subcloud {
                rows = try SQLRow.fetchAll(db, sql: "SELECT * FROM alarm WHERE subcloud = ? ORDER BY raisedAt", arguments: [subcloud])
            } else {
                rows = try SQLRow.fetchAll(db, sql: "SELECT * FROM alarm ORDER BY raisedAt")
            }
            let site = rows.map { row in
                Alarm(subcloud: row["subcloud"], alarmID: row["alarmID"], entity: row["entity"], severity: row["severity"],
                      reason: row["reason"], probableCause: row["probableCause"], repairAction: row["repairAction"],
                      serviceAffecting: row["serviceAffecting"], raisedAt: Date(timeIntervalSince1970: row["raisedAt"]))
            }
            guard subcloud == nil || subcloud == Alarm.controller else { return site }
            let own = try String.fetchAll(db, sql: "SELECT body FROM controllerAlarm").map { try Self.decodeJSON(Alarm.self, $0) }
            return (own + site).sorted { $0.raisedAt < $1.raisedAt }
        }
    }

    public func activeAlarmCount() async throws -> Int {
        try await self.database.read { db in
            try Int.fetchOne(db, sql: "SELECT (SELECT COUNT(*) FROM alarm) + (SELECT COUNT(*) FROM controllerAlarm)") ?? 0
        }
    }

    public func events(since: Date?, limit: Int) async throws -> [FleetEvent] {
        try await self.database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM event WHERE at >= ? ORDER BY id DESC LIMIT ?",
                             arguments: [since?.timeIntervalSince1970 ?? 0, limit]).reversed().map(Self.eventRow)
        }
    }

    public func recordEvent(subcloud: String?, kind: String, detail: String, at: Date) async throws {
        try await self.database.write { db in try Self.event(db, subcloud: subcloud, kind: kind, detail: detail, at: at) }
    }

    /// An alarm of the controller itself (a failed strategy), not of a subcloud.
    public func raiseControllerAlarm(_ alarm: Alarm) async throws {
        try await self.database.write { db in
            let existed = try SQLRow.fetchOne(db, sql: "SELECT 1 FROM controllerAlarm WHERE alarmID = ? AND entity = ?", arguments: [alarm.alarmID, alarm.entity]) != nil
            try db.execute(sql: "INSERT INTO controllerAlarm VALUES (?, ?, ?) ON CONFLICT (alarmID, entity) DO UPDATE SET body = excluded.body", arguments: [alarm.alarmID, alarm.entity, try Self.encodeJSON(alarm)])
            if !existed {
                try Self.event(db, subcloud: nil, kind: "alarm-raised", detail: "\(alarm.alarmID) \(alarm.severity) \(alarm.entity): \(alarm.reason)", at: alarm.raisedAt)
            }
        }
    }

    public func clearControllerAlarm(alarmID: String, entity: String, at: Date) async throws {
        try await self.database.write { db in
            try db.execute(sql: "DELETE FROM controllerAlarm WHERE alarmID = ? AND entity = ?", arguments: [alarmID, entity])
            if db.changesCount > 0 {
                try Self.event(db, subcloud: nil, kind: "alarm-cleared", detail: "\(alarmID) \(entity)", at: at)
            }
        }
    }
}
