import Foundation
import Platform
import Wire

/// Where the agent reads the host from. Real hosts use `/proc` and `/sys`; tests
/// point these at fixture trees with the same file names and formats.
public struct HostRoots: Sendable {
    public var proc: String
    public var sys: String

    public init(proc: String = "/proc", sys: String = "/sys") {
        self.proc = proc
        self.sys = sys
    }

    func read(_ root: String, _ relative: String) -> String? {
        (try? AtomicFile.readString(root + "/" + relative)) ?? nil
    }
}

/// Parsers for the procfs files health comes from: pure functions over file text.
enum ProcFiles {
    /// Busy and total jiffies from the first line of /proc/stat.
    static func cpuTimes(stat: String) -> (busy: UInt64, total: UInt64)? {
        guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let values = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard values.count >= 4 else { return nil }
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        let counted = values.prefix(8)
        let total = counted.reduce(0, +)
        let idle = values[3] + (values.count > 4 ? values[4] : 0)
        return (total - idle, total)
    }

    /// MemTotal and MemAvailable from /proc/meminfo, in bytes.
    static func memory(meminfo: String) -> (total: UInt64, available: UInt64)? {
        var total: UInt64?
        var available: UInt64?
        for line in meminfo.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let value = UInt64(parts[1]) else { continue }
            switch parts[0] {
            case "MemTotal:": total = value * 1024
            case "MemAvailable:": available = value * 1024
            default: break
            }
        }
        guard let total, let available else { return nil }
        return (total, available)
    }

    /// The one-minute load average.
    static func load1(loadavg: String) -> Double? {
        loadavg.split(separator: " ").first.flatMap { Double($0) }
    }

    /// Seconds since boot.
    static func uptime(_ text: String) -> UInt64? {
        text.split(separator: " ").first.flatMap { Double($0) }.map { UInt64($0) }
    }

    /// Filesystem types that hold data an operator cares about (not proc, sysfs, tmpfs, cgroup, …).
    static let dataFilesystems: Set<Substring> = ["ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "zfs", "f2fs", "overlay"]

    /// Mount points of data filesystems from /proc/mounts, without duplicates.
    static func mountPoints(mounts: String) -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, self.dataFilesystems.contains(fields[2]) else { continue }
            // /proc/mounts escapes spaces and the like as octal (\040).
            let mount = String(fields[1]).replacingOccurrences(of: "\\040", with: " ")
            if seen.insert(mount).inserted { result.append(mount) }
        }
        return result
    }
}
