import Foundation

/// A recurring backup (`backup schedule --every 24h --group G --keep 7`): at each
/// due time the controller backs up the selected subclouds, keeping `keep` per site.
public struct BackupSchedule: Codable, Sendable, Equatable {
    public var id: Int64
    public var targets: TargetSelection
    /// Seconds between runs.
    public var every: Double
    public var keep: Int?
    public var localOnly: Bool
    public var maxParallel: Int?
    public var createdAt: Date
    public var nextAt: Date
    public var lastRunAt: Date?

    public init(id: Int64, targets: TargetSelection, every: Double, keep: Int?, localOnly: Bool, maxParallel: Int?, at now: Date) {
        self.id = id
        self.targets = targets
        self.every = every
        self.keep = keep
        self.localOnly = localOnly
        self.maxParallel = maxParallel
        self.createdAt = now
        self.nextAt = now
        self.lastRunAt = nil
    }

    /// A run is missed when it starts later than this after its due time (the controller was down).
    public var grace: Double { min(max(self.every / 10, 1), 600) }

    /// Whether a run is due at `now`; if so the next due time (after `now`) and the runs
    /// missed meanwhile (0: on time).
    public func due(at now: Date) -> (next: Date, missed: Int)? {
        guard now >= self.nextAt else { return nil }
        let late = now.timeIntervalSince(self.nextAt)
        let skipped = Int(late / self.every)
        let next = self.nextAt.addingTimeInterval(Double(skipped + 1) * self.every)
        return (next, late > self.grace ? max(1, skipped) : 0)
    }
}

/// Recurring backups (`BackupScheduleStore`).
public protocol BackupScheduleStore: Sendable {
    func addBackupSchedule(_ schedule: BackupSchedule) async throws -> BackupSchedule
    func saveBackupSchedule(_ schedule: BackupSchedule) async throws
    func backupSchedules() async throws -> [BackupSchedule]
    func deleteBackupSchedule(id: Int64) async throws -> Bool
}

/// 210.003: a scheduled backup ran late, or not at all, because the controller was
/// not running at its time. Cleared when the schedule next runs on time.
enum BackupScheduleAlarm {
    static let id = "210.003"

    static func entity(_ schedule: BackupSchedule) -> String { "backup-schedule=\(schedule.id)" }

    static func raise(_ schedule: BackupSchedule, missed: Int, at now: Date) -> Alarm {
        Alarm(
            subcloud: Alarm.controller, alarmID: self.id, entity: self.entity(schedule), severity: "minor",
            reason: "backup schedule \(schedule.id) (\(schedule.targets.summary), every \(Int(schedule.every)) s) missed \(missed) run(s) due at \(ISO8601DateFormatter().string(from: schedule.nextAt)); it ran late",
            probableCause: "the controller was not running at the scheduled time",
            repairAction: "check why the controller was down; the schedule goes on by itself",
            serviceAffecting: false, raisedAt: now
        )
    }
}
