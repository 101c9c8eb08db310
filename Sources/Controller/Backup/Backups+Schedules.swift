import Foundation

/// Recurring backups: `Backups.tick()` runs the schedules that are due.
extension Backups {
    public func schedule(_ targets: TargetSelection, every: Double, keep: Int?, localOnly: Bool, maxParallel: Int?, at now: Date = Date()) async throws -> BackupSchedule {
        guard every >= 1 else { throw FleetStoreError.refused("--every must be at least 1 second") }
        _ = try await targets.resolve(in: self.store)
        let made = try await self.store.addBackupSchedule(BackupSchedule(id: 0, targets: targets, every: every, keep: keep, localOnly: localOnly, maxParallel: maxParallel, at: now))
        self.wakeup.notify()
        return made
    }

    /// Starts the backups of every schedule that is due; says so when a run was missed.
    func runSchedules(at now: Date = Date()) async {
        guard let schedules = try? await self.store.backupSchedules() else { return }
        for var schedule in schedules {
            guard let (next, missed) = schedule.due(at: now) else { continue }
            do {
                if missed > 0 {
                    try await self.store.raiseControllerAlarm(BackupScheduleAlarm.raise(schedule, missed: missed, at: now))
                    try await self.store.recordEvent(subcloud: nil, kind: "backup", detail: "backup schedule \(schedule.id) missed \(missed) run(s); running now", at: now)
                } else {
                    try await self.store.clearControllerAlarm(alarmID: BackupScheduleAlarm.id, entity: BackupScheduleAlarm.entity(schedule), at: now)
                }
                schedule.lastRunAt = now
                schedule.nextAt = next
                try await self.store.saveBackupSchedule(schedule)
                let subclouds = try await schedule.targets.resolve(in: self.store).map(\.name)
                // A site whose previous scheduled backup is still running is not asked twice.
                let busy = Set(try await self.store.openBackups().map(\.subcloud))
                let due = subclouds.filter { !busy.contains($0) }
                if !due.isEmpty {
                    _ = try await self.create(subclouds: due, localOnly: schedule.localOnly, maxParallel: schedule.maxParallel, keep: schedule.keep, at: now)
                }
            } catch {
                self.logger.error("scheduled backup could not start", metadata: ["schedule": "\(schedule.id)", "error": "\(error)"])
            }
        }
    }
}
