import ArgumentParser
import Controller
import Foundation

struct ObjectsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objects",
        abstract: "The controller's content-addressed objects and OSTree deltas.",
        subcommands: [Collect.self]
    )

    struct Collect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Remove deltas and objects nothing refers to any more (objects younger than --grace-seconds are kept).",
            discussion: """
            Kept: every release's objects, deltas to the newest commit of each ref or to the \
            target of an unfinished deployment, each subcloud's latest config generation, \
            objects still offered to a subcloud.
            """
        )
        @Flag(help: "Only say what would be removed.") var dryRun = false
        @Option(help: "Keep objects younger than this many seconds.") var graceSeconds: Double = 3600
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let body = try JSONSerialization.data(withJSONObject: ["dryRun": self.dryRun, "graceSeconds": self.graceSeconds] as [String: Any])
            let data = try await self.options.client().send(.POST, "/v1/objects/gc", body: body)
            if self.options.json { return try self.options.printJSON(data) }
            let report = try apiDecoder.decode(ObjectCollector.Report.self, from: data)
            let verb = report.dryRun ? "would remove" : "removed"
            print("\(verb) \(report.deltasRemoved.count) deltas and \(report.objectsRemoved) objects (\(report.bytesFreed) bytes); \(report.objectsKept) objects kept")
            for delta in report.deltasRemoved { print("  delta \(delta)") }
        }
    }
}
