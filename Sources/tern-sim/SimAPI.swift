import Controller
import Foundation
import Platform

/// The controller's API as the simulator uses it: add subclouds, issue tokens.
struct SimAPI: Sendable {
    let client: APIClient

    init(data: String?, url: String?, token: String?) throws {
        let address: String
        let secret: String
        if let data {
            guard let saved = try AtomicFile.readString(data + "/api-address"), let saved2 = try AtomicFile.readString(data + "/api-token") else {
                throw SimError("no api-address or api-token in \(data): is the controller running?")
            }
            (address, secret) = (saved.trimmingCharacters(in: .whitespacesAndNewlines), saved2.trimmingCharacters(in: .whitespacesAndNewlines))
        } else {
            (address, secret) = (url!, token!)
        }
        guard address.hasPrefix("http://") else { throw SimError("tern-sim speaks plain HTTP to the API (\(address))") }
        let (host, port) = try HostPort.parse(String(address.dropFirst("http://".count)).trimmingCharacters(in: CharacterSet(charactersIn: "/")))
        self.client = APIClient(host: host, port: port, token: secret)
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

let apiDecoder: JSONDecoder = {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return decoder
}()

struct SimError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
