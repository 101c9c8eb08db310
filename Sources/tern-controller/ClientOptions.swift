import ArgumentParser
import Controller
import Foundation

/// How a CLI command reaches the controller's API.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The controller's data directory, to find the API address and token.")
    var data: String = "/var/lib/tern-controller"

    @Option(help: "The API address, http://HOST:PORT or https://HOST:PORT (default: from the data directory).")
    var api: String?

    @Option(help: "The API token (default: the data directory's api-token file).")
    var token: String?

    @Option(help: "For an https API: the CA certificate to trust (default: the data directory's pki/ca.pem).")
    var caFile: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func client() throws -> APIClient { try APIClient(options: self) }

    /// Prints a response as JSON, pretty and stable, for scripts.
    func printJSON(_ data: Data) throws {
        let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
        print(String(decoding: pretty, as: UTF8.self))
    }
}

func iso(_ date: Date?) -> String {
    guard let date else { return "-" }
    return ISO8601DateFormatter().string(from: date)
}

/// A path segment, escaped.
func segment(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? text
}
