/// Alarms the controller raises itself, with StarlingX-style ids.
public enum FleetAlarms {
    /// A subcloud stopped sending heartbeats (StarlingX 280.001, "subcloud offline").
    public static let offlineID = "280.001"

    public static func offlineEntity(_ subcloud: String) -> String { "subcloud=\(subcloud)" }

    static func offline(_ subcloud: String, reason: String, at date: Date) -> Alarm {
        Alarm(
            subcloud: subcloud, alarmID: offlineID, entity: offlineEntity(subcloud), severity: "critical",
            reason: "\(subcloud) is offline: \(reason)",
            probableCause: "loss-of-signal",
            repairAction: "Check the site's power, network link and the tern-agent service",
            serviceAffecting: true, raisedAt: date
        )
    }
}

import struct Foundation.Date
