import Foundation
import NIOConcurrencyHelpers
import Wire

/// Agents send health changes, not full reports, after the first (PROTOCOL.md §10.4):
/// this keeps the merged picture per subcloud.
///
/// A lock, not an actor: every heartbeat carrying health merges here from its
/// connection's event loop, without a hop or a task (PROTOCOL port at 20,000 agents).
public final class HealthBook: Sendable {
    private struct Book {
        var current: [String: Subcloud.Health] = [:]
        /// The last hour per subcloud, one sample per `spacing` (the newest replaces the
        /// newest bucket's), at most `capacity`: about 2 KB a subcloud, whatever the rate.
        var history: [String: [HealthSample]] = [:]
        /// Merged since the last `takeChanged()`: written to the store in one transaction
        /// a second (`HealthFlush`), not one write per report.
        var changed: [String: Subcloud.Health] = [:]
    }

    private let book = NIOLockedValueBox(Book())
    let spacing: TimeInterval
    let capacity: Int

    public init(spacing: TimeInterval = 30, capacity: Int = 120) {
        self.spacing = spacing
        self.capacity = capacity
    }

    /// The retained samples, oldest first.
    public func samples(for subcloud: String) -> [HealthSample] {
        self.book.withLockedValue { $0.history[subcloud] ?? [] }
    }

    public func forget(_ subcloud: String) {
        self.book.withLockedValue { book in
            book.current[subcloud] = nil
            book.history[subcloud] = nil
            book.changed[subcloud] = nil
        }
    }

    /// The health merged since the last call, by subcloud.
    func takeChanged() -> [String: Subcloud.Health] {
        self.book.withLockedValue { book in
            defer { book.changed = [:] }
            return book.changed
        }
    }

    private func append(_ health: Subcloud.Health, to samples: inout [HealthSample]) {
        let row = FleetRow.Health(health)
        let sample = HealthSample(
            at: UInt32(clamping: Int(health.reportedAt.timeIntervalSince1970)), cpu: row.cpu.map(Float.init) ?? .nan,
            memory: row.memory.map(Float.init) ?? .nan, disk: row.disk.map(Float.init) ?? .nan
        )
        if samples.count > 1, Double(sample.at &- samples[samples.count - 2].at) < self.spacing {
            samples[samples.count - 1] = sample
        } else {
            samples.append(sample)
        }
        if samples.count > self.capacity { samples.removeFirst(samples.count - self.capacity) }
    }

    /// Applies `report` to what is known of `subcloud` and returns the merged health.
    @discardableResult
    func merge(_ report: HealthReport, for subcloud: String, at now: Date) -> Subcloud.Health {
        self.book.withLockedValue { book in
            var health = report.full ? Subcloud.Health(disks: [], reportedAt: now) : (book.current[subcloud] ?? Subcloud.Health(disks: [], reportedAt: now))
            if let value = report.cpuPermille { health.cpuPercent = Double(value) / 10 }
            if let value = report.memoryTotalBytes { health.memoryTotalBytes = value }
            if let value = report.memoryAvailableBytes { health.memoryAvailableBytes = value }
            if let value = report.load1Milli { health.load1 = Double(value) / 1000 }
            if let value = report.uptimeSeconds { health.uptimeSeconds = value }
            if report.full || !report.disks.isEmpty {
                health.disks = report.disks.map { .init(mount: $0.mount, totalBytes: $0.totalBytes, usedBytes: $0.usedBytes) }
            }
            health.reportedAt = now
            book.current[subcloud] = health
            book.changed[subcloud] = health
            self.append(health, to: &book.history[subcloud, default: []])
            return health
        }
    }
}

extension Subcloud.Health {
    init(disks: [Disk], reportedAt: Date) {
        self.init(cpuPercent: nil, memoryTotalBytes: nil, memoryAvailableBytes: nil, load1: nil, uptimeSeconds: nil, disks: disks, reportedAt: reportedAt)
    }
}

/// One point of a subcloud's health charts: CPU, memory in use and the fullest disk, percent.
public struct HealthSample: Sendable, Equatable, Encodable {
    /// Seconds since 1970.
    public var at: UInt32
    public var cpu: Float
    public var memory: Float
    public var disk: Float

    enum CodingKeys: CodingKey { case at, cpu, memory, disk }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.at, forKey: .at)
        // NaN (not reported) is null in JSON.
        try container.encode(self.cpu.isNaN ? nil : self.cpu, forKey: .cpu)
        try container.encode(self.memory.isNaN ? nil : self.memory, forKey: .memory)
        try container.encode(self.disk.isNaN ? nil : self.disk, forKey: .disk)
    }
}
