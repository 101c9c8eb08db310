import Foundation
import Platform
import Wire

/// The alarm an agent raises when it cannot store what it is sent (issue 7, item 13):
/// StarlingX 100.104 on the file system that refused the write, cleared once an
/// object is stored again.
enum StorageAlarm {
    static func entity(_ failure: Transfers.StorageFailure, host: String) -> String {
        "host=\(host).filesystem=\((failure.path as NSString).deletingLastPathComponent)"
    }

    static func raise(_ failure: Transfers.StorageFailure, host: String, at now: Date = Date()) -> AlarmRaise {
        AlarmRaise(
            alarmID: AlarmRules.diskID, entity: self.entity(failure, host: host), severity: .major,
            reason: "transfers cannot be stored: \(String(cString: strerror(failure.underlying.errno)))",
            probableCause: "storage-capacity-problem",
            repairAction: "Free space where the agent keeps transfers; the transfer resumes by itself",
            raisedAtMillis: UInt64(now.timeIntervalSince1970 * 1000), serviceAffecting: false
        )
    }

    static func clear(_ failure: Transfers.StorageFailure, host: String, at now: Date = Date()) -> AlarmClear {
        AlarmClear(alarmID: AlarmRules.diskID, entity: self.entity(failure, host: host), clearedAtMillis: UInt64(now.timeIntervalSince1970 * 1000))
    }
}
