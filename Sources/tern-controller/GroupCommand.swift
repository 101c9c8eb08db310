import ArgumentParser
import Controller
import Foundation

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subcloud-group",
        abstract: "Groups of subclouds: strategies take groups in priority order, each with its apply type and max-parallel.",
        subcommands: [Add.self, List.self, Show.self, Delete.self]
    )

    static func render(_ groups: [SubcloudGroup]) -> String {
        var table = Table("name", "priority", "update apply type", "max parallel", "subclouds", "description")
        for group in groups {
            table.add(group.name, "\(group.priority)", group.updateApplyType.rawValue, "\(group.maxParallel)", "\(group.subclouds)", group.description)
        }
        return table.render()
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a subcloud group.")
        @Argument var name: String
        @Option(help: "serial or parallel.") var updateApplyType: String = "parallel"
        @Option(help: "Subclouds updated at once when parallel.") var maxParallel: Int = 2
        @Option(help: "Strategies take groups in this order, lowest first.") var priority: Int = SubcloudGroup.defaultPriority
        @Option var description: String = ""
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard SubcloudGroup.ApplyType(rawValue: self.updateApplyType) != nil else { throw ValidationError("--update-apply-type is serial or parallel") }
            guard self.maxParallel >= 1 else { throw ValidationError("--max-parallel must be at least 1") }
        }

        func run() async throws {
            let body = try JSONSerialization.data(withJSONObject: [
                "name": self.name, "description": self.description, "updateApplyType": self.updateApplyType, "maxParallel": self.maxParallel,
                "priority": self.priority,
            ] as [String: Any])
            let data = try await self.options.client().send(.POST, "/v1/subcloud-groups", body: body)
            if self.options.json { return try self.options.printJSON(data) }
            print(GroupCommand.render([try apiDecoder.decode(SubcloudGroup.self, from: data)]))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List subcloud groups.")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let data = try await self.options.client().send(.GET, "/v1/subcloud-groups")
            if self.options.json { return try self.options.printJSON(data) }
            print(GroupCommand.render(try apiDecoder.decode([SubcloudGroup].self, from: data)))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one subcloud group.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let data = try await self.options.client().send(.GET, "/v1/subcloud-groups/\(segment(self.name))")
            if self.options.json { return try self.options.printJSON(data) }
            print(GroupCommand.render([try apiDecoder.decode(SubcloudGroup.self, from: data)]))
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an empty subcloud group (not Default).")
        @Argument var name: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            _ = try await self.options.client().send(.DELETE, "/v1/subcloud-groups/\(segment(self.name))")
            print(self.options.json ? "{\"deleted\": \"\(self.name)\"}" : "group \(self.name) deleted.")
        }
    }
}
