import Foundation
import Wire

#if canImport(Glibc)
import Glibc
#endif

/// Samples host health and turns it into reports: the first full, then only what
/// changed enough to matter (PROTOCOL.md §10.4), so an idle fleet sends little.
public struct HealthSampler: Sendable {
    let roots: HostRoots
    private var previousCPU: (busy: UInt64, total: UInt64)?
    private var lastSent: HealthReport?

    /// Changes below these are not worth a report.
    static let cpuStepPermille: UInt32 = 20
    static let loadStepMilli: UInt32 = 50
    static let memoryStepFraction = 0.01
    static let diskStepFraction = 0.001

    public init(roots: HostRoots) {
        self.roots = roots
    }

    /// A full snapshot of host health now.
    public mutating func sample() -> HealthReport {
        var report = HealthReport(full: true)
        if let stat = self.roots.read(self.roots.proc, "stat"), let times = ProcFiles.cpuTimes(stat: stat) {
            if let previous = self.previousCPU, times.total > previous.total {
                let busy = Double(times.busy &- previous.busy) / Double(times.total - previous.total)
                report.cpuPermille = UInt32(max(0, min(1, busy)) * 1000)
            } else {
                report.cpuPermille = times.total > 0 ? UInt32(Double(times.busy) * 1000 / Double(times.total)) : 0
            }
            self.previousCPU = times
        }
        if let text = self.roots.read(self.roots.proc, "meminfo"), let memory = ProcFiles.memory(meminfo: text) {
            report.memoryTotalBytes = memory.total
            report.memoryAvailableBytes = memory.available
        }
        if let text = self.roots.read(self.roots.proc, "loadavg"), let load = ProcFiles.load1(loadavg: text) {
            report.load1Milli = UInt32(load * 1000)
        }
        if let text = self.roots.read(self.roots.proc, "uptime"), let uptime = ProcFiles.uptime(text) {
            report.uptimeSeconds = uptime
        }
        if let text = self.roots.read(self.roots.proc, "mounts") {
            report.disks = ProcFiles.mountPoints(mounts: text).compactMap(Self.usage(of:))
        }
        return report
    }

    /// Space on the filesystem mounted at `mount`, from statvfs.
    static func usage(of mount: String) -> DiskUsage? {
        var stats = statvfs()
        guard statvfs(mount, &stats) == 0, stats.f_blocks > 0 else { return nil }
        let unit = UInt64(stats.f_frsize)
        let total = UInt64(stats.f_blocks) * unit
        let used = (UInt64(stats.f_blocks) - UInt64(stats.f_bfree)) * unit
        return DiskUsage(mount: mount, totalBytes: total, usedBytes: used)
    }

    /// What to send given a new snapshot: everything the first time, then only the
    /// fields that moved past their threshold; nil when nothing did.
    public mutating func report(for snapshot: HealthReport) -> HealthReport? {
        guard let last = self.lastSent else {
            self.lastSent = snapshot
            return snapshot
        }
        var delta = HealthReport()
        var next = last
        if let cpu = snapshot.cpuPermille, Self.moved(cpu, last.cpuPermille, by: Self.cpuStepPermille) {
            delta.cpuPermille = cpu
            next.cpuPermille = cpu
        }
        if let load = snapshot.load1Milli, Self.moved(load, last.load1Milli, by: Self.loadStepMilli) {
            delta.load1Milli = load
            next.load1Milli = load
        }
        if let total = snapshot.memoryTotalBytes, let available = snapshot.memoryAvailableBytes {
            let step = UInt64(Double(total) * Self.memoryStepFraction)
            if total != last.memoryTotalBytes || Self.moved(available, last.memoryAvailableBytes, by: step) {
                delta.memoryTotalBytes = total
                delta.memoryAvailableBytes = available
                next.memoryTotalBytes = total
                next.memoryAvailableBytes = available
            }
        }
        let disksMoved = snapshot.disks.map(\.mount) != last.disks.map(\.mount)
            || zip(snapshot.disks, last.disks).contains { new, old in
                Self.moved(new.usedBytes, old.usedBytes, by: UInt64(Double(new.totalBytes) * Self.diskStepFraction)) || new.totalBytes != old.totalBytes
            }
        if disksMoved {
            delta.disks = snapshot.disks
            next.disks = snapshot.disks
        }
        guard delta != HealthReport() else { return nil }
        // Uptime rides along with any change; it is derivable in between.
        delta.uptimeSeconds = snapshot.uptimeSeconds
        next.uptimeSeconds = snapshot.uptimeSeconds
        self.lastSent = next
        return delta
    }

    /// After a reconnect the controller may have restarted: start again with a full report.
    public mutating func resend() {
        self.lastSent = nil
    }

    private static func moved<T: BinaryInteger>(_ new: T, _ old: T?, by step: T) -> Bool {
        guard let old else { return true }
        return new > old ? new - old >= max(step, 1) : old - new >= max(step, 1)
    }
}
