import Foundation
import Testing
@testable import Controller

@Suite("Backup schedule timing")
struct BackupScheduleTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func schedule(every: Double) -> BackupSchedule {
        BackupSchedule(id: 1, targets: TargetSelection(all: true), every: every, keep: nil, localOnly: false, maxParallel: nil, at: self.start)
    }

    @Test("not due before its time; on time it runs and the next run is one interval later")
    func onTime() throws {
        let daily = self.schedule(every: 86_400)
        #expect(daily.due(at: self.start.addingTimeInterval(-1)) == nil)
        let due = try #require(daily.due(at: self.start.addingTimeInterval(30)))
        #expect(due.missed == 0 && due.next == self.start.addingTimeInterval(86_400))
    }

    @Test("late beyond the grace (a tenth of the interval, at most 10 minutes): missed runs are counted, the next run keeps the grid")
    func late() throws {
        let hourly = self.schedule(every: 3_600)
        #expect(try #require(hourly.due(at: self.start.addingTimeInterval(300))).missed == 0, "5 minutes late is within the grace of an hourly schedule")
        let afterOutage = try #require(hourly.due(at: self.start.addingTimeInterval(3 * 3_600 + 900)))
        #expect(afterOutage.missed == 3)
        #expect(afterOutage.next == self.start.addingTimeInterval(4 * 3_600))
        let slightlyLate = try #require(hourly.due(at: self.start.addingTimeInterval(1_200)))
        #expect(slightlyLate.missed == 1 && slightlyLate.next == self.start.addingTimeInterval(3_600))
    }
}
