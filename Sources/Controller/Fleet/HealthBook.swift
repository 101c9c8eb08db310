import Foundation
import Wire

/// Agents send health changes, not full reports, after the first (PROTOCOL.md §10.4):
/// this keeps the merged picture per subcloud.
public actor HealthBook {
    private var current: [String: Subcloud.Health] = [:]

    public init() {}

    /// Applies `report` to what is known of `subcloud` and returns the merged health.
    func merge(_ report: HealthReport, for subcloud: String, at now: Date) -> Subcloud.Health {
        var health = report.full ? Subcloud.Health(disks: [], reportedAt: now) : (self.current[subcloud] ?? Subcloud.Health(disks: [], reportedAt: now))
        if let value = report.cpuPermille { health.cpuPercent = Double(value) / 10 }
        if let value = report.memoryTotalBytes { health.memoryTotalBytes = value }
        if let value = report.memoryAvailableBytes { health.memoryAvailableBytes = value }
        if let value = report.load1Milli { health.load1 = Double(value) / 1000 }
        if let value = report.uptimeSeconds { health.uptimeSeconds = value }
        if report.full || !report.disks.isEmpty {
            health.disks = report.disks.map { .init(mount: $0.mount, totalBytes: $0.totalBytes, usedBytes: $0.usedBytes) }
        }
        health.reportedAt = now
        self.current[subcloud] = health
        return health
    }
}

extension Subcloud.Health {
    init(disks: [Disk], reportedAt: Date) {
        self.init(cpuPercent: nil, memoryTotalBytes: nil, memoryAvailableBytes: nil, load1: nil, uptimeSeconds: nil, disks: disks, reportedAt: reportedAt)
    }
}
