import ArgumentParser
import Controller
import Foundation

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back sites up (their --backup-path trees, chunked and deduplicated fleet-wide) and restore them, to the same or a replacement machine.",
        subcommands: [Create.self, List.self, Show.self, Delete.self, Restore.self, Schedule.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up subclouds; at most --max-parallel at once (and the controller's max_parallel_backups).",
            discussion: "With --watch: follow until every backup ends; exit non-zero if any failed."
        )
        @OptionGroup var targets: BackupTargets
        @Option(help: "Backups of this request running at once.") var maxParallel: Int?
        @Flag(help: "Keep the archive on the site; only the manifest comes to the controller.") var localOnly = false
        @Option(help: "Keep this many complete backups per site; older ones are deleted once this one completes.") var keep: Int?
        @Flag(help: "Follow the backups until they end.") var watch = false
        @OptionGroup var options: ClientOptions

        func validate() throws {
            try self.targets.check()
            if let maxParallel, maxParallel < 1 { throw ValidationError("--max-parallel must be at least 1") }
            if let keep, keep < 1 { throw ValidationError("--keep must be at least 1") }
        }

        func run() async throws {
            let targets = self.targets.selection
            var body: [String: Any] = ["targets": try JSONSerialization.jsonObject(with: JSONEncoder().encode(targets)), "localOnly": self.localOnly]
            if let maxParallel { body["maxParallel"] = maxParallel }
            if let keep { body["keep"] = keep }
            let client = try self.options.client()
            let data = try await client.send(.POST, "/v1/backups", body: try JSONSerialization.data(withJSONObject: body))
            let made = try apiDecoder.decode([Backup].self, from: data)
            if self.options.json && !self.watch { return try self.options.printJSON(data) }
            if !self.watch {
                return print(BackupCommand.table(made) + "\nfollow with: tern-controller backup show \(made.map { String($0.id) }.joined(separator: " ")) --watch")
            }
            try await BackupCommand.watch(made.map(\.id), client: client, json: self.options.json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List backups, newest first.")
        @Option(help: "Only this subcloud's.") var subcloud: String?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let data = try await self.options.client().send(.GET, "/v1/backups" + (self.subcloud.map { "?subcloud=\(segment($0))" } ?? ""))
            if self.options.json { return try self.options.printJSON(data) }
            print(BackupCommand.table(try apiDecoder.decode([Backup].self, from: data)))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show backups.", discussion: "With --watch: follow until they end; exit non-zero if any failed."
        )
        @Argument(help: "Backup ids.") var ids: [Int64]
        @Flag(help: "Follow until they end.") var watch = false
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let client = try self.options.client()
            if self.watch { return try await BackupCommand.watch(self.ids, client: client, json: self.options.json) }
            var shown: [Backup] = []
            for id in self.ids {
                let data = try await client.send(.GET, "/v1/backups/\(id)")
                if self.options.json { try self.options.printJSON(data) } else { shown.append(try apiDecoder.decode(Backup.self, from: data)) }
            }
            if !self.options.json { print(BackupCommand.table(shown)) }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a backup that is not running (its chunks go once no other backup needs them).")
        @Argument var id: Int64
        @OptionGroup var options: ClientOptions
        func run() async throws {
            _ = try await self.options.client().send(.DELETE, "/v1/backups/\(self.id)")
            if self.options.json { print("{}") } else { print("deleted backup \(self.id)") }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a subcloud's backup onto it, or with --to onto the machine that replaced it.",
            discussion: "The site checks the archive, stages each path beside itself and swaps it in; the OSTree commit, images and config the backup names are deployed again. With --watch: follow until it ends; exit non-zero if it failed."
        )
        @Option(help: "The subcloud whose backup it is.") var subcloud: String
        @Option(help: "Which backup (default: the subcloud's newest complete one).") var backup: Int64?
        @Option(help: "Restore onto this subcloud instead (a replacement machine, enrolled under another name).") var to: String?
        @Flag(help: "Follow the restore until it ends.") var watch = false
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try self.options.client()
            var id = self.backup
            if id == nil {
                let all = try apiDecoder.decode([Backup].self, from: try await client.send(.GET, "/v1/backups?subcloud=\(segment(self.subcloud))"))
                guard let newest = all.first(where: { $0.state == .complete }) else {
                    throw ValidationError("\(self.subcloud) has no complete backup; make one with `tern-controller backup create --subcloud \(self.subcloud)`")
                }
                id = newest.id
            } else if let id, let chosen = try? apiDecoder.decode(Backup.self, from: try await client.send(.GET, "/v1/backups/\(id)")), chosen.subcloud != self.subcloud {
                throw ValidationError("backup \(id) is of \(chosen.subcloud), not \(self.subcloud)")
            }
            let body = try JSONSerialization.data(withJSONObject: self.to.map { ["to": $0] } ?? [:])
            let data = try await client.send(.POST, "/v1/backups/\(id!)/restore", body: body)
            let deployment = try apiDecoder.decode(Deployment.self, from: data)
            if self.options.json && !self.watch { return try self.options.printJSON(data) }
            print("restore of backup \(id!) onto \(deployment.subcloud) started (deployment \(deployment.id))")
            guard self.watch else { return }
            var last = ""
            while true {
                let all = try apiDecoder.decode([Deployment].self, from: try await client.send(.GET, "/v1/deployments?subcloud=\(segment(deployment.subcloud))"))
                guard let current = all.first(where: { $0.id == deployment.id }) else { throw ValidationError("deployment \(deployment.id) vanished") }
                let line = "restore of backup \(id!) onto \(current.subcloud): \(current.state.rawValue)\(current.detail.isEmpty ? "" : " — " + current.detail)"
                if line != last { print(line) }
                last = line
                fflush(nil)
                if !current.isOpen {
                    if current.state != .activated { throw ExitCode(1) }
                    return
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    struct Schedule: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back subclouds up on a schedule (--every 24h), keeping --keep per site; --list shows schedules, --delete ID removes one.",
            discussion: "A run the controller could not start on time (it was down) raises alarm 210.003 and runs at once."
        )
        @Option(help: "How often: 90s, 15m, 24h.") var every: String?
        @OptionGroup var targets: BackupTargets
        @Option(help: "Keep this many complete backups per site.") var keep: Int?
        @Flag(help: "Keep the archives on the sites.") var localOnly = false
        @Option(help: "Backups of each run at once.") var maxParallel: Int?
        @Flag(help: "List the schedules.") var list = false
        @Option(help: "Delete this schedule.") var delete: Int64?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard !self.list, self.delete == nil else { return }
            guard let every else { throw ValidationError("give --every (or --list, or --delete ID)") }
            _ = try StrategyCommand.seconds(every)
            try self.targets.check()
            if let keep, keep < 1 { throw ValidationError("--keep must be at least 1") }
        }

        func run() async throws {
            let client = try self.options.client()
            if let id = self.delete {
                _ = try await client.send(.DELETE, "/v1/backup-schedules/\(id)")
                return print(self.options.json ? "{}" : "deleted backup schedule \(id)")
            }
            if self.list {
                let data = try await client.send(.GET, "/v1/backup-schedules")
                if self.options.json { return try self.options.printJSON(data) }
                var table = Table("id", "targets", "every", "keep", "local", "next", "last run")
                for schedule in try apiDecoder.decode([BackupSchedule].self, from: data) {
                    table.add(String(schedule.id), schedule.targets.summary, "\(Int(schedule.every)) s", schedule.keep.map(String.init) ?? "all",
                              schedule.localOnly ? "yes" : "no", iso(schedule.nextAt), iso(schedule.lastRunAt))
                }
                return print(table.render())
            }
            let targets = self.targets.selection
            var body: [String: Any] = [
                "targets": try JSONSerialization.jsonObject(with: JSONEncoder().encode(targets)),
                "every": try StrategyCommand.seconds(self.every!), "localOnly": self.localOnly,
            ]
            if let keep { body["keep"] = keep }
            if let maxParallel { body["maxParallel"] = maxParallel }
            let data = try await client.send(.POST, "/v1/backup-schedules", body: try JSONSerialization.data(withJSONObject: body))
            if self.options.json { return try self.options.printJSON(data) }
            let schedule = try apiDecoder.decode(BackupSchedule.self, from: data)
            print("backup schedule \(schedule.id): \(schedule.targets.summary) every \(Int(schedule.every)) s, first run now")
        }
    }

    static func table(_ backups: [Backup]) -> String {
        var table = Table("id", "subcloud", "state", "archive", "chunks", "uploaded", "created", "completed", "detail")
        for backup in backups {
            table.add(
                String(backup.id), backup.subcloud, backup.state.rawValue + (backup.localOnly ? " (local)" : ""),
                backup.archiveBytes.map { "\($0) B" } ?? "-", backup.chunks.map(String.init) ?? "-",
                "\(backup.chunksUploaded) (\(backup.bytesUploaded) B)", iso(backup.createdAt), iso(backup.completedAt), backup.detail
            )
        }
        return table.render()
    }

    /// Prints a line per backup whenever it changes, until all ended; exit 1 if any failed.
    static func watch(_ ids: [Int64], client: APIClient, json: Bool) async throws {
        var last: [Int64: String] = [:]
        while true {
            var open = false
            var failed = false
            var latest: [Backup] = []
            for id in ids {
                let backup = try apiDecoder.decode(Backup.self, from: try await client.send(.GET, "/v1/backups/\(id)"))
                latest.append(backup)
                open = open || backup.state.isOpen
                failed = failed || backup.state == .failed
                let line = "backup \(backup.id) of \(backup.subcloud): \(backup.state.rawValue) — \(backup.detail)"
                if !json, last[id] != line { print(line) }
                last[id] = line
            }
            fflush(nil)
            if !open {
                if json { print(String(decoding: try JSONEncoder.api.encode(latest), as: UTF8.self)) }
                if failed { throw ExitCode(1) }
                return
            }
            try await Task.sleep(for: .seconds(1))
        }
    }
}

extension JSONEncoder {
    static let api: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }()
}

/// Which subclouds `backup create` and `backup schedule` are for: exactly one of the three.
struct BackupTargets: ParsableArguments {
    @Option(name: .customLong("subcloud"), parsing: .upToNextOption, help: "Subclouds (one or more).") var subclouds: [String] = []
    @Option(name: .customLong("group"), parsing: .upToNextOption, help: "Subcloud groups (one or more).") var groups: [String] = []
    @Flag(help: "Every subcloud.") var all = false

    func check() throws {
        guard [!self.subclouds.isEmpty, !self.groups.isEmpty, self.all].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --subcloud NAME..., --group G... or --all")
        }
    }

    var selection: TargetSelection {
        TargetSelection(subclouds: self.subclouds.isEmpty ? nil : self.subclouds, groups: self.groups.isEmpty ? nil : self.groups, all: self.all ? true : nil)
    }
}
