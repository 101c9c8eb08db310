import Foundation

/// One subcloud as the dashboard's fleet table shows it: what `subcloud list` has,
/// flattened, with the running OSTree commit. Short keys: 10,000 of these make the
/// first snapshot, and every delta carries the rows that changed.
public struct FleetRow: Codable, Sendable, Equatable {
    public var name: String
    public var group: String
    public var availability: String
    public var management: String
    public var deploy: String
    /// config, software, images, firmware: in-sync, out-of-sync or unknown.
    public var sync: [String]
    /// Active alarms: critical, major, minor, warning.
    public var alarms: [Int]
    /// Seconds since 1970 of the last heartbeat or report, when any.
    public var seen: Double?
    public var cpu: Double?
    /// Memory and the fullest disk in use, percent.
    public var memory: Double?
    public var disk: Double?
    public var agent: String?
    /// The OSTree commit the site runs (full; the page shortens it).
    public var commit: String?

    public init(_ subcloud: Subcloud, commit: String?) {
        self.name = subcloud.name
        self.group = subcloud.group
        self.availability = subcloud.availability.rawValue
        self.management = subcloud.management.rawValue
        self.deploy = subcloud.deployStatus.rawValue
        self.sync = [subcloud.sync.config, subcloud.sync.software, subcloud.sync.images, subcloud.sync.firmware].map(\.rawValue)
        let counts = subcloud.alarmCounts
        self.alarms = [counts.critical, counts.major, counts.minor, counts.warning]
        self.seen = subcloud.lastSeenAt?.timeIntervalSince1970
        if let health = subcloud.health {
            let percent = Health(health)
            (self.cpu, self.memory, self.disk) = (percent.cpu, percent.memory, percent.disk)
        }
        self.agent = subcloud.software
        self.commit = commit
    }

    /// CPU, memory in use and the fullest disk, as percentages with one decimal.
    struct Health {
        var cpu: Double?
        var memory: Double?
        var disk: Double?

        init(_ health: Subcloud.Health) {
            self.cpu = health.cpuPercent
            if let total = health.memoryTotalBytes, let available = health.memoryAvailableBytes, total > 0 {
                self.memory = (Double(total - min(available, total)) / Double(total) * 1000).rounded() / 10
            }
            let fullest = health.disks.filter { $0.totalBytes > 0 }.map { Double($0.usedBytes) / Double($0.totalBytes) }.max()
            self.disk = fullest.map { ($0 * 1000).rounded() / 10 }
        }
    }

    /// The same row but for when it was last heard from: such changes travel in
    /// the cheaper `seen` batches, not as row deltas.
    func sameApartFromSeen(_ other: FleetRow) -> Bool {
        var copy = other
        copy.seen = self.seen
        return copy == self
    }
}

/// A strategy as the dashboard shows it: progress, not every step.
public struct StrategySummary: Codable, Sendable, Equatable {
    public var type: String
    public var state: String
    public var content: String
    public var targets: String
    public var percentDone: Int
    public var steps: Int
    public var counts: [String: Int]
}

/// Subclouds behind the newest release of a content name.
public struct RequiredUpdate: Codable, Sendable, Equatable {
    public var kind: String
    public var name: String
    public var newest: String
    /// Subclouds that run another version of this name.
    public var behind: [String]
    public var current: Int
}
