import ArgumentParser
import Controller
import Foundation

struct SubcloudCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subcloud",
        abstract: "Add, list, inspect, manage and delete subclouds.",
        subcommands: [Add.self, Install.self, List.self, Show.self, Manage.self, Unmanage.self, Delete.self, Token.self]
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
        @OptionGroup var install: InstallOptions
        @Flag(name: .customLong("install"), help: "Start the zero-touch install at once (needs the BMC flags and install values).") var installNow = false
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var body = try self.install.body()
            body["name"] = self.name
            body["group"] = self.group
            body["description"] = self.description
            if self.installNow { body["install"] = true }
            let data = try await self.options.client().send(.POST, "/v1/subclouds", body: try JSONSerialization.data(withJSONObject: body))
            if self.options.json { return try self.options.printJSON(data) }
            let added = try apiDecoder.decode(SubcloudAdded.self, from: data)
            print("Subcloud \(added.subcloud.name) created in group \(added.subcloud.group) (\(added.subcloud.management.rawValue), \(added.subcloud.deployStatus.rawValue)).")
            if let install = added.install {
                print(install.attempt > 0 ? "Zero-touch install started; follow it with: tern-controller subcloud show \(self.name) --watch"
                                          : "BMC recorded; install with: tern-controller subcloud install \(self.name)")
            } else {
                SubcloudCommand.printEnrolment(added)
            }
        }
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a subcloud with no one on site: build its boot image, boot it over Redfish, enrol, push its content.",
            discussion: "Runs in the background; `subcloud show NAME --watch` follows the deploy status. Run it again to retry a failed install."
        )
        @Argument var name: String
        @OptionGroup var install: InstallOptions
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let body = try JSONSerialization.data(withJSONObject: try self.install.body())
            let data = try await self.options.client().send(.POST, "/v1/subclouds/\(segment(self.name))/install", body: body)
            if self.options.json { return try self.options.printJSON(data) }
            let install = try apiDecoder.decode(Controller.Install.self, from: data)
            print("Install of \(self.name) started (attempt \(install.attempt)): \(install.status.rawValue). Follow it with: tern-controller subcloud show \(self.name) --watch")
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
        @Flag(help: "Follow the deploy status: print each change until the install completes or fails (exit 1).") var watch = false
        @Option(help: "Seconds between looks with --watch.") var interval: Double = 1
        @OptionGroup var options: ClientOptions

        func run() async throws {
            if self.watch { return try await self.follow() }
            let data = try await self.options.client().send(.GET, "/v1/subclouds/\(segment(self.name))")
            if self.options.json { return try self.options.printJSON(data) }
            let s = try apiDecoder.decode(Subcloud.self, from: data)
            let install = try? apiDecoder.decode(Controller.Install.self, from: await self.options.client().send(.GET, "/v1/subclouds/\(segment(self.name))/install"))
            var lines: [(String, String)] = [
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
            if let install { lines += installLines(install) }
            let width = lines.map(\.0.count).max() ?? 0
            for (key, value) in lines { print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value) }
        }

        /// One line per change of deploy status or detail; ends with the install.
        func follow() async throws {
            let client = try self.options.client()
            var last = ""
            while true {
                let subcloud = try apiDecoder.decode(Subcloud.self, from: try await client.send(.GET, "/v1/subclouds/\(segment(self.name))"))
                let install = try? apiDecoder.decode(Controller.Install.self, from: await client.send(.GET, "/v1/subclouds/\(segment(self.name))/install"))
                let status = subcloud.deployStatus
                let line = "\(status.rawValue)\(install.map { ": " + $0.detail } ?? "")"
                if line != last {
                    if self.options.json {
                        let object: [String: Any] = ["at": iso(Date()), "deployStatus": status.rawValue, "detail": install?.detail ?? ""]
                        print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                    } else {
                        print("\(iso(Date()))  \(line)")
                    }
                    fflush(nil)
                    last = line
                }
                switch status {
                case .complete, .enrolled: return
                case .installFailed, .deployFailed: throw ExitCode(1)
                case .awaitingEnrolment where install == nil || install?.attempt == 0: return
                default: break
                }
                try await Task.sleep(for: .milliseconds(Int(self.interval * 1000)))
            }
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
