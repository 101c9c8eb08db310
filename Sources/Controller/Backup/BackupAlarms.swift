import Foundation

/// The alarms of backups on their subcloud: 210.001 a backup failed (cleared by the
/// next complete one), 210.002 a restore failed (cleared by the next one that works).
enum BackupAlarms {
    static let failedID = "210.001"

    static func entity(_ subcloud: String) -> String { "subcloud=\(subcloud).backup" }

    static func failed(_ backup: Backup, at date: Date) -> Alarm {
        Alarm(
            subcloud: backup.subcloud, alarmID: failedID, entity: entity(backup.subcloud), severity: "major",
            reason: "backup \(backup.id) of \(backup.subcloud) failed: \(backup.detail)",
            probableCause: "backup-failure", repairAction: "Check the site's --backup-path settings and disk, then run `tern-controller backup create --subcloud \(backup.subcloud)`",
            serviceAffecting: false, raisedAt: date
        )
    }

    static let restoreFailedID = "210.002"

    static func restoreFailed(subcloud: String, backup: Int64, reason: String, at date: Date) -> Alarm {
        Alarm(
            subcloud: subcloud, alarmID: restoreFailedID, entity: entity(subcloud), severity: "major",
            reason: "restore of backup \(backup) onto \(subcloud) failed: \(reason)", probableCause: "restore-failure",
            repairAction: "Read the reason; the site kept its files as they were. Fix it and run the restore again",
            serviceAffecting: false, raisedAt: date
        )
    }
}
