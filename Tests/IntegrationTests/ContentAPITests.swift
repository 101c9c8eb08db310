import Controller
import Foundation
import NIOCore
import NIOHTTP1
import TernTestSupport
import Testing
import Wire

@Suite(.serialized) struct ContentAPITests {
    @Test("an object imported through the API and delivered to a subcloud arrives; bad requests are refused")
    func importAndDeliver() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let controller = try await makeController(directory)
        let agent = try await makeAgent("edge-01", controller: controller, directory: directory)
        let file = directory.appending("config-bundle.tar")
        let bytes = Array(repeating: Array("key = value\n".utf8), count: 50_000).flatMap { $0 }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        try await withServices(controller.services + [agent]) {
            var addresses = controller.apiAddress.makeAsyncIterator()
            let address = try #require(await addresses.next() ?? nil)
            let token = try String(contentsOfFile: directory.appending("controller/api-token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let client = APIClient(host: "127.0.0.1", port: address.port!, token: token)

            let imported = try JSONSerialization.jsonObject(with: try await client.send(.POST, "/v1/objects", body: try JSONSerialization.data(withJSONObject: ["path": file]))) as! [String: Any]
            let digest = try #require(imported["digest"] as? String)
            #expect(digest == ContentDigest(of: bytes).hex)
            let connected = await eventually { await controller.live.count == 1 }
            #expect(connected)
            let delivered = try JSONSerialization.jsonObject(with: try await client.send(
                .POST, "/v1/subclouds/edge-01/content", body: try JSONSerialization.data(withJSONObject: ["digest": digest, "kind": "config"])
            )) as! [String: Any]
            // Offered now when the connection is up; either way it is offered on every connection.
            #expect(delivered["offeredNow"] is Bool)
            let path = directory.appending("agent-edge-01/transfers/objects/\(digest)")
            let arrived = await eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: path) }
            #expect(arrived)

            await #expect(throws: APIClient.Failure.self) {
                _ = try await client.send(.POST, "/v1/objects", body: try JSONSerialization.data(withJSONObject: ["path": "relative/file"]))
            }
            await #expect(throws: APIClient.Failure.self) {
                _ = try await client.send(.POST, "/v1/subclouds/edge-01/content", body: try JSONSerialization.data(withJSONObject: ["digest": String(repeating: "0", count: 64), "kind": "config"]))
            }
            await #expect(throws: APIClient.Failure.self) {
                _ = try await client.send(.POST, "/v1/subclouds/nobody/content", body: try JSONSerialization.data(withJSONObject: ["digest": digest, "kind": "config"]))
            }
        }
    }
}
