import Foundation

/// 900.001: a strategy failed (major). Cleared when a strategy of the same type completes.
struct StrategyAlarm {
    let id = "900.001"
    let type: StrategyType
    var entity: String { "strategy=\(self.type.rawValue)" }

    func raise(_ detail: String, at now: Date) -> Alarm {
        Alarm(
            subcloud: Alarm.controller, alarmID: self.id, entity: self.entity, severity: "major",
            reason: "\(self.type.rawValue) strategy failed: \(detail)", probableCause: "update failed on one or more subclouds",
            repairAction: "see `tern-controller strategy show \(self.type.rawValue)`; fix the failed subclouds, then create and apply a new strategy",
            serviceAffecting: false, raisedAt: now
        )
    }
}
