import ArgumentParser
import Controller
import Foundation

struct AlarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarm",
        abstract: "Active alarms across the fleet.",
        subcommands: [List.self, Summary.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List active alarms, oldest first.")
        @Option(help: "Only this subcloud's alarms.") var subcloud: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let query = self.subcloud.map { "?subcloud=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } ?? ""
            let data = try await self.options.client().send(.GET, "/v1/alarms" + query)
            if self.options.json { return try self.options.printJSON(data) }
            var table = Table("subcloud", "alarm id", "severity", "entity", "reason", "raised")
            for alarm in try apiDecoder.decode([Alarm].self, from: data) {
                table.add(alarm.subcloud, alarm.alarmID, alarm.severity, alarm.entity, alarm.reason, iso(alarm.raisedAt))
            }
            print(table.render())
        }
    }

    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Active alarm counts per subcloud and severity.")
        @OptionGroup var options: ClientOptions

        struct Row: Decodable { var subcloud: String; var critical: Int; var major: Int; var minor: Int; var warning: Int }

        func run() async throws {
            let data = try await self.options.client().send(.GET, "/v1/alarms/summary")
            if self.options.json { return try self.options.printJSON(data) }
            var table = Table("subcloud", "critical", "major", "minor", "warning")
            for row in try apiDecoder.decode([Row].self, from: data) {
                table.add(row.subcloud, "\(row.critical)", "\(row.major)", "\(row.minor)", "\(row.warning)")
            }
            print(table.render())
        }
    }
}

struct EventCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "event", abstract: "The fleet event log.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List events: enrolment, online/offline, alarms, deletes.")
        @Option(help: "Only events at or after this ISO 8601 time, e.g. 2026-11-29T10:00:00Z.") var since: String?
        @Option(help: "At most this many, newest kept.") var limit: Int = 500
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var query = "?limit=\(self.limit)"
            if let since = self.since { query += "&since=\(since.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? since)" }
            let data = try await self.options.client().send(.GET, "/v1/events" + query)
            if self.options.json { return try self.options.printJSON(data) }
            var table = Table("time", "subcloud", "event", "detail")
            for event in try apiDecoder.decode([FleetEvent].self, from: data) {
                table.add(iso(event.at), event.subcloud ?? "-", event.kind, event.detail)
            }
            print(table.render())
        }
    }
}
