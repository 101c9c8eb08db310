import ArgumentParser
import Controller
import Foundation

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Read-only viewer tokens for the dashboard and the API (the operator token is DATA/api-token).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a viewer token; it is shown once, then only its hash is kept.")
        @Flag(help: "A read-only token (the only kind made here).") var viewer = false
        @Option(help: "Who or what it is for.") var name = "viewer"
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard self.viewer else { throw ValidationError("only viewer tokens are made here: add --viewer (the operator token is DATA/api-token)") }
        }

        func run() async throws {
            let body = try JSONSerialization.data(withJSONObject: ["name": self.name, "viewer": true])
            let data = try await self.options.client().send(.POST, "/v1/tokens", body: body)
            if self.options.json { return try self.options.printJSON(data) }
            let made = try apiDecoder.decode(ViewerTokenCreated.self, from: data)
            print(made.token)
            FileHandle.standardError.write(Data("viewer token \(made.viewer.id) (\(made.viewer.name)): read-only; shown once, keep it now\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List viewer tokens (never the tokens themselves).")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await self.options.client().send(.GET, "/v1/tokens")
            if self.options.json { return try self.options.printJSON(data) }
            var table = Table("id", "name", "created")
            for token in try apiDecoder.decode([ViewerToken].self, from: data) { table.add("\(token.id)", token.name, iso(token.createdAt)) }
            print(table.render())
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a viewer token; the dashboard sessions it opened end too.")
        @Argument var id: Int64
        @OptionGroup var options: ClientOptions

        func run() async throws {
            _ = try await self.options.client().send(.DELETE, "/v1/tokens/\(self.id)")
            print("viewer token \(self.id) revoked")
        }
    }
}
