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
        // Heartbeats every 200 ms. Certificates are dated 5 minutes back for clock skew, so one
        // that ends in 30 s is in the last third of its life at once: renewal is due now, and a
        // loaded machine still has 30 s to bring the controller up and connect before it expires.
        let controller = try await makeController(directory, certificateValidity: .seconds(3600))
        let status = LinkStatus()
        let agent = try await makeAgent("edge-01", controller: controller, directory: directory, status: status, validity: 30)
        let before = try await controller.store.subcloud(named: "edge-01")?.certificateSerial
        try await withServices(controller.services + [agent]) {
            let renewed = await eventually(timeout: .seconds(30)) { await status.renewals >= 1 }
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
