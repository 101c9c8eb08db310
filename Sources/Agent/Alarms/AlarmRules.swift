import Foundation
import NIOCore
import Platform
import Wire

/// The conditions the agent raises alarms for, and the bookkeeping that turns
/// "what is wrong now" into raise and clear messages.
public struct AlarmRules: Sendable {
    /// StarlingX 100.104: a filesystem is above its usage threshold.
    public static let diskID = "100.104"
    /// StarlingX 200.006: a monitored process or service is not running.
    public static let unitID = "200.006"

    public var host: String
    /// Disk use above this percentage raises a major alarm.
    public var diskThresholdPercent: Double = 90
    /// systemd units that must be active.
    public var watchedUnits: [String] = []

    /// Alarms raised and not yet cleared, by (id, entity).
    private var active: [String: AlarmRaise] = [:]

    public init(host: String) {
        self.host = host
    }

    /// What is wrong now, given health and the state of the watched units.
    public func evaluate(health: HealthReport, unitStates: [String: String], at now: Date) -> [AlarmRaise] {
        let millis = UInt64(now.timeIntervalSince1970 * 1000)
        var alarms: [AlarmRaise] = []
        for disk in health.disks where disk.totalBytes > 0 {
            let percent = Double(disk.usedBytes) * 100 / Double(disk.totalBytes)
            guard percent > self.diskThresholdPercent else { continue }
            alarms.append(AlarmRaise(
                alarmID: Self.diskID, entity: "host=\(self.host).filesystem=\(disk.mount)", severity: .major,
                reason: String(format: "%@ is %.0f%% full (threshold %.0f%%)", disk.mount, percent, self.diskThresholdPercent),
                probableCause: "threshold-crossed", repairAction: "Free space on \(disk.mount) or grow the filesystem",
                raisedAtMillis: millis, serviceAffecting: false
            ))
        }
        for unit in self.watchedUnits {
            let state = unitStates[unit] ?? "unknown"
            guard state != "active" else { continue }
            alarms.append(AlarmRaise(
                alarmID: Self.unitID, entity: "host=\(self.host).service=\(unit)", severity: .critical,
                reason: "\(unit) is \(state)", probableCause: "underlying-resource-unavailable",
                repairAction: "Check `systemctl status \(unit)` and `journalctl -u \(unit)` on the site",
                raisedAtMillis: millis, serviceAffecting: true
            ))
        }
        return alarms
    }

    /// Raise what is new and clear what is gone since the last call.
    public mutating func changes(to current: [AlarmRaise], at now: Date) -> (raise: [AlarmRaise], clear: [AlarmClear]) {
        let millis = UInt64(now.timeIntervalSince1970 * 1000)
        var next: [String: AlarmRaise] = [:]
        for alarm in current { next[alarm.alarmID + "|" + alarm.entity] = alarm }
        let raise = next.filter { key, alarm in self.active[key]?.severity != alarm.severity }.map(\.value)
        let clear = self.active.filter { next[$0.key] == nil }.map { AlarmClear(alarmID: $0.value.alarmID, entity: $0.value.entity, clearedAtMillis: millis) }
        for key in next.keys where self.active[key] != nil { next[key]!.raisedAtMillis = self.active[key]!.raisedAtMillis }
        self.active = next
        return (raise.sorted { $0.entity < $1.entity }, clear.sorted { $0.entity < $1.entity })
    }

    /// Everything active, to re-raise on a new connection (raising is idempotent).
    public var activeAlarms: [AlarmRaise] { self.active.values.sorted { $0.entity < $1.entity } }

    /// Active alarms as saved in the state directory, so that an agent restarted after
    /// a condition cleared still clears the alarm it raised before.
    public var saved: [UInt8] {
        var buffer = ByteBuffer()
        for alarm in self.activeAlarms { Frame(streamID: 0, payload: .message(.alarmRaise(alarm))).write(to: &buffer) }
        return Array(buffer.readableBytesView)
    }

    /// Restores what `saved` wrote; unreadable content is ignored (the controller re-learns on the next check).
    public mutating func restore(_ bytes: [UInt8]) {
        var parser = FrameParser(maxFrameSize: WireLimits.hardMaxFrameSize)
        var buffer = ByteBuffer(bytes: bytes)
        parser.append(bytes: &buffer)
        while let frame = try? parser.nextFrame() {
            if case .message(.alarmRaise(let alarm)) = frame.payload { self.active[alarm.alarmID + "|" + alarm.entity] = alarm }
        }
    }

    /// `systemctl is-active` for each watched unit; "unknown" where systemctl cannot say.
    /// Runs without blocking a thread (a hung systemctl must not stall the heartbeats).
    public func unitStates() async -> [String: String] {
        var states: [String: String] = [:]
        for unit in self.watchedUnits {
            // `is-active` exits non-zero for inactive units; its output is the answer either way.
            let output = (try? await HostCommand("systemctl", ["is-active", "--", unit]).run())?.output ?? ""
            let state = output.trimmingCharacters(in: .whitespacesAndNewlines)
            states[unit] = state.isEmpty ? "unknown" : state
        }
        return states
    }
}
