import Foundation
import Testing
import Wire
@testable import Agent

@Suite struct AlarmRulesTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)

    static func health(usedPercent: UInt64) -> HealthReport {
        HealthReport(disks: [DiskUsage(mount: "/var", totalBytes: 100, usedBytes: usedPercent)])
    }

    @Test("a full disk raises once, stays quiet while full, and clears when it drains")
    func diskLifecycle() {
        var rules = AlarmRules(host: "edge-01")
        let full = rules.evaluate(health: Self.health(usedPercent: 95), unitStates: [:], at: Self.now)
        #expect(full.map(\.entity) == ["host=edge-01.filesystem=/var"])
        #expect(full.first?.alarmID == AlarmRules.diskID && full.first?.severity == .major)
        let first = rules.changes(to: full, at: Self.now)
        #expect(first.raise.count == 1 && first.clear.isEmpty)
        let again = rules.changes(to: rules.evaluate(health: Self.health(usedPercent: 96), unitStates: [:], at: Self.now.addingTimeInterval(30)), at: Self.now.addingTimeInterval(30))
        #expect(again.raise.isEmpty && again.clear.isEmpty)
        let drained = rules.changes(to: rules.evaluate(health: Self.health(usedPercent: 50), unitStates: [:], at: Self.now), at: Self.now)
        #expect(drained.raise.isEmpty && drained.clear.map(\.entity) == ["host=edge-01.filesystem=/var"])
    }

    @Test("a watched unit that is not active raises a critical alarm")
    func units() {
        var rules = AlarmRules(host: "edge-01")
        rules.watchedUnits = ["nginx.service", "chronyd.service"]
        let alarms = rules.evaluate(health: HealthReport(), unitStates: ["nginx.service": "failed", "chronyd.service": "active"], at: Self.now)
        #expect(alarms.map(\.entity) == ["host=edge-01.service=nginx.service"])
        #expect(alarms.first?.severity == .critical && alarms.first?.reason == "nginx.service is failed")
    }

    @Test("active alarms survive a restart, so a condition that ended meanwhile is cleared")
    func persistence() {
        var before = AlarmRules(host: "edge-01")
        _ = before.changes(to: before.evaluate(health: Self.health(usedPercent: 95), unitStates: [:], at: Self.now), at: Self.now)
        var after = AlarmRules(host: "edge-01")
        after.restore(before.saved)
        #expect(after.activeAlarms == before.activeAlarms)
        let changes = after.changes(to: after.evaluate(health: Self.health(usedPercent: 10), unitStates: [:], at: Self.now), at: Self.now)
        #expect(changes.clear.map(\.alarmID) == [AlarmRules.diskID])
        // Garbage in the file is ignored, not fatal.
        var fresh = AlarmRules(host: "edge-01")
        fresh.restore([1, 2, 3, 4])
        #expect(fresh.activeAlarms.isEmpty)
    }
}
