import Controller
import Foundation

/// The controller's API as the simulator uses it: add subclouds, issue tokens.
struct SimAPI: Sendable {
    let client: APIClient

    /// Found exactly as the CLI finds it (`--data`, or `--api` with `--token`).
    init(data: String?, url: String?, token: String?) throws {
        self.client = try APIClient(data: data ?? "/var/lib/tern-controller", api: url, token: token, caFile: nil)
    }

    /// Adds the subcloud, or issues a new token for one that has not enrolled.
    func bootstrap(_ name: String) async throws -> SubcloudAdded {
        let body = try JSONSerialization.data(withJSONObject: ["name": name, "description": "tern-sim"])
        do {
            return try apiDecoder.decode(SubcloudAdded.self, from: try await self.client.send(.POST, "/v1/subclouds", body: body))
        } catch let error as APIClient.Failure where error.status.code == 409 {
            return try apiDecoder.decode(SubcloudAdded.self, from: try await self.client.send(.POST, "/v1/subclouds/\(name)/token"))
        }
    }
}

struct SimError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
