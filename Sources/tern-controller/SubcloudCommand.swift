import ArgumentParser
import Controller
import Foundation

struct SubcloudCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subcloud",
        abstract: "Add, list, inspect, manage and delete subclouds.",
        subcommands: [Add.self, List.self, Show.self, Manage.self, Unmanage.self, Delete.self, Token.self]
    )

    static func printEnrolment(_ added: SubcloudAdded) {
        print("Bootstrap token (shown once; expires \(iso(added.tokenExpiresAt))):")
        print("  \(added.bootstrapToken)")
        print("CA fingerprint: sha256:\(added.caFingerprint)")
        print("On the site, run:")
        print("  tern-agent enroll --controller \(added.enrolAddress) --token \(added.bootstrapToken) --ca-fingerprint sha256:\(added.caFingerprint) --state /var/lib/tern-agent")
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a subcloud and print its one-time bootstrap token and the CA fingerprint.")
        @Argument(help: "The subcloud name (letters, digits, '-', '_', '.').") var name: String
        @Option(help: "The subcloud group.") var group: String = SubcloudGroup.defaultName
        @Option(help: "A description for operators.") var description: String = ""
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let body = try JSONSerialization.data(withJSONObject: ["name": self.name, "group": self.group, "description": self.description])
            let data = try await self.options.client().send(.POST, "/v1/subclouds", body: body)
            if self.options.json { return try self.options.printJSON(data) }
            let added = try apiDecoder.decode(SubcloudAdded.self, from: data)
            print("Subcloud \(added.subcloud.name) created in group \(added.subcloud.group) (\(added.subcloud.management.rawValue), \(added.subcloud.deployStatus.rawValue)).")
            SubcloudCommand.printEnrolment(added)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List subclouds with their states, sync status and alarm counts.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await self.options.client().send(.GET, "/v1/subclouds")
            if self.options.json { return try self.options.printJSON(data) }
            var table = Table("name", "group", "management", "availability", "deploy status", "sync", "alarms c/M/m/w")
            for subcloud in try apiDecoder.decode([Subcloud].self, from: data) {
                let counts = subcloud.alarmCounts
                table.add(subcloud.name, subcloud.group, subcloud.management.rawValue, subcloud.availability.rawValue,
                          subcloud.deployStatus.rawValue, SubcloudCommand.overallSync(subcloud.sync),
                          "\(counts.critical)/\(counts.major)/\(counts.minor)/\(counts.warning)")
            }
            print(table.render())
        }
    }

    /// One word for the four areas, as dcmanager's list shows.
    static func overallSync(_ sync: Subcloud.Sync) -> String {
        let all = [sync.config, sync.software, sync.images, sync.firmware]
        if all.contains(.outOfSync) { return SyncStatus.outOfSync.rawValue }
        if all.allSatisfy({ $0 == .inSync }) { return SyncStatus.inSync.rawValue }
        return SyncStatus.unknown.rawValue
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one subcloud in full: states, health, firmware, certificate.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await self.options.client().send(.GET, "/v1/subclouds/\(segment(self.name))")
            if self.options.json { return try self.options.printJSON(data) }
            let s = try apiDecoder.decode(Subcloud.self, from: data)
            var lines = [
                ("name", s.name), ("group", s.group), ("description", s.description.isEmpty ? "-" : s.description),
                ("management", s.management.rawValue), ("availability", s.availability.rawValue),
                ("deploy status", s.deployStatus.rawValue),
                ("sync", "config \(s.sync.config.rawValue), software \(s.sync.software.rawValue), images \(s.sync.images.rawValue), firmware \(s.sync.firmware.rawValue)"),
                ("created", iso(s.createdAt)), ("enrolled", iso(s.enrolledAt)), ("last seen", iso(s.lastSeenAt)),
                ("software", s.software ?? "-"),
                ("certificate", s.certificateSerial.map { "\($0), valid until \(iso(s.certificateNotAfter))" } ?? "-"),
                ("alarms", "critical \(s.alarmCounts.critical), major \(s.alarmCounts.major), minor \(s.alarmCounts.minor), warning \(s.alarmCounts.warning)"),
            ]
            if let health = s.health {
                lines.append(("cpu", health.cpuPercent.map { String(format: "%.1f%%", $0) } ?? "-"))
                if let total = health.memoryTotalBytes, let available = health.memoryAvailableBytes {
                    lines.append(("memory", "\(available >> 20) MiB available of \(total >> 20) MiB"))
                }
                lines.append(("load (1 min)", health.load1.map { String(format: "%.2f", $0) } ?? "-"))
                lines.append(("uptime", health.uptimeSeconds.map { "\($0 / 3600) h \($0 % 3600 / 60) min" } ?? "-"))
                for disk in health.disks {
                    let percent = disk.totalBytes > 0 ? Double(disk.usedBytes) * 100 / Double(disk.totalBytes) : 0
                    lines.append(("disk \(disk.mount)", String(format: "%.0f%% used of %d GiB", percent, disk.totalBytes >> 30)))
                }
            }
            for firmware in s.firmware {
                lines.append(("firmware \(firmware.kind)", "\(firmware.vendor) \(firmware.name) \(firmware.version) \(firmware.releaseDate)".trimmingCharacters(in: .whitespaces)))
            }
            let width = lines.map(\.0.count).max() ?? 0
            for (key, value) in lines { print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value) }
        }
    }

    struct Manage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let Tern act on the subcloud (it must have enrolled).")
        @Argument var name: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await SubcloudCommand.setManagement(self.name, "manage", self.options) }
    }

    struct Unmanage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop Tern acting on the subcloud; monitoring goes on.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await SubcloudCommand.setManagement(self.name, "unmanage", self.options) }
    }

    static func setManagement(_ name: String, _ action: String, _ options: ClientOptions) async throws {
        let data = try await options.client().send(.POST, "/v1/subclouds/\(segment(name))/\(action)")
        if options.json { return try options.printJSON(data) }
        let subcloud = try apiDecoder.decode(Subcloud.self, from: data)
        print("\(subcloud.name) is \(subcloud.management.rawValue).")
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an unmanaged subcloud and revoke its certificate.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            _ = try await self.options.client().send(.DELETE, "/v1/subclouds/\(segment(self.name))")
            if self.options.json { return print("{\"deleted\": \"\(self.name)\"}") }
            print("\(self.name) deleted; its certificate is revoked.")
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a new bootstrap token for a subcloud (the old one stops working).")
        @Argument var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await self.options.client().send(.POST, "/v1/subclouds/\(segment(self.name))/token")
            if self.options.json { return try self.options.printJSON(data) }
            SubcloudCommand.printEnrolment(try apiDecoder.decode(SubcloudAdded.self, from: data))
        }
    }
}
