import ArgumentParser
import Controller
import Foundation

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Config files pushed to subclouds as desired-state generations.",
        subcommands: [Set.self, Show.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add or replace config files: a new generation for each chosen subcloud.",
            discussion: """
            Each FILE is LOCAL[:TARGET[:MODE]]: the local file, the absolute path it gets on \
            the site (default: LOCAL, which must then be absolute) and its octal mode \
            (default: the local file's). The agent writes all files of a generation \
            atomically, runs the --reload action from its allow-list, and acknowledges.
            """
        )
        @OptionGroup var targets: TargetOptions
        @Argument(help: "LOCAL[:TARGET[:MODE]]") var files: [String]
        @Option(help: "An action on the agents' allow-list to run after the files are in place.") var reload: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var files: [[String: Any]] = []
            for argument in self.files {
                let parts = argument.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
                let local = parts[0]
                let target = parts.count > 1 && !parts[1].isEmpty ? parts[1] : local
                guard target.hasPrefix("/") else { throw ValidationFailure("\(argument): give the target path on the site (LOCAL:TARGET)") }
                guard let content = FileManager.default.contents(atPath: local) else { throw ValidationFailure("\(local) cannot be read") }
                var mode = ((try? FileManager.default.attributesOfItem(atPath: local)[.posixPermissions]) as? Int) ?? 0o644
                if parts.count > 2 {
                    guard let parsed = Int(parts[2], radix: 8), (0...0o7777).contains(parsed) else { throw ValidationFailure("\(argument): \(parts[2]) is not an octal mode") }
                    mode = parsed
                }
                files.append(["path": target, "mode": mode, "content": content.base64EncodedString()])
            }
            var body: [String: Any] = ["targets": self.targets.json, "files": files]
            if let reload { body["reload"] = reload }
            let data = try await self.options.client().send(.POST, "/v1/config", body: try JSONSerialization.data(withJSONObject: body))
            if self.options.json { return try self.options.printJSON(data) }
            var table = Table("subcloud", "generation", "files", "reload", "bundle")
            for generation in try apiDecoder.decode([ConfigGeneration].self, from: data) {
                table.add(generation.subcloud, "\(generation.generation)", generation.files.map(\.path).joined(separator: " "), generation.reload ?? "-", String(generation.bundle.prefix(12)))
            }
            print(table.render())
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Desired and applied config generations, and sync status (drift shows as out-of-sync).")
        @Option(help: "Only this subcloud; with it, every file is listed.") var subcloud: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let query = self.subcloud.map { "?subcloud=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } ?? ""
            let data = try await self.options.client().send(.GET, "/v1/config" + query)
            if self.options.json { return try self.options.printJSON(data) }
            let views = try apiDecoder.decode([ConfigView].self, from: data)
            var table = Table("subcloud", "desired", "applied", "status", "sync", "detail")
            for view in views {
                table.add(
                    view.subcloud, view.desired.map { "\($0.generation)" } ?? "-", view.state?.appliedGeneration.map { "\($0)" } ?? "-",
                    view.state?.status.rawValue ?? "-", view.sync.rawValue, view.state?.detail ?? ""
                )
            }
            print(table.render())
            if self.subcloud != nil, let desired = views.first?.desired {
                var files = Table("path", "mode", "bytes", "sha256")
                for file in desired.files { files.add(file.path, String(file.mode, radix: 8), "\(file.content.count)", String(file.sha256.prefix(16))) }
                print("")
                print(files.render())
            }
        }
    }
}
