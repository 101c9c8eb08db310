import Agent
import Controller
import Foundation
import TernTestSupport
import Testing
import Wire

@Suite(.serialized) struct RenewalTests {
    @Test("an agent renews its certificate over the mutual-TLS channel and reconnects with it")
    func renewal() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Heartbeats every 200 ms; certificates that live 6 s, so renewal is due after 4 s.
        let controller = try await makeController(directory, certificateValidity: .seconds(3600))
        let status = LinkStatus()
        let agent = try await makeAgent("edge-01", controller: controller, directory: directory, status: status, validity: 6)
        let before = try await controller.store.subcloud(named: "edge-01")?.certificateSerial
        try await withServices(controller.services + [agent]) {
            let renewed = await eventually(timeout: .seconds(15)) { await status.renewals >= 1 }
            #expect(renewed)
            let after = try await controller.store.subcloud(named: "edge-01")?.certificateSerial
            #expect(after != nil && after != before)
            // The new identity on disk is a matching pair the agent can load, valid for the controller's full term.
            let identity = try AgentIdentity.load(stateDirectory: directory.appending("agent-edge-01"))
            #expect(identity.notValidAfter.timeIntervalSinceNow > 3000)
            let events = try await controller.store.events(since: nil, limit: 50).map(\.kind)
            #expect(events.contains("certificate-renewed"))
        }
    }
}
